"""IAM token checks that need no network: shape, action, endpoint, audience, freshness, size, and caching."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import UTC, datetime

import pytest
import requests

from mlflow_sagemaker_constructs.tracking_server.server import iam_tokens
from mlflow_sagemaker_constructs.tracking_server.server.iam_tokens import (
    AUDIENCE_HEADER,
    MAX_AGE_SECONDS,
    MAX_TOKEN_BYTES,
    TokenError,
    Verifier,
    VerifierSettings,
    audience_of,
    encode_token,
    normalize_audience,
    parse_token,
)
from tests.harness.sts import Keys, mint_token

STS = "https://sts.eu-west-1.amazonaws.com"
AUDIENCE = "mlflow.example.com"
SETTINGS = VerifierSettings(audiences=frozenset({AUDIENCE, "internal-alb.elb.amazonaws.com:8443"}), sts_endpoint=STS)
KEYS = Keys("AKIAEXAMPLEEXAMPLE00", "secret-key-that-sts-would-check")
SIGNED_AT = "20261130T120000Z"
NOW = datetime(2026, 11, 30, 12, 5, tzinfo=UTC).timestamp()
IDENTITY_XML = b"""<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<GetCallerIdentityResult><Arn>arn:aws:sts::123456789012:assumed-role/Studio-alice/SageMaker</Arn>
<UserId>AROAEXAMPLE:SageMaker</UserId><Account>123456789012</Account></GetCallerIdentityResult>
</GetCallerIdentityResponse>"""


def token(audience: str = AUDIENCE, *, sts: str = STS, date: str = SIGNED_AT, region: str = "eu-west-1") -> str:
    return mint_token(KEYS, sts_endpoint=sts, audience=audience, region=region, date=date)


def edited(raw: str, edit: dict[str, object]) -> str:
    """The token with fields of its JSON replaced (what an attacker can do without the key)."""
    data = json.loads(base64.urlsafe_b64decode(raw[3:] + "=" * (-len(raw[3:]) % 4)))
    for key, value in edit.items():
        if key.startswith("headers."):
            data["headers"][key.removeprefix("headers.")] = value
        else:
            data[key] = value
    return "v1." + base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


class FakeSts:
    """Answers like STS and records what it was sent."""

    def __init__(self, status: int = 200, body: bytes = IDENTITY_XML, error: Exception | None = None) -> None:
        self.status, self.body, self.error = status, body, error
        self.calls: list[tuple[str, dict[str, str], bytes, float]] = []

    def __call__(self, url: str, headers: Mapping[str, str], body: bytes, timeout: float) -> tuple[int, bytes]:
        self.calls.append((url, dict(headers), body, timeout))
        if self.error is not None:
            raise self.error
        return self.status, self.body


def verifier(sts: FakeSts, now: float = NOW) -> Verifier:
    clock = [now]
    v = Verifier(SETTINGS, poster=sts, clock=lambda: clock[0])
    v.clock = clock  # type: ignore[attr-defined]
    return v


def test_a_valid_token_is_verified_at_the_configured_endpoint_only() -> None:
    sts = FakeSts()
    identity = verifier(sts).verify(token())
    assert identity.arn == "arn:aws:sts::123456789012:assumed-role/Studio-alice/SageMaker"
    assert identity.account == "123456789012"
    [(url, headers, body, timeout)] = sts.calls
    assert url == STS
    assert body == b"Action=GetCallerIdentity&Version=2011-06-15"
    assert headers[AUDIENCE_HEADER] == AUDIENCE
    assert headers["authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLEEXAMPLE00/20261130/eu-west-1/sts/"
    )
    assert "host" not in {name.lower() for name in headers}  # requests derives it from the configured URL
    assert timeout == SETTINGS.timeout_seconds


def test_a_token_whose_url_names_another_host_is_never_sent_there() -> None:
    sts = FakeSts()
    evil = edited(token(), {"url": "https://attacker.example.com/"})
    with pytest.raises(TokenError, match="signed for another STS endpoint than this server's") as refused:
        verifier(sts).verify(evil)
    assert refused.value.status == 401
    assert sts.calls == []
    with pytest.raises(TokenError, match="another STS endpoint"):
        verifier(sts).verify(token(sts="https://sts.us-east-1.amazonaws.com", region="us-east-1"))
    assert sts.calls == []


def test_the_host_header_may_only_repeat_the_endpoint() -> None:
    sts = FakeSts()
    with pytest.raises(TokenError, match="signed host is not this server's STS endpoint"):
        verifier(sts).verify(edited(token(), {"headers.host": "attacker.example.com"}))
    assert sts.calls == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "not a version 1 IAM token"),
        ("Bearer abc", "not a version 1 IAM token"),
        ("v1.!!!not-base64!!!", "not valid base64-encoded JSON"),
        ("v1." + base64.urlsafe_b64encode(b"\xff\xfe garbage").decode(), "not valid base64-encoded JSON"),
        ("v1." + base64.urlsafe_b64encode(b"[1, 2]").decode(), "does not hold a request"),
        ("v1." + base64.urlsafe_b64encode(b'{"method": "POST"}').decode(), "lacks the method, url, headers or body"),
        ("v1." + "A" * MAX_TOKEN_BYTES, f"larger than {MAX_TOKEN_BYTES} bytes"),
    ],
)
def test_malformed_tokens_are_401_without_a_network_call(raw: str, message: str) -> None:
    sts = FakeSts()
    with pytest.raises(TokenError, match=message) as refused:
        verifier(sts).verify(raw)
    assert refused.value.status == 401
    assert sts.calls == []


def test_a_truncated_token_is_refused() -> None:
    with pytest.raises(TokenError, match="not valid base64-encoded JSON"):
        verifier(FakeSts()).verify(token()[:200])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"method": "GET"}, "not a POST"),
        ({"body": "Action=AssumeRole&Version=2011-06-15"}, "not sts:GetCallerIdentity"),
        ({"body": "Action=GetCallerIdentity&Version=2011-06-15&Action=AssumeRole"}, "not sts:GetCallerIdentity"),
        ({"url": STS + "/?Action=AssumeRole"}, "another STS endpoint"),
        ({"headers.authorization": "Basic YWRtaW46cGFzc3dvcmQ="}, "not signed with AWS Signature Version 4"),
        ({f"headers.{AUDIENCE_HEADER.lower()}": "other-server.example.com"}, "made for another MLflow server"),
        ({"headers.x-amz-date": "yesterday"}, "signing date is malformed"),
    ],
)
def test_edited_tokens_are_refused_before_sts(edit: dict[str, object], message: str) -> None:
    sts = FakeSts()
    with pytest.raises(TokenError, match=message):
        verifier(sts).verify(edited(token(), edit))
    assert sts.calls == []


def test_an_unsigned_audience_is_refused() -> None:
    raw = token()
    data = json.loads(base64.urlsafe_b64decode(raw[3:] + "=" * (-len(raw[3:]) % 4)))
    authorization = data["headers"]["Authorization"]
    data["headers"]["Authorization"] = authorization.replace(f";{AUDIENCE_HEADER.lower()}", "")
    assert data["headers"]["Authorization"] != authorization
    with pytest.raises(TokenError, match=f"the {AUDIENCE_HEADER.lower()} header is not signed"):
        verifier(FakeSts()).verify("v1." + base64.urlsafe_b64encode(json.dumps(data).encode()).decode())


def test_a_signature_for_another_service_is_refused() -> None:
    raw = token()
    forged = edited(raw, {"headers.Authorization": json_field(raw, "Authorization").replace("/sts/", "/s3/")})
    with pytest.raises(TokenError, match="not for STS"):
        verifier(FakeSts()).verify(forged)


def json_field(raw: str, header: str) -> str:
    data = json.loads(base64.urlsafe_b64decode(raw[3:] + "=" * (-len(raw[3:]) % 4)))
    value: str = data["headers"][header]
    return value


@pytest.mark.parametrize(
    ("signed_at", "message"),
    [
        ("20261130T114900Z", "the token expired"),  # 16 minutes before NOW
        ("20261130T120700Z", "in the future"),  # 2 minutes after NOW, more than the allowed skew
    ],
)
def test_stale_and_future_tokens_are_refused(signed_at: str, message: str) -> None:
    with pytest.raises(TokenError, match=message):
        verifier(FakeSts()).verify(token(date=signed_at))


def test_a_token_is_verified_once_while_valid_and_never_after() -> None:
    sts = FakeSts()
    v = verifier(sts)
    raw = token()
    for _ in range(50):
        v.verify(raw)
    assert len(sts.calls) == 1
    assert v.sts_calls == 1
    signed = datetime.strptime(SIGNED_AT, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    v.clock[0] = signed + MAX_AGE_SECONDS + 1  # type: ignore[attr-defined]
    with pytest.raises(TokenError, match="expired"):
        v.verify(raw)
    assert len(sts.calls) == 1


def test_a_refused_token_is_not_cached() -> None:
    sts = FakeSts(status=403, body=b"<ErrorResponse><Code>SignatureDoesNotMatch</Code></ErrorResponse>")
    v = verifier(sts)
    for _ in range(2):
        with pytest.raises(TokenError, match="STS did not accept the signature") as refused:
            v.verify(token())
        assert refused.value.status == 401
    assert len(sts.calls) == 2


@pytest.mark.parametrize(
    ("sts", "status", "message"),
    [
        (FakeSts(error=requests.ConnectTimeout("timed out")), 503, "STS could not be reached"),
        (FakeSts(error=requests.ReadTimeout("timed out")), 503, "STS could not be reached"),
        (FakeSts(error=requests.ConnectionError("refused")), 503, "STS could not be reached"),
        (FakeSts(status=500, body=b"oops"), 503, "HTTP 500"),
        (FakeSts(status=200, body=b"<not-xml"), 503, "not a caller identity"),
        (FakeSts(status=200, body=b"<GetCallerIdentityResponse/>"), 503, "without a caller identity"),
    ],
)
def test_sts_faults_are_503(sts: FakeSts, status: int, message: str) -> None:
    with pytest.raises(TokenError, match=message) as refused:
        verifier(sts).verify(token())
    assert refused.value.status == status


def test_messages_never_echo_the_token() -> None:
    raw = token()
    secret_part = json_field(raw, "Authorization").split("Signature=")[1]
    for attempt in (raw[:-5], edited(raw, {"method": "GET"}), raw + "x" * MAX_TOKEN_BYTES):
        with pytest.raises(TokenError) as refused:
            verifier(FakeSts()).verify(attempt)
        assert secret_part not in refused.value.message
        assert KEYS.access_key not in refused.value.message


def test_parse_and_encode_round_trip() -> None:
    request = parse_token(token())
    assert parse_token(encode_token(request)) == request
    assert iam_tokens.expires_at(request) == datetime(2026, 11, 30, 12, 15, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("url", "audience"),
    [
        ("https://abc123.execute-api.eu-west-1.amazonaws.com", "abc123.execute-api.eu-west-1.amazonaws.com"),
        ("https://MLflow.Example.com.:443/path?x=1", "mlflow.example.com"),
        ("http://internal-alb.elb.amazonaws.com:8443/", "internal-alb.elb.amazonaws.com:8443"),
        ("http://internal-alb.elb.amazonaws.com:80", "internal-alb.elb.amazonaws.com"),
        ("http://user:password@127.0.0.1:5000", "127.0.0.1:5000"),
    ],
)
def test_the_audience_is_the_addressed_host(url: str, audience: str) -> None:
    assert audience_of(url) == audience
    assert normalize_audience(audience) == audience
