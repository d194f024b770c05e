"""Backend store choices: which database engine, and how to point at a database that already exists."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager


class DatabaseEngine(enum.Enum):
    """The SQL engine of a database MLflow stores runs (or users) in."""

    POSTGRESQL = "postgresql"
    """PostgreSQL or Aurora PostgreSQL: works for the tracking store and for the auth store."""

    MYSQL = "mysql"
    """MySQL, MariaDB or Aurora MySQL: tracking store only. MLflow's auth store fails on MySQL
    (duplicate foreign-key name ``fk_user_id``, mlflow/mlflow#9642 and #10964)."""

    @property
    def default_port(self) -> int:
        """5432 for PostgreSQL, 3306 for MySQL."""
        return 5432 if self is DatabaseEngine.POSTGRESQL else 3306


@dataclass(frozen=True, kw_only=True)
class ExistingDatabase:
    """A database server that already exists, for ``SecureMlflowService(existing_database=...)``.

    :param endpoint: host name of the server (writer endpoint for Aurora).
    :param secret: Secrets Manager secret holding JSON fields ``username`` and ``password`` (the format RDS
        and ``rds.Credentials.from_generated_secret`` use). The user must be able to create the database
        ``auth_database_name`` when built-in authentication uses this server.
    :param engine: :class:`DatabaseEngine` of the server.
    :param port: port of the server. Default: the engine's default port.
    :param database_name: database for MLflow's tracking tables. Default: ``"mlflow"``.
    :param security_group: the database's security group. When given, the construct allows the MLflow
        service into it on ``port``; when omitted, allow ``service.connections`` yourself.
    """

    endpoint: str
    secret: secretsmanager.ISecret
    engine: DatabaseEngine
    port: int | None = None
    database_name: str = "mlflow"
    security_group: ec2.ISecurityGroup | None = None

    @property
    def resolved_port(self) -> int:
        """``port``, or the engine's default port."""
        return self.port if self.port is not None else self.engine.default_port
