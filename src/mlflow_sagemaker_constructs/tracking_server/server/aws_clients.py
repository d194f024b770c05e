"""Bounds on the server's own AWS calls.

MLflow builds its S3 clients with ``boto3.client(...)`` on boto3's default session and sets no timeouts:
a hung S3 endpoint held a worker for minutes. botocore merges a session's *default client config* under
the config each client is created with, so setting one on the default session bounds every S3 call MLflow
makes (connect and read timeouts, standard retry mode with a bounded number of attempts) without touching
MLflow's code.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import contract


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    value = int(raw)  # the entrypoint has validated it already
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def bound_s3_calls(env: Mapping[str, str]) -> None:
    """Give boto3's default session a client config with connect/read timeouts and bounded retries."""
    import boto3
    import botocore.session
    from botocore.config import Config

    config = Config(
        connect_timeout=_positive_int(
            env, contract.S3_CONNECT_TIMEOUT_SECONDS, contract.DEFAULT_S3_CONNECT_TIMEOUT_SECONDS
        ),
        read_timeout=_positive_int(env, contract.S3_READ_TIMEOUT_SECONDS, contract.DEFAULT_S3_READ_TIMEOUT_SECONDS),
        retries={
            "mode": "standard",
            "total_max_attempts": _positive_int(env, contract.S3_MAX_ATTEMPTS, contract.DEFAULT_S3_MAX_ATTEMPTS),
        },
    )
    session = botocore.session.get_session()
    session.set_default_client_config(config)
    boto3.setup_default_session(botocore_session=session)
