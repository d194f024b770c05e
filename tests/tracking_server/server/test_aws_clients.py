"""The server's S3 clients get bounded timeouts and retries without changes to MLflow."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from mlflow_sagemaker_constructs.tracking_server.server import aws_clients, contract


@pytest.fixture(autouse=True)
def restore_default_session() -> Iterator[None]:
    previous = boto3.DEFAULT_SESSION
    yield
    boto3.DEFAULT_SESSION = previous


def test_mlflows_s3_client_inherits_the_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.store.artifact.s3_artifact_repo import _get_s3_client

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    aws_clients.bound_s3_calls(
        {contract.S3_CONNECT_TIMEOUT_SECONDS: "3", contract.S3_READ_TIMEOUT_SECONDS: "7", contract.S3_MAX_ATTEMPTS: "2"}
    )
    client = _get_s3_client(s3_endpoint_url="http://127.0.0.1:9")  # type: ignore[no-untyped-call]
    config = client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (3, 7)
    assert config.retries["total_max_attempts"] == 2
    assert config.retries["mode"] == "standard"
    # MLflow's own settings still apply on top.
    assert config.signature_version == "s3v4"


def test_defaults() -> None:
    aws_clients.bound_s3_calls({})
    assert boto3.DEFAULT_SESSION is not None
    config = boto3.DEFAULT_SESSION.client("s3", region_name="us-east-1").meta.config
    assert config.connect_timeout == contract.DEFAULT_S3_CONNECT_TIMEOUT_SECONDS  # type: ignore[attr-defined]
    assert config.read_timeout == contract.DEFAULT_S3_READ_TIMEOUT_SECONDS  # type: ignore[attr-defined]
