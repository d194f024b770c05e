"""``mlflow-sagemaker-package``: a registered model becomes the model.tar.gz SageMaker expects, in S3.

The model is registered in a local SQLite tracking store; S3 is moto's in-process mock. The command
runs in-process through ``main(argv)``. ``test_client_venv.py`` runs it from a fresh virtual environment
with the client wheel only, against a real MLflow server and moto's S3 server, and ``tests/serving``
serves what it packages.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import socket
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Protocol

import boto3
import mlflow
import pytest
from moto import mock_aws
from moto.core import enable_iam_authentication

from mlflow_sagemaker_client.packaging import archive, errors, model_files, progress, serving_image, tracking
from mlflow_sagemaker_client.packaging import cli as cli_module
from mlflow_sagemaker_client.packaging.errors import PackagingError
from mlflow_sagemaker_client.packaging.s3 import S3Location, parse_s3_uri
from mlflow_sagemaker_constructs.versions import MLFLOW_VERSION
from tests.serving.image.helpers import FAKE_AWS_ENV, RegisteredModel, free_port, register_model

pytestmark = pytest.mark.xdist_group("packaging")

BUCKET = "model-artifacts"


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


class RunCli(Protocol):
    def __call__(self, *argv: str) -> CliResult: ...


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> RegisteredModel:
    model = register_model(tmp_path_factory.mktemp("store"))
    # A run artifact that is not a model, for the "point MODEL_URI at the model" error.
    client = mlflow.MlflowClient(tracking_uri=model.tracking_uri)
    notes = tmp_path_factory.mktemp("notes") / "readme.txt"
    notes.write_text("not a model\n", encoding="utf-8")
    client.log_artifact(model.run_id, str(notes), artifact_path="notes")
    return model


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> RunCli:
    """Run ``main(argv)`` from a scratch directory, as in a fresh process.

    The command sets MLflow's process-wide tracking and registry URIs, as MLflow's own CLI does; they
    start unset (so ``MLFLOW_TRACKING_URI`` applies) and are restored afterwards.
    """
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    monkeypatch.chdir(tmp_path)
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        # setenv first so that monkeypatch records the variable's absence and removes what the command's
        # mlflow.set_*_uri() writes into os.environ; a bare delenv of an unset variable records nothing,
        # and the leftover registry URI sent later tests' registrations (same worker) to this test's store.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setattr(tracking_utils, "_tracking_uri", None)
    monkeypatch.setattr(registry_utils, "_registry_uri", None)

    def run(*argv: str) -> CliResult:
        capsys.readouterr()
        code = cli_module.main(list(argv))
        captured = capsys.readouterr()
        return CliResult(code=code, out=captured.out, err=captured.err)

    return run


def _members(archive_bytes: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(archive_bytes), mode="r:gz") as tar:
        return {member.name: member for member in tar.getmembers()}


def _object(uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bytes(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


# --------------------------------------------------------------------------------------------------
# Packaging and upload
# --------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("aws")
def test_registered_version_is_uploaded_under_a_content_addressed_key(registered: RegisteredModel, cli: RunCli) -> None:
    result = cli(
        registered.version_uri, "--s3-uri", f"s3://{BUCKET}/sagemaker/", "--tracking-uri", registered.tracking_uri
    )
    assert result.code == 0, result.err
    uri = result.out.strip()
    assert result.out == f"{uri}\n", "stdout holds the S3 URI and nothing else"
    match = re.fullmatch(rf"s3://{BUCKET}/sagemaker/diabetes/v1/(?P<digest>[0-9a-f]{{16}})/model\.tar\.gz", uri)
    assert match is not None, uri
    body = _object(uri)
    assert hashlib.sha256(body).hexdigest().startswith(match.group("digest"))
    assert "registered model 'diabetes' version 1" in result.err


@pytest.mark.usefixtures("aws")
def test_archive_has_the_model_directory_contents_at_its_root(registered: RegisteredModel, cli: RunCli) -> None:
    result = cli(registered.version_uri, "--s3-uri", f"s3://{BUCKET}/m/", "--tracking-uri", registered.tracking_uri)
    members = _members(_object(result.out.strip()))
    assert {"MLmodel", "requirements.txt", "python_env.yaml", "model.skops"} <= set(members)
    assert not [name for name in members if name.startswith(("/", "./", "model/")) or ".." in name]
    for member in members.values():
        assert (member.mtime, member.uid, member.gid) == (0, 0, 0), member.name
        assert member.mode in (0o644, 0o755), f"{member.name}: {oct(member.mode)}"
        assert member.isfile() or member.isdir()


@pytest.mark.usefixtures("aws")
def test_alias_resolves_to_the_same_version_and_bytes(registered: RegisteredModel, cli: RunCli) -> None:
    by_version = cli(registered.version_uri, "--s3-uri", f"s3://{BUCKET}/p/", "--tracking-uri", registered.tracking_uri)
    by_alias = cli(registered.alias_uri, "--s3-uri", f"s3://{BUCKET}/p/", "--tracking-uri", registered.tracking_uri)
    assert by_alias.code == 0, by_alias.err
    assert "version 1 (alias 'champion')" in by_alias.err
    assert by_alias.out == by_version.out, "same model, same archive, same key"


@pytest.mark.usefixtures("aws")
def test_run_artifact_uri_is_packaged(registered: RegisteredModel, cli: RunCli) -> None:
    result = cli(registered.run_uri, "--s3-uri", f"s3://{BUCKET}/runs/", "--tracking-uri", registered.tracking_uri)
    assert result.code == 0, result.err
    assert result.out.startswith(f"s3://{BUCKET}/runs/runs/{registered.run_id}/model/")
    assert "MLmodel" in _members(_object(result.out.strip()))


@pytest.mark.usefixtures("aws")
def test_exact_key_is_used_as_given(registered: RegisteredModel, cli: RunCli) -> None:
    target = f"s3://{BUCKET}/fixed/churn.tar.gz"
    result = cli(registered.version_uri, "--s3-uri", target, "--tracking-uri", registered.tracking_uri)
    assert result.code == 0, result.err
    assert result.out.strip() == target


def test_archive_is_reproducible(registered: RegisteredModel, cli: RunCli, tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "model.tar.gz", tmp_path / "b" / "model.tar.gz"
    for output in (first, second):
        result = cli(registered.version_uri, "--output", str(output), "--tracking-uri", registered.tracking_uri)
        assert result.code == 0, result.err
        assert result.out == "", "nothing to print without an upload"
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.usefixtures("aws")
def test_tracking_uri_comes_from_the_environment(
    registered: RegisteredModel, cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registered.tracking_uri)
    result = cli(registered.alias_uri, "--s3-uri", f"s3://{BUCKET}/env/")
    assert result.code == 0, result.err
    assert result.out.startswith(f"s3://{BUCKET}/env/diabetes/v1/")


@pytest.mark.usefixtures("aws")
def test_sse_kms_key_is_applied_to_the_upload(registered: RegisteredModel, cli: RunCli) -> None:
    key_id = boto3.client("kms").create_key()["KeyMetadata"]["KeyId"]
    result = cli(
        registered.version_uri,
        "--s3-uri",
        f"s3://{BUCKET}/kms/",
        "--tracking-uri",
        registered.tracking_uri,
        "--sse-kms-key-id",
        key_id,
    )
    assert result.code == 0, result.err
    bucket, _, key = result.out.strip().removeprefix("s3://").partition("/")
    head = boto3.client("s3").head_object(Bucket=bucket, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith(key_id)


# --------------------------------------------------------------------------------------------------
# Errors: one line on stderr and the exit status --help documents
# --------------------------------------------------------------------------------------------------


def test_destination_is_required(cli: RunCli) -> None:
    result = cli("models:/diabetes/1")
    assert result.code == errors.EXIT_USAGE
    assert "give --s3-uri (upload) or --output (local file)" in result.err


@pytest.mark.parametrize(
    "model_uri", ["diabetes", "models:/", "s3://bucket/model", "runs:/abc", "file:///tmp/model", "models:/a/b/c"]
)
def test_model_uri_must_be_a_model(cli: RunCli, model_uri: str) -> None:
    result = cli(model_uri, "--output", "x.tar.gz")
    assert result.code == errors.EXIT_USAGE
    assert f"MODEL_URI ('{model_uri}') is not a registered or logged model" in result.err


def test_unknown_model_fails_in_one_line(registered: RegisteredModel, cli: RunCli) -> None:
    result = cli("models:/no-such-model/3", "--output", "x.tar.gz", "--tracking-uri", registered.tracking_uri)
    assert result.code == errors.EXIT_MODEL
    assert "error:" in result.err
    assert "no-such-model" in result.err
    assert "Traceback" not in result.err


def test_run_artifact_that_is_not_a_model_is_refused(registered: RegisteredModel, cli: RunCli) -> None:
    result = cli(f"runs:/{registered.run_id}/notes", "--output", "x.tar.gz", "--tracking-uri", registered.tracking_uri)
    assert result.code == errors.EXIT_MODEL
    assert "have no MLmodel file at their root (found ['readme.txt'])" in result.err


def test_strict_fails_when_the_image_lacks_a_requirement(
    registered: RegisteredModel, cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serving_image, "image_requirements", lambda: {"mlflow-skinny": MLFLOW_VERSION})
    lenient = cli(registered.version_uri, "--output", "a.tar.gz", "--tracking-uri", registered.tracking_uri)
    assert lenient.code == 0
    assert "warning: the model requires 'scikit-learn==" in lenient.err
    strict = cli(registered.version_uri, "--output", "b.tar.gz", "--tracking-uri", registered.tracking_uri, "--strict")
    assert strict.code == errors.EXIT_MODEL
    assert "--strict" in strict.err
    assert not Path("b.tar.gz").exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("https://bucket/key", "is not an S3 URI"),
        ("s3://Upper_Case/key", "is not an S3 URI"),
        ("s3://bucket//key", "has an empty path segment"),
    ],
)
def test_bad_s3_uri_is_a_usage_error(cli: RunCli, value: str, message: str) -> None:
    result = cli("models:/diabetes/1", "--s3-uri", value)
    assert result.code == errors.EXIT_USAGE
    assert f"--s3-uri ('{value}') {message}" in result.err


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def test_console_script_is_installed() -> None:
    scripts = metadata.entry_points(group="console_scripts")
    assert [e.value for e in scripts if e.name == "mlflow-sagemaker-package"] == [
        "mlflow_sagemaker_client.packaging.cli:main"
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("s3://bucket", S3Location("bucket", "")),
        ("s3://bucket/", S3Location("bucket", "")),
        ("s3://bucket/models", S3Location("bucket", "models/")),
        ("s3://bucket/models/", S3Location("bucket", "models/")),
        ("s3://bucket/models/churn.tar.gz", S3Location("bucket", "models/churn.tar.gz")),
    ],
)
def test_parse_s3_uri(value: str, expected: S3Location) -> None:
    assert parse_s3_uri(value) == expected


def test_key_for_prefix_and_exact_key() -> None:
    digest = "ab" * 32
    assert S3Location("b", "p/").key_for("churn/v3", digest) == f"p/churn/v3/{'ab' * 8}/model.tar.gz"
    assert S3Location("b", "").key_for("churn/v3", digest) == f"churn/v3/{'ab' * 8}/model.tar.gz"
    assert S3Location("b", "x/m.tar.gz").key_for("churn/v3", digest) == "x/m.tar.gz"


def test_symbolic_links_are_refused(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors: {}\n", encoding="utf-8")
    os.symlink(model / "MLmodel", model / "link")
    with pytest.raises(PackagingError, match=r"symbolic link \(link\)"):
        archive.write_archive(model, tmp_path / "model.tar.gz")


def test_model_without_pyfunc_flavour_is_refused(tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_text("flavors:\n  spark:\n    pyspark_version: 3.5.0\n", encoding="utf-8")
    with pytest.raises(PackagingError, match=r"no python_function flavour \(flavours: \['spark'\]\)"):
        model_files.load_pyfunc_metadata(tmp_path)


def test_requirement_warnings_against_the_bundled_image(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(
        "\n".join(
            [
                f"mlflow=={MLFLOW_VERSION}",
                "scikit-learn==1.0.2",
                "xgboost==2.1.0",
                "numpy<3",
                "pywin32==306; sys_platform == 'win32'",
                "-r extra.txt",
            ]
        ),
        encoding="utf-8",
    )
    warnings = serving_image.image_requirement_warnings(tmp_path)
    assert len(warnings) == 2, warnings
    assert "'scikit-learn==1.0.2'; the bundled serving image has scikit-learn==" in warnings[0]
    assert "'xgboost==2.1.0', which the bundled serving image does not ship" in warnings[1]


# --------------------------------------------------------------------------------------------------
# Bad input: each fails fast, in one line, with its documented exit status, before any download
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    """Downloading the model is a test failure: the checks before it must have stopped the command."""
    import mlflow.artifacts

    def refuse(*args: object, **kwargs: object) -> str:
        raise AssertionError("the model was downloaded although a check before the download should have failed")

    monkeypatch.setattr(mlflow.artifacts, "download_artifacts", refuse)


def test_help_documents_every_exit_status_and_the_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli_module.main(["--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for code, meaning in errors.EXIT_STATUS_HELP.items():
        assert f"  {code}  {meaning}" in text
    worst = tracking.worst_case_seconds(tracking.DEFAULT_TIMEOUT_SECONDS, tracking.DEFAULT_RETRIES)
    assert f"(with the defaults: {worst:.0f} s)" in text
    assert "--quiet" in text


def test_no_tracking_uri_is_a_usage_error_not_a_local_store(cli: RunCli, no_download: None) -> None:
    result = cli("models:/diabetes/1", "--output", "model.tar.gz")
    assert result.code == errors.EXIT_USAGE
    assert result.err == f"mlflow-sagemaker-package: error: {tracking.NO_TRACKING_URI}\n"
    assert "sqlite" not in result.err
    assert not Path("model.tar.gz").exists()


def test_database_uri_without_a_driver_is_a_usage_error(cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a client-only environment (no SQLAlchemy) a sqlite:// URI is explained, not a registry exception."""
    monkeypatch.setattr(tracking, "_has_database_driver", lambda: False)
    result = cli("models:/diabetes/1", "--output", "m.tar.gz", "--tracking-uri", "sqlite:///mlflow.db")
    assert result.code == errors.EXIT_USAGE
    assert "--tracking-uri ('sqlite:///mlflow.db') is not a tracking server URL" in result.err


def test_refused_connection_fails_fast_with_the_server_named(cli: RunCli, no_download: None) -> None:
    port = free_port()  # nothing listens there
    started = time.monotonic()
    result = cli("models:/diabetes/1", "--output", "m.tar.gz", "--tracking-uri", f"http://127.0.0.1:{port}")
    elapsed = time.monotonic() - started
    assert result.code == errors.EXIT_TRACKING, result.err
    assert f"cannot reach the tracking server at http://127.0.0.1:{port}" in result.err
    assert "Traceback" not in result.err
    assert elapsed < tracking.worst_case_seconds(tracking.DEFAULT_TIMEOUT_SECONDS, tracking.DEFAULT_RETRIES)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers: a hung or black-holed server."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                accepted.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()
        listener.close()


def test_unanswering_server_gives_up_within_the_documented_time(
    cli: RunCli, silent_server: str, no_download: None
) -> None:
    timeout, retries = 2, 1
    started = time.monotonic()
    result = cli(
        "models:/diabetes/1",
        "--output",
        "m.tar.gz",
        "--tracking-uri",
        silent_server,
        "--timeout",
        str(timeout),
        "--retries",
        str(retries),
    )
    elapsed = time.monotonic() - started
    assert result.code == errors.EXIT_TRACKING, result.err
    assert f"the tracking server at {silent_server} did not answer in time" in result.err
    assert "raise --timeout or --retries" in result.err
    # Each of the retries + 1 attempts waits the timeout; the documented bound holds, with a little slack.
    assert timeout * (retries + 1) <= elapsed + 0.5
    assert elapsed <= tracking.worst_case_seconds(timeout, retries) + 3, elapsed
    assert "gives up after" in result.err


def test_http_settings_are_restored_after_the_command(cli: RunCli, silent_server: str) -> None:
    before = {name: os.environ.get(name) for name in tracking.http_settings(1, 0)}
    cli(
        "models:/diabetes/1",
        "--output",
        "m.tar.gz",
        "--tracking-uri",
        silent_server,
        "--timeout",
        "1",
        "--retries",
        "0",
    )
    assert {name: os.environ.get(name) for name in before} == before


@pytest.mark.usefixtures("aws", "no_download")
def test_missing_bucket_is_found_before_the_download(registered: RegisteredModel, cli: RunCli) -> None:
    result = cli(
        registered.version_uri, "--s3-uri", "s3://no-such-bucket/m/", "--tracking-uri", registered.tracking_uri
    )
    assert result.code == errors.EXIT_DESTINATION, result.err
    assert "cannot write s3://no-such-bucket/m/diabetes/v1/" in result.err
    assert "the bucket does not exist" in result.err
    assert result.out == ""


@pytest.mark.usefixtures("aws", "no_download")
def test_missing_credentials_are_found_before_the_download(
    registered: RegisteredModel, cli: RunCli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    result = cli(registered.version_uri, "--s3-uri", f"s3://{BUCKET}/m/", "--tracking-uri", registered.tracking_uri)
    assert result.code == errors.EXIT_DESTINATION, result.err
    assert "no AWS credentials to write" in result.err


@pytest.mark.usefixtures("aws", "no_download")
def test_access_denied_by_iam_is_found_before_the_download(registered: RegisteredModel, cli: RunCli) -> None:
    """An identity that may read but not write the bucket, with moto enforcing IAM policies."""
    iam = boto3.client("iam")
    iam.create_user(UserName="reader")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}],
    }
    iam.put_user_policy(UserName="reader", PolicyName="read-only", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    with pytest.MonkeyPatch.context() as env, enable_iam_authentication():
        env.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        env.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        env.delenv("AWS_SESSION_TOKEN")
        result = cli(registered.version_uri, "--s3-uri", f"s3://{BUCKET}/m/", "--tracking-uri", registered.tracking_uri)
    assert result.code == errors.EXIT_DESTINATION, result.err
    assert f"cannot write s3://{BUCKET}/m/diabetes/v1/" in result.err
    assert "access denied: the identity needs s3:PutObject" in result.err


@pytest.mark.usefixtures("no_download")
def test_unreachable_s3_endpoint_is_found_before_the_download(
    registered: RegisteredModel, cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{free_port()}")
    result = cli(registered.version_uri, "--s3-uri", f"s3://{BUCKET}/m/", "--tracking-uri", registered.tracking_uri)
    assert result.code == errors.EXIT_DESTINATION, result.err
    assert "cannot reach S3 to write" in result.err


@pytest.mark.parametrize("kind", ["parent-is-a-file", "is-a-directory"])
def test_unwritable_output_is_found_before_the_download(
    registered: RegisteredModel, cli: RunCli, no_download: None, tmp_path: Path, kind: str
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file\n")
    output = blocker / "model.tar.gz" if kind == "parent-is-a-file" else tmp_path
    result = cli(registered.version_uri, "--output", str(output), "--tracking-uri", registered.tracking_uri)
    assert result.code == errors.EXIT_DESTINATION, result.err
    assert f"--output ({output})" in result.err
    assert "Traceback" not in result.err


# --------------------------------------------------------------------------------------------------
# Progress: bars on a terminal only, nothing but warnings and errors with --quiet
# --------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("aws")
def test_progress_messages_and_bars_on_a_terminal(
    registered: RegisteredModel, cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "shows_progress", lambda quiet, stream=None: not quiet)
    monkeypatch.setattr(cli_module, "shows_progress", lambda quiet, stream=None: not quiet)
    result = cli(registered.version_uri, "--s3-uri", f"s3://{BUCKET}/bar/", "--tracking-uri", registered.tracking_uri)
    assert result.code == 0, result.err
    for step in ("looking up models:/diabetes/1", "found registered model", "checking that s3://", "downloading "):
        assert step in result.err
    assert "download: 100%" in result.err, result.err
    assert "upload: 100%" in result.err


@pytest.mark.usefixtures("aws")
def test_quiet_and_non_terminal_output(registered: RegisteredModel, cli: RunCli) -> None:
    plain = cli(registered.version_uri, "--s3-uri", f"s3://{BUCKET}/q/", "--tracking-uri", registered.tracking_uri)
    assert plain.code == 0, plain.err
    assert "downloading " in plain.err
    assert "%|" not in plain.err, "no progress bar when stderr is not a terminal"
    quiet = cli(
        registered.version_uri, "--s3-uri", f"s3://{BUCKET}/q/", "--tracking-uri", registered.tracking_uri, "-q"
    )
    assert quiet.code == 0, quiet.err
    assert quiet.err == ""
    assert quiet.out == plain.out


def test_shows_progress_only_on_a_terminal() -> None:
    class Stream(io.StringIO):
        def __init__(self, tty: bool) -> None:
            super().__init__()
            self.tty = tty

        def isatty(self) -> bool:
            return self.tty

    assert progress.shows_progress(quiet=False, stream=Stream(tty=True))
    assert not progress.shows_progress(quiet=True, stream=Stream(tty=True))
    assert not progress.shows_progress(quiet=False, stream=Stream(tty=False))


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        pytest.param(
            "API request to endpoint /api/2.0/mlflow/model-versions/get failed with error code 403 != 200. Response "
            "body: 'denied'",
            errors.EXIT_TRACKING,
            "the tracking server refused the request",
            id="plain-403",
        ),
        pytest.param(
            "INTERNAL_ERROR: Response: {'message': 'Forbidden'}",
            errors.EXIT_TRACKING,
            "the tracking server refused the request",
            id="api-gateway-iam",
        ),
        pytest.param(
            "RESOURCE_DOES_NOT_EXIST: Registered Model with name=churn not found",
            errors.EXIT_MODEL,
            "not found on the tracking server",
            id="not-found",
        ),
    ],
)
def test_server_answers_are_explained(error: str, status: int, message: str) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.protos import databricks_pb2

    code = (
        databricks_pb2.RESOURCE_DOES_NOT_EXIST if "RESOURCE_DOES_NOT_EXIST" in error else databricks_pb2.INTERNAL_ERROR
    )
    if "403" in error:
        code = databricks_pb2.PERMISSION_DENIED
    target = tracking.TrackingTarget("https://mlflow.example.com", "https://mlflow.example.com")
    explained = tracking.explain(MlflowException(error, error_code=code), target, "looking up models:/churn/1")
    assert explained.exit_code == status
    assert message in str(explained)
