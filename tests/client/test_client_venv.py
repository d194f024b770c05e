"""The client distribution as a new user installs it: its wheel alone in a fresh virtual environment.

``tests/harness/client_venv.py`` builds the wheel and installs it into a venv outside the repository; the
session's services are a real ``mlflow server`` with a registered scikit-learn model and ``moto_server``
emulating S3. In the venv, which has neither aws-cdk-lib and jsii nor scikit-learn:

* the ``aws-sigv4`` plugin logs a run to the MLflow server through a proxy that verifies every signature;
* ``mlflow-sagemaker-package`` packages the registered scikit-learn model into S3 and into a local file,
  and a custom pyfunc model with its own code; bad input fails fast with its documented exit status.

``tests/serving/image/test_entrypoint.py`` serves what the venv's command packages and checks that it
predicts what the original model predicted.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from mlflow import MlflowClient

from mlflow_sagemaker_client.packaging import errors, tracking
from tests.client.auth.sigv4_verifier import KNOWN, REGION, ROLE, SERVICE, SigV4Proxy, Verifier
from tests.harness.client_venv import ClientServices, ClientVenv
from tests.harness.sts import StsServer
from tests.serving.image.helpers import FAKE_AWS_ENV, free_port

pytestmark = pytest.mark.xdist_group("client_venv")

#: A regression guard, not a target: the client venv measured 131 MB (file sizes, bytecode compiled as pip does;
#: 283 MB while it still took numpy and pandas for MLflow's Model.load). The construct package's former client
#: extra made 612 MB, 729 MB with the numpy and pandas it lacked to package a model.
CLIENT_VENV_BUDGET_MB = 160
COMMAND_TIMEOUT = 300


def _run(
    venv: ClientVenv, args: list[str], env: dict[str, str], cwd: Path, timeout: float = COMMAND_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout, check=False)


def _package(
    venv: ClientVenv, services: ClientServices, cwd: Path, *argv: str, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    env = venv.environment(**services.aws_environment(), **extra_env)
    return _run(venv, [str(venv.command("mlflow-sagemaker-package")), *argv], env, cwd)


# --------------------------------------------------------------------------------------------------
# What the venv holds
# --------------------------------------------------------------------------------------------------


def test_client_venv_has_no_aws_cdk_jsii_or_model_libraries(
    client_venv: ClientVenv, record_property: Callable[[str, object], None], tmp_path: Path
) -> None:
    size_mb = client_venv.size_bytes / 1e6
    record_property("client_venv_size_mb", round(size_mb, 1))
    record_property("client_venv_distributions", len(client_venv.distributions))
    print(f"client venv: {size_mb:.0f} MB, {len(client_venv.distributions)} distributions")
    assert not client_venv.root.resolve().is_relative_to(Path(__file__).resolve().parents[2])
    assert "mlflow-sagemaker-client" in client_venv.distributions
    forbidden = {
        *("aws-cdk-lib", "jsii", "constructs", "mlflow-sagemaker-constructs"),
        # The model is never loaded and MLmodel is read as YAML: no full MLflow, flavour libraries, numpy or pandas.
        *("mlflow", "scikit-learn", "numpy", "pandas"),
    }
    assert not forbidden & set(client_venv.distributions), sorted(forbidden & set(client_venv.distributions))
    probe = (
        "import importlib.util, json\n"
        "modules = ('aws_cdk', 'jsii', 'sklearn', 'numpy', 'mlflow_sagemaker_constructs', 'mlflow_sagemaker_client')\n"
        "print(json.dumps({m: importlib.util.find_spec(m) is not None for m in modules}))\n"
    )
    result = _run(client_venv, [str(client_venv.python), "-c", probe], client_venv.environment(), tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "aws_cdk": False,
        "jsii": False,
        "sklearn": False,
        "numpy": False,
        "mlflow_sagemaker_constructs": False,
        "mlflow_sagemaker_client": True,
    }
    assert size_mb <= CLIENT_VENV_BUDGET_MB, f"the client venv grew to {size_mb:.0f} MB"


def test_help_documents_exit_statuses(client_venv: ClientVenv, tmp_path: Path) -> None:
    result = _run(
        client_venv,
        [str(client_venv.command("mlflow-sagemaker-package")), "--help"],
        client_venv.environment(),
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    for code, meaning in errors.EXIT_STATUS_HELP.items():
        assert f"  {code}  {meaning}" in result.stdout


# --------------------------------------------------------------------------------------------------
# The aws-iam plugin, as installed: its token verifies at STS the way the server verifies it
# --------------------------------------------------------------------------------------------------

_MAKE_TOKEN = textwrap.dedent(
    """
    import requests
    from mlflow.tracking.request_auth.registry import fetch_auth

    request = requests.Request("GET", "http://internal-mlflow-1.us-east-1.elb.amazonaws.com/api/2.0/mlflow/x")
    prepared = fetch_auth("aws-iam")(request.prepare())
    print(prepared.headers["X-Mlflow-Iam-Token"])
    """
)


def test_iam_plugin_makes_a_token_the_server_verifies(client_venv: ClientVenv, sts: StsServer, tmp_path: Path) -> None:
    from mlflow_sagemaker_constructs.tracking_server.server import iam_tokens

    arn, keys = sts.create_user("client-venv")
    env = client_venv.environment(**keys.env(), AWS_REGION="us-east-1", MLFLOW_IAM_STS_ENDPOINT=sts.endpoint_url)
    result = _run(client_venv, [str(client_venv.python), "-c", _MAKE_TOKEN], env, tmp_path)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert keys.secret_key not in token  # a signature, never the key
    settings = iam_tokens.VerifierSettings(
        audiences=frozenset({"internal-mlflow-1.us-east-1.elb.amazonaws.com"}), sts_endpoint=sts.endpoint_url
    )
    assert iam_tokens.Verifier(settings).verify(token).arn == arn


# --------------------------------------------------------------------------------------------------
# The SigV4 plugin logs a run through a verifying proxy
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def verifying_proxy(client_stack: ClientServices) -> Iterator[SigV4Proxy]:
    proxy = SigV4Proxy(Verifier(KNOWN, REGION, SERVICE), client_stack.mlflow.port)
    thread = threading.Thread(target=proxy.serve_forever, name="sigv4-proxy", daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join(timeout=10)


_LOG_A_RUN = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import mlflow

    report = Path("report.txt")
    report.write_text("accuracy: 0.93\\n")
    mlflow.set_experiment("client venv")
    with mlflow.start_run() as run:
        mlflow.log_param("alpha", "0.5")
        mlflow.log_metric("rmse", 0.25)
        mlflow.log_artifact(str(report))
    print(run.info.run_id)
    """
)


def test_sigv4_plugin_logs_a_run_to_a_real_mlflow_server(
    client_venv: ClientVenv, client_stack: ClientServices, verifying_proxy: SigV4Proxy, tmp_path: Path
) -> None:
    verifying_proxy.take()
    env = client_venv.environment(
        MLFLOW_TRACKING_URI=verifying_proxy.url,
        MLFLOW_TRACKING_AUTH="aws-sigv4",
        AWS_ACCESS_KEY_ID=ROLE.access_key,
        AWS_SECRET_ACCESS_KEY=ROLE.secret_key,
        AWS_SESSION_TOKEN=ROLE.token or "",
        AWS_REGION=REGION,
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    (tmp_path / "log_run.py").write_text(_LOG_A_RUN)
    result = _run(client_venv, [str(client_venv.python), "log_run.py"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    run_id = result.stdout.strip().splitlines()[-1]

    outcomes = verifying_proxy.take()
    assert outcomes
    assert [o for o in outcomes if o.reason is not None] == [], "every request was signed correctly"
    # set_experiment looks the experiment up first: the one 404 before it is created.
    assert [(o.status, o.target.split("?")[0]) for o in outcomes if o.status >= 400] == [
        (404, "/api/2.0/mlflow/experiments/get-by-name")
    ]
    assert {o.access_key for o in outcomes} == {ROLE.access_key}
    # Straight from the server, without the proxy: the run is there, with its data and artifact.
    server = MlflowClient(tracking_uri=client_stack.mlflow.url)
    run = server.get_run(run_id)
    assert run.data.params == {"alpha": "0.5"}
    assert run.data.metrics == {"rmse": 0.25}
    assert [a.path for a in server.list_artifacts(run_id)] == ["report.txt"]


# --------------------------------------------------------------------------------------------------
# The packaging command
# --------------------------------------------------------------------------------------------------


def _members(archive: bytes) -> set[str]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return {member.name for member in tar.getmembers()}


def test_packages_a_registered_sklearn_model_into_s3_and_a_local_file(
    client_venv: ClientVenv, client_stack: ClientServices, tmp_path: Path
) -> None:
    registered = client_stack.registered
    output = tmp_path / "out" / "model.tar.gz"
    result = _package(
        client_venv,
        client_stack,
        tmp_path,
        registered.version_uri,
        "--s3-uri",
        f"s3://{client_stack.bucket}/venv/",
        "--output",
        str(output),
        "--tracking-uri",
        registered.tracking_uri,
    )
    assert result.returncode == 0, result.stderr
    (uri,) = result.stdout.splitlines()
    assert uri.startswith(f"s3://{client_stack.bucket}/venv/{registered.name}/v{registered.version}/")
    for step in ("looking up", "found registered model", "checking that s3://", "downloading", "uploaded to"):
        assert step in result.stderr
    assert "%|" not in result.stderr, "no progress bar when stderr is not a terminal"

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    s3 = boto3.client(
        "s3",
        endpoint_url=client_stack.s3_endpoint,
        aws_access_key_id=FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_AWS_ENV["AWS_SESSION_TOKEN"],
        region_name=FAKE_AWS_ENV["AWS_DEFAULT_REGION"],
    )
    uploaded = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert uploaded == output.read_bytes()
    assert hashlib.sha256(uploaded).hexdigest()[:16] in key
    assert {"MLmodel", "requirements.txt", "model.skops"} <= _members(uploaded)


_CUSTOM_MODEL_CODE = textwrap.dedent(
    """
    import mlflow.pyfunc


    class Doubler(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return model_input * 2
    """
)


@pytest.fixture(scope="module")
def custom_model_uri(client_stack: ClientServices, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A pyfunc model whose class lives in its own code file (``code_paths``), registered on the server."""
    import sys

    import mlflow
    import pandas as pd  # type: ignore[import-untyped]
    from mlflow.models import infer_signature
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    code_dir = tmp_path_factory.mktemp("custom-code")
    (code_dir / "doubler.py").write_text(_CUSTOM_MODEL_CODE)
    sys.path.insert(0, str(code_dir))
    try:
        import doubler  # type: ignore[import-not-found]

        frame = pd.DataFrame({"x": [1.0, 2.0]})
        with _use_tracking_uri(client_stack.mlflow.url):
            mlflow.set_experiment("custom models")
            with mlflow.start_run():
                info = mlflow.pyfunc.log_model(
                    name="model",
                    python_model=doubler.Doubler(),
                    code_paths=[str(code_dir / "doubler.py")],
                    registered_model_name="doubler",
                    signature=infer_signature(frame, frame * 2),
                    pip_requirements=["pandas"],
                )
    finally:
        sys.path.remove(str(code_dir))
        sys.modules.pop("doubler", None)
    return f"models:/doubler/{info.registered_model_version}"


def test_packages_a_custom_pyfunc_model_with_its_code(
    client_venv: ClientVenv, client_stack: ClientServices, custom_model_uri: str, tmp_path: Path
) -> None:
    output = tmp_path / "doubler.tar.gz"
    result = _package(
        client_venv,
        client_stack,
        tmp_path,
        custom_model_uri,
        "--output",
        str(output),
        "--tracking-uri",
        client_stack.mlflow.url,
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", "--quiet: nothing but warnings and errors"
    members = _members(output.read_bytes())
    assert {"MLmodel", "python_model.pkl", "code/doubler.py"} <= members


def test_no_tracking_uri_is_explained_in_the_client_venv(
    client_venv: ClientVenv, client_stack: ClientServices, tmp_path: Path
) -> None:
    result = _package(client_venv, client_stack, tmp_path, "models:/diabetes/1", "--output", "m.tar.gz")
    assert result.returncode == errors.EXIT_USAGE
    assert tracking.NO_TRACKING_URI in result.stderr
    assert "UnsupportedModelRegistryStoreURIException" not in result.stderr
    assert "sqlite" not in result.stderr


def test_unreachable_tracking_server_fails_fast_in_the_client_venv(
    client_venv: ClientVenv, client_stack: ClientServices, tmp_path: Path
) -> None:
    started = time.monotonic()
    url = f"http://127.0.0.1:{free_port()}"
    result = _package(
        client_venv, client_stack, tmp_path, "models:/diabetes/1", "--output", "m.tar.gz", "--tracking-uri", url
    )
    elapsed = time.monotonic() - started
    assert result.returncode == errors.EXIT_TRACKING, result.stderr
    assert f"cannot reach the tracking server at {url}" in result.stderr
    # Python and MLflow start in a few seconds; the documented worst case bounds the rest.
    assert elapsed < tracking.worst_case_seconds(tracking.DEFAULT_TIMEOUT_SECONDS, tracking.DEFAULT_RETRIES), elapsed
