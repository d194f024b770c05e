"""The ``aws-sigv4`` MLflow request auth plugin against an independent SigV4 verifier.

A real ``mlflow server`` (SQLite, local artifact store, one worker) runs behind a reverse proxy on
127.0.0.1 that plays API Gateway's IAM authorizer (``sigv4_verifier.py``): it recomputes every signature
from the raw request it received, with its own hashlib/hmac implementation of SigV4, and answers 403
unless the signature, the credential scope, the session token and the clock all check out. Only then is
the request forwarded to MLflow.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import io
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import botocore.auth
import mlflow
import mlflow.artifacts
import pytest
import requests
from botocore.credentials import RefreshableCredentials
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.tracking._tracking_service.utils import _use_tracking_uri
from mlflow.tracking.request_auth.abstract_request_auth_provider import RequestAuthProvider

from mlflow_sagemaker_client.auth import sigv4
from mlflow_sagemaker_client.auth.sigv4 import AwsSigV4Auth, SigV4AuthError, SigV4RequestAuthProvider
from tests.client.auth.redirects import Recorder, Redirector, serving
from tests.client.auth.sigv4_verifier import KNOWN, REGION, ROLE, SERVICE, USER, Identity, SigV4Proxy, Verifier
from tests.harness.mlflow_server import MlflowServer, running_mlflow_server

pytestmark = pytest.mark.xdist_group("sigv4")


@pytest.mark.parametrize(
    ("target", "signature"),
    [
        # get-vanilla and get-vanilla-query-order-key-case from AWS's SigV4 test suite.
        ("/", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        ("/?Param2=value2&Param1=value1", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
    ],
)
def test_verifier_accepts_the_aws_test_suite_vectors(target: str, signature: str) -> None:
    """The verifier is checked against AWS's published vectors, not only against botocore."""
    example = Identity("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None)
    signed_at = dt.datetime(2015, 8, 30, 12, 36, tzinfo=dt.UTC)
    verifier = Verifier({example.access_key: example}, "us-east-1", "service", now=lambda: signed_at)
    authorization = (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={signature}"
    )
    headers = [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")]
    assert verifier.verify("GET", target, [*headers, ("Authorization", authorization)], b"") is None
    tampered = authorization[:-1] + ("0" if authorization[-1] != "0" else "1")
    assert verifier.verify("GET", target, [*headers, ("Authorization", tampered)], b"") == "signature mismatch"
    assert verifier.verify("GET", target + "x", [*headers, ("Authorization", authorization)], b"") is not None


# ---------------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    with running_mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as server:
        yield server


@pytest.fixture(scope="module")
def proxy_server(mlflow_server: MlflowServer) -> Iterator[SigV4Proxy]:
    proxy = SigV4Proxy(Verifier(KNOWN, REGION, SERVICE), mlflow_server.port)
    thread = threading.Thread(target=proxy.serve_forever, name="sigv4-proxy", daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join(timeout=10)


@pytest.fixture
def proxy(proxy_server: SigV4Proxy) -> SigV4Proxy:
    proxy_server.take()
    return proxy_server


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AWS or MLflow client configuration from the machine leaks into a test."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "MLFLOW_TRACKING_", "MLFLOW_SIGV4_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "120")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")


def _use_identity(monkeypatch: pytest.MonkeyPatch, identity: Identity) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", identity.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", identity.secret_key)
    if identity.token is None:
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    else:
        monkeypatch.setenv("AWS_SESSION_TOKEN", identity.token)


@pytest.fixture
def signing_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Static role credentials and the region in the environment, as on a SageMaker job."""
    _use_identity(monkeypatch, ROLE)
    monkeypatch.setenv("AWS_REGION", REGION)


@pytest.fixture
def plugin_enabled(monkeypatch: pytest.MonkeyPatch, signing_env: None) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_AUTH", "aws-sigv4")


# ---------------------------------------------------------------------------------------------------
# Plugin registration and configuration
# ---------------------------------------------------------------------------------------------------


def test_entry_point_is_discoverable_and_registered_with_mlflow(signing_env: None) -> None:
    entry_points = importlib.metadata.entry_points(group="mlflow.request_auth_provider")
    (entry_point,) = [ep for ep in entry_points if ep.name == "aws-sigv4"]
    assert entry_point.value == "mlflow_sagemaker_client.auth.sigv4:SigV4RequestAuthProvider"
    provider_class = entry_point.load()
    assert provider_class is SigV4RequestAuthProvider
    assert issubclass(provider_class, RequestAuthProvider)
    assert SigV4RequestAuthProvider().get_name() == "aws-sigv4"

    from mlflow.tracking.request_auth.registry import _request_auth_provider_registry, fetch_auth

    assert any(isinstance(p, SigV4RequestAuthProvider) for p in _request_auth_provider_registry)
    # What MLflow's http_request does for MLFLOW_TRACKING_AUTH=aws-sigv4.
    assert isinstance(fetch_auth("aws-sigv4"), AwsSigV4Auth)  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(
    ("env", "url", "expected"),
    [
        pytest.param(
            {"MLFLOW_SIGV4_REGION": "ap-south-1", "AWS_REGION": REGION},
            "https://abc123.execute-api.us-east-2.amazonaws.com",
            "ap-south-1",
            id="override-wins",
        ),
        pytest.param(
            {"AWS_REGION": REGION},
            "https://abc123.execute-api.us-east-2.amazonaws.com",
            "us-east-2",
            id="host",
        ),
        pytest.param(
            {},
            "https://vpce-0a1b-c2d3.execute-api.eu-central-1.vpce.amazonaws.com/api",
            "eu-central-1",
            id="vpce-host",
        ),
        pytest.param({}, "https://abc.execute-api.cn-north-1.amazonaws.com.cn", "cn-north-1", id="china-host"),
        pytest.param(
            {"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "eu-north-1"},
            "https://mlflow.example.com",
            "us-west-2",
            id="aws-region",
        ),
        pytest.param({"AWS_DEFAULT_REGION": "eu-north-1"}, "http://127.0.0.1:5000", "eu-north-1", id="default"),
    ],
)
def test_region_resolution(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], url: str, expected: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert sigv4.resolve_region(url) == expected


def test_region_from_the_active_profile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("[profile analytics]\nregion = sa-east-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "analytics")
    assert sigv4.resolve_region("https://mlflow.example.com") == "sa-east-1"


def test_missing_region_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SigV4AuthError, match=r"Set MLFLOW_SIGV4_REGION \(or AWS_REGION\)"):
        sigv4.resolve_region("https://mlflow.example.com")


def test_service_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    assert sigv4.resolve_service() == "execute-api"
    monkeypatch.setenv("MLFLOW_SIGV4_SERVICE", "lambda")
    assert sigv4.resolve_service() == "lambda"


def test_missing_credentials_error_is_actionable(proxy: SigV4Proxy, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SigV4AuthError, match="found no AWS credentials") as direct:
        SigV4RequestAuthProvider().get_auth()
    assert "execute-api:Invoke" in str(direct.value)
    assert "execution role" in str(direct.value)

    monkeypatch.setenv("MLFLOW_TRACKING_AUTH", "aws-sigv4")
    with pytest.raises(MlflowException, match="found no AWS credentials"):
        MlflowClient(tracking_uri=proxy.url).search_experiments()
    assert proxy.take() == [], "nothing is sent without credentials"


def test_missing_botocore_error_tells_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("botocore", "botocore.auth", "botocore.awsrequest", "botocore.session"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(SigV4AuthError) as error:
        SigV4RequestAuthProvider().get_auth()
    assert "pip install mlflow-sagemaker-client" in str(error.value)


def test_url_is_rewritten_to_aws_canonical_encoding() -> None:
    url = "http://h:8080/a b/c%2Fd/%7Ex?name=my+exp&plus=%2B&blank&&utf=%C3%A9#frag"
    assert sigv4._canonical_url(url) == ("http://h:8080/a%20b/c%2Fd/~x?name=my%20exp&plus=%2B&blank=&utf=%C3%A9")


def test_seekable_file_body_is_hashed_in_place_and_rewound(signing_env: None) -> None:
    body = io.BytesIO(b"skipped|signed part")
    body.seek(8)
    request = requests.Request("PUT", "http://127.0.0.1:1/upload", data=body).prepare()
    AwsSigV4Auth()(request)
    assert cast(object, request.body) is body, "the file is still streamed, not buffered"
    assert body.tell() == 8
    assert request.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=ASIASIGV4TESTROLE/")
    assert request.headers["X-Amz-Security-Token"] == ROLE.token


# ---------------------------------------------------------------------------------------------------
# Real MLflow client through the verifying proxy
# ---------------------------------------------------------------------------------------------------


def test_mlflow_tracking_and_artifacts_work_through_the_plugin(
    proxy: SigV4Proxy, mlflow_server: MlflowServer, plugin_enabled: None, tmp_path: Path
) -> None:
    report = tmp_path / "model card.md"
    report.write_text("# Model card\naccuracy: 0.93\n")
    with _use_tracking_uri(proxy.url):
        experiment_id = mlflow.create_experiment("sigv4 round trip")
        experiment = mlflow.get_experiment_by_name("sigv4 round trip")  # GET with a space in the query
        assert experiment is not None
        assert experiment.experiment_id == experiment_id
        with mlflow.start_run(experiment_id=experiment_id) as run:
            mlflow.log_param("alpha", "0.5")
            mlflow.log_metric("rmse", 0.25, step=1)
            mlflow.set_tag("team", "ml platform")
            mlflow.log_artifact(str(report), artifact_path="reports/v 1")
        run_id = run.info.run_id

        runs = mlflow.search_runs(
            experiment_ids=[experiment_id], filter_string="params.alpha = '0.5'", output_format="list"
        )
        assert isinstance(runs, list)
        assert [found.info.run_id for found in runs] == [run_id]

        client = MlflowClient()
        fetched = client.get_run(run_id)
        assert fetched.data.params == {"alpha": "0.5"}
        assert fetched.data.metrics == {"rmse": 0.25}
        assert fetched.data.tags["team"] == "ml platform"
        assert [a.path for a in client.list_artifacts(run_id, "reports/v 1")] == ["reports/v 1/model card.md"]
        downloaded = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="reports/v 1/model card.md", dst_path=str(tmp_path / "download")
        )
        assert Path(downloaded).read_text() == report.read_text()

    outcomes = proxy.take()
    assert outcomes, "the client talked to the proxy"
    assert [o for o in outcomes if o.reason is not None] == []
    assert all(o.access_key == ROLE.access_key for o in outcomes)
    assert all(o.status < 400 for o in outcomes), outcomes
    uploads = [o for o in outcomes if o.method == "PUT" and "/mlflow-artifacts/artifacts/" in o.target]
    assert len(uploads) == 1
    assert uploads[0].target.endswith("/reports/v%201/model%20card.md")
    # The artifact went through the proxy and the MLflow server into the server's artifact store.
    stored = list(mlflow_server.artifacts.rglob("model card.md"))
    assert [path.read_text() for path in stored] == [report.read_text()]


def test_mlflow_client_without_the_plugin_is_forbidden(
    proxy: SigV4Proxy, signing_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(MlflowException, match="Forbidden"):
        MlflowClient(tracking_uri=proxy.url).search_experiments()
    assert [(o.status, o.reason) for o in proxy.take()] == [(403, "missing Authorization header")]

    monkeypatch.setenv("MLFLOW_TRACKING_AUTH", "aws-sigv4")
    assert MlflowClient(tracking_uri=proxy.url).search_experiments()
    assert [(o.status, o.reason) for o in proxy.take()] == [(200, None)]


@pytest.mark.parametrize(
    ("identity", "reason"),
    [
        pytest.param(Identity(ROLE.access_key, "not-the-secret", ROLE.token), "signature mismatch", id="secret"),
        pytest.param(Identity("AKIAUNKNOWNKEY", "whatever", None), "unknown access key", id="access-key"),
        pytest.param(Identity(ROLE.access_key, ROLE.secret_key, "stale"), "invalid security token", id="token"),
    ],
)
def test_wrong_credentials_are_forbidden(
    proxy: SigV4Proxy, plugin_enabled: None, monkeypatch: pytest.MonkeyPatch, identity: Identity, reason: str
) -> None:
    _use_identity(monkeypatch, identity)
    with pytest.raises(MlflowException, match="Forbidden"):
        MlflowClient(tracking_uri=proxy.url).search_experiments()
    assert [(o.status, o.reason, o.access_key) for o in proxy.take()] == [(403, reason, identity.access_key)]


def test_wrong_region_is_forbidden(proxy: SigV4Proxy, plugin_enabled: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_SIGV4_REGION", "us-east-1")
    with pytest.raises(MlflowException, match="Forbidden"):
        MlflowClient(tracking_uri=proxy.url).search_experiments()
    assert [o.reason for o in proxy.take()] == ["wrong credential scope"]


# ---------------------------------------------------------------------------------------------------
# Signing details on the wire
# ---------------------------------------------------------------------------------------------------


def _chunks() -> Iterator[bytes]:
    yield b"first chunk,"
    yield b"second chunk"


@pytest.mark.parametrize(
    ("kwargs", "sent"),
    [
        pytest.param({}, b"", id="empty"),
        pytest.param({"data": b"\x00\x01binary\xff"}, b"\x00\x01binary\xff", id="bytes"),
        pytest.param({"data": "text body"}, b"text body", id="str"),
        pytest.param({"json": {"name": "exp", "tags": []}}, b'{"name": "exp", "tags": []}', id="json"),
        pytest.param({"data": {"a": "1 2", "b": "+"}}, b"a=1+2&b=%2B", id="form"),
        pytest.param({"data": _chunks()}, b"first chunk,second chunk", id="generator"),
    ],
)
def test_body_kinds_are_signed_as_sent(
    proxy: SigV4Proxy, signing_env: None, kwargs: dict[str, Any], sent: bytes
) -> None:
    response = requests.post(f"{proxy.url}/_echo/body", auth=AwsSigV4Auth(), timeout=30, **kwargs)
    assert response.status_code == 200, response.text
    echo = response.json()
    assert echo["body_sha256"] == hashlib.sha256(sent).hexdigest()
    assert echo["chunked"] is False


def test_file_upload_is_signed_from_its_current_position(proxy: SigV4Proxy, signing_env: None, tmp_path: Path) -> None:
    content = os.urandom(3 * 1024 * 1024 + 17)
    upload = tmp_path / "weights.bin"
    upload.write_bytes(content)
    with upload.open("rb") as handle:
        handle.seek(17)
        response = requests.put(f"{proxy.url}/_echo/upload", data=handle, auth=AwsSigV4Auth(), timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["body_sha256"] == hashlib.sha256(content[17:]).hexdigest()


@pytest.mark.parametrize(
    ("path", "params", "target"),
    [
        pytest.param(
            "/_echo/artifacts/dir with space/a+b=c.txt",
            {"path": "x/y z", "q": "it's ~ok*"},
            "/_echo/artifacts/dir%20with%20space/a%2Bb%3Dc.txt?path=x%2Fy%20z&q=it%27s%20~ok%2A",
            id="special-characters",
        ),
        pytest.param(
            "/_echo/%C3%A9t%C3%A9", {"z": "1", "a": ["2", "1"]}, "/_echo/%C3%A9t%C3%A9?z=1&a=2&a=1", id="utf8"
        ),
    ],
)
def test_paths_and_queries_are_signed_as_sent(
    proxy: SigV4Proxy, signing_env: None, path: str, params: dict[str, Any], target: str
) -> None:
    response = requests.get(f"{proxy.url}{path}", params=params, auth=AwsSigV4Auth(), timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["target"] == target


def test_unsigned_request_is_forbidden(proxy: SigV4Proxy) -> None:
    response = requests.post(f"{proxy.url}/api/2.0/mlflow/experiments/search", json={}, timeout=30)
    assert response.status_code == 403
    assert [o.reason for o in proxy.take()] == ["missing Authorization header"]


@pytest.mark.parametrize(
    ("offset", "status"),
    [
        pytest.param(dt.timedelta(minutes=-6), 403, id="6-minutes-old"),
        pytest.param(dt.timedelta(minutes=6), 403, id="6-minutes-ahead"),
        pytest.param(dt.timedelta(minutes=-2), 200, id="2-minutes-old"),
    ],
)
def test_signatures_outside_five_minutes_are_expired(
    proxy: SigV4Proxy,
    signing_env: None,
    monkeypatch: pytest.MonkeyPatch,
    offset: dt.timedelta,
    status: int,
) -> None:
    def skewed_now(remove_tzinfo: bool = True) -> dt.datetime:
        now = dt.datetime.now(dt.UTC) + offset
        return now.replace(tzinfo=None) if remove_tzinfo else now

    monkeypatch.setattr(botocore.auth, "get_current_datetime", skewed_now)
    response = requests.post(f"{proxy.url}/_echo/clock", data=b"{}", auth=AwsSigV4Auth(), timeout=30)
    assert response.status_code == status
    assert [o.reason for o in proxy.take()] == ["signature expired" if status == 403 else None]


def _tamper_body(request: requests.PreparedRequest) -> None:
    request.body = b'{"name": "someone else"}'


def _tamper_path(request: requests.PreparedRequest) -> None:
    assert request.url is not None
    request.url = request.url.replace("/_echo/original", "/_echo/other")


def _tamper_query(request: requests.PreparedRequest) -> None:
    assert request.url is not None
    request.url = request.url.replace("run_id=1", "run_id=2")


def _tamper_content_type(request: requests.PreparedRequest) -> None:
    request.headers["Content-Type"] = "text/plain"


def _tamper_date(request: requests.PreparedRequest) -> None:
    signed_at = dt.datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    request.headers["X-Amz-Date"] = (signed_at + dt.timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ")


@pytest.mark.parametrize("tamper", [_tamper_body, _tamper_path, _tamper_query, _tamper_content_type, _tamper_date])
def test_requests_changed_after_signing_are_forbidden(
    proxy: SigV4Proxy, signing_env: None, tamper: Callable[[requests.PreparedRequest], None]
) -> None:
    signer = AwsSigV4Auth()

    def sign_then_tamper(request: requests.PreparedRequest) -> requests.PreparedRequest:
        signed = signer(request)
        tamper(signed)
        return signed

    url = f"{proxy.url}/_echo/original?run_id=1"
    untouched = requests.post(url, json={"name": "me"}, auth=signer, timeout=30)
    assert untouched.status_code == 200, untouched.text
    response = requests.post(url, json={"name": "me"}, auth=sign_then_tamper, timeout=30)
    assert response.status_code == 403
    assert [o.reason for o in proxy.take()] == [None, "signature mismatch"]


def test_refreshable_credentials_are_refreshed_for_each_request(proxy: SigV4Proxy, signing_env: None) -> None:
    """Credentials that expire within botocore's refresh window are refreshed before every signature."""
    issued: list[str] = []

    def refresh() -> dict[str, str | None]:
        identity = (USER, ROLE)[len(issued) % 2]
        issued.append(identity.access_key)
        expiry = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)
        return {
            "access_key": identity.access_key,
            "secret_key": identity.secret_key,
            "token": identity.token,
            "expiry_time": expiry.isoformat(),
        }

    credentials = RefreshableCredentials.create_from_metadata(
        metadata=refresh(), refresh_using=refresh, method="test-rotation"
    )
    auth = AwsSigV4Auth(credentials=credentials)
    for _ in range(3):
        response = requests.get(f"{proxy.url}/_echo/refresh", auth=auth, timeout=30)
        assert response.status_code == 200, response.text
    outcomes = proxy.take()
    assert [o.access_key for o in outcomes] == issued[1:]
    assert {o.access_key for o in outcomes} == {USER.access_key, ROLE.access_key}


# ---------------------------------------------------------------------------------------------------
# Redirects: credentials must not follow a request to another host
# ---------------------------------------------------------------------------------------------------


def _leaked(received: list[dict[str, str]]) -> list[str]:
    return sorted(
        {name for headers in received for name in headers if name.startswith("x-amz-") or name == "authorization"}
    )


def test_finding_8_signature_and_session_token_do_not_follow_a_cross_host_redirect(
    cross_host_redirect: tuple[Redirector, Recorder], signing_env: None
) -> None:
    redirector, recorder = cross_host_redirect
    response = requests.get(f"{redirector.url}/api/2.0/mlflow/experiments/search", auth=AwsSigV4Auth(), timeout=30)
    assert response.status_code == 200
    assert response.url.startswith(recorder.url), "the redirect was followed"
    assert len(recorder.received) == 1
    assert _leaked(recorder.received) == [], f"credentials sent to another host: {recorder.received}"


def test_finding_8_mlflow_client_does_not_leak_credentials_on_a_cross_host_redirect(
    cross_host_redirect: tuple[Redirector, Recorder], plugin_enabled: None
) -> None:
    redirector, recorder = cross_host_redirect
    assert MlflowClient(tracking_uri=redirector.url).search_experiments() == []
    assert recorder.received, "MLflow followed the redirect"
    assert _leaked(recorder.received) == [], f"credentials sent to another host: {recorder.received}"


def test_same_host_redirect_keeps_the_signing_headers(signing_env: None) -> None:
    """Only a change of host (or scheme or port) strips them; a same-origin redirect is left to requests."""
    recorder = Recorder("127.0.0.1")
    with serving(recorder):
        target = recorder.url
        response = requests.get(target, auth=AwsSigV4Auth(), timeout=30)
    assert response.status_code == 200
    assert "x-amz-security-token" in recorder.received[0]
    assert "authorization" in recorder.received[0]
