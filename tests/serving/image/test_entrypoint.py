"""Local proof of the pyfunc serving image without Docker: its entrypoint, run on the host, serves a model.

The model is trained and registered in a local MLflow store, packaged and uploaded to S3 (moto) by the
real ``mlflow-sagemaker-package`` command in a subprocess, downloaded and extracted the way SageMaker
fills ``/opt/ml/model``, and served by ``serving/entrypoint.py serve`` in a subprocess on a free port
(``MLFLOW_SERVING_PORT``; SageMaker's is 8080). The answers to ``/invocations`` in CSV and in JSON
(``dataframe_split``) must be exactly the predictions of ``mlflow.pyfunc.load_model`` on the same input.

``MLFLOW_SERVING_TEST_PYTHON`` may name another interpreter for the server, e.g. one of a virtualenv
built from ``serving/requirements.txt``, to run the same proof against the image's exact packages.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pandas as pd  # type: ignore[import-untyped]
import pytest
import requests

from mlflow_sagemaker_constructs.serving.image import SERVING_ENTRYPOINT, entrypoint
from tests.harness.processes import stop_process_group
from tests.serving.image.helpers import (
    FAKE_AWS_ENV,
    LOCALHOST,
    RegisteredModel,
    free_port,
    moto_s3_server,
    package_for_sagemaker,
    register_model,
    sample_inputs,
    wait_for_port,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.xdist_group("serving")

BUCKET = "model-artifacts"
SERVER_PYTHON = os.environ.get("MLFLOW_SERVING_TEST_PYTHON") or sys.executable
STARTUP_TIMEOUT = 120


@dataclass(frozen=True)
class PackagedModelData:
    registered: RegisteredModel
    s3_uri: str
    model_dir: Path


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> RegisteredModel:
    return register_model(tmp_path_factory.mktemp("store"))


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_s3_server(tmp_path_factory.mktemp("moto")) as endpoint:
        _s3_client(endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint


def _s3_client(endpoint: str) -> S3Client:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_AWS_ENV["AWS_SESSION_TOKEN"],
        region_name=FAKE_AWS_ENV["AWS_DEFAULT_REGION"],
    )


@pytest.fixture(scope="module")
def model_data(
    registered: RegisteredModel, s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> PackagedModelData:
    """The archive made by the packaging command, downloaded from S3 and extracted like SageMaker does."""
    s3_uri, model_dir = package_for_sagemaker(registered, s3_endpoint, BUCKET, tmp_path_factory.mktemp("sagemaker"))
    assert s3_uri.startswith(f"s3://{BUCKET}/sagemaker/diabetes/v1/")
    assert s3_uri.endswith("/model.tar.gz")
    return PackagedModelData(registered=registered, s3_uri=s3_uri, model_dir=model_dir)


def _start_server(model_dir: Path, log: Path, workers: int = 2) -> Server:
    port = free_port()
    env = {
        **os.environ,
        entrypoint.PORT: str(port),
        entrypoint.MODEL_DIR: str(model_dir),
        entrypoint.WORKERS: str(workers),
    }
    env.pop(entrypoint.SAGEMAKER_PORT, None)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [SERVER_PYTHON, str(SERVING_ENTRYPOINT), "serve"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    (log.parent / "server.pid").write_text(f"{process.pid}\n", encoding="utf-8")
    try:
        wait_for_port(port, STARTUP_TIMEOUT, process)
    except BaseException:
        stop_process_group(process)
        raise
    return Server(url=f"http://{LOCALHOST}:{port}", process=process, log=log)


@pytest.fixture(scope="module")
def server(model_data: PackagedModelData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    started = _start_server(model_data.model_dir, tmp_path_factory.mktemp("server") / "server.log")
    try:
        yield started
    finally:
        stop_process_group(started.process)


@pytest.fixture(scope="module")
def expected(model_data: PackagedModelData) -> list[float]:
    """What MLflow's own loader predicts for :func:`sample_inputs` from the same model directory."""
    import mlflow.pyfunc

    predictions = mlflow.pyfunc.load_model(str(model_data.model_dir)).predict(sample_inputs())
    return [float(p) for p in predictions]


def _predictions(response: requests.Response) -> list[float]:
    assert response.status_code == 200, response.text
    body = response.json()
    return [float(p) for p in body["predictions"]]


# --------------------------------------------------------------------------------------------------
# The SageMaker contract, served from the packaged model
# --------------------------------------------------------------------------------------------------


def test_archive_holds_the_mlflow_model_at_its_root(model_data: PackagedModelData) -> None:
    assert (model_data.model_dir / "MLmodel").is_file()
    assert (model_data.model_dir / "requirements.txt").is_file()


def test_ping_answers_200(server: Server) -> None:
    response = requests.get(f"{server.url}/ping", timeout=10)
    assert response.status_code == 200


def test_csv_invocations_equal_pyfunc_predictions(server: Server, expected: list[float]) -> None:
    frame = sample_inputs()
    body = frame.to_csv(index=False)
    # The CSV text carries the floats exactly, so the server predicts on the very same input.
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(body)), frame, check_exact=True)
    response = requests.post(f"{server.url}/invocations", data=body, headers={"Content-Type": "text/csv"}, timeout=30)
    assert _predictions(response) == expected


def test_json_dataframe_split_invocations_equal_pyfunc_predictions(server: Server, expected: list[float]) -> None:
    frame = sample_inputs()
    payload = {"dataframe_split": {"columns": list(frame.columns), "data": frame.to_numpy().tolist()}}
    response = requests.post(
        f"{server.url}/invocations",
        data=json.dumps(payload),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert _predictions(response) == expected


def test_json_records_invocations_equal_pyfunc_predictions(server: Server, expected: list[float]) -> None:
    records = sample_inputs().to_dict(orient="records")
    response = requests.post(f"{server.url}/invocations", json={"dataframe_records": records}, timeout=30)
    assert _predictions(response) == expected


def test_unsupported_content_type_is_refused(server: Server) -> None:
    response = requests.post(
        f"{server.url}/invocations", data=b"\x00", headers={"Content-Type": "image/png"}, timeout=30
    )
    assert response.status_code == 415


def test_input_that_breaks_the_schema_is_a_client_error(server: Server) -> None:
    response = requests.post(
        f"{server.url}/invocations", data="age,sex\n0.1,0.2\n", headers={"Content-Type": "text/csv"}, timeout=30
    )
    assert response.status_code == 400
    assert "bmi" in response.text


def test_server_stops_cleanly_on_sigterm(model_data: PackagedModelData, tmp_path: Path) -> None:
    started = _start_server(model_data.model_dir, tmp_path / "server.log", workers=1)
    assert requests.get(f"{started.url}/ping", timeout=10).status_code == 200
    # uvicorn shuts down gracefully, then re-raises the signal it caught: exit by SIGTERM, not SIGKILL.
    assert stop_process_group(started.process) in (0, -signal.SIGTERM)
    log = started.log.read_text(encoding="utf-8")
    assert "[mlflow-serving] serving" in log
    assert "Finished server process" in log


# --------------------------------------------------------------------------------------------------
# Failures before the server starts: clear messages, distinct exit codes
# --------------------------------------------------------------------------------------------------


def _run_entrypoint(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SERVING_ENTRYPOINT), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
        check=False,
    )


def test_train_command_is_refused() -> None:
    result = _run_entrypoint(["train"], {})
    assert result.returncode == entrypoint.EXIT_USAGE
    assert "only implements SageMaker's 'serve'" in result.stderr


def test_missing_model_is_reported_with_its_directory(tmp_path: Path) -> None:
    result = _run_entrypoint(["serve"], {entrypoint.MODEL_DIR: str(tmp_path)})
    assert result.returncode == entrypoint.EXIT_MODEL
    assert f"no MLmodel file in {tmp_path}" in result.stderr
    assert "mlflow-sagemaker-package" in result.stderr


def test_model_without_pyfunc_flavour_is_refused(tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_text(
        "artifact_path: model\nflavors:\n  spark:\n    pyspark_version: 3.5.0\nmlflow_version: 3.17.2\n",
        encoding="utf-8",
    )
    result = _run_entrypoint(["serve"], {entrypoint.MODEL_DIR: str(tmp_path)})
    assert result.returncode == entrypoint.EXIT_MODEL
    assert "has no python_function flavour (flavours: ['spark'])" in result.stderr


def test_bad_port_is_reported_with_the_variable(tmp_path: Path) -> None:
    result = _run_entrypoint(["serve"], {entrypoint.PORT: "http", entrypoint.MODEL_DIR: str(tmp_path)})
    assert result.returncode == entrypoint.EXIT_USAGE
    assert "MLFLOW_SERVING_PORT ('http') is not an integer" in result.stderr


# --------------------------------------------------------------------------------------------------
# Settings and command (in-process)
# --------------------------------------------------------------------------------------------------


def test_settings_default_to_the_sagemaker_contract() -> None:
    settings = entrypoint.read_settings({})
    assert settings.port == 8080
    assert settings.model_dir == Path("/opt/ml/model")
    assert settings.workers == (os.cpu_count() or 1)
    assert settings.keep_alive_seconds == 75


def test_sagemaker_bind_to_port_is_honoured_unless_overridden() -> None:
    assert entrypoint.read_settings({"SAGEMAKER_BIND_TO_PORT": "9090"}).port == 9090
    assert entrypoint.read_settings({"SAGEMAKER_BIND_TO_PORT": "9090", "MLFLOW_SERVING_PORT": "7070"}).port == 7070


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MLFLOW_SERVING_PORT": "70000"}, "MLFLOW_SERVING_PORT (70000) must be at least 1 and at most 65535"),
        ({"MLFLOW_MODELS_WORKERS": "0"}, "MLFLOW_MODELS_WORKERS (0) must be at least 1"),
        ({"MLFLOW_SERVING_KEEP_ALIVE_SECONDS": "soon"}, "MLFLOW_SERVING_KEEP_ALIVE_SECONDS ('soon') is not"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(entrypoint.ServingError, match=message.replace("(", r"\(").replace(")", r"\)")):
        entrypoint.read_settings(env)


def test_server_command_is_mlflows_scoring_app_on_all_interfaces() -> None:
    settings = entrypoint.Settings(port=8080, model_dir=Path("/opt/ml/model"), workers=3, keep_alive_seconds=75)
    argv, env = entrypoint.server_command(settings, python="/usr/local/bin/python3")
    assert argv[:3] == ["/usr/local/bin/python3", "-m", "uvicorn"]
    assert argv[-3:] == ["mlflow.pyfunc.scoring_server.app:app", "--timeout-keep-alive", "75"]
    assert argv[argv.index("--host") + 1] == "0.0.0.0"  # noqa: S104 - the contract under test
    assert argv[argv.index("--port") + 1] == "8080"
    assert argv[argv.index("--workers") + 1] == "3"
    assert env["__pyfunc_model_path__"].endswith("/opt/ml/model")
