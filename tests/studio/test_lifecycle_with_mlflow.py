"""The documented user registration and the lifecycle script against a real MLflow server with basic auth.

An admin registers a Studio user with the snippet from docs/constructs/studio.md; the lifecycle script then
writes that user's credentials from a (fake) Secrets Manager secret, and a "kernel" logs a run with nothing
but the files the script wrote: no MLFLOW_TRACKING_* variables in its environment.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from mlflow.exceptions import MlflowException
from mlflow.server import get_app_client

from mlflow_sagemaker_constructs.studio.lifecycle_config import render_script

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("studio-mlflow-server")]

ADMIN_PASSWORD = "Adm1n-password-for-tests"
USER = {"username": "alice", "password": "Gen3ratedPasswordWithoutPunctuation"}
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:StudioUsersalice-AbC123"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("mlflow-basic-auth")
    config = root / "auth.ini"
    config.write_text(
        "[mlflow]\n"
        "default_permission = NO_PERMISSIONS\n"
        f"database_uri = sqlite:///{root / 'auth.db'}\n"
        "admin_username = admin\n"
        f"admin_password = {ADMIN_PASSWORD}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")},
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-secret-key",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    mlflow_cli = Path(sys.executable).parent / "mlflow"
    log = (root / "server.log").open("w")
    process = subprocess.Popen(
        [
            str(mlflow_cli),
            "server",
            "--app-name",
            "basic-auth",
            "--backend-store-uri",
            f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination",
            str(root / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"MLflow server did not start:\n{(root / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _register(url: str, users: list[dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The registration loop of docs/constructs/studio.md, with the secrets already read."""
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
    client = get_app_client("basic-auth", tracking_uri=url)
    outcomes = []
    for user in users:
        try:
            client.create_user(user["username"], user["password"])
            outcomes.append("created")
        except MlflowException as error:
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            client.update_user_password(user["username"], user["password"])
            outcomes.append("updated")
    return outcomes


def test_a_registered_user_logs_runs_with_what_the_script_wrote(
    mlflow_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _register(mlflow_server, [USER], monkeypatch) == ["created"]
    assert _register(mlflow_server, [USER], monkeypatch) == ["updated"]

    home = tmp_path / "home"
    home.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    aws = bin_dir / "aws"
    aws.write_text("#!/usr/bin/env python3\nimport json\nprint(json.dumps(json.dumps(" + repr(USER) + ")))\n")
    aws.chmod(0o755)
    script = tmp_path / "lifecycle.sh"
    script.write_text(render_script(tracking_uri=mlflow_server, auth="basic", secret_id=SECRET_ARN, region="us-east-1"))
    run = subprocess.run(
        ["/bin/bash", str(script)],
        env={"HOME": str(home), "PATH": f"{bin_dir}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr

    kernel = (
        "import os\n"
        "exec(open(os.path.expanduser('~/.ipython/profile_default/startup/00-mlflow.py')).read())\n"
        "import mlflow\n"
        "mlflow.set_experiment('churn')\n"
        "with mlflow.start_run() as run:\n"
        "    mlflow.log_param('alpha', 0.5)\n"
        "print(mlflow.get_run(run.info.run_id).data.params['alpha'])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["HOME"] = str(home)
    result = subprocess.run([sys.executable, "-c", kernel], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "0.5"

    # Without the credentials file the same kernel is refused: the file is what authenticates.
    (home / ".mlflow" / "credentials").unlink()
    refused = subprocess.run([sys.executable, "-c", kernel], env=env, capture_output=True, text=True, check=False)
    assert refused.returncode != 0
    assert "401" in refused.stderr, refused.stderr[-2000:]
