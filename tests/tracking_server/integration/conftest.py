"""Session-wide local services for the integration tests, and the shared MLflow server.

All integration tests are in the xdist group ``integration`` so that one worker runs them and starts
PostgreSQL, MariaDB, S3 (moto) and the main MLflow server once. The fixtures are nevertheless safe per
worker: every service gets its own temporary directory and random free ports.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mlflow_sagemaker_constructs.tracking_server.server import contract
from tests.harness.services import (
    ApiGateway,
    DbAccount,
    EntrypointProcess,
    MariaDbServer,
    PostgresServer,
    S3Server,
    contract_env,
    run_entrypoint,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient

#: The load balancer DNS name and custom domain the main server accepts in the Host header.
ALB_DNS_NAME = "internal-mlflow-123.us-east-1.elb.amazonaws.com"
CUSTOM_DOMAIN = "mlflow.example.internal"
#: Loopback patterns too, so that the tests can talk to the server directly.
ALLOWED_HOSTS = f"{ALB_DNS_NAME},{CUSTOM_DOMAIN},127.0.0.1:*,localhost:*"
COLD_START_CACHE_KEY = "mlflow_sagemaker_constructs/server_cold_start"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with PostgresServer.start() as server:
        yield server


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDbServer]:
    with MariaDbServer.start() as server:
        yield server


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    with S3Server.start() as server:
        yield server


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where entrypoint logs go; pytest keeps the last runs' temp dirs for post-mortems."""
    return tmp_path_factory.mktemp("entrypoint-logs")


def admin_password() -> str:
    return f"Adm1n%{secrets.token_urlsafe(12)}"


@dataclasses.dataclass(frozen=True)
class MlflowServer:
    """A running server with what tests need to talk to it and to inspect its databases."""

    handle: EntrypointProcess
    env: dict[str, str]
    account: DbAccount
    admin_username: str
    admin_password: str
    bucket: str
    cold_start_seconds: float

    @property
    def url(self) -> str:
        return self.handle.url

    @property
    def admin_auth(self) -> tuple[str, str]:
        return self.admin_username, self.admin_password


@pytest.fixture(scope="session")
def main_server(
    postgres: PostgresServer, s3: S3Server, log_dir: Path, request: pytest.FixtureRequest
) -> Iterator[MlflowServer]:
    """The production-like server: PostgreSQL tracking and auth stores (the auth database created by
    the entrypoint), proxied S3 artifacts, pooled connections, allowed hosts, NO_PERMISSIONS by default.

    Started on an empty database, so its start-up time is the cold start.
    """
    account = postgres.new_account("mlflow_main")
    bucket = s3.create_bucket("main-artifacts")
    password = admin_password()
    env = contract_env(
        account,
        f"s3://{bucket}/mlflow",
        s3,
        admin_password=password,
        overrides={
            contract.ALLOWED_HOSTS: ALLOWED_HOSTS,
            contract.AUTH_DEFAULT_PERMISSION: "NO_PERMISSIONS",
        },
    )
    handle = run_entrypoint(env, log_dir, name="main")
    try:
        cold_start = handle.wait_healthy(180)
        record_cold_start(request, cold_start, handle.logs())
        yield MlflowServer(handle, env, account, "admin", password, bucket, cold_start)
    finally:
        handle.stop()


def record_cold_start(request: pytest.FixtureRequest, seconds: float, logs: str) -> None:
    """Print the cold start and keep it in pytest's cache (``pytest --cache-show 'mlflow*'``)."""
    ready = [line for line in logs.splitlines() if "databases ready in" in line]
    value = {
        "seconds_to_health_200": round(seconds, 1),
        "entrypoint_line": ready[0] if ready else "",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    if cache is not None:
        cache.set(COLD_START_CACHE_KEY, value)
    print(f"\nMLflow server cold start (entrypoint start to /health 200, empty database): {seconds:.1f} s")


@pytest.fixture(scope="session")
def api_gateway(main_server: MlflowServer) -> Iterator[ApiGateway]:
    """API Gateway HTTP API in front of the main server, forwarding with the ALB's DNS name as Host."""
    with ApiGateway.start(main_server.handle.port, ALB_DNS_NAME) as gateway:
        yield gateway


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    cache = getattr(config, "cache", None)
    value = cache.get(COLD_START_CACHE_KEY, None) if cache is not None else None
    if value:
        terminalreporter.write_line(f"MLflow server cold start (last measured): {json.dumps(value)}")


@pytest.fixture
def use_server(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, tuple[str, str] | None], MlflowClient]:
    """Point the MLflow client of this process at ``url`` with basic-auth credentials (or none)."""
    import mlflow

    def use(url: str, auth: tuple[str, str] | None = None) -> MlflowClient:
        from mlflow import MlflowClient

        if auth is None:
            monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
            monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
        else:
            monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", auth[0])
            monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", auth[1])
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        monkeypatch.setenv("MLFLOW_REGISTRY_URI", url)
        # Fail fast: the client's default is 7 retries with exponential back-off.
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
        # Set MLflow's process-wide URIs through monkeypatch so they are restored after the test: a leftover
        # registry URI would send later tests' model registrations (other modules, same worker) here.
        from mlflow.tracking._model_registry import utils as registry_utils
        from mlflow.tracking._tracking_service import utils as tracking_utils

        monkeypatch.setattr(tracking_utils, "_tracking_uri", url)
        monkeypatch.setattr(registry_utils, "_registry_uri", url)
        assert mlflow.get_tracking_uri() == url
        assert mlflow.get_registry_uri() == url
        return MlflowClient(tracking_uri=url, registry_uri=url)

    return use
