"""MLFLOW_DB_POOL=null: an idle server holds no database connection, so Aurora Serverless v2 can pause."""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from mlflow_sagemaker_constructs.tracking_server.server import contract
from tests.harness.services import PostgresServer
from tests.tracking_server.integration.conftest import MlflowServer

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]


def _commits(postgres: PostgresServer, database: str) -> int:
    rows = postgres.query("SELECT xact_commit FROM pg_stat_database WHERE datname = :d", {"d": database})
    return int(rows[0][0])


def test_no_connection_is_left_open_after_a_burst(main_server: MlflowServer, postgres: PostgresServer) -> None:
    tracking_db = main_server.account.database
    auth_db = main_server.env[contract.AUTH_DB_NAME]
    before = {db: _commits(postgres, db) for db in (tracking_db, auth_db)}
    auth = main_server.admin_auth
    api = main_server.url + "/api/2.0/mlflow"
    experiment_id = requests.post(
        f"{api}/experiments/create", json={"name": f"burst-{secrets.token_hex(3)}"}, auth=auth, timeout=10
    ).json()["experiment_id"]

    def work(i: int) -> int:
        run = requests.post(f"{api}/runs/create", json={"experiment_id": experiment_id}, auth=auth, timeout=30)
        run_id = run.json()["run"]["info"]["run_id"]
        logged = requests.post(
            f"{api}/runs/log-metric",
            json={"run_id": run_id, "key": "m", "value": i, "timestamp": 0, "step": i},
            auth=auth,
            timeout=30,
        )
        found = requests.post(f"{api}/runs/search", json={"experiment_ids": [experiment_id]}, auth=auth, timeout=30)
        return max(run.status_code, logged.status_code, found.status_code)

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(work, range(40)))
    assert set(statuses) == {200}

    time.sleep(3)  # a short idle
    open_connections = postgres.connections(main_server.account.username)
    assert open_connections == [], open_connections
    # Both databases did serve the burst (the auth store checks every request's permissions).
    for db in (tracking_db, auth_db):
        assert _commits(postgres, db) > before[db], db
