"""The ``aws-iam`` plugin: tokens the server accepts, their refresh, settings, edge signing and redirects.

The end-to-end story (real server, STS emulation checking signatures, the MLflow client) is in
tests/tracking_server/integration/test_iam_authentication.py; here the server's own verifier checks the
plugin's tokens offline, so client and server cannot drift apart.
"""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

import pytest
import requests
from botocore.credentials import Credentials

from mlflow_sagemaker_client.auth.iam_token import (
    AUDIENCE_HEADER,
    TOKEN_HEADER,
    TOKEN_REFRESH_SECONDS,
    IamTokenAuth,
    IamTokenAuthError,
    IamTokenRequestAuthProvider,
    audience_of,
    resolve_sts_endpoint,
)
from mlflow_sagemaker_constructs.tracking_server.server import iam_tokens as server_tokens
from tests.client.auth.redirects import Recorder, Redirector

ROLE = Credentials("ASIAEXAMPLEROLE00000", "role-secret", "role-session-token")
API_URL = "https://abc123.execute-api.eu-west-1.amazonaws.com/api/2.0/mlflow/experiments/search"
ALB_URL = "http://internal-mlflow-1.eu-west-1.elb.amazonaws.com:8443/api/2.0/mlflow/runs/get"


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("AWS_", "MLFLOW_TRACKING_", "MLFLOW_IAM_", "MLFLOW_SIGV4_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def prepared(url: str, auth: IamTokenAuth) -> requests.PreparedRequest:
    return auth(requests.Request("POST", url, json={"max_results": 1}).prepare())


def verified_by_the_server(token: str, audiences: set[str], sts_endpoint: str) -> server_tokens.SignedRequest:
    """What the server's offline checks make of ``token`` (they raise TokenError when it is refused)."""
    request = server_tokens.parse_token(token)
    settings = server_tokens.VerifierSettings(audiences=frozenset(audiences), sts_endpoint=sts_endpoint)
    signed_at = server_tokens.expires_at(request) - server_tokens.MAX_AGE_SECONDS
    server_tokens.check_request(request, settings, now=signed_at + 1)
    return request


def test_the_plugin_is_registered_under_aws_iam() -> None:
    entry_points = importlib.metadata.entry_points(group="mlflow.request_auth_provider")
    plugin = next(ep for ep in entry_points if ep.name == "aws-iam")
    assert plugin.load() is IamTokenRequestAuthProvider
    assert IamTokenRequestAuthProvider().get_name() == "aws-iam"


def test_a_token_for_the_api_is_accepted_by_the_servers_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    request = prepared(API_URL, IamTokenAuth(ROLE))
    token = request.headers[TOKEN_HEADER]
    signed = verified_by_the_server(
        token, {"abc123.execute-api.eu-west-1.amazonaws.com"}, "https://sts.eu-west-1.amazonaws.com"
    )
    assert signed.headers[AUDIENCE_HEADER.lower()] == "abc123.execute-api.eu-west-1.amazonaws.com"
    assert signed.headers["x-amz-security-token"] == "role-session-token"
    assert "/eu-west-1/sts/aws4_request" in signed.headers["authorization"]
    # Through an execute-api host the request itself is SigV4-signed as well, for IAM at the edge.
    assert request.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEROLE00000/")
    assert "/execute-api/aws4_request" in request.headers["Authorization"]


def test_a_token_for_another_host_is_refused_by_the_server() -> None:
    token = prepared(ALB_URL, IamTokenAuth(ROLE)).headers[TOKEN_HEADER]  # region from the ALB host name
    with pytest.raises(server_tokens.TokenError, match="another MLflow server"):
        verified_by_the_server(token, {"mlflow.example.com"}, "https://sts.eu-west-1.amazonaws.com")
    verified_by_the_server(
        token, {"internal-mlflow-1.eu-west-1.elb.amazonaws.com:8443"}, "https://sts.eu-west-1.amazonaws.com"
    )


def test_in_the_vpc_the_request_is_not_signed_for_the_edge(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    request = prepared(ALB_URL, IamTokenAuth(ROLE))
    assert TOKEN_HEADER in request.headers
    assert "Authorization" not in request.headers


@pytest.mark.parametrize(("setting", "signed"), [("true", True), ("false", False), ("auto", False)])
def test_edge_signing_can_be_forced_for_a_custom_domain(
    monkeypatch: pytest.MonkeyPatch, setting: str, signed: bool
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("MLFLOW_IAM_SIGN_EDGE", setting)
    request = prepared("https://mlflow.example.com/api/2.0/mlflow/experiments/search", IamTokenAuth(ROLE))
    assert ("Authorization" in request.headers) is signed


def test_a_bad_edge_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("MLFLOW_IAM_SIGN_EDGE", "sometimes")
    with pytest.raises(IamTokenAuthError, match="MLFLOW_IAM_SIGN_EDGE"):
        prepared(API_URL, IamTokenAuth(ROLE))


def test_tokens_are_reused_then_refreshed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    clock = [1000.0]
    monkeypatch.setattr("mlflow_sagemaker_client.auth.iam_token.time.monotonic", lambda: clock[0])
    auth = IamTokenAuth(ROLE)
    first = auth.token_for(ALB_URL)
    clock[0] += TOKEN_REFRESH_SECONDS - 1
    assert auth.token_for(ALB_URL) == first
    clock[0] += 2
    monkeypatch.setattr("botocore.auth.get_current_datetime", _later(first))
    assert auth.token_for(ALB_URL) != first


def _later(token: str):  # type: ignore[no-untyped-def]
    import datetime

    signed_at = server_tokens.expires_at(server_tokens.parse_token(token)) - server_tokens.MAX_AGE_SECONDS
    return lambda: datetime.datetime.fromtimestamp(signed_at + TOKEN_REFRESH_SECONDS + 1, tz=datetime.UTC)


def test_rotated_credentials_get_a_new_token_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")

    class Rotating(Credentials):
        keys = iter([("ASIAFIRST0000000000", "s1", "t1"), ("ASIASECOND000000000", "s2", "t2")])

        def get_frozen_credentials(self):  # type: ignore[no-untyped-def]
            return Credentials(*next(self.keys)).get_frozen_credentials()

    auth = IamTokenAuth(Rotating("x", "y"))
    first, second = auth.token_for(ALB_URL), auth.token_for(ALB_URL)
    assert server_tokens.parse_token(first).headers["x-amz-security-token"] == "t1"
    assert server_tokens.parse_token(second).headers["x-amz-security-token"] == "t2"


def test_the_audience_can_be_set_for_a_tunnel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("MLFLOW_IAM_AUDIENCE", "MLflow.Example.com")
    token = IamTokenAuth(ROLE).token_for("http://localhost:5000/api/2.0/mlflow/runs/get")
    assert server_tokens.parse_token(token).headers[AUDIENCE_HEADER.lower()] == "mlflow.example.com"


@pytest.mark.parametrize(
    ("env", "url", "endpoint"),
    [
        ({"MLFLOW_IAM_STS_ENDPOINT": "https://vpce-0a1-b2.sts.eu-west-1.vpce.amazonaws.com/"}, ALB_URL, None),
        ({"AWS_REGION": "us-east-2"}, API_URL, "https://sts.us-east-2.amazonaws.com"),
        ({"AWS_DEFAULT_REGION": "ap-south-1"}, API_URL, "https://sts.ap-south-1.amazonaws.com"),
        ({}, API_URL, "https://sts.eu-west-1.amazonaws.com"),
        ({}, ALB_URL, "https://sts.eu-west-1.amazonaws.com"),
        ({"AWS_REGION": "cn-north-1"}, API_URL, "https://sts.cn-north-1.amazonaws.com.cn"),
    ],
)
def test_sts_endpoint_resolution(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], url: str, endpoint: str | None
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert resolve_sts_endpoint(url) == (endpoint or env["MLFLOW_IAM_STS_ENDPOINT"].rstrip("/"))


def test_the_vpc_endpoint_is_signed_for_its_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_IAM_STS_ENDPOINT", "https://vpce-0a1-b2.sts.eu-central-1.vpce.amazonaws.com")
    token = IamTokenAuth(ROLE).token_for("https://mlflow.example.com")
    assert "/eu-central-1/sts/aws4_request" in server_tokens.parse_token(token).headers["authorization"]


def test_no_region_names_the_settings() -> None:
    with pytest.raises(IamTokenAuthError, match="set AWS_REGION to the server's region, or MLFLOW_IAM_STS_ENDPOINT"):
        IamTokenAuth(ROLE).token_for("http://mlflow.internal:5000")


def test_a_malformed_sts_endpoint_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_IAM_STS_ENDPOINT", "sts.eu-west-1.amazonaws.com/path")
    with pytest.raises(IamTokenAuthError, match="MLFLOW_IAM_STS_ENDPOINT"):
        IamTokenAuth(ROLE).token_for(ALB_URL)


def test_missing_credentials_are_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(IamTokenAuthError, match="found no AWS credentials") as raised:
        IamTokenRequestAuthProvider().get_auth()
    # In the aws-iam plugin's words, not the SigV4 plugin's.
    assert "MLFLOW_TRACKING_AUTH=aws-iam found no AWS credentials" in raised.value.message
    assert "maps to a user" in raised.value.message
    assert "execute-api:Invoke" not in raised.value.message


@pytest.mark.parametrize(
    ("url", "audience"),
    [
        ("https://abc123.execute-api.eu-west-1.amazonaws.com/x", "abc123.execute-api.eu-west-1.amazonaws.com"),
        ("http://Internal-ALB.elb.amazonaws.com:80/", "internal-alb.elb.amazonaws.com"),
        ("http://internal-alb.elb.amazonaws.com:8443/", "internal-alb.elb.amazonaws.com:8443"),
        ("https://mlflow.example.com.:443", "mlflow.example.com"),
    ],
)
def test_audience_normalization_matches_the_servers(url: str, audience: str) -> None:
    assert audience_of(url) == audience == server_tokens.audience_of(url)


def test_the_token_does_not_follow_a_cross_host_redirect(
    cross_host_redirect: tuple[Redirector, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("MLFLOW_IAM_SIGN_EDGE", "true")
    redirector, recorder = cross_host_redirect
    response = requests.get(f"{redirector.url}/api/2.0/mlflow/experiments/search", auth=IamTokenAuth(ROLE), timeout=30)
    assert response.url.startswith(recorder.url), "the redirect was followed"
    [headers] = recorder.received
    leaked = sorted(
        name for name in headers if name in (TOKEN_HEADER.lower(), "authorization") or name.startswith("x-amz-")
    )
    assert leaked == []
