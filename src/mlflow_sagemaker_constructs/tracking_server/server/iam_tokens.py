"""Verification of IAM tokens: signed ``sts:GetCallerIdentity`` requests that prove who the caller is.

The pattern of HashiCorp Vault's AWS IAM auth method and aws-iam-authenticator. The client signs, with its own
AWS credentials (botocore SigV4), a ``GetCallerIdentity`` request to this server's STS endpoint, with an
audience in a signed header, and sends that request, unsent, in the ``X-Mlflow-Iam-Token`` header. The
audience is the host the client addresses (:func:`audience_of`); the server accepts only its own host
names, so a token sent to another server (a malicious one, say) cannot be replayed here.
The server checks it offline first (shape, action, host, audience signed and equal, freshness, size), then
sends it to its own configured STS endpoint, never to a URL from the token. STS answers with the caller's
ARN only if the signature is valid, so the token proves the caller holds those credentials, without
handing the server anything it could use itself: a signed ``GetCallerIdentity`` grants nothing else.

What an attacker who sees a token can do: replay it to this server (only this one, the audience is signed)
until it expires (at most :data:`MAX_AGE_SECONDS` after it was signed), as with any bearer token, so tokens
travel over TLS (HTTPS at the edge) or inside the VPC. Tampering with anything signed breaks the signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

TOKEN_HEADER = "X-Mlflow-Iam-Token"
AUDIENCE_HEADER = "X-Mlflow-Iam-Audience"
TOKEN_PREFIX = "v1."
#: STS accepts a signature for 15 minutes after its X-Amz-Date; so does the server.
MAX_AGE_SECONDS = 900
#: Clock skew allowed for a date in the future.
MAX_SKEW_SECONDS = 60
#: Larger tokens are refused before they are decoded (a real one is about 2-3 KB with a session token).
MAX_TOKEN_BYTES = 8192
_BODY = {"Action": ["GetCallerIdentity"], "Version": ["2011-06-15"]}
_STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
# What is sent to STS; the Host comes from the configured endpoint, never from the token.
_FORWARDED_HEADERS = ("authorization", "x-amz-date", "x-amz-security-token", "content-type")


class TokenError(Exception):
    """The token is refused; ``status`` is the HTTP status and ``message`` what the caller is told."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _unauthorized(reason: str) -> TokenError:
    return TokenError(401, f"IAM token refused: {reason}")


@dataclass(frozen=True)
class SignedRequest:
    """The signed ``GetCallerIdentity`` request carried by a token."""

    method: str
    url: str
    headers: dict[str, str]  # lower-case names
    body: str


@dataclass(frozen=True)
class CallerIdentity:
    arn: str
    account: str
    user_id: str


def audience_of(url: str) -> str:
    """The audience of a request to ``url``: its host, and its port unless 80 or 443, lower-case.

    The client plugin computes the same from each request's URL.
    """
    return normalize_audience(urllib.parse.urlsplit(url if "://" in url else f"//{url}").netloc)


def normalize_audience(value: str) -> str:
    """``host[:port]`` lower-case, without user info, a trailing dot, or port 80 or 443."""
    host = value.strip().rsplit("@", 1)[-1].lower()
    name, separator, port = host.rpartition(":")
    if not separator or not port.isdigit() or name.count(":"):  # no port, or a bare IPv6 address
        name, port = host, ""
    name = name.rstrip(".")
    return name if port in ("", "80", "443") else f"{name}:{port}"


@dataclass(frozen=True)
class VerifierSettings:
    audiences: frozenset[str]  # normalized (normalize_audience)
    sts_endpoint: str  # e.g. https://sts.eu-west-1.amazonaws.com
    timeout_seconds: float = 5.0
    max_cache_entries: int = 10_000


def parse_token(raw: str) -> SignedRequest:
    """Decode ``v1.<base64url(JSON)>``; every malformation is a 401 that says nothing about the content."""
    if len(raw) > MAX_TOKEN_BYTES:
        raise _unauthorized(f"the token is larger than {MAX_TOKEN_BYTES} bytes")
    if not raw.startswith(TOKEN_PREFIX):
        raise _unauthorized("the token is not a version 1 IAM token")
    encoded = raw[len(TOKEN_PREFIX) :]
    try:
        decoded = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        data = json.loads(decoded)
    except (binascii.Error, ValueError):
        raise _unauthorized("the token is not valid base64-encoded JSON") from None
    if not isinstance(data, dict):
        raise _unauthorized("the token does not hold a request")
    method, url, headers, body = data.get("method"), data.get("url"), data.get("headers"), data.get("body")
    if not (isinstance(method, str) and isinstance(url, str) and isinstance(body, str) and isinstance(headers, dict)):
        raise _unauthorized("the token lacks the method, url, headers or body of the signed request")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise _unauthorized("the token's headers are not strings")
    return SignedRequest(method=method, url=url, headers={k.lower(): v for k, v in headers.items()}, body=body)


def _signed_headers(authorization: str) -> list[str]:
    if not authorization.startswith("AWS4-HMAC-SHA256 "):
        raise _unauthorized("the request is not signed with AWS Signature Version 4")
    fields = dict(
        part.strip().split("=", 1) for part in authorization[len("AWS4-HMAC-SHA256 ") :].split(",") if "=" in part
    )
    credential = fields.get("Credential", "").split("/")
    if len(credential) != 5 or credential[3] != "sts" or credential[4] != "aws4_request":
        raise _unauthorized("the signature is not for STS")
    if not fields.get("Signature"):
        raise _unauthorized("the signature is missing")
    return fields.get("SignedHeaders", "").split(";")


def check_request(request: SignedRequest, settings: VerifierSettings, now: float) -> None:
    """Everything that can be checked without asking STS."""
    if request.method != "POST":
        raise _unauthorized("the signed request is not a POST")
    sts = urllib.parse.urlsplit(settings.sts_endpoint)
    url = urllib.parse.urlsplit(request.url)
    if (url.scheme, url.netloc.lower(), url.path or "/", url.query) != (sts.scheme, sts.netloc.lower(), "/", ""):
        raise _unauthorized(
            f"the request was signed for another STS endpoint than this server's ({sts.netloc}): set the client's "
            "MLFLOW_IAM_STS_ENDPOINT or AWS_REGION to match"
        )
    if urllib.parse.parse_qs(request.body, keep_blank_values=True) != _BODY:
        raise _unauthorized("the signed request is not sts:GetCallerIdentity")
    signed = _signed_headers(request.headers.get("authorization", ""))
    for required in ("host", "x-amz-date", AUDIENCE_HEADER.lower()):
        if required not in signed:
            raise _unauthorized(f"the {required} header is not signed")
    # SigV4 signs the host of the URL (checked above); an explicit Host header may only repeat it.
    if request.headers.get("host", sts.netloc).lower() != sts.netloc.lower():
        raise _unauthorized("the signed host is not this server's STS endpoint")
    if normalize_audience(request.headers.get(AUDIENCE_HEADER.lower(), "")) not in settings.audiences:
        raise _unauthorized("the token was made for another MLflow server (its audience is not a host of this one)")
    try:
        signed_at = datetime.strptime(request.headers.get("x-amz-date", ""), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise _unauthorized("the signing date is malformed") from None
    age = now - signed_at.timestamp()
    if age > MAX_AGE_SECONDS:
        raise _unauthorized(f"the token expired ({int(age)} s old, at most {MAX_AGE_SECONDS} s); make a new one")
    if age < -MAX_SKEW_SECONDS:
        raise _unauthorized("the signing date is in the future; check the client's clock")


def expires_at(request: SignedRequest) -> float:
    """When STS stops accepting the signature (the token cannot be valid longer)."""
    signed_at = datetime.strptime(request.headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return signed_at.timestamp() + MAX_AGE_SECONDS


def parse_identity(xml: bytes) -> CallerIdentity:
    root = ElementTree.fromstring(xml)  # noqa: S314 - the configured STS endpoint, not the caller, wrote it
    result = root.find(f"{_STS_NS}GetCallerIdentityResult")
    if result is None:
        raise TokenError(503, "STS answered without a caller identity")
    values = {child.tag.removeprefix(_STS_NS): (child.text or "") for child in result}
    if not values.get("Arn") or not values.get("Account"):
        raise TokenError(503, "STS answered without a caller identity")
    return CallerIdentity(arn=values["Arn"], account=values["Account"], user_id=values.get("UserId", ""))


Poster = Callable[[str, Mapping[str, str], bytes, float], tuple[int, bytes]]


def post(url: str, headers: Mapping[str, str], body: bytes, timeout: float) -> tuple[int, bytes]:
    """POST with a bounded timeout; (status, body)."""
    import requests

    response = requests.post(url, headers=dict(headers), data=body, timeout=timeout, allow_redirects=False)
    return response.status_code, response.content


class Verifier:
    """Verifies tokens against STS, at most once per token while it is valid (per worker process)."""

    def __init__(
        self,
        settings: VerifierSettings,
        *,
        poster: Poster = post,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._poster = poster
        self._clock = clock
        self._cache: dict[str, tuple[float, CallerIdentity]] = {}
        self._lock = threading.Lock()
        #: STS calls this verifier made (for tests and metrics).
        self.sts_calls = 0

    def verify(self, raw: str) -> CallerIdentity:
        """The caller of a valid token; raises :class:`TokenError` otherwise."""
        now = self._clock()
        key = hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        request = parse_token(raw)
        check_request(request, self.settings, now)
        identity = self._ask_sts(request)
        with self._lock:
            if len(self._cache) >= self.settings.max_cache_entries:
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                if len(self._cache) >= self.settings.max_cache_entries:
                    self._cache.clear()
            self._cache[key] = (expires_at(request), identity)
        return identity

    def _ask_sts(self, request: SignedRequest) -> CallerIdentity:
        import requests

        headers = {name: value for name, value in request.headers.items() if name in _FORWARDED_HEADERS}
        headers[AUDIENCE_HEADER] = request.headers[AUDIENCE_HEADER.lower()]
        self.sts_calls += 1
        try:
            status, body = self._poster(
                self.settings.sts_endpoint, headers, request.body.encode(), self.settings.timeout_seconds
            )
        except requests.RequestException:
            raise TokenError(503, "STS could not be reached to verify the IAM token; try again shortly") from None
        if status == 200:
            try:
                return parse_identity(body)
            except ElementTree.ParseError:
                raise TokenError(503, "STS answered with something that is not a caller identity") from None
        if status in (400, 401, 403):
            raise _unauthorized("STS did not accept the signature (wrong key, tampered or expired request)")
        raise TokenError(503, f"STS could not verify the IAM token (HTTP {status}); try again shortly")


def encode_token(request: SignedRequest) -> str:
    """The wire form of a signed request (the client plugin does the same; tests use this)."""
    data = {"method": request.method, "url": request.url, "headers": request.headers, "body": request.body}
    return TOKEN_PREFIX + base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip(
        "="
    )
