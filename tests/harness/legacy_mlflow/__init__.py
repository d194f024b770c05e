"""Throwaway virtual environments with the MLflow versions our users come from (the AWS samples).

The pins live in one place, the requirement files beside this module, one per MLflow version
(``mlflow-<version>.txt``): MLflow, its whole dependency tree, and the drivers and tools the samples'
images installed (``pymysql``, ``psycopg2-binary``, ``boto3``; ``setuptools`` because MLflow 2.x imports
``pkg_resources``). Each set was resolved for CPython 3.11 as PyPI stood shortly after that MLflow release,
so the packages fit each other the way they did then (``numpy<2``, Flask 2 for MLflow 2.6, ...).
Regenerate one with::

    uv pip compile --no-header --python-version 3.11 --exclude-newer <date> IN -o mlflow-<version>.txt

where IN lists ``mlflow==<version>``, ``pymysql``, ``psycopg2-binary``, ``boto3``, ``setuptools`` and
``<date>`` is :data:`RESOLVED_AT` of that version.

:func:`legacy_mlflow` builds a venv with the project's pinned ``uv`` from nothing (about 650 MB; measured
4 s on a quiet machine, 30-36 s with the 2 cores saturated, most of it writing files) and keeps it under
``~/.cache/mlflow-sagemaker-constructs/legacy-mlflow/<key>``, keyed on the requirement file, the
interpreter and the ``uv`` version, so later runs on the same machine reuse it. Concurrent builders
(xdist workers) serialize on a lock file; a half-built venv is never used.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from tests.harness.processes import stop_process_group
from tests.harness.services import LOCALHOST, free_port

PINS_DIR = Path(__file__).resolve().parent
#: The date each requirement file was resolved at (``uv pip compile --exclude-newer``).
RESOLVED_AT: Mapping[str, str] = {
    "2.6.0": "2023-09-15T00:00:00Z",  # aws-samples/amazon-sagemaker-mlflow-fargate users: MLflow 2.6
    "2.14.2": "2024-07-20T00:00:00Z",  # aws-samples/aws-mlflow-sagemaker-cdk: mlflow==2.14.2 in its image
}
CACHE_ROOT = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mlflow-sagemaker-constructs" / "legacy-mlflow"
)
_COMPLETE = ".complete"


@dataclasses.dataclass(frozen=True)
class LegacyMlflow:
    """A venv with one old MLflow version; run its Python or its ``mlflow`` command."""

    version: str
    venv: Path
    #: Seconds this call spent building the venv; 0.0 when it came from the cache.
    build_seconds: float

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def mlflow(self) -> Path:
        return self.venv / "bin" / "mlflow"

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """An environment for the venv's programs: the venv first on PATH, nothing of the project's venv."""
        # Bytecode is written on first import (not for the whole venv at install time, which costs a minute
        # of CPU): the project's PYTHONDONTWRITEBYTECODE stops here.
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
        }
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.venv)
        env.update(extra or {})
        return env

    def run_python(
        self, args: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run the venv's Python; raise with its output when it fails."""
        result = subprocess.run(
            [str(self.python), *args],
            env=self.env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"MLflow {self.version} python {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    @contextlib.contextmanager
    def server(
        self,
        backend_store_uri: str,
        default_artifact_root: str,
        log_file: Path,
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = 120,
    ) -> Iterator[str]:
        """``mlflow server`` as the AWS samples ran it (clients write artifacts to ``default_artifact_root``
        themselves), on 127.0.0.1 with one worker; yields its URL once ``/health`` answers 200."""
        port = free_port()
        command = [
            str(self.mlflow),
            "server",
            "--host",
            LOCALHOST,
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            backend_store_uri,
            "--default-artifact-root",
            default_artifact_root,
        ]
        with log_file.open("wb") as log:
            process = subprocess.Popen(
                command, env=self.env(env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        url = f"http://{LOCALHOST}:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                with (
                    contextlib.suppress(OSError, urllib.error.URLError),
                    urllib.request.urlopen(f"{url}/health", timeout=2) as response,  # noqa: S310
                ):
                    if response.status == 200:
                        break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"MLflow {self.version} server did not become healthy (exit code {process.poll()}):\n"
                        + log_file.read_text(encoding="utf-8", errors="replace")
                    )
                time.sleep(0.2)
            yield url
        finally:
            stop_process_group(process)


def requirements_file(version: str) -> Path:
    path = PINS_DIR / f"mlflow-{version}.txt"
    if version not in RESOLVED_AT or not path.is_file():
        raise ValueError(f"no pinned requirements for MLflow {version}: known are {', '.join(RESOLVED_AT)}")
    return path


def _uv() -> str:
    from uv import find_uv_bin  # the dev dependency uv==<pinned>, the same uv ./dev uses

    return str(find_uv_bin())


def cache_key(version: str) -> str:
    """What makes two venvs interchangeable: the pins, the interpreter and the installer."""
    uv_version = subprocess.run([_uv(), "--version"], capture_output=True, text=True, check=True).stdout.strip()
    digest = hashlib.sha256()
    for part in (
        requirements_file(version).read_bytes(),
        sys.version.encode(),
        platform.machine().encode(),
        uv_version.encode(),
    ):
        digest.update(part)
        digest.update(b"\0")
    return f"mlflow-{version}-py{sys.version_info.major}{sys.version_info.minor}-{digest.hexdigest()[:16]}"


def legacy_mlflow(version: str, cache_root: Path = CACHE_ROOT) -> LegacyMlflow:
    """The venv for MLflow ``version``, built from the pins unless a complete one is cached."""
    target = cache_root / cache_key(version)
    cache_root.mkdir(parents=True, exist_ok=True)
    with (cache_root / f"{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / _COMPLETE).is_file():
            return LegacyMlflow(version, target, 0.0)
        started = time.monotonic()
        shutil.rmtree(target, ignore_errors=True)  # a build that died half-way
        base_python = getattr(sys, "_base_executable", sys.executable)
        env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
        env.pop("VIRTUAL_ENV", None)
        subprocess.run([_uv(), "venv", "--quiet", "--python", base_python, str(target)], env=env, check=True)
        result = subprocess.run(
            [
                _uv(),
                "pip",
                "install",
                "--quiet",
                "--python",
                str(target / "bin" / "python"),
                "-r",
                str(requirements_file(version)),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            shutil.rmtree(target, ignore_errors=True)
            raise AssertionError(f"installing MLflow {version} failed:\n{result.stdout}\n{result.stderr}")
        (target / _COMPLETE).write_text(requirements_file(version).name + "\n", encoding="utf-8")
        return LegacyMlflow(version, target, time.monotonic() - started)
