"""The per-worker user cache: changes are immediate on the worker that made them, bounded by the TTL elsewhere."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
import requests

from mlflow_sagemaker_constructs.tracking_server.server import contract
from tests.harness.services import PostgresServer, S3Server, contract_env, run_entrypoint
from tests.tracking_server.integration.conftest import ALLOWED_HOSTS, MlflowServer, admin_password

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]

API = "/api/2.0/mlflow"
ServerFactory = Callable[[int, int], AbstractContextManager[MlflowServer]]


@pytest.fixture(scope="module")
def server_with(postgres: PostgresServer, s3: S3Server, log_dir: Path) -> ServerFactory:
    @contextmanager
    def start(workers: int, ttl_seconds: int) -> Iterator[MlflowServer]:
        account = postgres.new_account(f"cache_{secrets.token_hex(3)}")
        password = admin_password()
        env = contract_env(
            account,
            "s3://unused/mlflow",
            s3,
            admin_password=password,
            overrides={
                contract.WORKERS: str(workers),
                contract.AUTH_CACHE_TTL_SECONDS: str(ttl_seconds),
                contract.ALLOWED_HOSTS: ALLOWED_HOSTS,
            },
        )
        handle = run_entrypoint(env, log_dir, name=f"cache-{workers}w")
        try:
            cold_start = handle.wait_healthy(180)
            yield MlflowServer(handle, env, account, "admin", password, "unused", cold_start)
        finally:
            handle.stop()

    return start


def _user(server: MlflowServer, admin: bool = False) -> tuple[str, str]:
    user = (f"user-{secrets.token_hex(3)}", secrets.token_urlsafe(18))
    created = requests.post(
        f"{server.url}{API}/users/create",
        json={"username": user[0], "password": user[1]},
        auth=server.admin_auth,
        timeout=30,
    )
    assert created.status_code == 200, created.text
    if admin:
        _set_admin(server, user[0], True)
    return user


def _set_admin(server: MlflowServer, username: str, is_admin: bool) -> None:
    response = requests.patch(
        f"{server.url}{API}/users/update-admin",
        json={"username": username, "is_admin": is_admin},
        auth=server.admin_auth,
        timeout=30,
    )
    assert response.status_code == 200, response.text


def _acts_as_admin(server: MlflowServer, user: tuple[str, str]) -> bool:
    """Reading another user's record is for admins only."""
    response = requests.get(f"{server.url}{API}/users/get", params={"username": "admin"}, auth=user, timeout=30)
    assert response.status_code in (200, 403), response.text
    return response.status_code == 200


def _status(server: MlflowServer, user: tuple[str, str]) -> int:
    return requests.get(f"{server.url}{API}/experiments/search?max_results=1", auth=user, timeout=30).status_code


def test_changes_take_effect_at_once_on_the_worker_that_made_them(server_with: ServerFactory) -> None:
    with server_with(1, 300) as server:  # one worker: every request reaches the worker that made the change
        bob = _user(server, admin=True)
        for _ in range(5):  # warm the caches
            assert _acts_as_admin(server, bob)
        _set_admin(server, bob[0], False)
        assert not _acts_as_admin(server, bob)
        carol = _user(server)
        assert _status(server, carol) == 200
        deleted = requests.delete(
            f"{server.url}{API}/users/delete", json={"username": carol[0]}, auth=server.admin_auth, timeout=30
        )
        assert deleted.status_code == 200, deleted.text
        assert _status(server, carol) == 401


def test_changes_reach_the_other_workers_within_the_ttl(server_with: ServerFactory) -> None:
    ttl = 3
    with server_with(2, ttl) as server:
        bob = _user(server, admin=True)
        carol = _user(server)
        for _ in range(10):  # both workers cache bob (admin) and carol
            assert _acts_as_admin(server, bob)
            assert _status(server, carol) == 200
        _set_admin(server, bob[0], False)
        deleted = requests.delete(
            f"{server.url}{API}/users/delete", json={"username": carol[0]}, auth=server.admin_auth, timeout=30
        )
        assert deleted.status_code == 200, deleted.text
        time.sleep(ttl + 1)
        # After the TTL no worker answers from its stale entries (each request is a new connection, so
        # they spread over both workers).
        assert not any(_acts_as_admin(server, bob) for _ in range(10))
        assert {_status(server, carol) for _ in range(10)} == {401}
