"""The MLflow app this image serves: ``mlflow server --app-name mlflow-sagemaker``.

MLflow finds it through the ``mlflow.app`` entry point group and calls :func:`create_app` once in every
uvicorn worker. It composes MLflow's own pieces instead of changing them:

1. bounded timeouts and retries for the server's own S3 calls (:mod:`.aws_clients`), and the tracking and
   registry stores opened as the worker starts instead of on its first request;
2. with authentication on, MLflow's basic-auth app, configured from the environment
   (:mod:`.auth_config`), whose ``authorization_function`` is :func:`.authentication.authenticate_request`,
   with per-worker caching of user lookups (:mod:`.user_cache`) and, with an IAM audience, IAM tokens
   (:mod:`.iam_authentication`);
3. request policies (:mod:`.request_policy`) as Flask before-request hooks, which run after authentication;
4. one JSON log line per request and handlers for this package's log messages (:mod:`.request_log`).

Importing this module is cheap and has no side effects: ``mlflow server`` imports it in its own process
only to see that :func:`create_app` is a factory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import aws_clients, contract, request_log, request_policy

if TYPE_CHECKING:
    from flask import Flask


def _auth_enabled(env: Mapping[str, str]) -> bool:
    return env.get(contract.AUTH_ENABLED, "true").strip().lower() in ("1", "true", "yes", "on")


def create_app() -> Any:
    """Build the ASGI app of one worker (a FastAPI app wrapping MLflow's Flask app)."""
    env = os.environ
    aws_clients.bound_s3_calls(env)
    from mlflow.server import app as flask_app
    from mlflow.server.handlers import initialize_backend_stores

    # MLflow opens a worker's stores on its first request and, while the database is unreachable, retries
    # for about two minutes holding that request. Opened here, as the worker starts (the entrypoint has
    # already waited for the database), a later outage fails requests at once.
    initialize_backend_stores()

    if _auth_enabled(env):
        asgi_app = _with_authentication(flask_app, env)
    else:
        from mlflow.server.fastapi_app import app as asgi_app
    request_policy.install(flask_app, env)
    return request_log.install(flask_app, asgi_app)


def _with_authentication(flask_app: Flask, env: Mapping[str, str]) -> Any:
    from . import auth_config, iam_authentication, user_cache

    auth = auth_config.import_auth_module(env)
    user_cache.install(auth.store, ttl_seconds=auth.auth_config.auth_cache_ttl_seconds)
    asgi_app = auth.create_app(flask_app)
    iam_authentication.install(env)  # after create_app: it needs the initialized auth store
    return asgi_app
