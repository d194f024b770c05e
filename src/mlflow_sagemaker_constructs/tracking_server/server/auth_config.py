"""MLflow's basic-auth configuration, built from the environment, on disk only while it is read.

MLflow reads its auth configuration once, when ``mlflow.server.auth`` is imported, and only from the ini
file named by ``MLFLOW_AUTH_CONFIG_PATH``. The file holds the auth database URI with its password, so it
is written into a fresh private directory of the scratch volume (0700, file 0600), read by the import, and
removed at once. The admin user name and password are not in it: MLflow reads them from
``MLFLOW_AUTH_ADMIN_USERNAME`` and ``MLFLOW_AUTH_ADMIN_PASSWORD``, which the task already has.
"""

from __future__ import annotations

import configparser
import contextlib
import io
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType

from . import contract

CONFIG_PATH_ENV = "MLFLOW_AUTH_CONFIG_PATH"
#: The authorization function MLflow calls for every request (module path works on the host and in the image).
AUTHORIZATION_FUNCTION = f"{__package__}.authentication:authenticate_request"


class AuthConfigError(RuntimeError):
    """The auth configuration cannot be built or written; the message says what to fix."""


def render(env: Mapping[str, str]) -> str:
    """The ini text (``%`` doubled: MLflow reads it with interpolation on)."""
    database_uri = env.get(contract.WORKER_AUTH_DATABASE_URI)
    if not database_uri:
        raise AuthConfigError(
            f"{contract.WORKER_AUTH_DATABASE_URI} is not set: start the server through the image's entrypoint"
        )
    values = {
        "default_permission": (
            env.get(contract.AUTH_DEFAULT_PERMISSION) or contract.DEFAULT_AUTH_DEFAULT_PERMISSION
        ).upper(),
        "database_uri": database_uri,
        "authorization_function": AUTHORIZATION_FUNCTION,
        "auth_cache_ttl_seconds": env.get(contract.AUTH_CACHE_TTL_SECONDS)
        or str(contract.DEFAULT_AUTH_CACHE_TTL_SECONDS),
        "grant_default_workspace_access": "false",
    }
    parser = configparser.RawConfigParser()
    parser["mlflow"] = {key: value.replace("%", "%%") for key, value in values.items()}
    out = io.StringIO()
    parser.write(out)
    return out.getvalue()


@contextlib.contextmanager
def temporary_config_file(text: str, scratch_dir: str | None = None) -> Iterator[Path]:
    """Write ``text`` to a private file for the duration of the block, then remove it and its directory."""
    try:
        directory = Path(tempfile.mkdtemp(prefix="mlflow-auth-", dir=scratch_dir))
    except OSError as exc:
        raise AuthConfigError(
            f"cannot create a private directory in {scratch_dir or tempfile.gettempdir()} for the auth "
            f"configuration ({exc.strerror or exc}): the scratch volume must be writable and not full"
        ) from None
    try:
        path = directory / "basic_auth.ini"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise AuthConfigError(
                f"cannot write the auth configuration into {directory} ({exc.strerror or exc}): the scratch "
                "volume must be writable and not full"
            ) from None
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def import_auth_module(env: Mapping[str, str]) -> ModuleType:
    """Import ``mlflow.server.auth`` with the configuration from ``env``; no file remains afterwards."""
    text = render(env)
    with temporary_config_file(text, env.get(contract.SCRATCH_DIR)) as path:
        previous = os.environ.get(CONFIG_PATH_ENV)
        os.environ[CONFIG_PATH_ENV] = str(path)
        try:
            import mlflow.server.auth as auth
        finally:
            if previous is None:
                os.environ.pop(CONFIG_PATH_ENV, None)
            else:
                os.environ[CONFIG_PATH_ENV] = previous
    return auth
