"""Which tracking server the command talks to, how long it waits for it, and what its failures mean.

MLflow's own client defaults wait long: a 120 s timeout per attempt and 7 retries with exponential
back-off, so an unreachable server takes minutes to report. The command sets MLflow's HTTP settings
for its own process to ``--timeout`` seconds per attempt and ``--retries`` retries with a 1 s back-off
factor, so it gives up after at most :func:`worst_case_seconds`. Artifact downloads stream: the timeout
bounds each wait for data, not the whole transfer.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from mlflow_sagemaker_client.packaging.errors import EXIT_MODEL, EXIT_TRACKING, EXIT_USAGE, PackagingError

DEFAULT_TIMEOUT_SECONDS = 15
DEFAULT_RETRIES = 2
# MLflow's settings (mlflow.environment_variables) that the command sets for its own process.
_TIMEOUT_ENV = "MLFLOW_HTTP_REQUEST_TIMEOUT"
_RETRIES_ENV = "MLFLOW_HTTP_REQUEST_MAX_RETRIES"
_BACKOFF_FACTOR_ENV = "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"
_BACKOFF_JITTER_ENV = "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER"
_BACKOFF_FACTOR = 1
_BACKOFF_JITTER = 0.5
_REMOTE_SCHEMES = ("http", "https", "databricks", "databricks-uc", "uc")

NO_TRACKING_URI = (
    "no MLflow tracking server is configured: pass --tracking-uri https://... or set MLFLOW_TRACKING_URI "
    "(in SageMaker Studio the lifecycle configuration sets it; see the getting-started guide)"
)


def worst_case_seconds(timeout: float, retries: int) -> float:
    """The longest one request to the tracking server can take before the command gives up.

    ``retries + 1`` attempts of at most ``timeout`` each, plus urllib3's back-off between them
    (nothing before the first retry, then ``factor * 2**(n-1)`` seconds, plus the jitter).
    """
    backoff = sum(float(_BACKOFF_FACTOR * 2 ** (n - 1)) + _BACKOFF_JITTER for n in range(2, retries + 1))
    return (retries + 1) * timeout + backoff


@dataclass(frozen=True)
class TrackingTarget:
    """The tracking and registry URIs the command uses."""

    tracking_uri: str
    registry_uri: str


def resolve_target(tracking_uri: str | None, registry_uri: str | None) -> TrackingTarget:
    """The options, else ``MLFLOW_TRACKING_URI``/``MLFLOW_REGISTRY_URI``; no tracking URI is a usage error.

    MLflow would fall back to a local ``sqlite:///`` store, which a client without a database driver
    cannot open and which never holds the model the person meant.
    """
    tracking = (tracking_uri or os.environ.get("MLFLOW_TRACKING_URI", "")).strip()
    if not tracking:
        raise PackagingError(NO_TRACKING_URI, EXIT_USAGE)
    registry = (registry_uri or os.environ.get("MLFLOW_REGISTRY_URI", "")).strip() or tracking
    for option, uri in (("--tracking-uri", tracking), ("--registry-uri", registry)):
        scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
        if scheme not in _REMOTE_SCHEMES and not _has_database_driver():
            raise PackagingError(
                f"{option} ({uri!r}) is not a tracking server URL: mlflow-sagemaker-client talks to MLflow "
                "servers over HTTP(S) (e.g. https://mlflow.example.com); local stores need the full mlflow "
                "package",
                EXIT_USAGE,
            )
    return TrackingTarget(tracking, registry)


def _has_database_driver() -> bool:
    import importlib.util

    return importlib.util.find_spec("sqlalchemy") is not None


def http_settings(timeout: int, retries: int) -> dict[str, str]:
    """MLflow's HTTP settings (environment variables it reads per request) for ``--timeout`` and ``--retries``."""
    return {
        _TIMEOUT_ENV: str(timeout),
        _RETRIES_ENV: str(retries),
        _BACKOFF_FACTOR_ENV: str(_BACKOFF_FACTOR),
        _BACKOFF_JITTER_ENV: str(_BACKOFF_JITTER),
    }


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def explain(error: Exception, target: TrackingTarget, what: str) -> PackagingError:
    """Turn an MLflow client error into a one-line :class:`PackagingError` with the right exit status."""
    import requests
    from mlflow.exceptions import MlflowException

    message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    for cause in _chain(error):
        # urllib3 reports a read time-out that used up the retries as a connection error saying "timed out".
        if isinstance(cause, requests.exceptions.Timeout) or "timed out" in str(cause).lower():
            return PackagingError(
                f"the tracking server at {target.tracking_uri} did not answer in time ({what}): check the URL "
                "and that this machine can reach it; raise --timeout or --retries for a slow server",
                EXIT_TRACKING,
            )
        if isinstance(cause, requests.exceptions.ConnectionError) or (
            isinstance(cause, MlflowException) and "failed with exception" in str(cause)
        ):
            reason = "connection failed"
            if "Max retries exceeded" in str(cause) or "NewConnectionError" in str(cause):
                reason = "connection refused or host not found"
            return PackagingError(
                f"cannot reach the tracking server at {target.tracking_uri} ({reason}, {what}): check "
                "--tracking-uri or MLFLOW_TRACKING_URI and the network path (VPC, proxy, VPN)",
                EXIT_TRACKING,
            )
    if isinstance(error, MlflowException):
        status = error.get_http_status_code()  # type: ignore[no-untyped-call]
        if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND") or status == 404:
            return PackagingError(f"{what}: not found on the tracking server: {message}", EXIT_MODEL)
        # API Gateway answers {"message": "Forbidden"} (IAM) or {"message": "Unauthorized"} (JWT), which MLflow
        # reports with an internal error code.
        refused_by_gateway = re.search(r"""['"]message['"]: ['"](Forbidden|Unauthorized)""", str(error)) is not None
        if (
            error.error_code in ("PERMISSION_DENIED", "UNAUTHENTICATED", "CUSTOMER_UNAUTHORIZED")
            or status in (401, 403)
            or refused_by_gateway
        ):
            return PackagingError(
                f"the tracking server refused the request ({what}): {message}. Check the credentials "
                "(MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_AUTH=aws-sigv4 and AWS credentials)",
                EXIT_TRACKING,
            )
    return PackagingError(f"{what} failed: {type(error).__name__}: {message}")


__all__ = [
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT_SECONDS",
    "NO_TRACKING_URI",
    "TrackingTarget",
    "explain",
    "http_settings",
    "resolve_target",
    "worst_case_seconds",
]
