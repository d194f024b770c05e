"""Start-up under faults: racing tasks, database down or refusing us, a newer schema, S3 down."""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from mlflow_sagemaker_constructs.tracking_server.server import contract
from mlflow_sagemaker_constructs.tracking_server.server.entrypoint import (
    EXIT_DATABASE_LOGIN,
    EXIT_DATABASE_UNREACHABLE,
    EXIT_SCHEMA_NEWER,
    MIGRATION_MARKER,
)
from tests.harness.services import (
    DbAccount,
    EntrypointProcess,
    PostgresServer,
    S3Server,
    contract_env,
    free_port,
    run_entrypoint,
)
from tests.tracking_server.integration.conftest import admin_password

if TYPE_CHECKING:
    from mlflow import MlflowClient

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]


def _name(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(3)}"


@dataclasses.dataclass(frozen=True)
class RacingTasks:
    first: EntrypointProcess
    second: EntrypointProcess
    account: DbAccount
    env: dict[str, str]

    def logs(self) -> str:
        return self.first.logs() + self.second.logs()


@pytest.fixture(scope="module")
def racing_tasks(postgres: PostgresServer, log_dir: Path) -> Iterator[RacingTasks]:
    """Two tasks started at the same moment on a fresh database, with the default connection pool,
    and their artifact store (S3) unreachable."""
    account = postgres.new_account(_name("race"))
    env = contract_env(account, "s3://dead-bucket/mlflow", admin_password=admin_password())
    env.update(
        {
            "MLFLOW_S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_RETRY_MODE": "standard",
        }
    )
    first = run_entrypoint(env, log_dir, name="race-a")
    second = run_entrypoint(env, log_dir, name="race-b")
    try:
        first.wait_healthy(240)
        second.wait_healthy(240)
        yield RacingTasks(first, second, account, env)
    finally:
        first.stop()
        second.stop()


def test_tasks_starting_together_migrate_once(racing_tasks: RacingTasks, postgres: PostgresServer) -> None:
    logs = racing_tasks.logs()
    assert logs.count(f"{MIGRATION_MARKER} tracking schema") == 1, logs
    assert logs.count(f"{MIGRATION_MARKER} auth schema") == 1, logs
    # The other task found the schemas current (after waiting for the lock, or after the migration).
    assert logs.count("tracking schema of") == 2, logs
    assert logs.count("auth schema of") == 2, logs
    # mlflow server itself created no tables: only the entrypoint's migration did.
    assert logs.count("Creating initial MLflow database tables") == 1, logs
    versions = postgres.query("SELECT version_num FROM alembic_version", database=racing_tasks.account.database)
    assert len(versions) == 1
    assert postgres.database_exists(racing_tasks.env[contract.AUTH_DB_NAME])


def test_s3_down_fails_artifact_calls_but_not_health(
    racing_tasks: RacingTasks,
    use_server: Callable[[str, tuple[str, str] | None], MlflowClient],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from mlflow.exceptions import MlflowException

    server = racing_tasks.first
    client = use_server(server.url, ("admin", racing_tasks.env[contract.AUTH_ADMIN_PASSWORD]))
    experiment_id = client.create_experiment(_name("s3-down"))
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "tracking", "still works")
    artifact = tmp_path / "artifact.txt"
    artifact.write_text("hello")

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with pytest.raises(MlflowException):
        client.log_artifact(run_id, str(artifact))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")

    assert requests.get(server.url + "/health", timeout=10).status_code == 200
    assert client.get_run(run_id).data.params == {"tracking": "still works"}


def test_unreachable_database_fails_in_bounded_time_naming_host_and_port(s3: S3Server, log_dir: Path) -> None:
    dead_port = free_port()
    account = DbAccount("postgresql", "127.0.0.1", dead_port, "mlflow", "mlflow", "unused-password")
    env = contract_env(account, "s3://unused/mlflow", s3, admin_password=admin_password())
    env[contract.DB_WAIT_SECONDS] = "4"
    started = time.monotonic()
    handle = run_entrypoint(env, log_dir, name="unreachable")
    code = handle.wait_exit(60)
    elapsed = time.monotonic() - started

    assert code == EXIT_DATABASE_UNREACHABLE, handle.logs()
    assert f"127.0.0.1:{dead_port}" in handle.logs()
    assert contract.DB_WAIT_SECONDS in handle.logs()
    assert "Traceback" not in handle.logs()
    assert elapsed < 4 + 30, f"took {elapsed:.0f} s"


def test_wrong_database_password_is_reported_clearly(postgres: PostgresServer, s3: S3Server, log_dir: Path) -> None:
    account = postgres.new_account(_name("wrongpw"))
    env = contract_env(account, "s3://unused/mlflow", s3, admin_password=admin_password())
    env[contract.DB_PASSWORD] = account.password + "-wrong"
    handle = run_entrypoint(env, log_dir, name="wrong-password")

    assert handle.wait_exit(60) == EXIT_DATABASE_LOGIN, handle.logs()
    logs = handle.logs()
    assert f"cannot log in to postgresql database '{account.database}'" in logs
    assert f"as user '{account.username}'" in logs
    assert "password authentication failed" in logs
    assert contract.DB_PASSWORD in logs
    assert "Traceback" not in logs
    assert account.password not in logs


def test_a_schema_newer_than_this_mlflow_is_refused(postgres: PostgresServer, s3: S3Server, log_dir: Path) -> None:
    account = postgres.new_account(_name("newer"))
    postgres.query(
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)",
        database=account.database,
    )
    postgres.query("INSERT INTO alembic_version VALUES ('ffffffffffff')", database=account.database)
    postgres.query(f'ALTER TABLE alembic_version OWNER TO "{account.username}"', database=account.database)
    env = contract_env(account, "s3://unused/mlflow", s3)
    handle = run_entrypoint(env, log_dir, name="newer-schema")

    assert handle.wait_exit(60) == EXIT_SCHEMA_NEWER, handle.logs()
    assert "ffffffffffff" in handle.logs()
    assert "newer MLflow" in handle.logs()
    assert "Traceback" not in handle.logs()


def test_a_database_outage_before_a_workers_first_request_fails_fast(s3: S3Server, log_dir: Path) -> None:
    """MLflow opens a worker's tracking store on its first request and retries for about two minutes while
    the database is down, holding the request. The app opens it as each worker starts, so a request that is
    the worker's first during an outage gets its 503 at once. One worker, so that the request is its first;
    auth off, so that nothing before it touches the database (an auth check would fail first, and fast)."""
    with PostgresServer.start() as own_postgres:
        account = own_postgres.new_account(_name("outage"))
        bucket = s3.create_bucket(_name("outage").replace("_", "-"))
        env = contract_env(account, f"s3://{bucket}/mlflow", s3, overrides={contract.WORKERS: "1"})
        handle = run_entrypoint(env, log_dir, name="outage-first-request")
        try:
            handle.wait_healthy(180)
            own_postgres.stop()
            # Within the client's timeout (a read timeout here is the failure), and without details.
            response = requests.get(
                f"{handle.url}/api/2.0/mlflow/experiments/search", params={"max_results": 1}, timeout=30
            )
            assert response.status_code == 503, response.text
            assert "psycopg2" not in response.text
        finally:
            handle.stop()
