"""Sign MLflow client requests with AWS Signature Version 4 for an IAM-authorized API Gateway HTTP API.

MLflow looks up request auth plugins in the ``mlflow.request_auth_provider`` entry point group and uses
the one whose ``get_name()`` equals ``MLFLOW_TRACKING_AUTH``. This package registers
:class:`SigV4RequestAuthProvider` there under ``aws-sigv4``, so::

    pip install mlflow-sagemaker-client
    export MLFLOW_TRACKING_URI=https://abc123.execute-api.eu-west-1.amazonaws.com
    export MLFLOW_TRACKING_AUTH=aws-sigv4

is enough for every MLflow REST call, including proxied artifact uploads and downloads, to be signed.

* Credentials come from botocore's default chain (environment, shared config and credentials files,
  SSO, web identity, container and instance metadata), so the execution role works unchanged in
  SageMaker Studio, training and processing jobs. Refreshable credentials are refreshed by botocore
  when they near expiry; every request is signed with a fresh snapshot.
* The region is, in order: ``MLFLOW_SIGV4_REGION``; the region in an ``execute-api`` host name;
  ``AWS_REGION``; ``AWS_DEFAULT_REGION``; the region of the active AWS profile.
* The service is ``MLFLOW_SIGV4_SERVICE`` or ``execute-api``.

The signature itself is computed by botocore (``botocore.auth.SigV4Auth`` over a
``botocore.awsrequest.AWSRequest``). Before signing, the path and query string are rewritten to their
AWS canonical percent-encoding so that what is sent is exactly what was signed, and the payload is
made hashable: seekable files (artifact uploads) are hashed in place and rewound, other streams are
read into memory. API Gateway verifies the payload hash, so ``UNSIGNED-PAYLOAD`` is never used.

A redirect to another origin (scheme, host or port) never carries the signature or the session token:
requests itself drops only ``Authorization``, so the plugin drops every ``x-amz-*`` header too.

botocore is imported lazily: importing this module (which MLflow does for every installed plugin)
never fails, and ``get_auth()`` explains how to install what is missing.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote_to_bytes, urljoin, urlsplit, urlunsplit

from mlflow.exceptions import MlflowException
from mlflow.tracking.request_auth.abstract_request_auth_provider import RequestAuthProvider
from requests.auth import AuthBase

if TYPE_CHECKING:
    from botocore.credentials import Credentials, ReadOnlyCredentials
    from botocore.session import Session
    from requests import PreparedRequest, Response

__all__ = [
    "DEFAULT_SERVICE",
    "INSTALL_HINT",
    "PROVIDER_NAME",
    "REGION_ENV",
    "SERVICE_ENV",
    "AwsSigV4Auth",
    "SigV4AuthError",
    "SigV4RequestAuthProvider",
    "resolve_credentials",
    "resolve_region",
    "resolve_service",
    "strip_signature_on_cross_origin_redirect",
]

_logger = logging.getLogger(__name__)

#: Value of ``MLFLOW_TRACKING_AUTH`` that selects this plugin.
PROVIDER_NAME = "aws-sigv4"
#: Overrides every other source of the signing region.
REGION_ENV = "MLFLOW_SIGV4_REGION"
#: Overrides the signing service name.
SERVICE_ENV = "MLFLOW_SIGV4_SERVICE"
DEFAULT_SERVICE = "execute-api"
INSTALL_HINT = "pip install mlflow-sagemaker-client"

# API Gateway HTTP APIs reject payloads above 10 MB; warn before the request is sent.
_HTTP_API_MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
# abc123.execute-api.eu-west-1.amazonaws.com, vpce-0ab-cd.execute-api.eu-west-1.vpce.amazonaws.com,
# abc123.execute-api.cn-north-1.amazonaws.com.cn
_EXECUTE_API_HOST = re.compile(
    r"\.execute-api\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)\.(?:vpce\.)?amazonaws\.com(?:\.cn)?$"
)
# Characters SigV4 leaves unencoded (RFC 3986 unreserved).
_UNRESERVED = "-_.~"
# Headers this plugin sets; stale copies from an earlier signing are removed before signing again.
_SIGNATURE_HEADERS = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")


class SigV4AuthError(MlflowException):
    """The request cannot be signed: missing dependency, credentials or region."""


def _botocore_missing(exc: ImportError) -> SigV4AuthError:
    return SigV4AuthError(
        f"MLFLOW_TRACKING_AUTH={PROVIDER_NAME} needs botocore to sign requests, but it could not be "
        f"imported ({exc}). Install the client: {INSTALL_HINT}"
    )


def _require_botocore() -> None:
    try:
        import botocore.auth
        import botocore.awsrequest
        import botocore.session  # noqa: F401
    except ImportError as exc:
        raise _botocore_missing(exc) from exc


# ---------------------------------------------------------------------------------------------------
# Credentials, region and service
# ---------------------------------------------------------------------------------------------------

# botocore sessions and resolved credentials, keyed by the AWS_* environment they were resolved in.
# Resolving the chain can mean a call to the container or instance metadata service, so it happens
# once per configuration; changing AWS_PROFILE or the AWS_* keys resolves it again.
_cache_lock = threading.Lock()
_sessions: dict[tuple[tuple[str, str], ...], Session] = {}
_credentials: dict[tuple[tuple[str, str], ...], Credentials] = {}


def _aws_environment() -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))


def _session() -> Session:
    key = _aws_environment()
    with _cache_lock:
        session = _sessions.get(key)
    if session is not None:
        return session
    try:
        import botocore.session
    except ImportError as exc:
        raise _botocore_missing(exc) from exc
    session = botocore.session.Session()
    with _cache_lock:
        if len(_sessions) > 8:
            _sessions.clear()
        return _sessions.setdefault(key, session)


def resolve_credentials(
    provider: str = PROVIDER_NAME,
    identity: str = "an identity allowed to call execute-api:Invoke on the MLflow API",
) -> Credentials:
    """Credentials from botocore's default chain; raises :class:`SigV4AuthError` if there are none.

    ``provider`` and ``identity`` complete the error: the plugin that needs them, and what they must be.
    """
    key = _aws_environment()
    with _cache_lock:
        credentials = _credentials.get(key)
    if credentials is not None:
        return credentials
    session = _session()
    try:
        credentials = session.get_credentials()
    except Exception as exc:
        raise SigV4AuthError(f"MLFLOW_TRACKING_AUTH={provider}: resolving AWS credentials failed: {exc}") from exc
    if credentials is None:
        # Not cached: credentials configured later in the same process are picked up.
        raise SigV4AuthError(
            f"MLFLOW_TRACKING_AUTH={provider} found no AWS credentials. botocore's default chain "
            "was searched: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), AWS_PROFILE "
            "and the shared config and credentials files, SSO, web identity, and the container or "
            f"instance metadata service (the execution role on SageMaker). Configure one of them with "
            f"{identity}."
        )
    with _cache_lock:
        if len(_credentials) > 8:
            _credentials.clear()
        return _credentials.setdefault(key, credentials)


def _region_from_host(url: str) -> str | None:
    host = urlsplit(url).hostname or ""
    match = _EXECUTE_API_HOST.search(host)
    return match.group("region") if match else None


def resolve_region(url: str | None = None) -> str:
    """The signing region for a request to ``url``.

    ``MLFLOW_SIGV4_REGION``, then the region in an ``execute-api`` host name, then ``AWS_REGION``,
    ``AWS_DEFAULT_REGION`` and the region of the active AWS profile.
    """
    override = os.environ.get(REGION_ENV, "").strip()
    if override:
        return override
    if url:
        from_host = _region_from_host(url)
        if from_host:
            return from_host
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    try:
        configured = _session().get_config_variable("region")
    except SigV4AuthError:
        raise
    except Exception:  # a broken profile must not hide the actionable message below
        configured = None
    if isinstance(configured, str) and configured.strip():
        return configured.strip()
    raise SigV4AuthError(
        f"MLFLOW_TRACKING_AUTH={PROVIDER_NAME} cannot tell which AWS region to sign for"
        + (f" {url}" if url else "")
        + f". Set {REGION_ENV} (or AWS_REGION) to the region of the MLflow API, e.g. "
        f"{REGION_ENV}=eu-west-1."
    )


def resolve_service() -> str:
    """The signing service name: ``MLFLOW_SIGV4_SERVICE`` or ``execute-api``."""
    return os.environ.get(SERVICE_ENV, "").strip() or DEFAULT_SERVICE


# ---------------------------------------------------------------------------------------------------
# Canonical URL and signable body
# ---------------------------------------------------------------------------------------------------


def _encode(raw: str) -> str:
    """Percent-encode ``raw`` (already on the wire, possibly encoded) the way SigV4 canonicalizes it."""
    return quote(unquote_to_bytes(raw), safe=_UNRESERVED)


def _canonical_url(url: str) -> str:
    """``url`` with each path segment and query key and value in AWS canonical percent-encoding.

    requests form-encodes query strings (a space becomes ``+``) while SigV4 and API Gateway use
    ``%20``; rewriting the URL before signing keeps the signed and the sent request identical. The
    meaning is unchanged for any server that decodes percent-escapes (``%2F`` stays ``%2F``).
    """
    parts = urlsplit(url)
    path = "/".join(_encode(segment) for segment in (parts.path or "/").split("/"))
    pairs = []
    for pair in parts.query.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        pairs.append(f"{_encode(key.replace('+', ' '))}={_encode(value.replace('+', ' '))}")
    return urlunsplit((parts.scheme, parts.netloc, path, "&".join(pairs), ""))


def _is_seekable(body: Any) -> bool:
    seekable = getattr(body, "seekable", None)
    if callable(seekable):
        try:
            return bool(seekable())
        except (OSError, ValueError):
            return False
    return callable(getattr(body, "seek", None)) and callable(getattr(body, "tell", None))


def _to_bytes(chunk: Any) -> bytes:
    if isinstance(chunk, str):
        return chunk.encode("utf-8")
    return bytes(chunk)


def _signable_body(request: PreparedRequest) -> Any:
    """Return the payload for botocore to hash, rewriting ``request.body`` where it must change.

    bytes and empty bodies are signed as they are. A str becomes its UTF-8 bytes. A seekable file
    (``open(path, "rb")``, as MLflow uses for artifact uploads) is left in place: botocore hashes it
    from the current position and seeks back, so it is still streamed. Any other stream (generator,
    pipe) is read into memory, because API Gateway needs the hash of the whole payload up front; its
    ``Transfer-Encoding: chunked`` is replaced by a ``Content-Length``.
    """
    body: Any = request.body
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        request.body = body.encode("utf-8")
        return request.body
    if isinstance(body, bytearray | memoryview):
        request.body = bytes(body)
        return request.body
    if callable(getattr(body, "read", None)):
        if _is_seekable(body):
            return body
        data = body.read()
        buffered = _to_bytes(data if data is not None else b"")
    elif isinstance(body, Iterable):
        buffered = b"".join(_to_bytes(chunk) for chunk in body)
    else:
        raise SigV4AuthError(f"Cannot sign a request body of type {type(body).__name__}.")
    request.body = buffered
    request.headers.pop("Transfer-Encoding", None)
    request.headers["Content-Length"] = str(len(buffered))
    return buffered


def _headers_to_sign(request: PreparedRequest) -> dict[str, str]:
    """Content-Type and x-amz-* headers; botocore adds host, x-amz-date and x-amz-security-token.

    Headers that clients, proxies or API Gateway itself may add, drop or rewrite (User-Agent,
    Accept-Encoding, Connection, Content-Length) are deliberately not signed.
    """
    return {
        name: value
        for name, value in request.headers.items()
        if name.lower() == "content-type" or name.lower().startswith("x-amz-")
    }


# ---------------------------------------------------------------------------------------------------
# requests auth and MLflow plugin
# ---------------------------------------------------------------------------------------------------


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)


def strip_signature_on_cross_origin_redirect(response: Response, *args: Any, **kwargs: Any) -> Response:
    """``requests`` response hook: drop the signing headers before a redirect leaves the signed origin.

    requests follows a redirect by copying the request it sent (``response.request``), headers included;
    for a new host it strips only ``Authorization``, so the session token (``X-Amz-Security-Token``) and
    every other ``x-amz-*`` header would reach the redirect's target. This hook runs before the copy is
    made and removes them, with ``Authorization``, when the target's scheme, host or port differs. A
    signature is bound to one host, so nothing useful is lost: the target cannot verify it anyway.
    """
    request = response.request
    location = response.headers.get("location")
    if not response.is_redirect or not location or request is None or not request.url:
        return response
    if _origin(urljoin(request.url, location)) != _origin(request.url):
        for name in [name for name in request.headers if name.lower().startswith("x-amz-")]:
            del request.headers[name]
        request.headers.pop("Authorization", None)
    return response


class AwsSigV4Auth(AuthBase):
    """``requests`` auth that signs each request with SigV4 using botocore.

    Args:
        credentials: botocore credentials; default: botocore's default chain.
        region: signing region; default: :func:`resolve_region` for each request's URL.
        service: signing service; default: :func:`resolve_service`.
    """

    def __init__(
        self,
        credentials: Credentials | None = None,
        region: str | None = None,
        service: str | None = None,
    ) -> None:
        _require_botocore()
        self._credentials = credentials if credentials is not None else resolve_credentials()
        self._region = region
        self._service = service or resolve_service()

    def _frozen_credentials(self) -> ReadOnlyCredentials:
        try:
            # Refreshable credentials (roles, SSO, container/instance metadata) refresh here if they are
            # close to expiry; the snapshot keeps key, secret and token consistent for this request.
            frozen = self._credentials.get_frozen_credentials()
        except Exception as exc:
            raise SigV4AuthError(
                f"MLFLOW_TRACKING_AUTH={PROVIDER_NAME}: refreshing AWS credentials failed: {exc}"
            ) from exc
        if not frozen.access_key or not frozen.secret_key:
            raise SigV4AuthError(
                f"MLFLOW_TRACKING_AUTH={PROVIDER_NAME}: the AWS credentials have no access key or secret."
            )
        return frozen

    def __call__(self, r: PreparedRequest) -> PreparedRequest:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        if not r.url:
            raise SigV4AuthError("Cannot sign a request without a URL.")
        r.url = _canonical_url(r.url)
        payload = _signable_body(r)
        for name in _SIGNATURE_HEADERS:
            r.headers.pop(name, None)

        length = r.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > _HTTP_API_MAX_PAYLOAD_BYTES:
            _logger.warning(
                "Request to %s has a %s byte body; API Gateway HTTP APIs reject payloads above 10 MB. "
                "Send large artifacts through the in-VPC MLflow URL or use direct S3 artifact access.",
                r.url,
                length,
            )

        aws_request = AWSRequest(
            method=(r.method or "GET").upper(), url=r.url, headers=_headers_to_sign(r), data=payload
        )
        region = self._region or resolve_region(r.url)
        SigV4Auth(self._frozen_credentials(), self._service, region).add_auth(aws_request)
        for name in _SIGNATURE_HEADERS:
            value = aws_request.headers.get(name)
            if value is not None:
                r.headers[name] = value
        # Hooks travel with the request into every redirect requests follows, so each hop is checked.
        if strip_signature_on_cross_origin_redirect not in r.hooks["response"]:
            r.register_hook("response", strip_signature_on_cross_origin_redirect)  # type: ignore[no-untyped-call]
        return r


class SigV4RequestAuthProvider(RequestAuthProvider):
    """MLflow request auth plugin, selected with ``MLFLOW_TRACKING_AUTH=aws-sigv4``.

    MLflow instantiates every installed provider when it first sends a request, so the constructor
    does nothing; ``get_auth()`` runs per request and fails with an actionable message when botocore,
    credentials or (at signing time) the region are missing.
    """

    def get_name(self) -> str:
        return PROVIDER_NAME

    def get_auth(self) -> AwsSigV4Auth:
        return AwsSigV4Auth()
