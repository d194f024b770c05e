"""Pooled database connections that still let Aurora Serverless v2 pause.

The server keeps a bounded pool per engine and worker (no new connection per request), and the database
closes sessions idle for ``MLFLOW_DB_IDLE_TIMEOUT_SECONDS`` (PostgreSQL ``idle_session_timeout`` per
connection), so an idle server holds no connection. MLflow's engines ping before use and reconnect, so a
request after the connections were closed (or killed) still succeeds, on the tracking and the auth store.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from mlflow_sagemaker_constructs.tracking_server.server import contract
from mlflow_sagemaker_constructs.tracking_server.server.entrypoint import EXIT_MISSING_DEPENDENCY
from tests.harness.services import PostgresServer, S3Server, contract_env, run_entrypoint
from tests.tracking_server.integration.conftest import ALLOWED_HOSTS, MlflowServer, admin_password

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]

#: A short idle timeout so the test can watch the database close the pool's connections.
IDLE_TIMEOUT_SECONDS = 3


@pytest.fixture(scope="module")
def short_idle_server(postgres: PostgresServer, s3: S3Server, log_dir: Path) -> Iterator[MlflowServer]:
    account = postgres.new_account(f"idle_{secrets.token_hex(3)}")
    bucket = s3.create_bucket(f"idle-{secrets.token_hex(3)}")
    password = admin_password()
    env = contract_env(
        account,
        f"s3://{bucket}/mlflow",
        s3,
        admin_password=password,
        overrides={
            contract.DB_IDLE_TIMEOUT_SECONDS: str(IDLE_TIMEOUT_SECONDS),
            contract.ALLOWED_HOSTS: ALLOWED_HOSTS,
            contract.AUTH_CACHE_TTL_SECONDS: "60",
        },
    )
    handle = run_entrypoint(env, log_dir, name="idle")
    try:
        cold_start = handle.wait_healthy(180)
        yield MlflowServer(handle, env, account, "admin", password, bucket, cold_start)
    finally:
        handle.stop()


def _experiment(server: MlflowServer, auth: tuple[str, str]) -> str:
    response = requests.post(
        f"{server.url}/api/2.0/mlflow/experiments/create",
        json={"name": f"pool-{secrets.token_hex(4)}"},
        auth=auth,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["experiment_id"])


def _log_metric(server: MlflowServer, run_id: str, step: int, auth: tuple[str, str]) -> int:
    response = requests.post(
        f"{server.url}/api/2.0/mlflow/runs/log-metric",
        json={"run_id": run_id, "key": "loss", "value": 1.0 / (step + 1), "timestamp": step, "step": step},
        auth=auth,
        timeout=30,
    )
    return response.status_code


def _new_user(server: MlflowServer) -> tuple[str, str]:
    username, password = f"user-{secrets.token_hex(3)}", secrets.token_urlsafe(16)
    response = requests.post(
        f"{server.url}/api/2.0/mlflow/users/create",
        json={"username": username, "password": password},
        auth=server.admin_auth,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return username, password


def _run_for(server: MlflowServer, auth: tuple[str, str]) -> str:
    """A run in a new experiment of ``auth``'s user (who owns it, so no grant is needed)."""
    experiment_id = _experiment(server, auth)
    response = requests.post(
        f"{server.url}/api/2.0/mlflow/runs/create", json={"experiment_id": experiment_id}, auth=auth, timeout=30
    )
    assert response.status_code == 200, response.text
    return str(response.json()["run"]["info"]["run_id"])


def test_a_pooled_server_opens_no_connection_per_request(main_server: MlflowServer, postgres: PostgresServer) -> None:
    user = _new_user(main_server)  # a non-admin: every request also checks permissions in the auth store
    run_id = _run_for(main_server, user)
    # Warm up until the pools have grown to what 4 concurrent clients need (a round opens nothing new):
    # measured, that takes one or two rounds of 100.
    for round_ in range(6):
        grown = postgres.backends(main_server.account.username)
        with ThreadPoolExecutor(max_workers=4) as pool:
            steps = range(round_ * 100, round_ * 100 + 100)
            assert set(pool.map(lambda i: _log_metric(main_server, run_id, i, user), steps)) == {200}
        if postgres.backends(main_server.account.username) <= grown:
            break
    before = postgres.backends(main_server.account.username)
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = set(pool.map(lambda i: _log_metric(main_server, run_id, 1000 + i, user), range(100)))
    assert statuses == {200}
    after = postgres.backends(main_server.account.username)
    new = after - before
    assert new == set(), f"{len(new)} new database connections during 100 steady-state requests"
    assert before, "the pool keeps its connections between requests"


def test_no_connection_remains_after_the_idle_timeout(
    short_idle_server: MlflowServer, postgres: PostgresServer
) -> None:
    server = short_idle_server
    run_id = _run_for(server, server.admin_auth)
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(lambda i: _log_metric(server, run_id, i, server.admin_auth), range(40))) == {200}
    assert postgres.connections(server.account.username), "the burst was served from pooled connections"
    time.sleep(IDLE_TIMEOUT_SECONDS + 2)
    assert postgres.connections(server.account.username) == []
    # Nothing was lost: the next request reconnects.
    assert _log_metric(server, run_id, 99, server.admin_auth) == 200


def test_requests_succeed_after_every_backend_was_killed(
    short_idle_server: MlflowServer, postgres: PostgresServer
) -> None:
    server = short_idle_server
    user = _new_user(server)
    run_id = _run_for(server, user)
    assert _log_metric(server, run_id, 0, user) == 200
    databases = {db for db, _ in postgres.connections(server.account.username)}
    assert databases == {server.account.database, server.env[contract.AUTH_DB_NAME]}, databases
    assert postgres.terminate_backends(server.account.username) > 0
    # A user whose credentials are not cached: the auth store must reconnect to check the password,
    # and the tracking store to log the metric.
    other = _new_user(server)
    other_run = _run_for(server, other)
    assert _log_metric(server, other_run, 1, other) == 200
    assert _log_metric(server, run_id, 1, user) == 200


def _log_batch(server: MlflowServer, run_id: str, step: int, auth: tuple[str, str]) -> None:
    metrics = [{"key": f"m{i:03d}", "value": step * 1000 + i, "timestamp": step, "step": step} for i in range(100)]
    response = requests.post(
        f"{server.url}/api/2.0/mlflow/runs/log-batch",
        json={"run_id": run_id, "metrics": metrics},
        auth=auth,
        timeout=30,
    )
    assert response.status_code == 200, response.text


def test_log_batch_updates_100_latest_metrics_in_one_round_trip(
    short_idle_server: MlflowServer, postgres: PostgresServer
) -> None:
    """psycopg2 runs an executemany as one statement per row unless batched (batched_writes.py)."""
    server = short_idle_server
    role = server.account.username
    run_id = _run_for(server, server.admin_auth)
    _log_batch(server, run_id, 0, server.admin_auth)  # inserts the run's latest_metrics rows
    postgres.query(f"ALTER ROLE \"{role}\" SET log_statement = 'all'")
    try:
        postgres.terminate_backends(role)  # sessions opened from now on log their statements
        logged_before = postgres.log_file.stat().st_size
        _log_batch(server, run_id, 1, server.admin_auth)  # updates all 100 rows
        with postgres.log_file.open(encoding="utf-8", errors="replace") as log:
            log.seek(logged_before)
            statements = [line for line in log if "statement: " in line]
    finally:
        postgres.query(f'ALTER ROLE "{role}" RESET log_statement')
        postgres.terminate_backends(role)
    updates = [line for line in statements if "UPDATE latest_metrics" in line]
    assert len(updates) == 1, f"{len(updates)} round trips updated latest_metrics"
    assert updates[0].count("UPDATE latest_metrics") == 100
    assert len(statements) < 20, f"{len(statements)} statements for one log_batch of 100 metrics"
    response = requests.get(
        f"{server.url}/api/2.0/mlflow/runs/get", params={"run_id": run_id}, auth=server.admin_auth, timeout=30
    )
    latest = {metric["key"]: metric for metric in response.json()["run"]["data"]["metrics"]}
    assert len(latest) == 100
    assert {(m["value"], m["step"]) for m in latest.values()} == {(1000.0 + i, 1) for i in range(100)}


def test_a_missing_uvloop_stops_the_start_with_a_clear_message(
    postgres: PostgresServer, s3: S3Server, log_dir: Path, tmp_path: Path
) -> None:
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "uvloop.py").write_text("raise ImportError('uvloop is not installed in this image')\n")
    account = postgres.new_account(f"noloop_{secrets.token_hex(3)}")
    env = contract_env(account, "s3://unused/mlflow", s3, admin_password=admin_password())
    handle = run_entrypoint(env, log_dir, name="no-uvloop", python_path=[shadow])
    assert handle.wait_exit(60) == EXIT_MISSING_DEPENDENCY, handle.logs()
    logs = handle.logs()
    assert "uvloop (the event loop the server is started with) cannot be imported" in logs
    assert "Traceback" not in logs
    assert postgres.connections(account.username) == [], "the check runs before any database work"
