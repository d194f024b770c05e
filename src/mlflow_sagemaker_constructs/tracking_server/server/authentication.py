"""The ``authorization_function`` MLflow's auth app calls for every protected request.

It answers who sent the request (a ``werkzeug`` ``Authorization`` carrying the MLflow user name) or a
response that ends the request:

- an IAM token (``X-Mlflow-Iam-Token``, see :mod:`.iam_tokens`), when the server has IAM authentication: the
  MLflow user of the AWS principal that signed it. It never uses the ``Authorization`` header, which may
  carry the SigV4 signature of an IAM-authorized HTTP API in front of the server;
- HTTP basic credentials, checked by MLflow's own ``authenticate_request_basic_auth`` (and its credential
  cache): the admin (break-glass) and users with passwords;
- when the auth database cannot be reached, a 503 with a generic message: the details (host, port, driver
  error) go to the server log, never to a caller who has not even authenticated.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Response
    from werkzeug.datastructures import Authorization

_logger = logging.getLogger(__name__)

UNAVAILABLE_MESSAGE = "The MLflow server cannot reach its database right now. Try again in a minute."
RETRY_AFTER_SECONDS = "30"


def is_database_unavailable(exc: BaseException) -> bool:
    """True for MLflow's wrapping of a lost or refused database connection (and the raw driver error)."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import TEMPORARILY_UNAVAILABLE, ErrorCode
    from sqlalchemy.exc import DBAPIError, OperationalError

    if isinstance(exc, OperationalError):
        return True
    if isinstance(exc, MlflowException):
        return exc.error_code == ErrorCode.Name(TEMPORARILY_UNAVAILABLE) or isinstance(exc.__cause__, DBAPIError)
    return False


def service_unavailable() -> Response:
    """A 503 that says what happened and nothing about the infrastructure."""
    from flask import make_response

    response = make_response(UNAVAILABLE_MESSAGE, 503)
    response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    response.mimetype = "text/plain"
    return response


def refused(status: int, message: str) -> Response:
    """A 401 or 403 (or 503) with a message for the caller, and never anything from the token."""
    from flask import make_response

    response = make_response(message, status)
    response.mimetype = "text/plain"
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="mlflow"'
    return response


def authenticate_request() -> Authorization | Response:
    """Authenticate the current Flask request (configured as MLflow's ``authorization_function``)."""
    from flask import request
    from mlflow.server import auth

    from . import iam_authentication
    from .iam_tokens import TOKEN_HEADER, TokenError

    try:
        token = request.headers.get(TOKEN_HEADER)
        if token is not None:
            iam = iam_authentication.current()
            if iam is None:
                return refused(401, "IAM tokens are not accepted by this MLflow server: use its basic authentication")
            try:
                return iam_authentication.authorization_for(iam.username_of(token))
            except TokenError as error:
                if error.status == 401:
                    _logger.info("iam-auth refused status=401 reason=%s", error.message)
                return refused(error.status, error.message)
        return auth.authenticate_request_basic_auth()
    except Exception as exc:
        if not is_database_unavailable(exc):
            raise
        _logger.error("authentication failed because the auth database is unavailable: %s", exc)
        return service_unavailable()
