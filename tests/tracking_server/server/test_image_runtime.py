"""The shipped server image itself: built from its Dockerfile as it is, run the way the task definition runs it.

``scripts/build_images.py`` builds the image with buildah on a debootstrapped stand-in for
``python:3.11-slim-bookworm`` (see docs/server-image.md); :mod:`tests.harness.containers` runs it without a
container engine: its own mount, PID and network namespaces, the image's user, working directory,
entrypoint and environment, plus the environment and secrets of the container definition that
``SecureMlflowService`` synthesizes. Only what CloudFormation resolves at deployment (database host and
port, bucket, secret values) points at local services: PostgreSQL and moto's S3, reachable inside the
container on 127.0.0.1 at their own ports. The root filesystem is read-only with a tmpfs at ``/tmp``.

The MLflow client talks to the server through the API Gateway stand-in (nginx), which forwards with the
load balancer's DNS name as ``Host``, the one value the template allows.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import requests

from mlflow_sagemaker_constructs.tracking_server.server import contract
from mlflow_sagemaker_constructs.tracking_server.server.iam_tokens import TOKEN_HEADER
from mlflow_sagemaker_constructs.versions import MLFLOW_VERSION
from tests.harness.containers import Container, Images, run_container
from tests.harness.services import ApiGateway, PostgresServer, S3Server
from tests.harness.sts import ACCOUNT, Keys, StsServer, mint_token
from tests.harness.task_definition import (
    container_port,
    health_check_command,
    read_only_root,
    synthesized_container_definition,
    task_environment,
)
from tests.tracking_server.integration.conftest import use_server  # noqa: F401 - a fixture

if TYPE_CHECKING:
    from mlflow import MlflowClient

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("images"), pytest.mark.timeout(1800)]

IMAGE = "server"
CI_BOT = "ci-bot"
IAM_TOKEN_HEADER = TOKEN_HEADER
ALB_DNS_NAME = "internal-mlflow-123456.us-east-1.elb.amazonaws.com"
#: Uncompressed size budget of the server image, base included. Measured in docs/server-image.md.
SIZE_BUDGET_BYTES = 850_000_000
#: The image's user (Dockerfile USER); the task definition sets none, so this is who the server runs as.
IMAGE_UID = 10001
COLD_START_CACHE_KEY = "mlflow_sagemaker_constructs/server_image_cold_start"


@pytest.fixture(scope="module")
def container_definition() -> dict[str, Any]:
    return synthesized_container_definition()


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with PostgresServer.start() as server:
        yield server


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with S3Server.start() as server:
        yield server


class RunningServer:
    def __init__(self, container: Container, env: dict[str, str], bucket: str, cold_start: float) -> None:
        self.container = container
        self.env = env
        self.bucket = bucket
        self.cold_start = cold_start

    @property
    def admin_auth(self) -> tuple[str, str]:
        return self.env[contract.AUTH_ADMIN_USERNAME], self.env[contract.AUTH_ADMIN_PASSWORD]


def _health_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:  # noqa: S310 - loopback URL
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return None


def _wait_healthy(container: Container, port: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _health_status(container.url(port)) == 200:
            return time.monotonic() - container.started_at
        if not container.running():
            raise AssertionError(f"the container exited:\n{container.logs()}")
        time.sleep(0.2)
    raise AssertionError(f"/health not 200 after {timeout} s:\n{container.logs()}")


@pytest.fixture(scope="module")
def ci_bot(sts: StsServer) -> Keys:
    """An IAM user whose principal the deployment maps to an MLflow user (an ``iam_user`` rule)."""
    _, keys = sts.create_user(CI_BOT)
    return keys


@pytest.fixture(scope="module")
def server(
    shipped_images: Images,
    container_definition: dict[str, Any],
    postgres: PostgresServer,
    s3: S3Server,
    sts: StsServer,
    ci_bot: Keys,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[RunningServer]:
    account = postgres.new_account("mlflow_image")
    bucket = s3.create_bucket("image-artifacts")
    local_values = {
        contract.DB_HOST: account.host,
        contract.DB_PORT: str(account.port),
        contract.ALLOWED_HOSTS: ALB_DNS_NAME,
        contract.ARTIFACTS_URI: f"s3://{bucket}/mlflow-artifacts",
        # The regional STS endpoint on AWS; here moto's STS, which checks SigV4 signatures.
        contract.AUTH_IAM_STS_ENDPOINT: sts.endpoint_url,
    }
    # Any other secret the template injects (e.g. a passphrase) gets a random value of its own.
    secret_values = {secret["Name"]: secrets.token_urlsafe(32) for secret in container_definition.get("Secrets", [])}
    secret_values.update(
        {
            contract.DB_USERNAME: account.username,
            contract.DB_PASSWORD: account.password,
            contract.AUTH_ADMIN_PASSWORD: f"Adm1n%{secrets.token_urlsafe(12)}",
            contract.FLASK_SECRET_KEY: secrets.token_hex(32),
        }
    )
    env = task_environment(container_definition, local_values, secret_values)
    # The template names the database "mlflow"; locally the account owns a database of its own name.
    env[contract.DB_NAME] = account.database
    # On Fargate the task role signs S3 calls; here the S3 emulation's endpoint and dummy credentials.
    env.update(s3.client_env())
    env.setdefault(contract.AUTH_ADMIN_USERNAME, contract.DEFAULT_AUTH_ADMIN_USERNAME)
    # The deployment's rules (the default has none): as PrincipalMapping.iam_user renders one.
    assert env[contract.AUTH_IAM_PRINCIPALS] == "[]"
    env[contract.AUTH_IAM_PRINCIPALS] = json.dumps(
        [{"kind": "iam_user", "arn": f"arn:aws:iam::{ACCOUNT}:user/{CI_BOT}"}]
    )
    port = container_port(container_definition)
    container = run_container(
        shipped_images,
        IMAGE,
        tmp_path_factory.mktemp("server-image-logs"),
        env=env,
        # The task definition's entry point replaces the image's, as on ECS (a test checks they are equal).
        entrypoint=container_definition["EntryPoint"],
        args=container_definition.get("Command"),
        # Read-only whether or not the task definition says so yet: the image must work both ways.
        read_only=True,
        tmpfs=sorted(_writable_paths(container_definition)),
        host_ports=[account.port, s3.port, sts.port],
        publish=[port],
    )
    try:
        cold_start = _wait_healthy(container, port, 300)
        _record_cold_start(request, cold_start, container.logs())
        yield RunningServer(container, env, bucket, cold_start)
    finally:
        container.stop(grace_seconds=15)


def _writable_paths(container: dict[str, Any]) -> set[str]:
    """/tmp (MLflow's scratch space) and every volume the task definition mounts, as tmpfs."""
    return {"/tmp", *(mount["ContainerPath"] for mount in container.get("MountPoints", []))}


def _record_cold_start(request: pytest.FixtureRequest, seconds: float, logs: str) -> None:
    ready = [line for line in logs.splitlines() if "databases ready in" in line]
    value = {
        "seconds_to_health_200": round(seconds, 1),
        "entrypoint_line": ready[0] if ready else "",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        cache.set(COLD_START_CACHE_KEY, value)
    print(f"\nserver image cold start (container start to /health 200, empty database): {seconds:.1f} s")


@pytest.fixture(scope="module")
def api_gateway(server: RunningServer, container_definition: dict[str, Any]) -> Iterator[ApiGateway]:
    published = server.container.ports[container_port(container_definition)]
    with ApiGateway.start(published, ALB_DNS_NAME) as gateway:
        yield gateway


# --------------------------------------------------------------------------------------------------
# The image's configuration is the task definition's
# --------------------------------------------------------------------------------------------------


def test_image_is_the_dockerfile_on_the_debootstrapped_base(shipped_images: Images) -> None:
    config = shipped_images.config(IMAGE)
    assert config.labels["org.opencontainers.image.version"] == MLFLOW_VERSION
    assert config.labels["org.opencontainers.image.title"] == "mlflow-server"
    assert shipped_images.build["base"]["reference"].startswith("localhost/mlflow-sagemaker-constructs/python-3.11")


def test_image_config_agrees_with_the_task_definition(
    shipped_images: Images, container_definition: dict[str, Any]
) -> None:
    config = shipped_images.config(IMAGE)
    assert config.entrypoint == container_definition["EntryPoint"] == contract.CONTAINER_COMMAND
    assert config.cmd == []
    assert config.healthcheck == ["CMD", *health_check_command(container_definition)]
    assert config.healthcheck == contract.HEALTH_CHECK_COMMAND
    assert config.exposed_ports == [f"{container_port(container_definition)}/tcp"]
    assert config.user == f"{IMAGE_UID}:{IMAGE_UID}"
    assert "User" not in container_definition  # so the image's user is the one that runs
    assert config.env[contract.PORT] == str(contract.DEFAULT_PORT)


# --------------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------------


def test_task_definition_health_check_passes_inside_the_container(
    server: RunningServer, container_definition: dict[str, Any]
) -> None:
    result = server.container.exec(health_check_command(container_definition))
    assert result.returncode == 0, result.stderr
    assert server.container.exec(["python3", "-c", "import sys; sys.exit(3)"]).returncode == 3


def test_every_process_runs_as_the_image_user(server: RunningServer) -> None:
    processes = server.container.processes()
    # The server and its uvicorn workers (MLFLOW_WORKERS of the task definition), at least.
    assert len(processes) >= 1 + int(server.env[contract.WORKERS]), processes
    assert {uid for _, uid, _ in processes} == {IMAGE_UID}, processes
    assert any("mlflow" in command for _, _, command in processes), processes


_WRITE_PROBE = """
import json, os, sys, site
results = {}
for directory in sys.argv[1:]:
    path = os.path.join(directory, ".write-probe")
    try:
        with open(path, "w") as handle:
            handle.write("x")
        os.unlink(path)
        results[directory] = "ok"
    except OSError as error:
        results[directory] = os.strerror(error.errno)
print(json.dumps(results))
"""


def test_root_filesystem_is_read_only_and_tmp_is_writable(
    server: RunningServer, container_definition: dict[str, Any]
) -> None:
    assert server.container.read_only
    if read_only_root(container_definition):
        # Then the task definition must give the server its scratch space.
        assert "/tmp" in {mount["ContainerPath"] for mount in container_definition.get("MountPoints", [])}
    site_packages = "/usr/local/lib/python3.11/site-packages"
    directories = ["/", "/home/mlflow", "/opt/mlflow", site_packages, "/var/tmp", "/tmp"]
    result = server.container.exec(["python3", "-c", _WRITE_PROBE, *directories])
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome.pop("/tmp") == "ok"
    assert outcome == dict.fromkeys(outcome, "Read-only file system"), outcome
    # Even root could not write there.
    as_root = server.container.exec(["python3", "-c", _WRITE_PROBE, "/", site_packages], user=(0, 0))
    assert set(json.loads(as_root.stdout).values()) == {"Read-only file system"}, as_root.stdout


_LEFTOVERS_PROBE = """
import glob, json, os, shutil
tools = ["gcc", "cc", "c++", "g++", "make", "ld", "as", "clang", "git", "curl", "wget"]
blocks = open("/var/lib/dpkg/status").read().split("\\n\\n")
installed = [b.split("\\n")[0].removeprefix("Package: ") for b in blocks if "Status: install ok installed" in b]
found = {
    "tools": [tool for tool in tools if shutil.which(tool)],
    "dev_packages": [name for name in installed if name.endswith("-dev") or name in ("build-essential", "gcc", "make")],
    "pip_caches": [path for pattern in ("/root/.cache/pip", "/home/*/.cache/pip", "/tmp/pip-*", "/root/.cache")
                   for path in glob.glob(pattern)],
    # Wheels pip downloaded; ensurepip's own (which venv needs) are part of any Python installation.
    "wheels": [
        path
        for top in ("/usr", "/opt", "/root", "/home", "/tmp", "/var")
        for path in glob.glob(top + "/**/*.whl", recursive=True)
        if "/ensurepip/" not in path and "/python-wheels/" not in path
    ],
    # The build's pip configuration is mounted over /etc/xdg (empty in the base) and must not remain.
    "build_files": os.listdir("/etc/xdg") + [p for p in ("/etc/pip.conf", "/usr/local/pip.conf") if os.path.exists(p)],
    "apt_caches": glob.glob("/var/lib/apt/lists/*_Packages") + glob.glob("/var/cache/apt/*.bin"),
}
print(json.dumps(found))
"""


def test_image_has_no_build_tools_pip_cache_or_build_mounts(server: RunningServer) -> None:
    result = server.container.exec(["python3", "-c", _LEFTOVERS_PROBE], user=(0, 0), timeout=120)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert not any(found.values()), found


def test_image_size_is_within_budget(shipped_images: Images) -> None:
    size = shipped_images.size_bytes(IMAGE)
    base = int(shipped_images.build["base"]["size_bytes"])
    print(f"\nserver image: {size / 1e6:.0f} MB uncompressed, of which the base {base / 1e6:.0f} MB")
    assert size <= SIZE_BUDGET_BYTES, (
        f"the server image grew to {size / 1e6:.0f} MB (budget {SIZE_BUDGET_BYTES / 1e6:.0f})"
    )


# --------------------------------------------------------------------------------------------------
# The client workflow, with authentication, through the API Gateway stand-in
# --------------------------------------------------------------------------------------------------


def test_unauthenticated_calls_are_refused(api_gateway: ApiGateway) -> None:
    url = f"{api_gateway.url}/api/2.0/mlflow/experiments/search?max_results=1"
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(url, timeout=30)  # noqa: S310 - loopback URL
    assert raised.value.code == 401


def test_client_workflow_experiment_run_artifact_registered_model(
    server: RunningServer,
    api_gateway: ApiGateway,
    s3: S3Server,
    use_server: Callable[[str, tuple[str, str] | None], MlflowClient],  # noqa: F811
    tmp_path: Path,
) -> None:
    import mlflow
    import mlflow.sklearn
    from sklearn.linear_model import Ridge  # type: ignore[import-untyped]

    client = use_server(api_gateway.url, server.admin_auth)
    features = np.arange(20, dtype=float).reshape(10, 2)
    target = features @ np.array([1.5, -2.0]) + 0.5
    model = Ridge(alpha=0.1).fit(features, target)
    suffix = secrets.token_hex(3)

    experiment_id = mlflow.create_experiment(f"image-smoke-{suffix}")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_params({"alpha": 0.1})
        for step in range(3):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_text("hello from the image test\n", "notes/hello.txt")
        mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=f"image-smoke-{suffix}",
            pip_requirements=["scikit-learn"],
        )

    fetched = client.get_run(run.info.run_id)
    assert fetched.data.params == {"alpha": "0.1"}
    assert [m.value for m in client.get_metric_history(run.info.run_id, "loss")] == [1.0, 0.5, 1.0 / 3]
    downloaded = mlflow.artifacts.download_artifacts(f"runs:/{run.info.run_id}/notes/hello.txt", dst_path=str(tmp_path))
    assert Path(downloaded).read_text(encoding="utf-8") == "hello from the image test\n"
    version = client.get_model_version(f"image-smoke-{suffix}", "1")
    assert version.run_id == run.info.run_id
    loaded = mlflow.sklearn.load_model(f"models:/image-smoke-{suffix}/1")
    np.testing.assert_allclose(loaded.predict(features), model.predict(features))

    # Proxied artifacts: the server wrote them to its bucket.
    listing = s3.boto3_client().list_objects_v2(Bucket=server.bucket, Prefix="mlflow-artifacts/")
    keys = [item["Key"] for item in listing.get("Contents", [])]
    assert any(key.endswith("notes/hello.txt") for key in keys), keys
    assert any(key.endswith("MLmodel") for key in keys), keys


def test_iam_principals_are_users_inside_the_image(
    server: RunningServer, api_gateway: ApiGateway, sts: StsServer, ci_bot: Keys
) -> None:
    """The default authentication: the server in the image verifies a signed GetCallerIdentity at its STS
    endpoint and maps the IAM user to its MLflow user; a token signed with a wrong key is refused."""
    search = f"{api_gateway.url}/api/2.0/mlflow/experiments/search"

    def status(token: str) -> tuple[int, str]:
        response = requests.post(search, json={"max_results": 1}, headers={IAM_TOKEN_HEADER: token}, timeout=30)
        return response.status_code, response.text

    # Through the API stand-in the server sees the load balancer's name as Host: that is the audience.
    good = mint_token(ci_bot, sts_endpoint=sts.endpoint_url, audience=ALB_DNS_NAME)
    assert status(good)[0] == 200
    wrong_key = dataclasses.replace(ci_bot, secret_key=ci_bot.secret_key[::-1])
    code, body = status(mint_token(wrong_key, sts_endpoint=sts.endpoint_url, audience=ALB_DNS_NAME))
    assert code in (401, 403), body
    assert wrong_key.secret_key not in body
    user = requests.get(
        f"{api_gateway.url}/api/2.0/mlflow/users/get", params={"username": CI_BOT}, auth=server.admin_auth, timeout=30
    )
    assert user.json()["user"]["username"] == CI_BOT


# --------------------------------------------------------------------------------------------------
# Last: stopping (the module's server is gone afterwards)
# --------------------------------------------------------------------------------------------------


def test_stops_on_sigterm_within_the_ecs_stop_timeout(server: RunningServer) -> None:
    # ECS stops a task like `docker stop`: SIGTERM to PID 1 (the image's process: no init), then SIGKILL
    # after the stop timeout, 30 s by default. The server must be gone before that, on its own.
    assert server.container.running()
    status = server.container.stop(grace_seconds=30)
    assert status == 0, server.container.logs()[-3000:]
