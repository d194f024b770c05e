"""Built-in authentication: credentials required, per-user permissions, no default admin password."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import requests

from mlflow_sagemaker_constructs.tracking_server.server import contract
from mlflow_sagemaker_constructs.tracking_server.server.entrypoint import EXIT_CONFIG
from tests.harness.services import run_entrypoint
from tests.tracking_server.integration.conftest import MlflowServer

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]

SEARCH = "/api/2.0/mlflow/experiments/search?max_results=1"


def test_requests_without_or_with_wrong_credentials_get_401(main_server: MlflowServer) -> None:
    assert requests.get(main_server.url + SEARCH, timeout=10).status_code == 401
    wrong = (main_server.admin_username, main_server.admin_password + "x")
    assert requests.get(main_server.url + SEARCH, auth=wrong, timeout=10).status_code == 401
    assert requests.get(main_server.url + SEARCH, auth=main_server.admin_auth, timeout=10).status_code == 200
    # The health check needs no credentials.
    assert requests.get(main_server.url + "/health", timeout=10).status_code == 200


def test_the_default_admin_password_does_not_log_in(main_server: MlflowServer) -> None:
    response = requests.get(main_server.url + SEARCH, auth=("admin", "password1234"), timeout=10)
    assert response.status_code == 401


def _create_user(server: MlflowServer, username: str, password: str) -> None:
    response = requests.post(
        server.url + "/api/2.0/mlflow/users/create",
        json={"username": username, "password": password},
        auth=server.admin_auth,
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_users_cannot_see_each_others_experiments(main_server: MlflowServer) -> None:
    suffix = secrets.token_hex(3)
    alice = (f"alice-{suffix}", secrets.token_urlsafe(16))
    bob = (f"bob-{suffix}", secrets.token_urlsafe(16))
    _create_user(main_server, *alice)
    _create_user(main_server, *bob)

    created = requests.post(
        main_server.url + "/api/2.0/mlflow/experiments/create",
        json={"name": f"alice-private-{suffix}"},
        auth=alice,
        timeout=10,
    )
    assert created.status_code == 200, created.text
    experiment_id = created.json()["experiment_id"]
    get = f"{main_server.url}/api/2.0/mlflow/experiments/get?experiment_id={experiment_id}"

    assert requests.get(get, auth=alice, timeout=10).status_code == 200
    assert requests.get(get, auth=bob, timeout=10).status_code == 403
    assert requests.get(get, auth=main_server.admin_auth, timeout=10).status_code == 200
    # Only admins manage users.
    forbidden = requests.post(
        main_server.url + "/api/2.0/mlflow/users/create",
        json={"username": f"mallory-{suffix}", "password": secrets.token_urlsafe(16)},
        auth=bob,
        timeout=10,
    )
    assert forbidden.status_code == 403


@pytest.mark.parametrize(
    ("password", "reason"),
    [("password1234", "well-known default"), ("short-pass", "too short"), ("", "not set")],
)
def test_the_entrypoint_refuses_weak_admin_passwords(
    main_server: MlflowServer, log_dir: Path, password: str, reason: str
) -> None:
    env = {**main_server.env, contract.AUTH_ADMIN_PASSWORD: password}
    handle = run_entrypoint(env, log_dir, name="weak-admin")
    assert handle.wait_exit(60) == EXIT_CONFIG
    assert contract.AUTH_ADMIN_PASSWORD in handle.logs()
    assert reason in handle.logs()
    assert "Traceback" not in handle.logs()
