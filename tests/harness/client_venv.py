"""The client distribution as a user gets it: its wheel in a fresh virtual environment outside the repository.

The wheel is built from the workspace (``uv build --package mlflow-sagemaker-client``) and installed with
uv into a new venv under pytest's temporary directory, resolving its dependencies like ``pip install``
would (with bytecode compiled, as pip does); they are constrained to the versions of this development
environment (uv.lock), so the install comes from uv's cache. Nothing else is installed: not the construct
package, not scikit-learn.

The tests that use it share local services through :class:`ClientServices`: a real ``mlflow server``
(SQLite, proxied artifacts) with the diabetes model registered, and ``moto_server`` emulating S3.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from tests.harness.app import REPO_ROOT
from tests.harness.mlflow_server import MlflowServer, running_mlflow_server
from tests.serving.image.helpers import FAKE_AWS_ENV, RegisteredModel, moto_s3_server, register_model

CLIENT_DISTRIBUTION = "mlflow-sagemaker-client"
BUCKET = "model-artifacts"


@dataclass(frozen=True)
class ClientVenv:
    """A virtual environment with only the client wheel and its dependencies installed."""

    root: Path
    wheel: Path
    size_bytes: int
    distributions: tuple[str, ...]

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def command(self, name: str) -> Path:
        return self.root / "bin" / name

    def environment(self, **extra: str) -> dict[str, str]:
        """The process environment for the venv: no trace of the development environment or the repository."""
        env = {
            name: value
            for name, value in os.environ.items()
            if name not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}
            and not name.startswith(("AWS_", "MLFLOW_", "PYTEST_"))
        }
        env["PATH"] = f"{self.root / 'bin'}:{env.get('PATH', '')}"
        env["MLFLOW_DISABLE_TELEMETRY"] = "true"
        env["DO_NOT_TRACK"] = "true"
        return env | extra


def _uv() -> str:
    for candidate in (REPO_ROOT / ".tools" / "uv" / "bin" / "uv", Path(sys.executable).parent / "uv"):
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("uv")
    assert found, "uv not found: run the tests through ./dev"
    return found


def _run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, check=False, timeout=600, **kwargs)
    assert result.returncode == 0, f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
    return result


def _constraints() -> str:
    """Every distribution of this environment pinned to its version, except the client itself."""
    pins: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and name.lower().replace("_", "-") not in {CLIENT_DISTRIBUTION, "mlflow-sagemaker-constructs"}:
            pins.setdefault(name.lower(), f"{name}=={dist.version}")
    return "\n".join(sorted(pins.values())) + "\n"


def directory_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def build_client_venv(work: Path) -> ClientVenv:
    """Build the client wheel and install it into a new venv under ``work`` (outside the repository)."""
    assert not work.resolve().is_relative_to(REPO_ROOT)
    dist = work / "dist"
    _run([_uv(), "build", "--package", CLIENT_DISTRIBUTION, "--wheel", "--out-dir", str(dist)], cwd=REPO_ROOT)
    (wheel,) = dist.glob("*.whl")
    venv = work / "venv"
    _run([_uv(), "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=work)
    (work / "constraints.txt").write_text(_constraints())
    _run(
        [
            _uv(),
            "pip",
            "install",
            "--quiet",
            # Like pip: modules are compiled at install, so each command starts without compiling MLflow.
            "--compile-bytecode",
            "--python",
            str(venv / "bin" / "python"),
            "--constraint",
            "constraints.txt",
            str(wheel),
        ],
        cwd=work,
    )
    listed = _run([_uv(), "pip", "list", "--python", str(venv / "bin" / "python"), "--format", "freeze"], cwd=work)
    names = tuple(sorted(line.split("==")[0].lower() for line in listed.stdout.splitlines() if "==" in line))
    return ClientVenv(root=venv, wheel=wheel, size_bytes=directory_size(venv), distributions=names)


@dataclass(frozen=True)
class ClientServices:
    """A real MLflow server with the diabetes model registered, and S3 emulation with an empty bucket."""

    mlflow: MlflowServer
    registered: RegisteredModel
    s3_endpoint: str
    bucket: str = BUCKET

    def aws_environment(self) -> dict[str, str]:
        return {**FAKE_AWS_ENV, "AWS_ENDPOINT_URL_S3": self.s3_endpoint}


@contextlib.contextmanager
def client_services(work: Path) -> Iterator[ClientServices]:
    import boto3

    with running_mlflow_server(work / "mlflow") as server, moto_s3_server(work / "moto") as endpoint:
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_AWS_ENV["AWS_SESSION_TOKEN"],
            region_name=FAKE_AWS_ENV["AWS_DEFAULT_REGION"],
        ).create_bucket(Bucket=BUCKET)
        registered = register_model(work / "model", tracking_uri=server.url)
        yield ClientServices(mlflow=server, registered=registered, s3_endpoint=endpoint)
