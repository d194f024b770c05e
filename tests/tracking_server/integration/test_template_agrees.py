"""Template and image agree: the container definition SecureMlflowService synthesizes runs the real entrypoint.

The names (command, environment variables, secrets, port, health check) come from the synthesized template;
only values that CloudFormation would resolve (hosts, ports, bucket, secret values) are pointed at the
local services.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mlflow_sagemaker_constructs.tracking_server.server import SERVER_IMAGE_DIRECTORY, contract
from tests.harness.services import PostgresServer, S3Server, run_entrypoint
from tests.harness.task_definition import (
    container_port,
    health_check_command,
    known_contract_names,
    synthesized_container_definition,
    task_environment,
)

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]


@pytest.fixture(scope="module")
def container_definition() -> dict[str, Any]:
    return synthesized_container_definition()


def test_template_names_are_the_contract(container_definition: dict[str, Any]) -> None:
    names = {e["Name"] for e in container_definition["Environment"]}
    secret_names = {s["Name"] for s in container_definition["Secrets"]}
    known = known_contract_names()
    assert names <= known, names - known
    assert secret_names <= contract.SECRET_NAMES
    assert not names & contract.SECRET_NAMES
    assert container_definition["EntryPoint"] == contract.CONTAINER_COMMAND
    assert container_port(container_definition) == contract.DEFAULT_PORT
    # The image installs the package whose entrypoint module the task definition runs.
    dockerfile = (SERVER_IMAGE_DIRECTORY / "Dockerfile").read_text()
    assert f"/opt/mlflow/{contract.SERVER_PACKAGE}/" in dockerfile
    assert contract.CONTAINER_COMMAND[-1] == f"{contract.SERVER_PACKAGE}.entrypoint"


def test_synthesized_container_definition_runs_and_passes_its_health_check(
    container_definition: dict[str, Any], postgres: PostgresServer, s3: S3Server, log_dir: Path
) -> None:
    account = postgres.new_account("mlflow_template")
    bucket = s3.create_bucket("template-artifacts")
    local_values = {
        # What CloudFormation resolves at deployment, pointed at the local services.
        contract.DB_HOST: account.host,
        contract.DB_PORT: str(account.port),
        contract.ALLOWED_HOSTS: "internal-mlflow-123456.us-east-1.elb.amazonaws.com",
        contract.ARTIFACTS_URI: f"s3://{bucket}/mlflow-artifacts",
        # The regional endpoint; not called here (no IAM token is sent).
        contract.AUTH_IAM_STS_ENDPOINT: "https://sts.us-east-1.amazonaws.com",
    }
    secret_values = {
        contract.DB_USERNAME: account.username,
        contract.DB_PASSWORD: account.password,
        contract.AUTH_ADMIN_PASSWORD: f"Adm1n%{secrets.token_urlsafe(12)}",
        contract.FLASK_SECRET_KEY: secrets.token_hex(32),
    }
    env = task_environment(container_definition, local_values, secret_values)
    # The tracking database name comes from the template ("mlflow"); locally the account owns its own database.
    assert env[contract.DB_NAME] == "mlflow"
    env[contract.DB_NAME] = account.database
    # Likewise the auth database: the session's PostgreSQL is shared, and another test's "mlflow_auth" is not ours.
    assert env[contract.AUTH_DB_NAME] == contract.DEFAULT_AUTH_DB_NAME
    env[contract.AUTH_DB_NAME] = f"{account.database}_auth"
    assert env.pop(contract.PORT) == str(contract.DEFAULT_PORT)  # a free local port instead of the container's
    env.update(s3.client_env())

    handle = run_entrypoint(env, log_dir, name="template")
    try:
        handle.wait_healthy(180)
        check = subprocess.run(
            health_check_command(container_definition),
            env={**os.environ, contract.PORT: str(handle.port)},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert check.returncode == 0, check.stderr
        assert postgres.database_exists(env[contract.AUTH_DB_NAME])
    finally:
        handle.stop()
