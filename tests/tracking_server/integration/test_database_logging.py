"""Security review finding 10 (second part), on a real PostgreSQL: with the parameters the construct gives
the Aurora cluster (``POSTGRES_LOGGING_PARAMETERS``), a failed statement no longer writes its values, such as
a password hash, into the server log that RDS exports to CloudWatch Logs. The error itself is still logged."""

from __future__ import annotations

import secrets

import pytest
import sqlalchemy

from mlflow_sagemaker_constructs.tracking_server.database import POSTGRES_LOGGING_PARAMETERS
from tests.harness.services import DbAccount, PostgresServer

pytestmark = pytest.mark.integration


def _fail_with_a_hash(postgres: PostgresServer, account: DbAccount) -> str:
    """A duplicate user insert (the statement fails) carrying a fresh password-hash-like value; returns it."""
    marker = f"pbkdf2:sha256:600000${secrets.token_hex(8)}${secrets.token_hex(16)}"
    engine = sqlalchemy.create_engine(postgres.url(account.database, account.username, account.password))
    try:
        with engine.begin() as connection:
            connection.execute(
                sqlalchemy.text("CREATE TABLE IF NOT EXISTS users (username text PRIMARY KEY, password_hash text)")
            )
            connection.execute(sqlalchemy.text("INSERT INTO users VALUES ('alice', 'x') ON CONFLICT DO NOTHING"))
        with pytest.raises(sqlalchemy.exc.IntegrityError), engine.begin() as connection:
            connection.execute(sqlalchemy.text(f"INSERT INTO users VALUES ('alice', '{marker}')"))  # noqa: S608
    finally:
        engine.dispose()
    return marker


def test_finding_10_failed_statements_do_not_log_password_hashes(postgres: PostgresServer) -> None:
    account = postgres.new_account(f"logging_{secrets.token_hex(3)}")
    # PostgreSQL's defaults: the failed statement, hash included, goes to the log (the finding).
    leaked = _fail_with_a_hash(postgres, account)
    assert leaked in postgres.log_file.read_text(encoding="utf-8", errors="replace")

    # The construct's parameters (on Aurora: the cluster parameter group; here: the role's settings).
    for name, value in POSTGRES_LOGGING_PARAMETERS.items():
        postgres.query(f"ALTER ROLE \"{account.username}\" SET {name} = '{value}'")
    before = len(postgres.log_file.read_text(encoding="utf-8", errors="replace"))
    hidden = _fail_with_a_hash(postgres, account)
    written = postgres.log_file.read_text(encoding="utf-8", errors="replace")[before:]
    assert "duplicate key value violates unique constraint" in written  # operators still see the failure
    assert hidden not in written
    assert "STATEMENT" not in written
    assert "DETAIL" not in written  # terse: not even the key that collided
