"""Authenticate to an MLflow server as your AWS IAM principal: ``MLFLOW_TRACKING_AUTH=aws-iam``.

The server (``MlflowAuthentication.iam(...)`` in mlflow-sagemaker-constructs) maps IAM principals to MLflow
users. This plugin proves the principal without sending any secret: it signs, with botocore and your
credentials, an ``sts:GetCallerIdentity`` request that it does not send, and puts it in the
``X-Mlflow-Iam-Token`` header. The server sends that request to STS, which answers with your ARN only if the
signature is valid. A signed header carries the audience, the host this request is addressed to, so the
server refuses a token made for another server. Tokens are made again every
:data:`TOKEN_REFRESH_SECONDS` (the server accepts one for 15 minutes), so a busy client costs the server one
STS call per token.

::

    pip install mlflow-sagemaker-client
    export MLFLOW_TRACKING_URI=https://mlflow.example.com     # or the HTTP API or in-VPC URL
    export MLFLOW_TRACKING_AUTH=aws-iam

* Credentials come from botocore's default chain, as with the AWS CLI: the execution role in SageMaker Studio
  and training jobs, an SSO profile on a laptop, environment keys.
* The STS endpoint is ``MLFLOW_IAM_STS_ENDPOINT``, else the regional endpoint of ``AWS_REGION``,
  ``AWS_DEFAULT_REGION``, the profile's region or the region in the tracking host name (API Gateway and
  load balancer names carry it). It must be the one the server verifies at; its 401 names it otherwise.
* ``MLFLOW_IAM_AUDIENCE`` overrides the audience, for a tunnel (``localhost:5000`` forwarded to the
  server): set it to a host name of the server.
* Through a ``PrivateHttpApi`` with IAM authorization at the edge, the request itself is also signed
  with SigV4 for ``execute-api`` (the token travels in its own header, so both fit on one request). That
  happens for ``*.execute-api.*`` hosts; set ``MLFLOW_IAM_SIGN_EDGE=true`` for a custom domain of the API,
  ``false`` to never sign.
* A redirect to another origin never carries the token or the signature.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from mlflow.exceptions import MlflowException
from mlflow.tracking.request_auth.abstract_request_auth_provider import RequestAuthProvider
from requests.auth import AuthBase

from . import sigv4

if TYPE_CHECKING:
    from botocore.credentials import Credentials
    from requests import PreparedRequest, Response

__all__ = [
    "AUDIENCE_ENV",
    "AUDIENCE_HEADER",
    "PROVIDER_NAME",
    "SIGN_EDGE_ENV",
    "STS_ENDPOINT_ENV",
    "TOKEN_HEADER",
    "TOKEN_REFRESH_SECONDS",
    "IamTokenAuth",
    "IamTokenAuthError",
    "IamTokenRequestAuthProvider",
    "audience_of",
    "make_token",
    "resolve_sts_endpoint",
]

PROVIDER_NAME = "aws-iam"
TOKEN_HEADER = "X-Mlflow-Iam-Token"
AUDIENCE_HEADER = "X-Mlflow-Iam-Audience"
STS_ENDPOINT_ENV = "MLFLOW_IAM_STS_ENDPOINT"
AUDIENCE_ENV = "MLFLOW_IAM_AUDIENCE"
SIGN_EDGE_ENV = "MLFLOW_IAM_SIGN_EDGE"
#: A new token this often; the server accepts a token for 15 minutes after it was signed, so clock skew and
#: a slow request still leave margin.
TOKEN_REFRESH_SECONDS = 300
_BODY = "Action=GetCallerIdentity&Version=2011-06-15"
_REGION = r"(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)"
# Host names that carry their region: API Gateway and Elastic Load Balancing.
_REGION_PATTERN = r"[a-z]{2}(?:-[a-z]+)+-\d+"
_REGIONAL_HOST = re.compile(
    rf"\.(?:execute-api\.({_REGION_PATTERN})|({_REGION_PATTERN})\.elb)\.(?:vpce\.)?amazonaws\.com(?:\.cn)?$"
)
# sts.eu-west-1.amazonaws.com, sts-fips.us-east-1.amazonaws.com, vpce-0ab-cd.sts.eu-west-1.vpce.amazonaws.com
_STS_HOST = re.compile(rf"(?:^|\.)sts(?:-fips)?\.{_REGION}\.(?:vpce\.)?amazonaws\.com(?:\.cn)?$")


class IamTokenAuthError(MlflowException):
    """No token can be made: missing dependency, credentials, region or a bad setting."""


def audience_of(url: str) -> str:
    """The host of ``url`` and its port unless 80 or 443, lower-case (the server normalizes the same way)."""
    netloc = urlsplit(url).netloc.rsplit("@", 1)[-1].lower()
    name, separator, port = netloc.rpartition(":")
    if not separator or not port.isdigit() or ":" in name:
        name, port = netloc, ""
    name = name.rstrip(".")
    return name if port in ("", "80", "443") else f"{name}:{port}"


def _region_for(url: str) -> str:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    try:
        configured = sigv4._session().get_config_variable("region")
    except Exception:  # a broken profile must not hide the message below
        configured = None
    if isinstance(configured, str) and configured.strip():
        return configured.strip()
    match = _REGIONAL_HOST.search(urlsplit(url).hostname or "")
    if match:
        return next(group for group in match.groups() if group)
    raise IamTokenAuthError(
        f"MLFLOW_TRACKING_AUTH={PROVIDER_NAME} cannot tell which STS endpoint the MLflow server verifies tokens at: "
        f"set AWS_REGION to the server's region, or {STS_ENDPOINT_ENV} (e.g. https://sts.eu-west-1.amazonaws.com)"
    )


def resolve_sts_endpoint(url: str) -> str:
    """``MLFLOW_IAM_STS_ENDPOINT``, else the regional STS endpoint for a request to ``url``."""
    configured = os.environ.get(STS_ENDPOINT_ENV, "").strip().rstrip("/")
    if configured:
        parts = urlsplit(configured)
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.path not in ("", "/"):
            raise IamTokenAuthError(
                f"{STS_ENDPOINT_ENV} ({configured!r}) must be an endpoint URL such as https://sts.eu-west-1.amazonaws.com"
            )
        return configured
    region = _region_for(url)
    return f"https://sts.{region}.amazonaws.com{'.cn' if region.startswith('cn-') else ''}"


def _signing_region(sts_endpoint: str, url: str) -> str:
    host = urlsplit(sts_endpoint).hostname or ""
    match = _STS_HOST.search(host)
    if match:
        return match.group("region")
    if host == "sts.amazonaws.com":
        return "us-east-1"
    return _region_for(url)  # an emulator or a custom DNS name: the configured region


def make_token(credentials: Any, *, sts_endpoint: str, audience: str, region: str) -> str:
    """Sign ``GetCallerIdentity`` for ``sts_endpoint`` with ``audience`` signed, and encode it as a token.

    ``credentials`` are botocore (frozen) credentials. The signature is botocore's SigV4.
    """
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(
        method="POST",
        url=sts_endpoint.rstrip("/") + "/",
        data=_BODY,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", AUDIENCE_HEADER: audience},
    )
    SigV4Auth(credentials, "sts", region).add_auth(request)
    body = request.body
    wire = {
        "method": "POST",
        "url": request.url,
        "headers": dict(request.headers.items()),
        "body": body.decode() if isinstance(body, bytes) else str(body),
    }
    encoded = base64.urlsafe_b64encode(json.dumps(wire, separators=(",", ":")).encode()).decode().rstrip("=")
    return "v1." + encoded


def _sign_edge(url: str) -> bool:
    setting = os.environ.get(SIGN_EDGE_ENV, "auto").strip().lower()
    if setting in ("1", "true", "yes", "on"):
        return True
    if setting in ("0", "false", "no", "off"):
        return False
    if setting not in ("", "auto"):
        raise IamTokenAuthError(f"{SIGN_EDGE_ENV} ({setting!r}) must be auto, true or false")
    return ".execute-api." in (urlsplit(url).hostname or "")


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or {"http": 80, "https": 443}.get(scheme)


def strip_token_on_cross_origin_redirect(response: Response, *args: Any, **kwargs: Any) -> Response:
    """``requests`` response hook: the token never follows a redirect to another scheme, host or port."""
    request = response.request
    location = response.headers.get("location")
    if not response.is_redirect or not location or request is None or not request.url:
        return response
    if _origin(urljoin(request.url, location)) != _origin(request.url):
        request.headers.pop(TOKEN_HEADER, None)
    return response


class IamTokenAuth(AuthBase):
    """``requests`` auth that adds an IAM token (and, through an IAM-authorized HTTP API, a SigV4 signature).

    Args:
        credentials: botocore credentials; default: botocore's default chain.
    """

    def __init__(self, credentials: Credentials | None = None) -> None:
        sigv4._require_botocore()
        if credentials is None:
            try:
                credentials = sigv4.resolve_credentials(
                    PROVIDER_NAME, "an IAM identity that the MLflow server maps to a user (PrincipalMapping)"
                )
            except sigv4.SigV4AuthError as error:
                raise IamTokenAuthError(error.message) from None
        self._credentials = credentials
        self._tokens: dict[tuple[str, str, str, str], tuple[float, str]] = {}
        self._lock = threading.Lock()

    def token_for(self, url: str) -> str:
        """The current token for a request to ``url`` (made again every :data:`TOKEN_REFRESH_SECONDS`)."""
        frozen = self._credentials.get_frozen_credentials()
        if not frozen.access_key or not frozen.secret_key:
            raise IamTokenAuthError(f"MLFLOW_TRACKING_AUTH={PROVIDER_NAME}: the AWS credentials have no access key.")
        audience = os.environ.get(AUDIENCE_ENV, "").strip().lower() or audience_of(url)
        endpoint = resolve_sts_endpoint(url)
        # A new key (rotated role credentials) gets a new token at once.
        key = (audience, endpoint, frozen.access_key, frozen.token or "")
        now = time.monotonic()
        with self._lock:
            cached = self._tokens.get(key)
        if cached is not None and now - cached[0] < TOKEN_REFRESH_SECONDS:
            return cached[1]
        token = make_token(frozen, sts_endpoint=endpoint, audience=audience, region=_signing_region(endpoint, url))
        with self._lock:
            if len(self._tokens) > 16:
                self._tokens.clear()
            self._tokens[key] = (now, token)
        return token

    def __call__(self, r: PreparedRequest) -> PreparedRequest:
        if not r.url:
            raise IamTokenAuthError("Cannot authenticate a request without a URL.")
        r.headers[TOKEN_HEADER] = self.token_for(r.url)
        if _sign_edge(r.url):
            r = sigv4.AwsSigV4Auth(self._credentials, service=sigv4.DEFAULT_SERVICE)(r)
        if strip_token_on_cross_origin_redirect not in r.hooks["response"]:
            r.register_hook("response", strip_token_on_cross_origin_redirect)  # type: ignore[no-untyped-call]
        return r


class IamTokenRequestAuthProvider(RequestAuthProvider):
    """MLflow request auth plugin, selected with ``MLFLOW_TRACKING_AUTH=aws-iam``.

    One :class:`IamTokenAuth` per process and credential environment, so tokens are reused across requests.
    """

    _lock = threading.Lock()
    _auths: dict[tuple[tuple[str, str], ...], IamTokenAuth] = {}

    def get_name(self) -> str:
        return PROVIDER_NAME

    def get_auth(self) -> IamTokenAuth:
        key = sigv4._aws_environment()
        with self._lock:
            auth = self._auths.get(key)
            if auth is None:
                if len(self._auths) > 8:
                    self._auths.clear()
                auth = self._auths[key] = IamTokenAuth()
            return auth
