"""Large artifacts (200 MiB) through API Gateway's limits and through the in-VPC path.

API Gateway HTTP API limits payloads to 10 MB both ways (and 30 s). MLflow's proxied multipart
upload and download send only small JSON requests through the API; the parts travel between the
client and S3 on presigned URLs. A client needs:

* ``MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE`` below 10 MB (default 500 MB): smaller files are sent
  in one request through the API;
* ``MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD`` / ``MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD`` true, or unset:
  MLflow 3.17 then asks the server's ``/server-info``, which advertises both for S3;
* network access to S3 (presigned URLs need no AWS credentials).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from tests.harness.services import API_GATEWAY_PAYLOAD_LIMIT, ApiGateway
from tests.tracking_server.integration.conftest import MlflowServer

if TYPE_CHECKING:
    from mlflow import MlflowClient

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]

MiB = 1024 * 1024
BIG_FILE_SIZE = 200 * MiB
#: What a client behind API Gateway sets (docs/server-image.md).
API_GATEWAY_CLIENT_ENV = {
    "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD": "true",
    "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD": "true",
    "MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE": str(8 * MiB),
    "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE": str(8 * MiB),
    "MLFLOW_MULTIPART_DOWNLOAD_CHUNK_SIZE": str(8 * MiB),
}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(8 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """200 MiB of random bytes, written in 8 MiB chunks, and its SHA-256."""
    path = tmp_path_factory.mktemp("big") / "weights.bin"
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        for _ in range(BIG_FILE_SIZE // (8 * MiB)):
            chunk = os.urandom(8 * MiB)
            digest.update(chunk)
            handle.write(chunk)
    return path, digest.hexdigest()


def _new_run(client: MlflowClient, name: str) -> str:
    import secrets

    experiment_id = client.create_experiment(f"{name}-{secrets.token_hex(3)}")
    run_id: str = client.create_run(experiment_id).info.run_id
    return run_id


def test_200_mib_through_api_gateway_limits(
    main_server: MlflowServer,
    api_gateway: ApiGateway,
    big_file: tuple[Path, str],
    use_server: Callable[[str, tuple[str, str] | None], MlflowClient],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    path, digest = big_file
    client = use_server(api_gateway.url, main_server.admin_auth)
    for key, value in API_GATEWAY_CLIENT_ENV.items():
        monkeypatch.setenv(key, value)
    run_id = _new_run(client, "big-via-gateway")

    client.log_artifact(run_id, str(path), "model")
    downloaded = Path(client.download_artifacts(run_id, "model/weights.bin", str(tmp_path)))

    assert downloaded.stat().st_size == BIG_FILE_SIZE
    assert _sha256(downloaded) == digest
    seen = api_gateway.requests_seen()
    paths = [p for _, p, _, _, _ in seen]
    assert any("/mpu/create/" in p for p in paths), seen
    assert any("/mpu/complete/" in p for p in paths), seen
    assert any("/mlflow-artifacts/presigned/" in p for p in paths), seen
    # Nothing big crossed the gateway: the parts went between client and S3 directly.
    assert max(sent for *_, sent in seen) < API_GATEWAY_PAYLOAD_LIMIT, seen
    assert max(length for *_, length, _ in seen) < API_GATEWAY_PAYLOAD_LIMIT, seen
    assert all(status < 400 for _, _, status, _, _ in seen), seen


def test_api_gateway_limits_are_enforced(
    main_server: MlflowServer,
    api_gateway: ApiGateway,
    use_server: Callable[[str, tuple[str, str] | None], MlflowClient],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Without the client settings, large transfers through the gateway fail: the limits are real."""
    from mlflow.exceptions import MlflowException

    medium = tmp_path / "medium.bin"
    medium.write_bytes(os.urandom(API_GATEWAY_PAYLOAD_LIMIT + 2 * MiB))
    client = use_server(main_server.url, main_server.admin_auth)
    run_id = _new_run(client, "gateway-limits")
    client.log_artifact(run_id, str(medium))  # in-VPC, so that there is something to fetch
    artifact_uri = client.get_run(run_id).info.artifact_uri  # mlflow-artifacts:/<exp>/<run>/artifacts
    api_path = "/api/2.0/mlflow-artifacts/artifacts/" + artifact_uri.split(":/", 1)[1].lstrip("/")
    auth = main_server.admin_auth

    # Requests over 10 MB: 413 from the gateway, the server never sees them.
    too_big = requests.put(f"{api_gateway.url}{api_path}/too-big.bin", data=medium.read_bytes(), auth=auth, timeout=60)
    assert too_big.status_code == 413
    # Responses over 10 MB: 500 from the gateway.
    response = requests.get(f"{api_gateway.url}{api_path}/medium.bin", auth=auth, timeout=60)
    assert response.status_code == 500
    # Just under the limit passes both ways.
    payload = os.urandom(API_GATEWAY_PAYLOAD_LIMIT - 64 * 1024)
    assert requests.put(f"{api_gateway.url}{api_path}/small.bin", data=payload, auth=auth, timeout=60).ok
    fetched = requests.get(f"{api_gateway.url}{api_path}/small.bin", auth=auth, timeout=60)
    assert fetched.status_code == 200
    assert fetched.content == payload

    # MLflow's client with MLflow's default settings fails through the gateway both ways.
    client = use_server(api_gateway.url, auth)
    for key in API_GATEWAY_CLIENT_ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD", "false")
    with pytest.raises((MlflowException, requests.exceptions.RequestException)):
        client.download_artifacts(run_id, "medium.bin", str(tmp_path / "download"))
    # A new run: MLflow's client caches the artifact repository (with its resolved URL) per run.
    gateway_run_id = _new_run(client, "gateway-limits-upload")
    with pytest.raises((MlflowException, requests.exceptions.RequestException)):
        client.log_artifact(gateway_run_id, str(medium))
    assert ("PUT", 413) in {(method, status) for method, _, status, _, _ in api_gateway.requests_seen()}


@pytest.mark.parametrize("multipart_download", ["auto", "false"])
def test_200_mib_in_vpc_direct_to_the_server(
    main_server: MlflowServer,
    big_file: tuple[Path, str],
    use_server: Callable[[str, tuple[str, str] | None], MlflowClient],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    multipart_download: str,
) -> None:
    """Inside the VPC (SageMaker, training jobs) MLflow's defaults work: one streamed upload
    through the server; downloads presigned from S3 ("auto") or streamed through the server."""
    path, digest = big_file
    client = use_server(main_server.url, main_server.admin_auth)
    for key in API_GATEWAY_CLIENT_ENV:
        monkeypatch.delenv(key, raising=False)
    if multipart_download != "auto":
        monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD", multipart_download)
    run_id = _new_run(client, f"big-direct-{multipart_download}")

    client.log_artifact(run_id, str(path), "model")
    downloaded = Path(client.download_artifacts(run_id, "model/weights.bin", str(tmp_path)))

    assert downloaded.stat().st_size == BIG_FILE_SIZE
    assert _sha256(downloaded) == digest
