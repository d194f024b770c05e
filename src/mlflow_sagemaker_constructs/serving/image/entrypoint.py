"""Entrypoint of the pyfunc serving image: SageMaker's hosting contract on top of MLflow's scoring server.

SageMaker starts the container as ``docker run IMAGE serve`` with the extracted model archive in
``/opt/ml/model`` and sends ``GET /ping`` and ``POST /invocations`` to port 8080. This script:

1. accepts the ``serve`` command (anything else, ``train`` included, exits with status 2 and a message);
2. checks that the model directory holds an ``MLmodel`` file with the ``python_function`` flavour, and
   fails with a message naming the directory otherwise (exit status 3);
3. replaces itself (``os.execve``) with MLflow's own scoring server,
   ``uvicorn mlflow.pyfunc.scoring_server.app:app``, built by ``mlflow.pyfunc.scoring_server.get_cmd``
   exactly as ``mlflow models serve`` and the images of ``mlflow sagemaker build-and-push-container`` do,
   but bound to ``0.0.0.0`` on the SageMaker port directly, without nginx and without creating a
   conda or virtualenv environment at start-up: the model's dependencies must already be installed in
   the image (the bundled image ships the packages of ``requirements.in``).

The scoring server answers ``/ping`` (200 once the model is loaded) and ``/invocations`` with
``text/csv`` and ``application/json`` bodies (``dataframe_split``, ``dataframe_records``, ``instances``
or ``inputs``); uvicorn handles SIGTERM, which SageMaker sends on scale-in and endpoint updates.

Settings (environment variables, all optional):

``MLFLOW_SERVING_PORT``
    Port to listen on; defaults to ``SAGEMAKER_BIND_TO_PORT`` when SageMaker sets it, otherwise 8080.
``MLFLOW_SERVING_MODEL_DIR``
    The MLflow model directory; defaults to ``/opt/ml/model``.
``MLFLOW_MODELS_WORKERS``
    Number of uvicorn worker processes, each with its own copy of the model (MLflow's own variable);
    defaults to the number of CPUs.
``MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT``
    Seconds one request may take before the server answers 504 (MLflow's own variable, default 60).
``MLFLOW_SERVING_KEEP_ALIVE_SECONDS``
    Seconds idle client connections stay open (default 75, above the 60 s SageMaker keeps them).

The module imports only the standard library at import time, so its helpers are testable anywhere;
MLflow is imported only to build the server command.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

LOG_PREFIX = "[mlflow-serving]"

# The SageMaker hosting contract.
SERVE_COMMAND = "serve"
DEFAULT_PORT = 8080
DEFAULT_MODEL_DIR = "/opt/ml/model"
MLMODEL_FILE = "MLmodel"
PYFUNC_FLAVOR = "python_function"

# Environment variables this entrypoint reads.
PORT = "MLFLOW_SERVING_PORT"
SAGEMAKER_PORT = "SAGEMAKER_BIND_TO_PORT"
MODEL_DIR = "MLFLOW_SERVING_MODEL_DIR"
WORKERS = "MLFLOW_MODELS_WORKERS"
REQUEST_TIMEOUT = "MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT"
KEEP_ALIVE_SECONDS = "MLFLOW_SERVING_KEEP_ALIVE_SECONDS"
DEFAULT_KEEP_ALIVE_SECONDS = 75

EXIT_USAGE = 2
EXIT_MODEL = 3

# SageMaker routes traffic to the container's network interface, so the server listens on all of them.
_ALL_INTERFACES = "0.0.0.0"  # noqa: S104


class ServingError(Exception):
    """A failure with a message meant for the operator and the process exit status to use."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


@dataclass(frozen=True)
class Settings:
    """What the server is started with."""

    port: int
    model_dir: Path
    workers: int
    keep_alive_seconds: int


def _positive_int(env: Mapping[str, str], name: str, default: int, maximum: int | None = None) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ServingError(f"{name} ({raw!r}) is not an integer: set a whole number", EXIT_USAGE) from None
    if value < 1 or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise ServingError(f"{name} ({value}) must be at least 1{upper}", EXIT_USAGE)
    return value


def read_settings(env: Mapping[str, str]) -> Settings:
    """Read and validate the settings; a bad value raises :class:`ServingError` naming the variable."""
    port_variable = PORT if env.get(PORT, "").strip() else SAGEMAKER_PORT
    return Settings(
        port=_positive_int(env, port_variable, DEFAULT_PORT, maximum=65535),
        model_dir=Path(env.get(MODEL_DIR, "").strip() or DEFAULT_MODEL_DIR),
        workers=_positive_int(env, WORKERS, os.cpu_count() or 1),
        keep_alive_seconds=_positive_int(env, KEEP_ALIVE_SECONDS, DEFAULT_KEEP_ALIVE_SECONDS),
    )


def check_model_dir(model_dir: Path) -> None:
    """Fail unless ``model_dir`` holds an MLflow model with the ``python_function`` flavour.

    Reads the ``MLmodel`` YAML file without a YAML parser: a top-level ``flavors:`` mapping whose
    entries are indented keys. MLflow's loader parses it properly when the server starts.
    """
    mlmodel = model_dir / MLMODEL_FILE
    if not mlmodel.is_file():
        found = sorted(p.name for p in model_dir.iterdir())[:10] if model_dir.is_dir() else None
        detail = f"it contains {found}" if found is not None else "the directory does not exist"
        raise ServingError(
            f"no {MLMODEL_FILE} file in {model_dir} ({detail}): the model archive must hold the MLflow model "
            "directory's contents at its root; build it with mlflow-sagemaker-package",
            EXIT_MODEL,
        )
    flavors: list[str] = []
    in_flavors = False
    for line in mlmodel.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith((" ", "\t")):
            in_flavors = line.rstrip() == "flavors:"
            continue
        if in_flavors:
            stripped = line.strip()
            indent = len(line) - len(line.lstrip())
            if indent == 2 and stripped.endswith(":"):
                flavors.append(stripped[:-1])
    if PYFUNC_FLAVOR not in flavors:
        raise ServingError(
            f"the model in {model_dir} has no {PYFUNC_FLAVOR} flavour (flavours: {flavors or 'none'}): this "
            "image serves pyfunc models only; log the model with an MLflow flavour that supports pyfunc",
            EXIT_MODEL,
        )


def server_command(settings: Settings, python: str = sys.executable) -> tuple[list[str], dict[str, str]]:
    """MLflow's scoring-server command and environment for ``settings``.

    ``mlflow.pyfunc.scoring_server.get_cmd`` returns a shell command starting with ``uvicorn``; it runs
    here as ``python -m uvicorn`` so the interpreter running this script serves the model.
    """
    from mlflow.pyfunc import scoring_server

    command, command_env = scoring_server.get_cmd(
        model_uri=str(settings.model_dir),
        port=settings.port,
        host=_ALL_INTERFACES,  # type: ignore[arg-type]  # MLflow annotates host as int; it is a string.
        nworkers=settings.workers,
    )
    argv = shlex.split(command)
    if not argv or argv[0] != "uvicorn":
        raise ServingError(f"unexpected scoring server command from MLflow: {command!r}", EXIT_USAGE)
    argv = [python, "-m", "uvicorn", *argv[1:], "--timeout-keep-alive", str(settings.keep_alive_seconds)]
    return argv, dict(command_env)


def _fail(message: str, exit_code: int) -> NoReturn:
    print(f"{LOG_PREFIX} {message}", file=sys.stderr, flush=True)
    sys.exit(exit_code)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Validate the command, the settings and the model, then exec the scoring server."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else SERVE_COMMAND
    if command != SERVE_COMMAND or len(args) > 1:
        _fail(
            f"unsupported command {' '.join(args)!r}: this image only implements SageMaker's "
            f"'{SERVE_COMMAND}' (hosting); training is not supported",
            EXIT_USAGE,
        )
    try:
        settings = read_settings(os.environ)
        check_model_dir(settings.model_dir)
        server_argv, server_env = server_command(settings)
    except ServingError as error:
        _fail(error.message, error.exit_code)
    workers = f"{settings.workers} worker(s)"
    print(f"{LOG_PREFIX} serving {settings.model_dir} on port {settings.port} with {workers}", file=sys.stderr)
    os.execve(server_argv[0], server_argv, server_env)  # noqa: S606 - fixed argv, no shell


if __name__ == "__main__":
    main()
