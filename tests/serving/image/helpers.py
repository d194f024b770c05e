"""Helpers for the serving and packaging tests: a local MLflow store with a registered model, moto S3.

A scikit-learn regression model (floating-point predictions, so "equal" means bit-for-bit equal) is
logged to a SQLite tracking store with a local artifact root and registered as version 1 of
``diabetes`` with the alias ``champion``. It is logged with explicit pip requirements, which keeps
MLflow from inferring them from the surrounding uv project (seconds per model).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.harness.processes import stop_process_group

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]

LOCALHOST = "127.0.0.1"
MODEL_NAME = "diabetes"
MODEL_ALIAS = "champion"
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass(frozen=True)
class RegisteredModel:
    """A model registered in a local tracking store."""

    tracking_uri: str
    name: str
    version: str
    alias: str
    run_id: str
    artifact_path: str
    #: What the trained model itself predicts for :func:`sample_inputs`, before MLflow saw it.
    original_predictions: tuple[float, ...] = ()

    @property
    def version_uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    @property
    def alias_uri(self) -> str:
        return f"models:/{self.name}@{self.alias}"

    @property
    def run_uri(self) -> str:
        return f"runs:/{self.run_id}/{self.artifact_path}"


def sample_inputs(rows: int = 20) -> pd.DataFrame:
    """Rows of the diabetes features, the model's input."""
    from sklearn.datasets import load_diabetes  # type: ignore[import-untyped]

    features = load_diabetes(as_frame=True).data
    return features.head(rows).reset_index(drop=True)


def register_model(
    root: Path, extra_pip_requirements: list[str] | None = None, tracking_uri: str | None = None
) -> RegisteredModel:
    """Train, log and register the diabetes model in a new SQLite store under ``root``.

    With ``tracking_uri`` (an MLflow server's URL) the model goes to that server instead, its artifacts to
    the server's artifact store. The original model's predictions for :func:`sample_inputs` are kept.
    """
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge  # type: ignore[import-untyped]
    from sklearn.pipeline import make_pipeline  # type: ignore[import-untyped]
    from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]

    server = tracking_uri is not None
    tracking_uri = tracking_uri or f"sqlite:///{root / 'mlflow.db'}"
    features, target = load_diabetes(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), Ridge(alpha=0.5)).fit(features, target)
    # Without MLFLOW_LOG_UV_FILES=false MLflow copies the surrounding uv project's lock file into the
    # model, and takes seconds to do so.
    previous_uv = os.environ.get("MLFLOW_LOG_UV_FILES")
    os.environ["MLFLOW_LOG_UV_FILES"] = "false"
    try:
        with _use_tracking_uri(tracking_uri):
            experiment_id = mlflow.create_experiment(
                f"serving-{root.name}", artifact_location=None if server else (root / "artifacts").as_uri()
            )
            requirements = [
                *mlflow.sklearn.get_default_pip_requirements(include_skops=True),
                *(extra_pip_requirements or []),
            ]
            with mlflow.start_run(experiment_id=experiment_id) as run:
                info = mlflow.sklearn.log_model(
                    model,
                    name="model",
                    registered_model_name=MODEL_NAME,
                    signature=infer_signature(features, model.predict(features)),
                    pip_requirements=requirements,
                )
        version = str(info.registered_model_version)
        mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri).set_registered_model_alias(
            MODEL_NAME, MODEL_ALIAS, version
        )
    finally:
        if previous_uv is None:
            os.environ.pop("MLFLOW_LOG_UV_FILES", None)
        else:
            os.environ["MLFLOW_LOG_UV_FILES"] = previous_uv
    return RegisteredModel(
        tracking_uri=tracking_uri,
        name=MODEL_NAME,
        version=version,
        alias=MODEL_ALIAS,
        run_id=run.info.run_id,
        artifact_path="model",
        original_predictions=tuple(float(p) for p in model.predict(sample_inputs())),
    )


def package_for_sagemaker(registered: RegisteredModel, s3_endpoint: str, bucket: str, work: Path) -> tuple[str, Path]:
    """Package ``registered`` to ``s3://bucket/sagemaker/`` with the real ``mlflow-sagemaker-package`` command,
    download the archive and extract it the way SageMaker fills /opt/ml/model; return its S3 URI and the
    model directory (``work/opt/ml/model``)."""
    import boto3

    cwd = work / "cwd"
    cwd.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "mlflow-sagemaker-package"),
            registered.alias_uri,
            "--s3-uri",
            f"s3://{bucket}/sagemaker/",
            "--tracking-uri",
            registered.tracking_uri,
            "--strict",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **FAKE_AWS_ENV, "AWS_ENDPOINT_URL_S3": s3_endpoint},
        cwd=cwd,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    s3_uri = lines[0]
    archive = work / "model.tar.gz"
    source_bucket, _, key = s3_uri.removeprefix("s3://").partition("/")
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id=FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_AWS_ENV["AWS_SESSION_TOKEN"],
        region_name=FAKE_AWS_ENV["AWS_DEFAULT_REGION"],
    )
    client.download_file(source_bucket, key, str(archive))
    return s3_uri, extract_like_sagemaker(archive, work / "opt" / "ml" / "model")


def extract_like_sagemaker(archive: Path, model_dir: Path) -> Path:
    """Extract ``archive`` into ``model_dir`` the way SageMaker fills /opt/ml/model."""
    model_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(model_dir, filter="data")
    return model_dir


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float, process: subprocess.Popen[Any]) -> None:
    """Wait until something accepts connections on ``port``; fail early when ``process`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection((LOCALHOST, port), timeout=1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {LOCALHOST}:{port} after {timeout} s")


@contextlib.contextmanager
def moto_s3_server(log_dir: Path) -> Iterator[str]:
    """``moto_server`` emulating S3 on a free port; yields its endpoint URL."""
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "moto.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", LOCALHOST, "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **FAKE_AWS_ENV},
            start_new_session=True,
        )
    (log_dir / "moto.pid").write_text(f"{process.pid}\n", encoding="utf-8")
    try:
        wait_for_port(port, 30, process)
        yield f"http://{LOCALHOST}:{port}"
    finally:
        stop_process_group(process)
