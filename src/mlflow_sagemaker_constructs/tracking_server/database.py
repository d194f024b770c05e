"""The backend store: a new Aurora Serverless v2 cluster, or a database that already exists.

:class:`TrackingDatabase` is the option object ``SecureMlflowService(database=...)`` takes; each factory
accepts only the settings that apply to its kind, so a setting that cannot apply cannot be passed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager

from mlflow_sagemaker_constructs._internal import validation as check
from mlflow_sagemaker_constructs.tracking_server.server import contract

#: Aurora PostgreSQL version of a new database: current (not deprecated) and able to pause at 0 ACU.
DEFAULT_AURORA_POSTGRES_VERSION = rds.AuroraPostgresEngineVersion.VER_17_9

#: PostgreSQL logging that keeps statement text (and so the values in it, such as password hashes) out
#: of the logs exported to CloudWatch: failing statements are not logged, nor DETAIL lines with row values.
POSTGRES_LOGGING_PARAMETERS: dict[str, str] = {
    "log_min_error_statement": "panic",
    "log_error_verbosity": "terse",
    "log_statement": "none",
    "log_min_duration_statement": "-1",
}


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
        return contract.DEFAULT_DB_PORTS[self.value]


@dataclass(frozen=True, kw_only=True)
class ExistingDatabase:
    """A database server that already exists.

    :param endpoint: host name of the server (writer endpoint for Aurora).
    :param secret: Secrets Manager secret holding JSON fields ``username`` and ``password`` (the format RDS
        and ``rds.Credentials.from_generated_secret`` use). The user must be able to create the auth
        database when the auth store lives on this server.
    :param engine: :class:`DatabaseEngine` of the server.
    :param port: port of the server. Default: the engine's default port.
    :param database_name: database for MLflow's tracking tables (or, as an auth database, its users).
        Default: ``"mlflow"``.
    :param security_group: the database's security group. When given, the service is admitted to it on
        ``port``. Default: none; then admit ``service.connections`` to the database yourself.
    """

    endpoint: str
    secret: secretsmanager.ISecret
    engine: DatabaseEngine
    port: int | float | None = None
    database_name: str = contract.DEFAULT_DB_NAME
    security_group: ec2.ISecurityGroup | None = None

    @property
    def resolved_port(self) -> int | float:
        """``port``, or the engine's default port."""
        return self.port if self.port is not None else self.engine.default_port

    @property
    def port_string(self) -> str:
        """The port for the container's environment (a token when the port comes from a cluster)."""
        port = self.resolved_port
        return cdk.Token.as_string(port) if check.is_token(port) else str(int(port))

    def validate(self, prop: str) -> None:
        check.check_host(self.endpoint, f"{prop}.endpoint", example="mlflow.cluster-abc.us-east-1.rds.amazonaws.com")
        if not check.is_token(self.resolved_port):
            check.in_range(self.resolved_port, 1, 65535, f"{prop}.port")


@dataclass(frozen=True, kw_only=True)
class AuroraServerlessSettings:
    """Settings of a new Aurora Serverless v2 PostgreSQL cluster (see :meth:`TrackingDatabase.aurora_serverless`)."""

    engine: rds.IClusterEngine
    min_capacity: float
    max_capacity: float
    auto_pause: cdk.Duration
    backup_retention: cdk.Duration
    removal_policy: cdk.RemovalPolicy
    deletion_protection: bool
    secret_rotation: cdk.Duration | None
    subnets: ec2.SubnetSelection | None

    def validate(self) -> None:
        if self.min_capacity < 0:
            raise ValueError(f"min_capacity ({self.min_capacity}) must be 0 or more")
        check.ordered(self.min_capacity, self.max_capacity, "min_capacity", "max_capacity")
        check.in_range(self.max_capacity, 1, 256, "max_capacity", "ACU")
        for name, value in (("min_capacity", self.min_capacity), ("max_capacity", self.max_capacity)):
            if value * 2 != int(value * 2):
                raise ValueError(f"{name} ({value}) must be a multiple of 0.5 ACU")
        if self.backup_retention.to_days() < 7:
            raise ValueError(f"backup_retention ({self.backup_retention.to_days()} days) must be at least 7 days")
        check.in_range(self.auto_pause.to_minutes(), 5, 1440, "auto_pause", "minutes")


@dataclass(frozen=True)
class TrackingDatabase:
    """Where MLflow keeps runs, models and (with authentication) users.

    - :meth:`aurora_serverless` (default): a new Aurora Serverless v2 PostgreSQL cluster that pauses when idle;
    - :meth:`existing`: a database server you already run (PostgreSQL or MySQL), by endpoint and secret;
    - :meth:`from_cluster`: an ``rds.IDatabaseCluster`` of your app or another stack.
    """

    new_cluster: AuroraServerlessSettings | None = None
    existing_database: ExistingDatabase | None = None
    auth_database: ExistingDatabase | None = None
    cluster: rds.IDatabaseCluster | None = field(default=None, compare=False)

    @staticmethod
    def aurora_serverless(
        *,
        engine: rds.IClusterEngine | None = None,
        min_capacity: float = 0,
        max_capacity: float = 4,
        auto_pause: cdk.Duration | None = None,
        backup_retention: cdk.Duration | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.SNAPSHOT,
        deletion_protection: bool = True,
        secret_rotation: cdk.Duration | None = None,
        subnets: ec2.SubnetSelection | None = None,
    ) -> TrackingDatabase:
        """A new Aurora Serverless v2 PostgreSQL cluster for the tracking and the auth store.

        :param engine: cluster engine. Default: Aurora PostgreSQL :data:`DEFAULT_AURORA_POSTGRES_VERSION`.
        :param min_capacity: minimum ACU; 0 lets the cluster pause when no connection is open (the server
            closes idle pooled connections after 30 s). Default: 0.
        :param max_capacity: maximum ACU, 1 to 256. Default: 4.
        :param auto_pause: idle time before a 0-ACU cluster pauses, 5 minutes to 1 day. Default: 10 minutes.
        :param backup_retention: automated backup retention, at least 7 days. Default: 7 days.
        :param removal_policy: what ``cdk destroy`` does to the cluster. Default: ``SNAPSHOT``.
        :param deletion_protection: deletion protection. Default: True.
        :param secret_rotation: rotate the credentials this often (single user; running tasks keep their
            credentials until replaced). Default: no rotation.
        :param subnets: subnets of the cluster, in at least two AZs. Default: isolated subnets, or the
            private ones when the VPC has none.
        """
        settings = AuroraServerlessSettings(
            engine=engine or rds.DatabaseClusterEngine.aurora_postgres(version=DEFAULT_AURORA_POSTGRES_VERSION),
            min_capacity=min_capacity,
            max_capacity=max_capacity,
            auto_pause=auto_pause or cdk.Duration.minutes(10),
            backup_retention=backup_retention or cdk.Duration.days(7),
            removal_policy=removal_policy,
            deletion_protection=deletion_protection,
            secret_rotation=secret_rotation,
            subnets=subnets,
        )
        settings.validate()
        return TrackingDatabase(new_cluster=settings)

    @staticmethod
    def existing(database: ExistingDatabase, *, auth_database: ExistingDatabase | None = None) -> TrackingDatabase:
        """A database server that already exists.

        :param database: the tracking database.
        :param auth_database: a PostgreSQL server for MLflow's users and permissions; required when
            ``database`` is MySQL and the server authenticates (MLflow's auth store fails on MySQL).
            Default: a database named ``mlflow_auth`` on the tracking database's server.
        """
        database.validate("database")
        if auth_database is not None:
            auth_database.validate("auth_database")
            if auth_database.engine is not DatabaseEngine.POSTGRESQL:
                raise ValueError("auth_database must be PostgreSQL: MLflow's auth store fails on MySQL")
        return TrackingDatabase(existing_database=database, auth_database=auth_database)

    @staticmethod
    def from_cluster(
        cluster: rds.IDatabaseCluster,
        *,
        secret: secretsmanager.ISecret,
        engine: DatabaseEngine = DatabaseEngine.POSTGRESQL,
        database_name: str = contract.DEFAULT_DB_NAME,
    ) -> TrackingDatabase:
        """An RDS or Aurora cluster defined elsewhere (another stack, or imported with ``from_*_attributes``).

        The service connects to its writer endpoint and is admitted to its security groups.

        :param cluster: the cluster.
        :param secret: its credentials (JSON ``username`` and ``password``).
        :param engine: its engine. Default: PostgreSQL.
        :param database_name: the tracking database (created when missing). Default: ``"mlflow"``.
        """
        database = ExistingDatabase(
            endpoint=cluster.cluster_endpoint.hostname,
            secret=secret,
            engine=engine,
            port=cluster.cluster_endpoint.port,
            database_name=database_name,
        )
        return TrackingDatabase(existing_database=database, cluster=cluster)

    @property
    def engine(self) -> DatabaseEngine:
        """The tracking store's engine."""
        return self.existing_database.engine if self.existing_database is not None else DatabaseEngine.POSTGRESQL
