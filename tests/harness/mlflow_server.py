"""A real ``mlflow server`` on 127.0.0.1 (SQLite, proxied local artifacts, one worker) for client tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class MlflowServer:
    url: str
    port: int
    artifacts: Path


def _start_mlflow_server(root: Path, artifacts: Path, port: int) -> subprocess.Popen[bytes] | None:
    """Start ``mlflow server`` and wait until it is healthy; None if it exited (e.g. port taken)."""
    env = {
        name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "MLFLOW_", "PYTEST_", "COV_"))
    }
    env |= {
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination",
        str(artifacts),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        # More than one uvicorn worker stalls each request by ~40 ms without uvloop.
        "--workers",
        "1",
    ]
    log_path = root / "server.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 180
    while process.poll() is None:
        try:
            healthy = requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
        except requests.RequestException:
            healthy = False
        if healthy and process.poll() is None:
            return process
        if time.monotonic() > deadline:
            _stop(process)
            pytest.fail(f"mlflow server did not become healthy:\n{log_path.read_text()}")
        time.sleep(0.25)
    _stop(process)
    return None


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and the uvicorn worker it forked: both are in the session it leads."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # whatever outlived the graceful stop
    process.wait(timeout=20)


@contextlib.contextmanager
def running_mlflow_server(root: Path) -> Iterator[MlflowServer]:
    """``mlflow server`` on 127.0.0.1 with SQLite and proxied local artifacts under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    artifacts = root / "artifacts"
    for _attempt in range(3):  # a free port can be taken before the server binds it
        port = _free_port()
        process = _start_mlflow_server(root, artifacts, port)
        if process is not None:
            break
    else:
        pytest.fail(f"mlflow server did not start:\n{(root / 'server.log').read_text()}")
    try:
        yield MlflowServer(f"http://127.0.0.1:{port}", port, artifacts)
    finally:
        _stop(process)
