"""The metric filter patterns and saved queries against log lines a real server wrote.

One server (the image's entrypoint, on local PostgreSQL, S3 and STS emulation, with basic-auth and IAM
tokens) starts on an empty database (migrations, start-up), then answers: a 401 without credentials, a
401 with a wrong password, a 403 for a user without permission, writes by the admin (an experiment, a
user, a 2 MB artifact: the slow request), IAM tokens accepted, unmapped (403) and malformed (401), and a
503 once its database is gone. A second start fails in the entrypoint. The patterns and queries are the
library's own (tests/tracking_server/test_service_metrics.py and tests/monitoring/test_monitoring.py check
that the templates carry exactly these), run with the evaluators that test_filter_patterns.py and
test_logs_insights.py check against CloudWatch's documentation.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from mlflow_sagemaker_constructs.monitoring import server_logs
from mlflow_sagemaker_constructs.tracking_server.server import contract
from mlflow_sagemaker_constructs.tracking_server.server.entrypoint import EXIT_CONFIG
from mlflow_sagemaker_constructs.tracking_server.server.iam_tokens import TOKEN_HEADER
from tests.harness.services import PostgresServer, S3Server, contract_env, run_entrypoint
from tests.harness.sts import ACCOUNT, StsServer, mint_token
from tests.monitoring.filter_patterns import matches
from tests.monitoring.logs_insights import run
from tests.tracking_server.integration.conftest import admin_password

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]

API = "/api/2.0/mlflow"
SEARCH = f"{API}/experiments/search?max_results=1"
AUDIENCE = "mlflow-log-format-test"
ROLE = "mlflow-users-team"
ARTIFACT_BYTES = 2 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Captured:
    """The log group's lines, and what the scenario did."""

    lines: list[str]
    refused: int  # requests answered 401 or 403
    experiment_id: str
    mapped_principal: str
    mapped_user: str
    unmapped_principal: str

    @property
    def requests(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines if line.startswith('{"kind":"request"')]


def _status(response: requests.Response, expected: int) -> None:
    assert response.status_code == expected, (response.status_code, response.text[:500])


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Captured]:
    log_dir = tmp_path_factory.mktemp("log-formats")
    with PostgresServer.start() as postgres, S3Server.start() as s3, StsServer.start() as sts:
        account = postgres.new_account(f"logs_{secrets.token_hex(3)}")
        bucket = s3.create_bucket(f"logs-{secrets.token_hex(3)}")
        password = admin_password()
        rules = [{"kind": "role_session", "account": ACCOUNT, "name": "mlflow-users-*"}]
        env = contract_env(
            account,
            f"s3://{bucket}/mlflow",
            s3,
            admin_password=password,
            overrides={
                contract.ALLOWED_HOSTS: "127.0.0.1:*,localhost:*",
                contract.AUTH_DEFAULT_PERMISSION: "NO_PERMISSIONS",
                contract.AUTH_IAM_ENABLED: "true",
                contract.AUTH_IAM_AUDIENCES: AUDIENCE,
                contract.AUTH_IAM_STS_ENDPOINT: sts.endpoint_url,
                contract.AUTH_IAM_PRINCIPALS: json.dumps(rules),
            },
        )
        server = run_entrypoint(env, log_dir, name="log-formats")
        try:
            server.wait_healthy(240)
            url, admin = server.url, ("admin", password)
            bob = (f"bob-{secrets.token_hex(2)}", secrets.token_urlsafe(16))

            _status(requests.get(url + SEARCH, timeout=30), 401)
            _status(requests.get(url + SEARCH, auth=("mallory", "guess-guess-guess"), timeout=30), 401)
            created = requests.post(f"{url}{API}/experiments/create", json={"name": "logs"}, auth=admin, timeout=30)
            _status(created, 200)
            experiment_id = created.json()["experiment_id"]
            user = {"username": bob[0], "password": bob[1]}
            _status(requests.post(f"{url}{API}/users/create", json=user, auth=admin, timeout=30), 200)
            get = f"{url}{API}/experiments/get?experiment_id={experiment_id}"
            _status(requests.get(get, auth=bob, timeout=30), 403)
            artifact = f"{url}/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/logs/artifacts/model.bin"
            _status(requests.put(artifact, data=b"\0" * ARTIFACT_BYTES, auth=admin, timeout=120), 200)

            role_arn = sts.create_role(f"{ROLE}")
            mapped = sts.assume_role(role_arn, "alice")
            unmapped_arn, unmapped_keys = sts.create_user(f"outsider-{secrets.token_hex(2)}")
            for keys, expected in ((mapped, 200), (unmapped_keys, 403)):
                token = mint_token(keys, sts_endpoint=sts.endpoint_url, audience=AUDIENCE)
                _status(requests.get(url + SEARCH, headers={TOKEN_HEADER: token}, timeout=30), expected)
            _status(requests.get(url + SEARCH, headers={TOKEN_HEADER: "not-a-token"}, timeout=30), 401)

            postgres.stop()
            response = requests.get(url + SEARCH, auth=admin, timeout=60)
            assert response.status_code >= 500, response.text
        finally:
            server.stop()
        # A second task that stops in the entrypoint (an admin password MLflow would refuse).
        failing = run_entrypoint({**env, contract.AUTH_ADMIN_PASSWORD: "short"}, log_dir, name="log-formats-fail")
        assert failing.wait_exit(60) == EXIT_CONFIG, failing.logs()
        lines = (server.logs() + failing.logs()).splitlines()
        yield Captured(
            lines=lines,
            refused=5,  # no credentials, wrong password, bob's 403, the unmapped principal, the malformed token
            experiment_id=experiment_id,
            mapped_principal=sts.caller_arn(mapped),
            mapped_user="alice",
            unmapped_principal=unmapped_arn,
        )


# ---------------------------------------------------------------------------------------------- the lines


def test_every_request_is_one_json_line(captured: Captured) -> None:
    statuses = [line["status"] for line in captured.requests]
    assert statuses.count(401) == 3, statuses
    assert statuses.count(403) == 2, statuses
    assert any(status >= 500 for status in statuses)
    upload = [line for line in captured.requests if line["method"] == "PUT"]
    assert [(line["status"], line["user"], line["auth"]) for line in upload] == [(200, "admin", "basic")]


def test_the_iam_lines_name_the_principal(captured: Captured) -> None:
    text = "\n".join(captured.lines)
    assert f"iam-auth accepted principal={captured.mapped_principal} user={captured.mapped_user}" in text
    assert f"iam-auth refused principal={captured.unmapped_principal} status=403 reason=unmapped" in text
    assert "iam-auth refused status=401 reason=" in text


# ---------------------------------------------------------------------------------------------- metric filters


def _matching(pattern: str, lines: list[str]) -> list[str]:
    return [line for line in lines if matches(pattern, line)]


def test_the_auth_failures_filter_counts_every_401_and_403_once(captured: Captured) -> None:
    found = _matching(server_logs.AUTH_FAILURES_PATTERN, captured.lines)
    assert len(found) == captured.refused
    assert all(json.loads(line)["status"] in (401, 403) for line in found)
    # The iam-auth lines say status=403 too, but in text: each refusal is counted once, by its request line.
    assert not [line for line in found if "iam-auth" in line]


def test_the_server_errors_filter_counts_the_5xx(captured: Captured) -> None:
    found = _matching(server_logs.SERVER_ERRORS_PATTERN, captured.lines)
    expected = [line for line in captured.requests if line["status"] >= 500]
    assert len(found) == len(expected) >= 1


def test_the_entrypoint_failures_filter_counts_only_the_failed_start(captured: Captured) -> None:
    found = _matching(server_logs.ENTRYPOINT_FAILURES_PATTERN, captured.lines)
    assert len(found) == 1
    assert found[0].startswith("[mlflow-entrypoint] ERROR: ")
    assert contract.AUTH_ADMIN_PASSWORD in found[0]


# ---------------------------------------------------------------------------------------------- saved queries


def test_slowest_requests(captured: Captured) -> None:
    rows = run(server_logs.SLOWEST_REQUESTS.query, captured.lines)
    durations = [row["duration_ms"] for row in rows]
    assert len(rows) == len(captured.requests)
    assert durations == sorted(durations, reverse=True)
    assert durations[0] == max(line["duration_ms"] for line in captured.requests)
    assert {"@timestamp", "method", "path", "status", "duration_ms", "user", "auth", "@logStream"} == set(rows[0])


def test_5xx_by_route(captured: Captured) -> None:
    rows = run(server_logs.SERVER_ERRORS_BY_ROUTE.query, captured.lines)
    assert rows
    assert all(row["status"] >= 500 for row in rows)
    search = [row for row in rows if row["path"] == f"{API}/experiments/search"]
    assert search
    assert search[0]["errors"] >= 1
    assert search[0]["method"] == "GET"
    assert sum(row["errors"] for row in rows) == sum(1 for line in captured.requests if line["status"] >= 500)


def test_auth_failures_by_user_or_principal(captured: Captured) -> None:
    rows = run(server_logs.AUTH_FAILURES_BY_PRINCIPAL.query, captured.lines)
    found = {(row["who"], row["credentials"], str(row["code"])): row["failures"] for row in rows}
    bob = next(line["user"] for line in captured.requests if line["status"] == 403 and line["auth"] == "basic")
    assert found == {
        ("(none)", "none", "401"): 1,
        ("mallory", "basic", "401"): 1,
        (bob, "basic", "403"): 1,
        (captured.unmapped_principal, "iam", "403"): 1,
        ("(none)", "iam", "401"): 1,
    }
    assert sum(found.values()) == captured.refused
    reasons = {row["who"]: row["reason"] for row in rows if row["credentials"] == "iam"}
    assert reasons[captured.unmapped_principal] == "unmapped"


def test_who_did_what(captured: Captured) -> None:
    rows = run(server_logs.WHO_DID_WHAT.query, captured.lines)
    done = {(row["mlflow_user"], row["method"], row["path"]) for row in rows if row["method"]}
    assert ("admin", "POST", f"{API}/experiments/create") in done
    assert ("admin", "POST", f"{API}/users/create") in done
    assert any(user == "admin" and method == "PUT" and "mlflow-artifacts" in path for user, method, path in done)
    assert not [row for row in rows if row["method"] == "GET"]
    principals = {row["principal"]: row["mlflow_user"] for row in rows if row["principal"]}
    assert principals == {captured.mapped_principal: captured.mapped_user}


def test_migrations_and_startups(captured: Captured) -> None:
    rows = run(server_logs.MIGRATIONS_AND_STARTUPS.query, captured.lines)
    migrations = {row["schema"]: (row["from_revision"], row["to_revision"]) for row in rows if row["schema"]}
    assert set(migrations) == {"tracking", "auth"}
    assert all(source == "empty" and target for source, target in migrations.values())
    assert [row for row in rows if row["migration_seconds"]], "no 'migrated ... in N s' line"
    (ready,) = [row for row in rows if row["ready_seconds"]]
    assert float(ready["ready_seconds"]) > 0
    assert [row for row in rows if row["event"].endswith("Application startup complete.")]
    (error,) = [row for row in rows if row["error"]]
    assert contract.AUTH_ADMIN_PASSWORD in error["error"]


def test_the_queries_of_the_server_log_group_are_all_exercised() -> None:
    tested = {
        server_logs.SLOWEST_REQUESTS,
        server_logs.SERVER_ERRORS_BY_ROUTE,
        server_logs.AUTH_FAILURES_BY_PRINCIPAL,
        server_logs.WHO_DID_WHAT,
        server_logs.MIGRATIONS_AND_STARTUPS,
    }
    assert set(server_logs.SERVER_QUERIES) == tested
