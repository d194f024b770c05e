"""The pyfunc serving image's build context: Dockerfile, pinned requirements and .dockerignore."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from mlflow_sagemaker_constructs.serving.image import SERVING_IMAGE_DIRECTORY, SERVING_REQUIREMENTS, entrypoint
from mlflow_sagemaker_constructs.versions import MLFLOW_VERSION
from tests.harness.dockerfile import instructions as dockerfile_instructions
from tests.harness.processes import hadolint_findings

DOCKERFILE = SERVING_IMAGE_DIRECTORY / "Dockerfile"
DOCKERIGNORE = SERVING_IMAGE_DIRECTORY / ".dockerignore"
REQUIREMENTS_IN = SERVING_IMAGE_DIRECTORY / "requirements.in"
#: Packages the image must ship, pinned as the development environment has them, so that a model
#: trained and logged there loads in the image unchanged (and the local proof in test_entrypoint.py
#: exercises the same versions).
FLAVOUR_PACKAGES = (
    "scikit-learn",
    "skops",
    "cloudpickle",
    "numpy",
    "pandas",
    "scipy",
    "uvicorn",
    "uvloop",
    "httptools",
)
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s\\;]+)")


def instructions() -> list[tuple[str, str]]:
    return dockerfile_instructions(DOCKERFILE)


def only(keyword: str) -> str:
    found = [rest for kw, rest in instructions() if kw == keyword]
    assert len(found) == 1, f"expected one {keyword}, found {found}"
    return found[0]


def arg_default(name: str) -> str:
    for keyword, rest in instructions():
        if keyword == "ARG" and rest.startswith(f"{name}="):
            return rest.split("=", 1)[1]
    raise AssertionError(f"no ARG {name}=... in the Dockerfile")


def pins(path: Path) -> dict[str, str]:
    """Normalised package name -> pinned version of a requirements file."""
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line.strip())
        if match:
            found[re.sub(r"[-_.]+", "-", match.group("name")).lower()] = match.group("version")
    return found


def test_dockerfile_is_hadolint_clean(tmp_path: Path) -> None:
    findings, result = hadolint_findings(DOCKERFILE, tmp_path)
    assert findings == [], json.dumps(findings, indent=2)
    assert result.returncode == 0, result.stderr


def test_mlflow_is_the_library_version() -> None:
    assert pins(REQUIREMENTS_IN)["mlflow-skinny"] == MLFLOW_VERSION
    assert pins(SERVING_REQUIREMENTS)["mlflow-skinny"] == MLFLOW_VERSION
    assert arg_default("MLFLOW_VERSION") == MLFLOW_VERSION


def test_requirements_are_compiled_from_the_top_level_pins() -> None:
    top_level, compiled = pins(REQUIREMENTS_IN), pins(SERVING_REQUIREMENTS)
    stale = {
        name: (version, compiled.get(name)) for name, version in top_level.items() if compiled.get(name) != version
    }
    assert not stale, f"requirements.txt is stale (requirements.in, requirements.txt): {stale}; recompile it"


def test_every_requirement_is_hashed() -> None:
    # pip install --require-hashes: one unhashed requirement fails the image build.
    lines = SERVING_REQUIREMENTS.read_text(encoding="utf-8").splitlines()
    requirements = [i for i, line in enumerate(lines) if _PIN.match(line)]
    assert len(requirements) == len(pins(SERVING_REQUIREMENTS)) > 20
    for index in requirements:
        assert lines[index].endswith("\\"), lines[index]
        assert lines[index + 1].strip().startswith("--hash=sha256:"), lines[index]


def test_flavour_packages_match_the_development_environment() -> None:
    image = pins(REQUIREMENTS_IN)
    mismatches = {
        name: (image.get(name), metadata.version(name))
        for name in FLAVOUR_PACKAGES
        if image.get(name) != metadata.version(name)
    }
    assert not mismatches, (
        f"serving/requirements.in differs from the dev environment (image, installed): {mismatches}; update the "
        "pins and recompile requirements.txt with the command in requirements.in"
    )


def test_base_image_is_python_of_the_development_environment_on_ecr_public() -> None:
    base = arg_default("BASE_IMAGE")
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert base == f"public.ecr.aws/docker/library/python:{python}-slim-bookworm"
    assert only("FROM") == "${BASE_IMAGE}"


def test_install_uses_hashes_wheels_and_no_cache() -> None:
    run = only("RUN")
    assert run.startswith("pip install")
    for flag in (
        "--no-cache-dir",
        "--require-hashes",
        "--only-binary=:all:",
        "-r /opt/mlflow-serving/requirements.txt",
    ):
        assert flag in run


def test_sagemaker_contract_serve_on_8080() -> None:
    assert json.loads(only("ENTRYPOINT")) == ["python3", "/opt/mlflow-serving/entrypoint.py"]
    # `docker run IMAGE serve` replaces CMD with the same argument.
    assert json.loads(only("CMD")) == [entrypoint.SERVE_COMMAND]
    assert only("EXPOSE") == str(entrypoint.DEFAULT_PORT)
    # SageMaker decides the user (root for real-time, unprivileged for serverless); HOME must be writable.
    assert not [rest for kw, rest in instructions() if kw == "USER"]
    assert "HOME=/tmp" in only("ENV")


def test_dockerignore_sends_only_what_the_dockerfile_copies() -> None:
    lines = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:] for line in lines[1:] if line.startswith("!")}
    copied = {source for kw, rest in instructions() if kw == "COPY" for source in rest.split()[:-1]}
    assert allowed == copied == {"entrypoint.py", "requirements.txt"}
    for source in copied:
        assert (SERVING_IMAGE_DIRECTORY / source).is_file()


def test_entrypoint_imports_only_the_standard_library_at_import_time() -> None:
    code = (
        "import sys, runpy\n"
        f"runpy.run_path({str(SERVING_IMAGE_DIRECTORY / 'entrypoint.py')!r}, run_name='not_main')\n"
        "print(','.join(m for m in ('mlflow', 'pandas', 'aws_cdk') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
