"""Rules the server enforces on requests, as Flask hooks on MLflow's app (they run after authentication).

- **Artifact locations.** MLflow accepts any ``artifact_location`` when an experiment is created
  (``file:///etc``, another bucket), and the UI upload endpoint then writes there with the server's
  permissions. Here only admins may choose a location, and only inside the configured artifact root;
  everyone else gets the server's default (``<root>/<experiment id>``). Without authentication, a location
  inside the root is still accepted.
- **Model version sources.** A model version's files are served by the server with its own S3 role, so a
  raw ``s3://`` source would let anyone read any key the server can. Sources must be ``runs:/``,
  ``models:/`` or ``mlflow-artifacts:/`` URIs (MLflow authorizes those against the run or model), an MLflow
  prompt placeholder, or lie inside the artifact directory of the run given as ``run_id`` (which MLflow's
  auth requires READ on): that is what ``mlflow.register_model("runs:/...")`` sends for runs of experiments
  an earlier server created with ``s3://`` locations.
- **Passwords.** Users created or changed through the server need at least
  :data:`contract.MIN_USER_PASSWORD_LENGTH` characters, not a well-known password and not their user name.
- **Database errors.** A response that reports a lost database connection is replaced by a generic 503;
  the driver's message (host, port, error) is logged instead.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import contract

if TYPE_CHECKING:
    from flask import Flask, Response

_logger = logging.getLogger(__name__)

_CREATE_EXPERIMENT = re.compile(r"/(?:ajax-)?api/2\.0/mlflow/experiments/create$")
_CREATE_MODEL_VERSION = re.compile(r"/(?:ajax-)?api/2\.0/mlflow/model-versions/create$")
_SAFE_SOURCE = re.compile(contract.MODEL_VERSION_SOURCE_REGEX)
# MLflow's prompt registry stores prompts as model versions with one of these sources (mlflow.prompt.constants).
PROMPT_SOURCE_PLACEHOLDERS = frozenset({"dummy-source", "prompt-template"})
_USER_PASSWORD_ROUTES = re.compile(r"/(?:ajax-)?api/2\.0/mlflow/users/(?:create|update-password|create-ui)$")
_PROXIED_SCHEME = "mlflow-artifacts"

#: Passwords of 12 or more characters that appear near the top of public breach lists, lower-cased.
KNOWN_BAD_PASSWORDS = frozenset(
    {
        "password1234",
        "password12345",
        "password123456",
        "123456789012",
        "1234567890123",
        "12345678901234",
        "qwertyuiopas",
        "qwerty123456",
        "qwertyuiop123",
        "1q2w3e4r5t6y",
        "1qaz2wsx3edc",
        "abcdefghijkl",
        "abc123456789",
        "iloveyou1234",
        "administrator",
        "administrator1",
        "admin1234567",
        "adminadmin123",
        "welcome12345",
        "letmein12345",
        "changeme1234",
        "mlflow123456",
        "mlflowmlflow",
        "passwordpassword",
        "aaaaaaaaaaaa",
        "000000000000",
        "111111111111",
    }
)


class PolicyViolationError(ValueError):
    """A request the server refuses; the message is shown to the caller."""


def artifact_root(env: Mapping[str, str]) -> str:
    """The root every artifact location must be under, as clients see it."""
    if env.get(contract.ARTIFACTS_MODE, contract.DEFAULT_ARTIFACTS_MODE) == "proxied":
        return f"{_PROXIED_SCHEME}:/"
    return env.get(contract.ARTIFACTS_URI, "")


def _normalized(uri: str, what: str = "artifact_location") -> tuple[str, str, list[str]]:
    parsed = urllib.parse.urlsplit(uri)
    if parsed.query or parsed.fragment:
        raise PolicyViolationError(f"{what} {uri!r} must not have a query string or fragment")
    parts: list[str] = []
    for raw in parsed.path.split("/"):
        part = urllib.parse.unquote(raw)
        while part != urllib.parse.unquote(part):
            part = urllib.parse.unquote(part)
        if part in ("", "."):
            continue
        if part == ".." or "/" in part or "\\" in part:
            raise PolicyViolationError(f"{what} {uri!r} must not contain '..' or encoded separators")
        parts.append(part)
    return parsed.scheme.lower(), parsed.netloc.lower(), parts


def is_within(location: str, root: str, what: str = "artifact_location") -> bool:
    """True when ``location`` is ``root`` or below it (scheme, bucket and path segments compared)."""
    scheme, netloc, parts = _normalized(location, what)
    root_scheme, root_netloc, root_parts = _normalized(root, what)
    return (scheme, netloc) == (root_scheme, root_netloc) and parts[: len(root_parts)] == root_parts


def check_artifact_location(location: str, root: str, *, is_admin: bool, auth_enabled: bool) -> None:
    """Raise :class:`PolicyViolationError` unless this caller may create an experiment at ``location``."""
    if not location:
        return
    if auth_enabled and not is_admin:
        raise PolicyViolationError(
            "artifact_location can only be chosen by an MLflow admin on this server: omit it, and the "
            "experiment's artifacts go to the server's artifact store"
        )
    if not root or not is_within(location, root):
        raise PolicyViolationError(
            f"artifact_location {location!r} is outside this server's artifact store ({root or 'not configured'}): "
            "omit it, or choose a location under that root"
        )


def check_model_version_source(source: str, run_artifact_uri: str | None) -> None:
    """Raise :class:`PolicyViolationError` unless ``source`` is a source this server may serve files from.

    ``run_artifact_uri`` is the artifact URI of the run the request names as ``run_id`` (None without one).
    """
    if not source or _SAFE_SOURCE.search(source) or source in PROMPT_SOURCE_PLACEHOLDERS:
        return
    if run_artifact_uri and urllib.parse.urlsplit(source).scheme and is_within(source, run_artifact_uri, "source"):
        return
    raise PolicyViolationError(
        f"Invalid model version source: {source!r}. Register a model from runs:/<run id>/<path>, models:/<model "
        "id> or mlflow-artifacts:/ URIs, or pass run_id with a source inside that run's artifact directory"
    )


def _run_artifact_uri(run_id: object) -> str | None:
    if not isinstance(run_id, str) or not run_id:
        return None
    from mlflow.exceptions import MlflowException
    from mlflow.server.handlers import _get_tracking_store

    try:
        return str(_get_tracking_store().get_run(run_id).info.artifact_uri)  # type: ignore[no-untyped-call]
    except MlflowException:
        return None


def check_password(username: str, password: str) -> None:
    """Raise :class:`PolicyViolationError` for a password that is short, well known or the user name."""
    if len(password) < contract.MIN_USER_PASSWORD_LENGTH:
        raise PolicyViolationError(
            f"the password must have at least {contract.MIN_USER_PASSWORD_LENGTH} characters (it has {len(password)})"
        )
    folded = password.casefold()
    if folded in KNOWN_BAD_PASSWORDS or len(set(folded)) <= 2:
        raise PolicyViolationError("the password is a well-known or trivially guessable password: choose another one")
    if username and username.casefold() in folded:
        raise PolicyViolationError("the password must not contain the user name")


def _request_fields() -> dict[str, Any]:
    from flask import request

    if request.is_json:
        body = request.get_json(silent=True)
        return body if isinstance(body, dict) else {}
    return {**request.args.to_dict(), **request.form.to_dict()}


def _bad_request(message: str) -> Response:
    from flask import make_response

    body = json.dumps({"error_code": "INVALID_PARAMETER_VALUE", "message": message})
    response = make_response(body, 400)
    response.mimetype = "application/json"
    return response


def _sender_is_admin() -> bool:
    from mlflow.server import auth

    return bool(auth.sender_is_admin())  # type: ignore[no-untyped-call]


def install(app: Flask, env: Mapping[str, str]) -> None:
    """Register the hooks on MLflow's Flask app (after the auth app's own, so they see the sender)."""
    from flask import request

    auth_enabled = env.get(contract.AUTH_ENABLED, "true").strip().lower() in ("1", "true", "yes", "on")
    root = artifact_root(env)

    def enforce() -> Response | None:
        if request.method != "POST" and request.method != "PATCH":
            return None
        path = request.path
        try:
            if _CREATE_EXPERIMENT.search(path):
                location = str(_request_fields().get("artifact_location") or "")
                if location:
                    check_artifact_location(
                        location, root, is_admin=auth_enabled and _sender_is_admin(), auth_enabled=auth_enabled
                    )
            elif _CREATE_MODEL_VERSION.search(path):
                fields = _request_fields()
                source = fields.get("source")
                if isinstance(source, str):
                    check_model_version_source(source, _run_artifact_uri(fields.get("run_id")))
            elif auth_enabled and _USER_PASSWORD_ROUTES.search(path):
                fields = _request_fields()
                password = fields.get("password")
                if isinstance(password, str):
                    check_password(str(fields.get("username") or ""), password)
        except PolicyViolationError as violation:
            return _bad_request(str(violation))
        return None

    def hide_database_errors(response: Response) -> Response:
        if response.status_code != 503 or not response.is_json:
            return response
        body = response.get_json(silent=True)
        if isinstance(body, dict) and body.get("error_code") == "TEMPORARILY_UNAVAILABLE":
            from .authentication import UNAVAILABLE_MESSAGE, service_unavailable

            _logger.error("%s %s failed: %s", request.method, request.path, body.get("message"))
            replacement = service_unavailable()
            replacement.set_data(json.dumps({"error_code": "TEMPORARILY_UNAVAILABLE", "message": UNAVAILABLE_MESSAGE}))
            replacement.mimetype = "application/json"
            return replacement
        return response

    app.before_request(enforce)
    app.after_request(hide_database_errors)
