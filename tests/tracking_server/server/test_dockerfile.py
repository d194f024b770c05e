"""The server image's build context: Dockerfile, requirements and .dockerignore agree with the library."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from mlflow_sagemaker_constructs.tracking_server.server import SERVER_IMAGE_DIRECTORY, contract
from mlflow_sagemaker_constructs.versions import MLFLOW_VERSION
from tests.harness.dockerfile import instructions as dockerfile_instructions
from tests.harness.processes import hadolint_findings

DOCKERFILE = SERVER_IMAGE_DIRECTORY / "Dockerfile"
REQUIREMENTS = SERVER_IMAGE_DIRECTORY / "requirements.txt"
DOCKERIGNORE = SERVER_IMAGE_DIRECTORY / ".dockerignore"
#: What the image must have besides mlflow[auth], each pinned exactly.
REQUIRED_PACKAGES = {"psycopg2-binary", "pymysql", "boto3", "uvloop", "httptools"}


def instructions() -> list[tuple[str, str]]:
    return dockerfile_instructions(DOCKERFILE)


def arg_default(name: str) -> str:
    for keyword, rest in instructions():
        if keyword == "ARG" and rest.startswith(f"{name}="):
            return rest.split("=", 1)[1]
    raise AssertionError(f"no ARG {name}=... in the Dockerfile")


def only(keyword: str) -> str:
    found = [rest for kw, rest in instructions() if kw == keyword]
    assert len(found) == 1, f"expected one {keyword}, found {found}"
    return found[0]


def test_mlflow_version_default_is_the_library_version() -> None:
    assert arg_default("MLFLOW_VERSION") == MLFLOW_VERSION


def test_base_image_default_is_on_ecr_public() -> None:
    base = arg_default("BASE_IMAGE")
    assert base.startswith("public.ecr.aws/docker/library/python:3.11-slim")
    assert only("FROM") == "${BASE_IMAGE}"


def test_mlflow_is_installed_at_the_pinned_version_with_auth() -> None:
    run = " ".join(rest for kw, rest in instructions() if kw == "RUN")
    assert '"mlflow[auth]==${MLFLOW_VERSION}"' in run
    assert "--no-cache-dir" in run
    assert "-r /opt/mlflow/requirements.txt" in run


def test_healthcheck_is_the_task_definition_health_check() -> None:
    healthcheck = only("HEALTHCHECK")
    command = healthcheck[healthcheck.index("CMD ") + len("CMD ") :]
    assert json.loads(command) == contract.HEALTH_CHECK_COMMAND[1:]
    assert contract.HEALTH_CHECK_COMMAND[0] == "CMD"


def test_entrypoint_is_the_container_command_and_there_is_no_cmd() -> None:
    assert json.loads(only("ENTRYPOINT")) == contract.CONTAINER_COMMAND
    # The task definition sets the same entryPoint; a CMD would only add arguments to it.
    assert not [rest for kw, rest in instructions() if kw == "CMD"]


def test_the_server_package_and_its_entry_point_are_installed_where_python_finds_them() -> None:
    copies = [rest.split() for kw, rest in instructions() if kw == "COPY"]
    env = " ".join(rest for kw, rest in instructions() if kw == "ENV")
    assert "PYTHONPATH=/opt/mlflow" in env
    assert ["*.py", f"/opt/mlflow/{contract.SERVER_PACKAGE}/"] in copies
    assert ["dist-info/", f"/opt/mlflow/{contract.SERVER_PACKAGE}-1.0.dist-info/"] in copies
    entry_points = (SERVER_IMAGE_DIRECTORY / "dist-info" / "entry_points.txt").read_text(encoding="utf-8")
    assert f"{contract.APP_NAME} = {contract.SERVER_PACKAGE}.app:create_app" in entry_points
    assert (SERVER_IMAGE_DIRECTORY / "dist-info" / "METADATA").is_file()


def test_the_mlflow_app_is_found_through_its_entry_point() -> None:
    """What ``mlflow server --app-name`` does, against the package installed as in the image."""
    from mlflow.server import _find_app

    from tests.harness.services import server_install_dir

    script = f"from mlflow.server import _find_app; print(_find_app({contract.APP_NAME!r}))"
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(server_install_dir())},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{contract.SERVER_PACKAGE}.app:create_app"
    assert callable(_find_app)  # the pinned MLflow still has the lookup the subprocess used


def test_runs_as_an_unprivileged_user_and_exposes_the_port() -> None:
    user = only("USER").split(":")[0]
    assert user not in ("0", "root")
    assert only("EXPOSE") == str(contract.DEFAULT_PORT)


def test_dockerignore_sends_only_what_the_dockerfile_copies() -> None:
    lines = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:] for line in lines[1:] if line.startswith("!")}
    copied = {source for kw, rest in instructions() if kw == "COPY" for source in rest.split()[:-1]}
    assert (
        {a.rstrip("/") for a in allowed} == {c.rstrip("/") for c in copied} == {"*.py", "dist-info", "requirements.txt"}
    )


def _requirements() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.\-]+)", line)
        assert match, f"not an exact pin: {line!r}"
        pins[match.group(1).lower()] = match.group(2)
    return pins


def test_requirements_are_exact_pins_of_what_the_tests_run_against() -> None:
    pins = _requirements()
    assert set(pins) >= REQUIRED_PACKAGES
    assert "mlflow" not in pins  # pinned through the MLFLOW_VERSION build argument
    mismatches = {
        name: (version, metadata.version(name)) for name, version in pins.items() if metadata.version(name) != version
    }
    assert not mismatches, f"requirements.txt differs from the dev environment (pinned, installed): {mismatches}"
    assert metadata.version("mlflow") == MLFLOW_VERSION


def test_dockerfile_is_hadolint_clean(tmp_path: Path) -> None:
    findings, result = hadolint_findings(DOCKERFILE, tmp_path)
    assert findings == [], json.dumps(findings, indent=2)
    assert result.returncode == 0, result.stderr
