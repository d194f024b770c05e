"""Authenticating a request by its IAM token: verify, map the principal to a user, provision the user."""

from __future__ import annotations

import logging
import os
import threading
import time
import urllib.parse
from collections.abc import Mapping as EnvMapping
from typing import TYPE_CHECKING, Any

from . import contract
from .iam_tokens import TokenError, Verifier, VerifierSettings, normalize_audience
from .iam_users import Provisioner, UserDeletedError
from .principals import Principal, Rule, map_principal, parse_rules

if TYPE_CHECKING:
    from werkzeug.datastructures import Authorization

_logger = logging.getLogger(__name__)


def sts_endpoint(env: EnvMapping[str, str]) -> str:
    """The configured STS endpoint, else the regional one of ``AWS_REGION``."""
    configured = (env.get(contract.AUTH_IAM_STS_ENDPOINT) or "").strip()
    if configured:
        return configured.rstrip("/")
    region = (env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "").strip()
    if not region:
        raise ValueError(
            f"{contract.AUTH_IAM_STS_ENDPOINT} is not set and neither is AWS_REGION: the server cannot tell which "
            "STS endpoint verifies IAM tokens"
        )
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://sts.{region}.{suffix}"


def enabled(env: EnvMapping[str, str]) -> bool:
    return (env.get(contract.AUTH_IAM_ENABLED) or "").strip().lower() in ("1", "true", "yes", "on")


def audiences(env: EnvMapping[str, str]) -> frozenset[str]:
    """The audiences tokens may carry: ``AUTH_IAM_AUDIENCES``, else the allowed hosts (wildcards left out)."""
    raw = (env.get(contract.AUTH_IAM_AUDIENCES) or "").strip() or (env.get(contract.ALLOWED_HOSTS) or "")
    return frozenset(normalize_audience(value) for value in raw.split(",") if value.strip() and "*" not in value)


def check_sts_endpoint(url: str) -> None:
    """HTTPS only, except a loopback emulator (tests)."""
    parts = urllib.parse.urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ValueError(f"{contract.AUTH_IAM_STS_ENDPOINT} ({url}) must be an https:// URL")
    if parts.path not in ("", "/") or parts.query:
        raise ValueError(f"{contract.AUTH_IAM_STS_ENDPOINT} ({url}) must be a bare endpoint without path or query")


class IamAuthenticator:
    """Turns an IAM token into the MLflow user of its principal (one per worker process)."""

    def __init__(
        self, verifier: Verifier, rules: list[Rule], provisioner: Provisioner, cache_ttl_seconds: float
    ) -> None:
        self.verifier = verifier
        self.rules = rules
        self.provisioner = provisioner
        self.cache_ttl_seconds = cache_ttl_seconds
        self._users: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def from_env(env: EnvMapping[str, str], store: Any) -> IamAuthenticator:
        endpoint = sts_endpoint(env)
        check_sts_endpoint(endpoint)
        settings = VerifierSettings(
            audiences=audiences(env),
            sts_endpoint=endpoint,
            timeout_seconds=float(
                env.get(contract.AUTH_IAM_STS_TIMEOUT_SECONDS) or contract.DEFAULT_AUTH_IAM_STS_TIMEOUT_SECONDS
            ),
        )
        rules = parse_rules(env.get(contract.AUTH_IAM_PRINCIPALS) or "[]")
        ttl = float(env.get(contract.AUTH_CACHE_TTL_SECONDS) or contract.DEFAULT_AUTH_CACHE_TTL_SECONDS)
        return IamAuthenticator(Verifier(settings), rules, Provisioner(store), ttl)

    def _still_exists(self, username: str) -> bool:
        """Through the store's cached ``get_user`` (user_cache): a deletion on this worker shows at once."""
        from mlflow.exceptions import MlflowException

        try:
            self.provisioner.store.get_user(username)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            with self._lock:
                self._users = {arn: entry for arn, entry in self._users.items() if entry[1] != username}
            return False
        return True

    def username_of(self, token: str) -> str:
        """The MLflow user name for ``token``; raises :class:`TokenError` with the status to answer."""
        identity = self.verifier.verify(token)
        now = time.monotonic()
        with self._lock:
            cached = self._users.get(identity.arn)
        if cached is not None and cached[0] > now and self._still_exists(cached[1]):
            return cached[1]
        principal = Principal.from_arn(identity.arn)
        mapping = map_principal(self.rules, principal) if principal is not None else None
        if principal is None or mapping is None:
            _logger.warning("iam-auth refused principal=%s status=403 reason=unmapped", identity.arn)
            raise TokenError(
                403, f"IAM principal {identity.arn} is not mapped to an MLflow user: no principal mapping rule matched"
            )
        try:
            username = self.provisioner.user_for(principal, mapping)
        except UserDeletedError:
            _logger.warning("iam-auth refused principal=%s status=403 reason=user-deleted", identity.arn)
            raise TokenError(
                403,
                f"the MLflow user {mapping.username!r} of IAM principal {identity.arn} was deleted; an MLflow admin "
                "can create it again",
            ) from None
        _logger.info("iam-auth accepted principal=%s user=%s admin=%s", identity.arn, username, mapping.admin)
        with self._lock:
            self._users[identity.arn] = (now + self.cache_ttl_seconds, username)
        return username


_authenticator: IamAuthenticator | None = None


def install(env: EnvMapping[str, str] = os.environ) -> IamAuthenticator | None:
    """Set up this worker's authenticator when IAM tokens are on; provision the users exact rules name."""
    global _authenticator
    if not enabled(env):
        _authenticator = None
        return None
    from mlflow.server import auth

    _authenticator = IamAuthenticator.from_env(env, auth.store)
    _authenticator.provisioner.provision(_authenticator.rules)
    return _authenticator


def current() -> IamAuthenticator | None:
    return _authenticator


def authorization_for(username: str) -> Authorization:
    """What MLflow's auth app expects from an authorization function: who the sender is."""
    from werkzeug.datastructures import Authorization

    return Authorization("basic", {"username": username, "password": ""})
