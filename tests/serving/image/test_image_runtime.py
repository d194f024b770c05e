"""The shipped pyfunc serving image itself serves a packaged model with SageMaker's hosting contract.

The model is trained and registered in a local MLflow store, packaged to S3 (moto) by the real
``mlflow-sagemaker-package`` command and extracted the way SageMaker fills ``/opt/ml/model``, which is
mounted read-only into a container of the image built by ``scripts/build_images.py`` from its Dockerfile as
shipped. The container runs as SageMaker runs it: ``docker run IMAGE serve``, port 8080 inside its own
network namespace (published on a free port of the host's loopback), ``GET /ping`` and ``POST /invocations``.

Two ways SageMaker runs a container: real-time hosting as root with a writable root filesystem, and
serverless hosting as an unprivileged user with a read-only root filesystem except ``/tmp``.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd  # type: ignore[import-untyped]
import pytest
import requests

from mlflow_sagemaker_constructs.serving.image import entrypoint
from mlflow_sagemaker_constructs.versions import MLFLOW_VERSION
from tests.harness.containers import Container, Images, run_container
from tests.serving.image.helpers import (
    moto_s3_server,
    package_for_sagemaker,
    register_model,
    sample_inputs,
)

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("images"), pytest.mark.timeout(1800)]

IMAGE = "serving"
BUCKET = "model-artifacts"
MODEL_DIR = "/opt/ml/model"
#: Uncompressed size budget of the serving image, base included. Measured in docs/constructs/model-endpoint.md.
SIZE_BUDGET_BYTES = 720_000_000
#: An unprivileged user the image does not know, as serverless hosting uses.
SERVERLESS_USER = "65534:65534"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    registered = register_model(tmp_path_factory.mktemp("store"))
    with moto_s3_server(tmp_path_factory.mktemp("moto")) as endpoint:
        import boto3

        boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        ).create_bucket(Bucket=BUCKET)
        _, directory = package_for_sagemaker(registered, endpoint, BUCKET, tmp_path_factory.mktemp("sagemaker"))
    return directory


@pytest.fixture(scope="module")
def expected(model_dir: Path) -> list[float]:
    """What MLflow's own loader predicts on the host from the same model directory."""
    import mlflow.pyfunc

    return [float(p) for p in mlflow.pyfunc.load_model(str(model_dir)).predict(sample_inputs())]


def _start(
    images: Images,
    model_dir: Path,
    log_dir: Path,
    *,
    user: str | None = None,
    read_only: bool = False,
    env: dict[str, str] | None = None,
) -> Container:
    """``docker run IMAGE serve`` with the model at /opt/ml/model; /tmp is a tmpfs when read-only."""
    container = run_container(
        images,
        IMAGE,
        log_dir,
        args=[entrypoint.SERVE_COMMAND],
        env=env,
        user=user,
        read_only=read_only,
        tmpfs=["/tmp"] if read_only else [],
        binds=[(model_dir, MODEL_DIR)],
        publish=[entrypoint.DEFAULT_PORT],
    )
    try:
        _wait_for_ping(container, 300)
    except BaseException:
        container.stop(grace_seconds=5)
        raise
    return container


def _wait_for_ping(container: Container, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{container.url(entrypoint.DEFAULT_PORT)}/ping", timeout=5).status_code == 200:
                return time.monotonic() - container.started_at
        except requests.RequestException:
            pass
        if not container.running():
            raise AssertionError(f"the serving container exited:\n{container.logs()}")
        time.sleep(0.2)
    raise AssertionError(f"/ping not 200 after {timeout} s:\n{container.logs()}")


@pytest.fixture(scope="module")
def realtime(shipped_images: Images, model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    """Real-time hosting: root, writable root filesystem, one worker per CPU (the image's default)."""
    container = _start(shipped_images, model_dir, tmp_path_factory.mktemp("serving-realtime"))
    try:
        yield container
    finally:
        container.stop(grace_seconds=15)


def _predictions(response: requests.Response) -> list[float]:
    assert response.status_code == 200, response.text
    return [float(p) for p in response.json()["predictions"]]


def test_image_is_the_dockerfile_on_the_debootstrapped_base(shipped_images: Images) -> None:
    config = shipped_images.config(IMAGE)
    assert config.labels["org.opencontainers.image.version"] == MLFLOW_VERSION
    assert config.entrypoint == ["python3", "/opt/mlflow-serving/entrypoint.py"]
    assert config.cmd == [entrypoint.SERVE_COMMAND]
    assert config.exposed_ports == [f"{entrypoint.DEFAULT_PORT}/tcp"]
    assert config.user == ""  # SageMaker decides
    assert config.env["HOME"] == "/tmp"


def test_ping_and_invocations_equal_pyfunc_predictions(realtime: Container, expected: list[float]) -> None:
    url = realtime.url(entrypoint.DEFAULT_PORT)
    assert requests.get(f"{url}/ping", timeout=10).status_code == 200
    frame = sample_inputs()
    body = frame.to_csv(index=False)
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(body)), frame, check_exact=True)
    csv = requests.post(f"{url}/invocations", data=body, headers={"Content-Type": "text/csv"}, timeout=60)
    assert _predictions(csv) == expected
    payload = {"dataframe_split": {"columns": list(frame.columns), "data": frame.to_numpy().tolist()}}
    as_json = requests.post(
        f"{url}/invocations", data=json.dumps(payload), headers={"Content-Type": "application/json"}, timeout=60
    )
    assert _predictions(as_json) == expected
    refused = requests.post(f"{url}/invocations", data=b"\0", headers={"Content-Type": "image/png"}, timeout=60)
    assert refused.status_code == 415


def test_realtime_processes_run_as_root_with_the_model_mounted(realtime: Container) -> None:
    processes = realtime.processes()
    assert {uid for _, uid, _ in processes} == {0}, processes
    assert any("uvicorn" in command for _, _, command in processes), processes
    listing = realtime.exec(["python3", "-c", f"import os; print(sorted(os.listdir({MODEL_DIR!r})))"])
    assert "MLmodel" in listing.stdout, listing


_LEFTOVERS_PROBE = """
import glob, json, os, shutil
found = {
    "tools": [t for t in ("gcc", "cc", "c++", "make", "ld", "clang", "git", "curl", "wget") if shutil.which(t)],
    "pip_caches": [p for pattern in ("/root/.cache", "/tmp/.cache", "/tmp/pip-*") for p in glob.glob(pattern)],
    "build_files": os.listdir("/etc/xdg") + [p for p in ("/etc/pip.conf", "/usr/local/pip.conf") if os.path.exists(p)],
}
print(json.dumps(found))
"""


def test_image_has_no_build_tools_pip_cache_or_build_mounts(realtime: Container) -> None:
    result = realtime.exec(["python3", "-c", _LEFTOVERS_PROBE], timeout=120)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert not any(found.values()), found


def test_serverless_unprivileged_read_only_root_filesystem(
    shipped_images: Images, model_dir: Path, expected: list[float], tmp_path: Path
) -> None:
    container = _start(
        shipped_images,
        model_dir,
        tmp_path,
        user=SERVERLESS_USER,
        read_only=True,
        env={entrypoint.WORKERS: "1"},
    )
    try:
        url = container.url(entrypoint.DEFAULT_PORT)
        frame = sample_inputs()
        response = requests.post(
            f"{url}/invocations", data=frame.to_csv(index=False), headers={"Content-Type": "text/csv"}, timeout=60
        )
        assert _predictions(response) == expected
        assert {uid for _, uid, _ in container.processes()} == {65534}
        probe = "import os\ntry:\n open('/opt/x', 'w')\nexcept OSError as e:\n print(e.strerror)"
        assert container.exec(["python3", "-c", probe]).stdout.strip() == "Read-only file system"
    finally:
        # uvicorn handles SIGTERM (SageMaker's stop signal) as PID 1: a clean exit, no SIGKILL needed.
        status = container.stop(grace_seconds=30)
    assert status is not None, container.logs()
    assert "Finished server process" in container.logs()


def test_image_size_is_within_budget(shipped_images: Images) -> None:
    size = shipped_images.size_bytes(IMAGE)
    print(f"\nserving image: {size / 1e6:.0f} MB uncompressed")
    assert size <= SIZE_BUDGET_BYTES, (
        f"the serving image grew to {size / 1e6:.0f} MB (budget {SIZE_BUDGET_BYTES / 1e6:.0f})"
    )
