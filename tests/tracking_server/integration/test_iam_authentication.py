"""IAM principals as MLflow users, on the real entrypoint against PostgreSQL, with STS emulated by moto_server
checking SigV4 signatures (``INITIAL_NO_AUTH_ACTION_COUNT``), and the real MLflow client with the ``aws-iam``
plugin of the client distribution.

Principals: an IAM user (``ci-bot``, an iam_user rule), a role with an exact rule (``Studio-alice`` is alice),
an Identity Center-style role whose session name is the user (bob), an admin role (``PlatformAdmin`` is ops),
and a role no rule maps. The server reaches STS through :class:`StsRelay`, which can also hang or drop.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mlflow_sagemaker_constructs.tracking_server.server import contract
from tests.harness.app import REPO_ROOT
from tests.harness.services import (
    LOCALHOST,
    ApiGateway,
    PostgresServer,
    S3Server,
    contract_env,
    free_port,
    run_entrypoint,
)
from tests.harness.sts import ACCOUNT, REGION, Keys, StsRelay, StsServer, mint_token
from tests.tracking_server.integration.conftest import ALB_DNS_NAME, admin_password

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("iam")]

API = "/api/2.0/mlflow"
TOKEN_HEADER = "X-Mlflow-Iam-Token"
SSO_ROLE = "AWSReservedSSO_DataScientist_0a1b2c3d"
BOB = "bob@example.com"
STS_TIMEOUT_SECONDS = 2
CACHE_TTL_SECONDS = 3


@dataclasses.dataclass
class Principals:
    ci_bot: Keys
    alice: Keys
    bob: Keys
    ops: Keys
    stranger: Keys
    stranger_arn: str


@dataclasses.dataclass
class IamServer:
    url: str
    gateway: ApiGateway
    relay: StsRelay
    sts: StsServer
    admin_auth: tuple[str, str]
    log: Callable[[], str]

    def token(self, keys: Keys, *, audience: str | None = None, date: str | None = None) -> str:
        return mint_token(
            keys,
            sts_endpoint=self.relay.endpoint_url,
            audience=audience or self.url.split("://", 1)[1],
            date=date,
        )


@pytest.fixture(scope="module")
def principals(sts: StsServer) -> Principals:
    _, ci_bot = sts.create_user("ci-bot")
    _, assumer = sts.create_user("role-assumer")
    arns = {name: sts.create_role(name) for name in ("Studio-alice", SSO_ROLE, "PlatformAdmin", "Unmapped")}
    stranger = sts.assume_role(arns["Unmapped"], "someone", assumer)
    return Principals(
        ci_bot=ci_bot,
        alice=sts.assume_role(arns["Studio-alice"], "SageMaker", assumer),
        bob=sts.assume_role(arns[SSO_ROLE], BOB, assumer),
        ops=sts.assume_role(arns["PlatformAdmin"], "break-glass", assumer),
        stranger=stranger,
        stranger_arn=sts.caller_arn(stranger),
    )


RULES = [
    {"kind": "iam_user", "arn": f"arn:aws:iam::{ACCOUNT}:user/ci-bot"},
    {"kind": "role", "arn": f"arn:aws:iam::{ACCOUNT}:role/Studio-alice", "username": "alice"},
    {"kind": "role", "arn": f"arn:aws:iam::{ACCOUNT}:role/PlatformAdmin", "username": "ops", "admin": True},
    {"kind": "role_session", "account": ACCOUNT, "name": "AWSReservedSSO_DataScientist_*"},
]


@pytest.fixture(scope="module")
def server(
    postgres: PostgresServer, s3: S3Server, sts: StsServer, principals: Principals, log_dir: Path
) -> Iterator[IamServer]:
    account = postgres.new_account("mlflow_iam")
    bucket = s3.create_bucket("iam-artifacts")
    password = admin_password()
    port = free_port()
    relay = StsRelay(sts)
    # The API Gateway emulation forwards with the load balancer's name as Host, as API Gateway does.
    gateway = ApiGateway.start(port, ALB_DNS_NAME)
    hosts = [ALB_DNS_NAME, f"{LOCALHOST}:{port}"]
    # As the construct renders them: the allowed hosts, and the host the API's clients address (which the
    # API replaces with the load balancer's name), added by PrivateHttpApi.
    audiences = [*hosts, f"{LOCALHOST}:{gateway.port}"]
    env = contract_env(
        account,
        f"s3://{bucket}/mlflow",
        s3,
        admin_password=password,
        overrides={
            contract.PORT: str(port),
            contract.ALLOWED_HOSTS: ",".join(hosts),
            contract.AUTH_DEFAULT_PERMISSION: "NO_PERMISSIONS",
            contract.AUTH_IAM_ENABLED: "true",
            contract.AUTH_IAM_AUDIENCES: ",".join(audiences),
            contract.AUTH_IAM_PRINCIPALS: json.dumps(RULES),
            contract.AUTH_IAM_STS_ENDPOINT: relay.endpoint_url,
            contract.AUTH_IAM_STS_TIMEOUT_SECONDS: str(STS_TIMEOUT_SECONDS),
            contract.WORKERS: "2",
            # Short, so that a deletion on one worker reaches the other within a test.
            contract.AUTH_CACHE_TTL_SECONDS: str(CACHE_TTL_SECONDS),
        },
    )
    handle = run_entrypoint(env, log_dir, name="iam")
    try:
        handle.wait_healthy(180)
        yield IamServer(handle.url, gateway, relay, sts, ("admin", password), handle.logs)
    finally:
        handle.stop()
        gateway.stop()
        relay.stop()


@pytest.fixture
def as_principal(monkeypatch: pytest.MonkeyPatch, server: IamServer) -> Callable[..., Any]:
    """Point this process's MLflow client at the server as ``keys``, with ``MLFLOW_TRACKING_AUTH=aws-iam``."""
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    def use(keys: Keys, url: str | None = None, **extra_env: str) -> mlflow.MlflowClient:
        url = url or server.url
        for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        for name, value in {
            **keys.env(),
            "AWS_REGION": REGION,
            "MLFLOW_TRACKING_AUTH": "aws-iam",
            "MLFLOW_IAM_STS_ENDPOINT": server.relay.endpoint_url,
            "MLFLOW_TRACKING_URI": url,
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            **extra_env,
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(tracking_utils, "_tracking_uri", url)
        monkeypatch.setattr(registry_utils, "_registry_uri", url)
        return mlflow.MlflowClient(url)

    return use


def _admin_get_user(server: IamServer, username: str) -> requests.Response:
    return requests.get(
        f"{server.url}{API}/users/get", params={"username": username}, auth=server.admin_auth, timeout=30
    )


def _search(server: IamServer, token: str, url: str | None = None) -> requests.Response:
    return requests.post(
        f"{url or server.url}{API}/experiments/search",
        json={"max_results": 1},
        headers={TOKEN_HEADER: token},
        timeout=30,
    )


# --------------------------------------------------------------------------- principals become users


def test_three_principals_become_three_mlflow_users_on_first_request(server: IamServer, principals: Principals) -> None:
    # The session-name rule names nobody in advance; exact rules' users are created at start (Studio needs that).
    assert _admin_get_user(server, BOB).status_code == 404
    for keys in (principals.ci_bot, principals.alice, principals.bob):
        response = _search(server, server.token(keys))
        assert response.status_code == 200, response.text
    users = {name: _admin_get_user(server, name) for name in ("ci-bot", "alice", BOB, "ops")}
    assert {name: r.status_code for name, r in users.items()} == dict.fromkeys(users, 200)
    assert [users[name].json()["user"]["is_admin"] for name in ("ci-bot", "alice", BOB, "ops")] == [
        False,
        False,
        False,
        True,
    ]


def test_alice_owns_her_experiment_bob_is_refused_until_ops_grants_read(
    server: IamServer, principals: Principals, as_principal: Callable[..., Any]
) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.server import get_app_client

    alice = as_principal(principals.alice)
    experiment_id = alice.create_experiment(f"churn-{secrets.token_hex(3)}")
    run_id = alice.create_run(experiment_id).info.run_id
    alice.log_param(run_id, "alpha", "0.5")
    alice.log_metric(run_id, "auc", 0.91)
    alice.log_text(run_id, "alice's notes", "notes.txt")

    bob = as_principal(principals.bob)
    with pytest.raises(MlflowException, match="error code 403"):
        bob.log_metric(run_id, "auc", 0.1)
    with pytest.raises(MlflowException, match="error code 403"):
        bob.get_run(run_id)

    # Bob cannot grant himself anything; ops, an admin principal, can.
    with pytest.raises(MlflowException, match="403"):
        get_app_client("basic-auth", tracking_uri=server.url).grant_user_permission(
            BOB, "experiment", experiment_id, "READ"
        )
    as_principal(principals.ops)
    get_app_client("basic-auth", tracking_uri=server.url).grant_user_permission(
        BOB, "experiment", experiment_id, "READ"
    )

    bob = as_principal(principals.bob)
    run = bob.get_run(run_id)
    assert run.data.metrics["auc"] == 0.91
    assert Path(bob.download_artifacts(run_id, "notes.txt")).read_text() == "alice's notes"
    with pytest.raises(MlflowException, match="error code 403"):
        bob.log_metric(run_id, "auc", 0.1)


def test_the_same_client_story_through_the_http_api(
    server: IamServer, principals: Principals, as_principal: Callable[..., Any]
) -> None:
    """Through the API Gateway emulation (size and time limits, Host rewritten to the load balancer's name),
    with the request also SigV4-signed as for IAM authorization at the edge: both fit on one request."""
    alice = as_principal(principals.alice, server.gateway.url, MLFLOW_IAM_SIGN_EDGE="true")
    experiment_id = alice.create_experiment(f"via-api-{secrets.token_hex(3)}")
    run_id = alice.create_run(experiment_id).info.run_id
    alice.log_metric(run_id, "loss", 0.25)
    alice.log_text(run_id, "through the API", "api.txt")
    assert alice.get_run(run_id).data.metrics["loss"] == 0.25
    seen = server.gateway.access_log.read_text()
    assert seen.count(" 200 ") >= 4


def test_one_sts_call_per_token_across_many_requests(server: IamServer, principals: Principals) -> None:
    token = server.token(principals.ci_bot)
    before = server.sts.requests_seen()
    relayed = server.relay.requests
    with requests.Session() as session:
        for _ in range(40):
            response = session.post(
                f"{server.url}{API}/experiments/search",
                json={"max_results": 1},
                headers={TOKEN_HEADER: token},
                timeout=30,
            )
            assert response.status_code == 200, response.text
    # Two workers: each verifies the token once (the cache is per worker process).
    assert 1 <= server.sts.requests_seen() - before <= 2
    assert server.relay.requests - relayed == server.sts.requests_seen() - before


def test_basic_auth_admin_still_works_beside_iam(server: IamServer) -> None:
    response = requests.post(
        f"{server.url}{API}/experiments/search", json={"max_results": 1}, auth=server.admin_auth, timeout=30
    )
    assert response.status_code == 200
    wrong = requests.post(
        f"{server.url}{API}/experiments/search", json={"max_results": 1}, auth=("admin", "wrong-password"), timeout=30
    )
    assert wrong.status_code == 401


def test_the_training_example_logs_as_its_role_with_no_credential_code(
    server: IamServer, principals: Principals, tmp_path: Path
) -> None:
    """``examples/training_job/train.py`` as a SageMaker job runs it: the environment MlflowTrainingConfig gives
    (tracking URI and ``MLFLOW_TRACKING_AUTH=aws-iam``) and the role's credentials; no password anywhere."""
    suffix = secrets.token_hex(3)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_"))},
        **principals.alice.env(),
        "AWS_REGION": REGION,
        "MLFLOW_TRACKING_URI": server.url,
        "MLFLOW_TRACKING_AUTH": "aws-iam",
        # In a job the regional endpoint; here the emulation behind the relay.
        "MLFLOW_IAM_STS_ENDPOINT": server.relay.endpoint_url,
        "TRAINING_JOB_NAME": f"job-{suffix}",
    }
    script = REPO_ROOT / "examples" / "training_job" / "train.py"
    args = ["--experiment-name", f"diabetes-{suffix}", "--registered-model-name", f"diabetes-{suffix}"]
    result = subprocess.run(
        [sys.executable, str(script), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run_id = result.stdout.strip().splitlines()[-1]

    # The run, its experiment and its registered model belong to alice, the role's MLflow user.
    run = requests.get(f"{server.url}{API}/runs/get", params={"run_id": run_id}, auth=server.admin_auth, timeout=30)
    experiment_id = run.json()["run"]["info"]["experiment_id"]
    permissions = {
        resource_type: requests.get(
            f"{server.url}/api/3.0/mlflow/users/permissions/get",
            params={"username": "alice", "resource_type": resource_type, "resource_id": resource_id},
            auth=server.admin_auth,
            timeout=30,
        ).json()["permission"]
        for resource_type, resource_id in (("experiment", experiment_id), ("registered_model", f"diabetes-{suffix}"))
    }
    assert permissions == {"experiment": "MANAGE", "registered_model": "MANAGE"}
    # Another principal sees nothing of it.
    response = requests.get(
        f"{server.url}{API}/runs/get",
        params={"run_id": run_id},
        headers={TOKEN_HEADER: server.token(principals.bob)},
        timeout=30,
    )
    assert response.status_code == 403


# --------------------------------------------------------------------------- bad input and faults


def _edit(token: str, **changes: Any) -> str:
    data = json.loads(base64.urlsafe_b64decode(token[3:] + "=" * (-len(token[3:]) % 4)))
    for key, value in changes.items():
        if key == "authorization":
            data["headers"]["Authorization"] = value(data["headers"]["Authorization"])
        else:
            data[key] = value
    return "v1." + base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


BAD_TOKENS: list[tuple[str, Callable[[IamServer, Principals], str], int, str]] = [
    ("malformed", lambda s, p: "v1.%%%not-a-token%%%", 401, "not valid base64-encoded JSON"),
    ("truncated", lambda s, p: s.token(p.ci_bot)[:300], 401, "not valid base64-encoded JSON"),
    (
        "base64-garbage",
        lambda s, p: "v1." + base64.urlsafe_b64encode(secrets.token_bytes(64)).decode(),
        401,
        "IAM token refused",
    ),
    ("oversized", lambda s, p: "v1." + "A" * 9000, 401, "larger than 8192 bytes"),
    ("expired", lambda s, p: s.token(p.ci_bot, date="20200101T000000Z"), 401, "the token expired"),
    ("future", lambda s, p: s.token(p.ci_bot, date="20990101T000000Z"), 401, "in the future"),
    (
        "wrong-audience",
        lambda s, p: s.token(p.ci_bot, audience="other-mlflow.example.com"),
        401,
        "another MLflow server",
    ),
    (
        "unsigned-audience",
        lambda s, p: _edit(s.token(p.ci_bot), authorization=lambda a: a.replace(";x-mlflow-iam-audience", "")),
        401,
        "x-mlflow-iam-audience header is not signed",
    ),
    (
        "other-action",
        lambda s, p: _edit(s.token(p.ci_bot), body="Action=AssumeRole&Version=2011-06-15"),
        401,
        "not sts:GetCallerIdentity",
    ),
    (
        "wrong-key",
        lambda s, p: s.token(dataclasses.replace(p.ci_bot, secret_key="not-the-secret-key-at-all")),
        401,
        "STS did not accept the signature",
    ),
    (
        "tampered-signature",
        lambda s, p: _edit(
            s.token(p.ci_bot), authorization=lambda a: a[:-4] + ("0000" if a[-4:] != "0000" else "1111")
        ),
        401,
        "STS did not accept the signature",
    ),
    (
        "replayed-to-another-server",
        # Made for a server at another host; the signature is valid, the audience is not ours.
        lambda s, p: s.token(p.ci_bot, audience=f"{LOCALHOST}:1"),
        401,
        "another MLflow server",
    ),
    (
        "sent-to-another-sts",
        lambda s, p: mint_token(
            p.ci_bot, sts_endpoint="https://sts.attacker.example.com", audience=s.url.split("://")[1]
        ),
        401,
        "signed for another STS endpoint",
    ),
    (
        "unmapped-principal",
        lambda s, p: s.token(p.stranger),
        403,
        "no principal mapping rule matched",
    ),
]


@pytest.mark.parametrize(("case", "make", "status", "message"), BAD_TOKENS, ids=[c[0] for c in BAD_TOKENS])
def test_bad_tokens_are_refused_with_a_message(
    server: IamServer,
    principals: Principals,
    case: str,
    make: Callable[[IamServer, Principals], str],
    status: int,
    message: str,
) -> None:
    token = make(server, principals)
    response = _search(server, token)
    assert (response.status_code, message in response.text) == (status, True), response.text
    assert "Traceback" not in response.text
    if case == "unmapped-principal":
        assert principals.stranger_arn in response.text
    _assert_not_logged(server, token)


def _assert_not_logged(server: IamServer, token: str) -> None:
    logs = server.log()
    assert token[3:40] not in logs
    try:
        decoded = base64.urlsafe_b64decode(token[3:] + "=" * (-len(token[3:]) % 4)).decode(errors="ignore")
    except ValueError:
        return
    for secret in re.findall(r"Signature=([0-9a-f]{64})|\"X-Amz-Security-Token\":\"([^\"]{20})", decoded):
        for part in secret:
            assert not part or part not in logs


@pytest.mark.parametrize(
    ("mode", "message"),
    [("hang", "STS could not be reached"), ("drop", "STS could not be reached"), ("error", "HTTP 500")],
)
def test_sts_faults_are_503_within_the_timeout(
    server: IamServer, principals: Principals, mode: str, message: str
) -> None:
    # A token no worker has cached: tokens signed in the same second are identical, so date it uniquely.
    offset = 10 + 10 * ["hang", "drop", "error"].index(mode)
    token = server.token(principals.alice, date=time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() - offset)))
    server.relay.mode = mode
    try:
        response = _search(server, token)
    finally:
        server.relay.mode = "relay"
        server.relay.release.set()
        server.relay.release.clear()
    assert response.status_code == 503, response.text
    assert message in response.text
    assert _search(server, server.token(principals.alice)).status_code == 200


def test_a_principal_whose_user_was_deleted_is_refused_not_recreated(server: IamServer, principals: Principals) -> None:
    assert _search(server, server.token(principals.bob)).status_code == 200
    deleted = requests.delete(
        f"{server.url}{API}/users/delete", json={"username": BOB}, auth=server.admin_auth, timeout=30
    )
    assert deleted.status_code == 200, deleted.text
    deleted_at = time.monotonic()
    # The worker that deleted bob refuses at once; the other within the cache TTL. Then every worker refuses
    # (fresh tokens, so fresh STS checks) and none recreates the user.
    deadline = deleted_at + CACHE_TTL_SECONDS + 30
    while _search(server, server.token(principals.bob)).status_code != 403:
        assert time.monotonic() < deadline, "a worker still accepts the deleted user after its cache TTL"
        time.sleep(0.5)
    # The first 403 may come from the deleting worker while the other's cached user is still fresh: past the
    # TTL (the documented bound), no worker may accept bob.
    time.sleep(max(0.0, deleted_at + CACHE_TTL_SECONDS + 1 - time.monotonic()))
    for _ in range(6):
        response = _search(server, server.token(principals.bob))
        assert response.status_code == 403, response.text
        assert "was deleted" in response.text
    assert _admin_get_user(server, BOB).status_code == 404
    # An admin can bring the user back; then the principal is bob again.
    created = requests.post(
        f"{server.url}{API}/users/create",
        json={"username": BOB, "password": secrets.token_urlsafe(24)},
        auth=server.admin_auth,
        timeout=30,
    )
    assert created.status_code == 200, created.text
    assert _search(server, server.token(principals.bob)).status_code == 200
