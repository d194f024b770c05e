"""request_log.py: one JSON line per request around the whole ASGI app, and handlers for the package's messages.

The integration tests (tests/monitoring/integration) check the same lines as a real server writes them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import logging
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest

from mlflow_sagemaker_constructs.tracking_server.server import request_log
from mlflow_sagemaker_constructs.tracking_server.server.request_log import RequestLog

Scope = dict[str, Any]


def _scope(path: str = "/api/2.0/mlflow/runs/search", method: str = "POST", **headers: str) -> Scope:
    raw = [(name.replace("_", "-").lower().encode(), value.encode("latin-1")) for name, value in headers.items()]
    return {"type": "http", "method": method, "path": path, "headers": raw}


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _answer(status: int, *, user: str | None = None, fastapi_user: str | None = None) -> Any:
    """An ASGI app that answers ``status``; ``user`` is noted the way the Flask hook does, in a worker thread
    as the WSGI bridge runs Flask; ``fastapi_user`` the way MLflow's FastAPI auth middleware does."""

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if user is not None:

            def flask_side() -> None:
                facts = request_log._request_facts.get()
                facts["user"] = user

            await asyncio.to_thread(flask_side)
        if fastapi_user is not None:
            scope.setdefault("state", {})["username"] = fastapi_user
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


def _run(app: Any, scope: Scope) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    asyncio.run(RequestLog(app)(scope, receive, send))
    return sent


@contextlib.contextmanager
def _request_lines() -> Iterator[list[dict[str, Any]]]:
    """The JSON request lines logged inside the block (filled in when it ends)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger(request_log.REQUEST_LOGGER)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    parsed: list[dict[str, Any]] = []
    try:
        yield parsed
    finally:
        logger.removeHandler(handler)
        parsed.extend(json.loads(line) for line in stream.getvalue().splitlines())


def _run_and_collect(app: Any, scope: Scope) -> list[dict[str, Any]]:
    with _request_lines() as lines:
        _run(app, scope)
    return lines


def test_an_authenticated_request_is_one_json_line_with_the_flask_user() -> None:
    (line,) = _run_and_collect(_answer(200, user="alice"), _scope(authorization=_basic("alice", "secret-pass")))
    assert line["kind"] == request_log.REQUEST_KIND
    assert (line["method"], line["path"], line["status"], line["user"], line["auth"]) == (
        "POST",
        "/api/2.0/mlflow/runs/search",
        200,
        "alice",
        "basic",
    )
    assert isinstance(line["duration_ms"], float)
    assert "claimed_user" not in line
    assert "secret-pass" not in json.dumps(line)


def test_a_refused_basic_request_names_the_claimed_user_but_not_the_password() -> None:
    scope = _scope(authorization=_basic("mallory", "guess-1234"), x_forwarded_for="203.0.113.9, 10.0.1.5")
    (line,) = _run_and_collect(_answer(401), scope)
    assert line["status"] == 401
    assert line["claimed_user"] == "mallory"
    assert "user" not in line
    assert line["forwarded_for"] == "203.0.113.9, 10.0.1.5"
    assert "guess-1234" not in json.dumps(line)


def test_the_user_of_a_fastapi_route_comes_from_the_request_state() -> None:
    (line,) = _run_and_collect(_answer(200, fastapi_user="bob"), _scope("/api/2.0/mlflow-artifacts/artifacts/x"))
    assert line["user"] == "bob"


@pytest.mark.parametrize(
    ("headers", "auth"),
    [
        ({"x_mlflow_iam_token": "token", "authorization": "AWS4-HMAC-SHA256 Credential=..."}, "iam"),
        ({"authorization": "AWS4-HMAC-SHA256 Credential=..."}, "aws4-hmac-sha256"),
        ({"authorization": "Bearer abc"}, "bearer"),
        ({"authorization": "Basic !!!not-base64"}, "basic"),
        ({}, "none"),
    ],
)
def test_auth_says_what_the_request_carried(headers: dict[str, str], auth: str) -> None:
    (line,) = _run_and_collect(_answer(403), _scope(**headers))
    assert line["auth"] == auth
    assert "claimed_user" not in line


def test_a_failing_app_is_logged_as_500_and_the_error_propagates() -> None:
    async def broken(scope: Scope, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    with _request_lines() as lines, pytest.raises(RuntimeError, match="boom"):
        _run(broken, _scope())
    assert [line["status"] for line in lines] == [500]


def test_successful_health_checks_are_not_logged_but_failed_ones_are() -> None:
    assert _run_and_collect(_answer(200), _scope("/health", "GET")) == []
    (line,) = _run_and_collect(_answer(503), _scope("/health", "GET"))
    assert line["status"] == 503


def test_lifespan_and_websocket_scopes_pass_through_unlogged() -> None:
    calls: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        calls.append(scope["type"])

    assert _run_and_collect(app, {"type": "lifespan"}) == []
    assert calls == ["lifespan"]


def test_long_values_are_cut() -> None:
    (line,) = _run_and_collect(_answer(404), _scope("/" + "a" * 5000, x_forwarded_for="1" * 1000))
    assert len(line["path"]) == 1024
    assert len(line["forwarded_for"]) == 256


def test_package_messages_get_mlflows_line_format(monkeypatch: pytest.MonkeyPatch) -> None:
    package = logging.getLogger(request_log.__package__)
    monkeypatch.setattr(package, "handlers", [])
    monkeypatch.setattr(package, "propagate", True)
    monkeypatch.setattr(logging.getLogger(request_log.REQUEST_LOGGER), "handlers", [])
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    request_log.configure_logging()
    request_log.configure_logging()  # idempotent: one handler, one line per message
    logging.getLogger(f"{request_log.__package__}.iam_authentication").info("iam-auth accepted principal=p user=u")
    (line,) = stream.getvalue().splitlines()
    assert line.endswith(f"INFO {request_log.__package__}.iam_authentication: iam-auth accepted principal=p user=u")
    assert package.propagate is False


def test_the_iam_token_header_is_the_one_the_server_authenticates() -> None:
    from mlflow_sagemaker_constructs.tracking_server.server.iam_tokens import TOKEN_HEADER

    assert request_log.IAM_TOKEN_HEADER.decode() == TOKEN_HEADER.lower()
