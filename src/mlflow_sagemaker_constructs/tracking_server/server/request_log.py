"""The server's own log lines: one JSON line per request, and a handler for this package's messages.

uvicorn's access line (``INFO: 10.0.1.5:40000 - "GET /path HTTP/1.1" 401 Unauthorized``) has neither the
request's duration nor the user, and its client address is the load balancer's. Operators need both, so
every request gets one JSON line instead (uvicorn's access log is turned off by the entrypoint)::

    {"kind": "request", "method": "GET", "path": "/api/2.0/mlflow/experiments/search", "status": 401,
     "duration_ms": 3.2, "claimed_user": "alice", "auth": "basic", "forwarded_for": "10.0.1.5"}

- ``user``: the authenticated MLflow user (basic-auth or IAM); absent when the request was not authenticated;
- ``claimed_user``: on a refused request (401, 403) without an authenticated user, the user name of its HTTP
  basic credentials (never the password); else absent;
- ``auth``: what the request carried: ``iam`` (an IAM token), ``basic``, another ``Authorization`` scheme
  in lower case, or ``none``;
- ``forwarded_for``: the ``X-Forwarded-For`` header as the load balancer passed it (clients can prepend to
  it); absent without one.

The line is a JSON object on its own so that CloudWatch metric filters can select fields
(``{ $.status >= 500 }``) and Logs Insights discovers them without ``parse``. Successful ``/health`` checks
(every 15 s per task from the load balancer, every 30 s from ECS) are not logged.

Messages of this package's modules (``iam-auth accepted ...``, database errors) had no handler: uvicorn
configures only its own loggers, so Python dropped the INFO lines. :func:`configure_logging` gives them
MLflow's line format (``2025/01/31 09:00:00 INFO mlflow_sagemaker_server.x: ...``).
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask, Response

#: The value of ``kind`` in every request line; metric filters and queries select on it.
REQUEST_KIND = "request"
#: The logger of the request lines.
REQUEST_LOGGER = f"{__package__}.requests"
#: MLflow's own line format (mlflow/server/uvicorn_log_config.yaml), for this package's messages.
MESSAGE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%Y/%m/%d %H:%M:%S"
IAM_TOKEN_HEADER = b"x-mlflow-iam-token"
_MAX_FIELD = 256
_MAX_PATH = 1024
_UNLOGGED_OK_PATHS = frozenset({"/health"})

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# What the Flask app learns about the request (the authenticated user), shared with the ASGI middleware:
# the WSGI bridge runs Flask in a worker thread with a copy of this context, so the holder (a dict) is the
# same object on both sides.
_request_facts: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("mlflow_request_facts")


def configure_logging() -> None:
    """Give this package's loggers handlers: messages to stderr in MLflow's format, request lines to stdout."""
    package = logging.getLogger(__package__)
    if not package.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(MESSAGE_FORMAT, DATE_FORMAT))
        package.addHandler(handler)
        package.setLevel(logging.INFO)
        package.propagate = False
    requests_logger = logging.getLogger(REQUEST_LOGGER)
    if not requests_logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        requests_logger.addHandler(handler)
        requests_logger.setLevel(logging.INFO)
        requests_logger.propagate = False


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _clip(value: str | None, limit: int = _MAX_FIELD) -> str | None:
    return None if value is None else value[:limit]


def credentials_of(scope: Scope) -> tuple[str, str | None]:
    """(``auth`` kind, basic-auth user name or None) from the request headers; never the password."""
    if _header(scope, IAM_TOKEN_HEADER) is not None:
        return "iam", None
    authorization = _header(scope, b"authorization")
    if not authorization:
        return "none", None
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return _clip(scheme.lower(), 32) or "none", None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "basic", None
    return "basic", _clip(decoded.partition(":")[0])


def request_line(
    scope: Scope, status: int, duration_ms: float, user: str | None, *, claimed_user: str | None, auth: str
) -> str:
    """The JSON line of one request."""
    fields = {
        "kind": REQUEST_KIND,
        "method": _clip(str(scope.get("method", "")), 16),
        "path": _clip(str(scope.get("path", "")), _MAX_PATH),
        "status": status,
        "duration_ms": round(duration_ms, 1),
        "user": _clip(user),
        "claimed_user": claimed_user if user is None and status in (401, 403) else None,
        "auth": auth,
        "forwarded_for": _clip(_header(scope, b"x-forwarded-for")),
    }
    # Absent rather than null: "is there a user" is then the same question in every query language.
    return json.dumps({key: value for key, value in fields.items() if value is not None}, separators=(",", ":"))


class RequestLog:
    """ASGI middleware around the whole app (FastAPI routes and the Flask app it mounts): one line per request."""

    def __init__(self, app: AsgiApp) -> None:
        self.app = app
        self.logger = logging.getLogger(REQUEST_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app fails before answering
        facts: dict[str, str] = {}
        token = _request_facts.set(facts)

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message.get("type") == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            _request_facts.reset(token)
            if not (status == 200 and scope.get("path") in _UNLOGGED_OK_PATHS):
                # FastAPI-native routes (artifact transfers, among others) authenticate in MLflow's own
                # middleware, which keeps the user in the request state.
                state = scope.get("state")
                user = facts.get("user") or (state.get("username") if isinstance(state, dict) else None)
                auth, claimed = credentials_of(scope)
                duration_ms = (time.perf_counter() - started) * 1000
                self.logger.info(request_line(scope, status, duration_ms, user, claimed_user=claimed, auth=auth))


def note_authenticated_user(response: Response) -> Response:
    """Flask ``after_request`` hook: hand the user MLflow's auth app authenticated to :class:`RequestLog`."""
    from flask import g

    facts = _request_facts.get(None)
    user = getattr(g, "mlflow_authenticated_user", None)
    if facts is not None and isinstance(user, str):
        facts["user"] = user
    return response


def install(flask_app: Flask, asgi_app: AsgiApp) -> RequestLog:
    """Configure logging, hook into the Flask app, and wrap the ASGI app that uvicorn serves."""
    configure_logging()
    flask_app.after_request(note_authenticated_user)
    return RequestLog(asgi_app)
