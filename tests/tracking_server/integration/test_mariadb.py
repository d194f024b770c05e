"""Tracking store on MariaDB (MySQL engine), auth store on a separate PostgreSQL, direct artifacts."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mlflow_sagemaker_constructs.tracking_server.server import contract
from mlflow_sagemaker_constructs.tracking_server.server.entrypoint import EXIT_CONFIG
from tests.harness.services import (
    DbAccount,
    EntrypointProcess,
    MariaDbServer,
    PostgresServer,
    S3Server,
    contract_env,
    run_entrypoint,
    running_entrypoint,
)
from tests.tracking_server.integration.conftest import admin_password

if TYPE_CHECKING:
    from mlflow import MlflowClient

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]


@pytest.fixture(scope="module")
def mariadb_account(mariadb: MariaDbServer) -> DbAccount:
    return mariadb.new_account(f"mlflow_maria_{secrets.token_hex(3)}")


@pytest.fixture(scope="module")
def mariadb_server(
    mariadb_account: DbAccount, postgres: PostgresServer, s3: S3Server, log_dir: Path
) -> Iterator[tuple[EntrypointProcess, dict[str, str]]]:
    # The auth store's own PostgreSQL login and database (created by the entrypoint).
    auth_user = f"mlflow_maria_auth_{secrets.token_hex(3)}"
    auth_password = f"au%th:{secrets.token_urlsafe(8)}@/"
    postgres.create_user(auth_user, auth_password)
    auth_db = DbAccount("postgresql", postgres.host, postgres.port, f"{auth_user}_db", auth_user, auth_password)
    bucket = s3.create_bucket("maria-artifacts")
    env = contract_env(
        mariadb_account,
        f"s3://{bucket}/mlflow",
        s3,
        admin_password=admin_password(),
        auth_db=auth_db,
        overrides={contract.ARTIFACTS_MODE: "direct"},
    )
    with running_entrypoint(env, log_dir, name="mariadb") as handle:
        yield handle, env


def test_log_and_read_back_on_mariadb(
    mariadb_server: tuple[EntrypointProcess, dict[str, str]],
    mariadb: MariaDbServer,
    mariadb_account: DbAccount,
    postgres: PostgresServer,
    s3: S3Server,
    use_server: Callable[[str, tuple[str, str] | None], MlflowClient],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    handle, env = mariadb_server
    client = use_server(handle.url, ("admin", env[contract.AUTH_ADMIN_PASSWORD]))
    for key, value in s3.client_env().items():  # direct artifacts: the client talks to S3 itself
        monkeypatch.setenv(key, value)

    experiment_id = client.create_experiment(f"maria-{secrets.token_hex(3)}")
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "engine", "mariadb")
    client.log_metric(run_id, "accuracy", 0.93)
    note = tmp_path / "note.txt"
    note.write_text("direct to S3")
    client.log_artifact(run_id, str(note))

    run = client.get_run(run_id)
    assert run.data.params == {"engine": "mariadb"}
    assert run.data.metrics == {"accuracy": 0.93}
    assert run.info.artifact_uri.startswith(f"s3://{env[contract.ARTIFACTS_URI].split('/')[2]}/mlflow/")
    assert Path(client.download_artifacts(run_id, "note.txt", str(tmp_path / "out"))).read_text() == "direct to S3"

    stored = mariadb.query(
        "SELECT `key`, value FROM params WHERE run_uuid = :r", {"r": run_id}, mariadb_account.database
    )
    assert stored == [("engine", "mariadb")]
    admins = postgres.query("SELECT username FROM users WHERE is_admin", database=env[contract.AUTH_DB_NAME])
    assert admins == [("admin",)]
    assert "MIGRATING tracking schema of mysql database" in handle.logs()


def test_mysql_without_a_postgresql_auth_store_is_a_config_error(
    mariadb_account: DbAccount, s3: S3Server, log_dir: Path
) -> None:
    env = contract_env(mariadb_account, "s3://unused/mlflow", s3, admin_password=admin_password())
    handle = run_entrypoint(env, log_dir, name="mariadb-no-auth-host")
    assert handle.wait_exit(60) == EXIT_CONFIG
    assert contract.AUTH_DB_HOST in handle.logs()
    assert "Traceback" not in handle.logs()
