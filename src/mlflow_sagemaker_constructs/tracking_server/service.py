"""SecureMlflowService: an MLflow tracking server and model registry on Fargate inside an existing VPC."""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence

import aws_cdk as cdk
import jsii
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from mlflow_sagemaker_constructs._internal import validation as check
from mlflow_sagemaker_constructs._internal.cdk_fixups import tidy_log_retention_function
from mlflow_sagemaker_constructs._internal.nag import acknowledge, acknowledge_wildcard_resource
from mlflow_sagemaker_constructs.tracking_server.authentication import MlflowAuthentication
from mlflow_sagemaker_constructs.tracking_server.database import DatabaseEngine, ExistingDatabase
from mlflow_sagemaker_constructs.tracking_server.image import ServerImage
from mlflow_sagemaker_constructs.tracking_server.server import contract

#: Aurora PostgreSQL version of a new database: current (not deprecated) and able to pause at 0 ACU.
DEFAULT_AURORA_POSTGRES_VERSION = rds.AuroraPostgresEngineVersion.VER_17_9

# Characters left out of generated passwords: they would need URL-encoding in database URIs and
# quoting in shells. The entrypoint URL-encodes anyway; this keeps the secrets easy to use by hand.
_URL_UNSAFE_CHARACTERS = " %+~`#$&*()|[]{}:;<>?!'/@\"\\,=^"

_TRACKING_DATABASE = "mlflow"
_AUTH_DATABASE = "mlflow_auth"


@jsii.implements(cdk.IStableStringProducer)
class _AllowedHostsProducer:
    def __init__(self, service: SecureMlflowService) -> None:
        self._service = service

    def produce(self) -> str:
        return ",".join(self._service.allowed_hosts)


class ArtifactAccess(enum.Enum):
    """How clients read and write artifacts."""

    PROXIED = "proxied"
    """Through the MLflow server (``--artifacts-destination``): clients need no S3 permissions; uploads use
    multipart requests small enough for the HTTP API's 10 MB limit."""

    DIRECT = "direct"
    """Clients read and write S3 themselves (``--no-serve-artifacts``); grant them access with
    ``grant_artifact_access``. Fastest for large artifacts from inside AWS."""


class SecureMlflowService(Construct):
    """An MLflow tracking server and model registry on AWS Fargate inside an existing VPC.

    Minimal use: ``SecureMlflowService(self, "Mlflow", vpc=vpc)``. What it creates by default:

    - an internal Application Load Balancer (never internet-facing) with an HTTP listener, or HTTPS with
      ``certificate``; its security group admits nobody until you call :meth:`allow_from` (or use
      ``connections``);
    - an ECS cluster with Container Insights and a Fargate service running the bundled MLflow server image,
      with health checks on ``/health``, a deployment circuit breaker with rollback and autoscaling on CPU
      and requests per target;
    - an Aurora Serverless v2 PostgreSQL cluster (0 to 4 ACU: it pauses when idle), encrypted, with deletion
      protection, 7 days of backups and a snapshot on removal, and generated credentials in Secrets Manager;
    - an S3 artifact bucket (private, TLS only, versioned, retained on destroy) served through the MLflow
      server, and an access-log bucket for the load balancer and the artifact bucket;
    - MLflow's built-in authentication with a generated admin password and a shared Flask secret key in
      Secrets Manager, the user database beside the tracking database.

    Subclasses replace parts through the protected hooks :meth:`_create_load_balancer`,
    :meth:`_create_listener`, :meth:`_create_cluster`, :meth:`_create_database` and :meth:`_create_bucket`.
    Hooks run inside ``__init__`` in that order; read props from ``self`` (every prop is stored as an
    attribute of the same name) rather than from attributes your subclass sets after ``super().__init__``.

    Example, an HTTPS listener on a custom port::

        class HttpsMlflow(SecureMlflowService):
            def _create_listener(self, load_balancer):
                return load_balancer.add_listener(
                    "Https", port=8443, certificates=[my_certificate],
                    ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS, open=False,
                    default_action=elbv2.ListenerAction.fixed_response(404),
                )
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        service_subnets: ec2.SubnetSelection | None = None,
        load_balancer_subnets: ec2.SubnetSelection | None = None,
        database_subnets: ec2.SubnetSelection | None = None,
        cluster: ecs.ICluster | None = None,
        image: ServerImage | None = None,
        cpu: int = 1024,
        memory_limit_mib: int = 2048,
        cpu_architecture: ecs.CpuArchitecture | None = None,
        workers: int | None = None,
        desired_count: int | None = None,
        min_task_count: int = 1,
        max_task_count: int = 4,
        scale_on_cpu_percent: int = 60,
        scale_on_requests_per_target: int = 600,
        certificate: acm.ICertificate | None = None,
        domain_names: Sequence[str] = (),
        extra_allowed_hosts: Sequence[str] = (),
        cors_allowed_origins: Sequence[str] = (),
        existing_database: ExistingDatabase | None = None,
        auth_database: ExistingDatabase | None = None,
        database_engine_version: rds.IClusterEngine | None = None,
        database_min_capacity: float = 0,
        database_max_capacity: float = 4,
        database_auto_pause: cdk.Duration | None = None,
        database_backup_retention: cdk.Duration | None = None,
        database_removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.SNAPSHOT,
        database_deletion_protection: bool = True,
        database_secret_rotation: cdk.Duration | None = None,
        existing_bucket: s3.IBucket | None = None,
        artifact_prefix: str = "mlflow-artifacts",
        legacy_artifact_prefixes: Sequence[str] = (),
        bucket_encryption_key: kms.IKey | None = None,
        noncurrent_version_expiration: cdk.Duration | None = None,
        artifact_access: ArtifactAccess = ArtifactAccess.PROXIED,
        access_logs_bucket: s3.IBucket | None = None,
        access_logging: bool = True,
        authentication: MlflowAuthentication | None = None,
        enable_job_execution: bool = False,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
        log_removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        secrets_removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        bucket_removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        """Create the service.

        :param vpc: the VPC to run in; any ``ec2.IVpc``, including ``Vpc.from_lookup`` and
            ``Vpc.from_vpc_attributes``.
        :param service_subnets: subnets of the Fargate tasks. Default: private subnets with egress, or isolated
            subnets when the VPC has none (then the VPC needs endpoints for ECR, S3, Secrets Manager and Logs).
        :param load_balancer_subnets: subnets of the internal load balancer, in at least two AZs.
            Default: as ``service_subnets``.
        :param database_subnets: subnets of a new database, in at least two AZs. Default: isolated subnets,
            or the private ones when the VPC has none.
        :param cluster: an existing ECS cluster. Default: a new cluster with Container Insights.
        :param image: how the server image reaches ECR (:class:`ServerImage`). Default:
            ``ServerImage.bundled_asset()``, built locally from the bundled Dockerfile.
        :param cpu: task CPU units. Default: 1024 (1 vCPU).
        :param memory_limit_mib: task memory. Default: 2048 MiB (two workers use about 700 MiB; see the
            benchmarks page).
        :param cpu_architecture: ``X86_64`` or ``ARM64`` (about 20 % cheaper; build the image for ARM).
            Default: ``X86_64``.
        :param workers: uvicorn worker processes. Default: two per vCPU, at least one.
        :param desired_count: tasks at deployment. Default: ``min_task_count``.
        :param min_task_count: autoscaling minimum. Default: 1 (use 2 for a task in each of two AZs).
        :param max_task_count: autoscaling maximum. Default: 4.
        :param scale_on_cpu_percent: target average CPU utilisation. Default: 60.
        :param scale_on_requests_per_target: target load balancer requests per task per minute. Default: 600.
        :param certificate: ACM certificate; when given the listener is HTTPS on port 443. Default: HTTP on 80.
        :param domain_names: DNS names clients use for this server (custom domains, the HTTP API's forwarded
            host); added to the allowed Host headers. Default: none.
        :param extra_allowed_hosts: further Host header values the server accepts. Default: none.
        :param cors_allowed_origins: origins allowed for cross-origin requests. Default: none.
        :param existing_database: use this database server instead of creating an Aurora cluster.
        :param auth_database: a PostgreSQL server for the auth store; required when ``existing_database`` is
            MySQL and built-in authentication is on. Default: the tracking database server.
        :param database_engine_version: engine of a new Aurora PostgreSQL cluster. Default:
            :data:`DEFAULT_AURORA_POSTGRES_VERSION`.
        :param database_min_capacity: minimum ACU of a new cluster; 0 lets it pause when idle (the server
            then opens no pooled idle connections). Default: 0.
        :param database_max_capacity: maximum ACU of a new cluster. Default: 4.
        :param database_auto_pause: idle time before a 0-ACU cluster pauses. Default: 10 minutes.
        :param database_backup_retention: automated backup retention (at least 7 days). Default: 7 days.
        :param database_removal_policy: what ``cdk destroy`` does to a new cluster. Default: ``SNAPSHOT``.
        :param database_deletion_protection: deletion protection of a new cluster. Default: True.
        :param database_secret_rotation: rotate the new cluster's credentials this often (single user;
            running tasks keep their connection credentials until replaced). Default: no rotation.
        :param existing_bucket: an existing artifact bucket. Default: a new bucket.
        :param artifact_prefix: key prefix of artifacts in the bucket. Default: ``"mlflow-artifacts"``.
        :param legacy_artifact_prefixes: key prefixes of ``existing_bucket`` holding the artifacts of
            experiments an earlier MLflow server created: their runs keep ``s3://`` artifact URIs outside
            ``artifact_prefix``. The task role, and grantees of :meth:`grant_artifact_access`, get the same
            access there as under ``artifact_prefix`` (the UI's artifact browser reads them; clients write
            new runs of those experiments there). ``"*"`` is the whole bucket: the AWS samples used the
            bucket root (see "Coming from the AWS samples"). Only with ``existing_bucket``. Default: none.
        :param bucket_encryption_key: KMS key of a new bucket. Default: SSE-S3.
        :param noncurrent_version_expiration: delete noncurrent artifact versions after this long.
            Default: 90 days.
        :param artifact_access: :class:`ArtifactAccess`. Default: ``PROXIED``.
        :param access_logs_bucket: where load balancer and artifact bucket access logs go. Default: a new
            bucket (SSE-S3, as load balancer logs require), unless ``access_logging`` is False.
        :param access_logging: write access logs at all. Default: True.
        :param authentication: :class:`MlflowAuthentication`. Default: ``MlflowAuthentication.built_in()``.
        :param enable_job_execution: run MLflow's background job runner (7 more processes). Default: False.
        :param log_retention: retention of the server's log group. Default: three months.
        :param log_removal_policy: removal policy of the log group. Default: ``RETAIN``.
        :param secrets_removal_policy: removal policy of generated secrets. Default: ``RETAIN``.
        :param bucket_removal_policy: removal policy of new buckets. Default: ``RETAIN``.
        """
        super().__init__(scope, construct_id)
        self.vpc = vpc
        self.image = image or ServerImage.bundled_asset()
        self.cpu = cpu
        self.memory_limit_mib = memory_limit_mib
        self.cpu_architecture = cpu_architecture or ecs.CpuArchitecture.X86_64
        self.workers = workers if workers is not None else max(1, math.floor(2 * cpu / 1024))
        self.min_task_count = min_task_count
        self.max_task_count = max_task_count
        self.desired_count = desired_count if desired_count is not None else min_task_count
        self.scale_on_cpu_percent = scale_on_cpu_percent
        self.scale_on_requests_per_target = scale_on_requests_per_target
        self.certificate = certificate
        self.cors_allowed_origins = list(cors_allowed_origins)
        self.existing_database = existing_database
        self.auth_database = auth_database
        self.database_engine_version = database_engine_version or rds.DatabaseClusterEngine.aurora_postgres(
            version=DEFAULT_AURORA_POSTGRES_VERSION
        )
        self.database_min_capacity = database_min_capacity
        self.database_max_capacity = database_max_capacity
        self.database_auto_pause = database_auto_pause or cdk.Duration.minutes(10)
        self.database_backup_retention = database_backup_retention or cdk.Duration.days(7)
        self.database_removal_policy = database_removal_policy
        self.database_deletion_protection = database_deletion_protection
        self.database_secret_rotation = database_secret_rotation
        self.existing_bucket = existing_bucket
        self.artifact_prefix = artifact_prefix.strip("/")
        self.legacy_artifact_prefixes = [prefix.strip("/") for prefix in legacy_artifact_prefixes]
        self.bucket_encryption_key = bucket_encryption_key
        self.noncurrent_version_expiration = noncurrent_version_expiration or cdk.Duration.days(90)
        self.artifact_access = artifact_access
        self.access_logging = access_logging
        self.authentication = authentication or MlflowAuthentication.built_in()
        self.enable_job_execution = enable_job_execution
        self.log_retention = log_retention
        self.log_removal_policy = log_removal_policy
        self.secrets_removal_policy = secrets_removal_policy
        self.bucket_removal_policy = bucket_removal_policy
        self._allowed_hosts: list[str] = [*domain_names, *extra_allowed_hosts]

        self._validate(cluster, bucket_encryption_key, access_logs_bucket)
        self.service_subnets = service_subnets or check.default_private_selection(vpc)
        self.load_balancer_subnets = load_balancer_subnets or self.service_subnets
        self.database_subnets = database_subnets or check.default_isolated_selection(vpc)
        check.selected_subnets(vpc, self.service_subnets, "service_subnets")
        check.selected_subnets(vpc, self.load_balancer_subnets, "load_balancer_subnets", min_azs=2)
        if existing_database is None:
            check.selected_subnets(vpc, self.database_subnets, "database_subnets", min_azs=2)

        self.access_logs_bucket: s3.IBucket | None = access_logs_bucket or (
            self._create_access_logs_bucket() if access_logging else None
        )

        # Hooks, in dependency order.
        self.load_balancer: elbv2.IApplicationLoadBalancer = self._create_load_balancer()
        self.listener: elbv2.IApplicationListener = self._create_listener(self.load_balancer)
        self.cluster: ecs.ICluster = cluster or self._create_cluster()
        self.database: rds.DatabaseCluster | None = None
        self.database_secret: secretsmanager.ISecret
        if existing_database is None:
            self.database = self._create_database()
            assert self.database.secret is not None
            self.database_secret = self.database.secret
        else:
            self.database_secret = existing_database.secret
        self.bucket: s3.IBucket = existing_bucket or self._create_bucket()
        self.admin_secret: secretsmanager.ISecret | None = None
        self.flask_secret: secretsmanager.ISecret | None = None
        if self.authentication.enabled:
            self.admin_secret, self.flask_secret = self._create_auth_secrets()

        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=log_removal_policy)
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "TaskDefinition",
            cpu=cpu,
            memory_limit_mib=memory_limit_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=self.cpu_architecture,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        self.container = self._add_container()
        self.service = self._create_service()
        acknowledge(
            self.task_definition.obtain_execution_role(),
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken has no resource-level permissions; image pulls and log writes are scoped "
            "to the repository and log group.",
        )
        self._connect_database()
        self._grant_artifact_store()
        self.target_group = self._attach_to_listener()
        self.scaling = self._configure_autoscaling()

    # ------------------------------------------------------------------ validation

    def _validate(
        self,
        cluster: ecs.ICluster | None,
        bucket_encryption_key: kms.IKey | None,
        access_logs_bucket: s3.IBucket | None,
    ) -> None:
        check.fargate_task_size(self.cpu, self.memory_limit_mib)
        check.positive(self.workers, "workers")
        check.positive(self.min_task_count, "min_task_count")
        check.ordered(self.min_task_count, self.max_task_count, "min_task_count", "max_task_count")
        if not self.min_task_count <= self.desired_count <= self.max_task_count:
            raise ValueError(
                f"desired_count ({self.desired_count}) is outside min_task_count..max_task_count "
                f"({self.min_task_count}..{self.max_task_count}): choose a value in that range"
            )
        if not 1 <= self.scale_on_cpu_percent <= 100:
            raise ValueError(f"scale_on_cpu_percent ({self.scale_on_cpu_percent}) must be between 1 and 100")
        check.positive(self.scale_on_requests_per_target, "scale_on_requests_per_target")
        if (
            cluster is not None
            and not cdk.Token.is_unresolved(cluster.vpc.vpc_id)
            and not cdk.Token.is_unresolved(self.vpc.vpc_id)
        ) and cluster.vpc.vpc_id != self.vpc.vpc_id:
            raise ValueError("cluster belongs to another VPC than vpc: pass a cluster of the same VPC")

        database_props_given = [
            name
            for name, value, default in (
                ("database_min_capacity", self.database_min_capacity, 0),
                ("database_max_capacity", self.database_max_capacity, 4),
                ("database_secret_rotation", self.database_secret_rotation, None),
            )
            if value != default
        ]
        if self.existing_database is not None:
            if database_props_given:
                raise ValueError(
                    f"existing_database and {', '.join(database_props_given)} were both given: the latter only "
                    "configure a new database; drop them or drop existing_database"
                )
            check.positive(self.existing_database.resolved_port, "existing_database.port")
        else:
            if self.auth_database is not None:
                raise ValueError(
                    "auth_database is only for an existing MySQL tracking database: a new Aurora PostgreSQL "
                    "cluster holds the auth store itself; drop auth_database"
                )
            if self.database_min_capacity < 0:
                raise ValueError(f"database_min_capacity ({self.database_min_capacity}) must be 0 or more")
            check.ordered(
                self.database_min_capacity,
                self.database_max_capacity,
                "database_min_capacity",
                "database_max_capacity",
            )
            if self.database_max_capacity < 1 or self.database_max_capacity > 256:
                raise ValueError(f"database_max_capacity ({self.database_max_capacity}) must be between 1 and 256 ACU")
            for name, value in (
                ("database_min_capacity", self.database_min_capacity),
                ("database_max_capacity", self.database_max_capacity),
            ):
                if value * 2 != int(value * 2):
                    raise ValueError(f"{name} ({value}) must be a multiple of 0.5 ACU")
            if self.database_backup_retention.to_days() < 7:
                raise ValueError(
                    f"database_backup_retention ({self.database_backup_retention.to_days()} days) must be at least "
                    "7 days"
                )
            if not 5 <= self.database_auto_pause.to_minutes() <= 1440:
                raise ValueError(
                    f"database_auto_pause ({self.database_auto_pause.to_minutes()} min) must be between 5 minutes "
                    "and 1 day"
                )

        if self.authentication.enabled:
            tracking_engine = (
                self.existing_database.engine if self.existing_database is not None else DatabaseEngine.POSTGRESQL
            )
            if tracking_engine is DatabaseEngine.MYSQL and self.auth_database is None:
                raise ValueError(
                    "existing_database is MySQL and built-in authentication is on, but MLflow's auth store fails "
                    "on MySQL: pass auth_database (a PostgreSQL server) or "
                    "authentication=MlflowAuthentication.disabled(authenticated_by=...)"
                )
            if self.auth_database is not None and self.auth_database.engine is not DatabaseEngine.POSTGRESQL:
                raise ValueError("auth_database must be PostgreSQL: MLflow's auth store fails on MySQL")
            if self.authentication.cache_ttl_seconds < 0:
                raise ValueError("authentication.cache_ttl_seconds must be 0 or more")
            if not self.authentication.admin_username.strip():
                raise ValueError("authentication.admin_username is empty: name the admin user")
        else:
            if not (self.authentication.authenticated_by or "").strip():
                raise ValueError(
                    "authentication is disabled without saying who authenticates instead: use "
                    "MlflowAuthentication.disabled(authenticated_by='IAM (SigV4) at the PrivateHttpApi') "
                    "or keep MlflowAuthentication.built_in()"
                )
            if self.auth_database is not None:
                raise ValueError("auth_database was given but authentication is disabled: drop auth_database")

        if self.existing_bucket is not None and bucket_encryption_key is not None:
            raise ValueError(
                "existing_bucket and bucket_encryption_key were both given: the key only configures a new bucket; "
                "drop bucket_encryption_key (grants cover the existing bucket's key when the bucket was imported "
                "with its encryption_key)"
            )
        if self.existing_bucket is not None and self.noncurrent_version_expiration.to_days() != 90:
            raise ValueError(
                "existing_bucket and noncurrent_version_expiration were both given: lifecycle rules only "
                "configure a new bucket; drop noncurrent_version_expiration"
            )
        if not self.access_logging and access_logs_bucket is not None:
            raise ValueError("access_logs_bucket was given with access_logging=False: drop one of them")
        if self.artifact_prefix == "":
            raise ValueError("artifact_prefix is empty: use a key prefix such as 'mlflow-artifacts'")
        if self.legacy_artifact_prefixes and self.existing_bucket is None:
            raise ValueError(
                "legacy_artifact_prefixes was given without existing_bucket: a new bucket holds no earlier "
                "artifacts; pass the earlier server's bucket as existing_bucket or drop legacy_artifact_prefixes"
            )
        for prefix in self.legacy_artifact_prefixes:
            if prefix == "" or ("*" in prefix and prefix != "*"):
                raise ValueError(
                    f"legacy_artifact_prefixes entry {prefix!r} is not a key prefix: pass prefixes such as "
                    "'0' or 'custom/team-a', or '*' for the whole bucket"
                )
        for host in self._allowed_hosts:
            if not cdk.Token.is_unresolved(host) and ("/" in host or "," in host or " " in host or not host):
                raise ValueError(
                    f"domain_names/extra_allowed_hosts entry {host!r} is not a host name: pass names such as "
                    "'mlflow.example.com' without scheme, path or commas"
                )

    # ------------------------------------------------------------------ hooks

    def _create_access_logs_bucket(self) -> s3.IBucket:
        """The bucket for load balancer and artifact bucket access logs (SSE-S3: ALB logs require it)."""
        bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(365))],
            removal_policy=self.bucket_removal_policy,
        )
        acknowledge(
            bucket,
            "AwsSolutions-S1",
            "This bucket is the access-log destination itself; logging it into another bucket would only move "
            "the question one bucket further.",
        )
        return bucket

    def _create_load_balancer(self) -> elbv2.IApplicationLoadBalancer:
        """Create the internal load balancer. Override to bring your own (it must not be internet-facing)."""
        security_group = ec2.SecurityGroup(
            self,
            "LoadBalancerSecurityGroup",
            vpc=self.vpc,
            description="MLflow load balancer: callers are admitted explicitly with allow_from()",
            allow_all_outbound=False,
        )
        load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=self.vpc,
            internet_facing=False,
            vpc_subnets=self.load_balancer_subnets,
            security_group=security_group,
            drop_invalid_header_fields=True,
            idle_timeout=cdk.Duration.seconds(120),
        )
        if self.access_logs_bucket is not None:
            load_balancer.log_access_logs(self.access_logs_bucket, "load-balancer")
        else:
            acknowledge(
                load_balancer,
                "AwsSolutions-ELB2",
                "Access logging was turned off with access_logging=False by the user of SecureMlflowService.",
            )
        return load_balancer

    def _create_listener(self, load_balancer: elbv2.IApplicationLoadBalancer) -> elbv2.IApplicationListener:
        """Create the listener: HTTPS on 443 with ``certificate``, else HTTP on 80. It admits nobody by itself."""
        if self.certificate is not None:
            return load_balancer.add_listener(
                "Https",
                protocol=elbv2.ApplicationProtocol.HTTPS,
                port=443,
                certificates=[elbv2.ListenerCertificate.from_certificate_manager(self.certificate)],
                ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
                open=False,
            )
        return load_balancer.add_listener("Http", protocol=elbv2.ApplicationProtocol.HTTP, port=80, open=False)

    def _create_cluster(self) -> ecs.ICluster:
        """Create the ECS cluster (Container Insights on)."""
        return ecs.Cluster(
            self,
            "Cluster",
            vpc=self.vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
        )

    def _create_database(self) -> rds.DatabaseCluster:
        """Create the Aurora Serverless v2 PostgreSQL cluster of the tracking and auth stores."""
        security_group = ec2.SecurityGroup(
            self,
            "DatabaseSecurityGroup",
            vpc=self.vpc,
            description="MLflow database: only the MLflow service may connect",
            allow_all_outbound=False,
        )
        database = rds.DatabaseCluster(
            self,
            "Database",
            engine=self.database_engine_version,
            writer=rds.ClusterInstance.serverless_v2(
                "Writer", auto_minor_version_upgrade=True, publicly_accessible=False
            ),
            serverless_v2_min_capacity=self.database_min_capacity,
            serverless_v2_max_capacity=self.database_max_capacity,
            serverless_v2_auto_pause_duration=self.database_auto_pause if self.database_min_capacity == 0 else None,
            vpc=self.vpc,
            vpc_subnets=self.database_subnets,
            security_groups=[security_group],
            credentials=rds.Credentials.from_generated_secret("mlflow", exclude_characters=_URL_UNSAFE_CHARACTERS),
            default_database_name=_TRACKING_DATABASE,
            storage_encrypted=True,
            iam_authentication=True,
            deletion_protection=self.database_deletion_protection,
            backup=rds.BackupProps(retention=self.database_backup_retention),
            removal_policy=self.database_removal_policy,
            cloudwatch_logs_exports=["postgresql"],
            cloudwatch_logs_retention=self.log_retention,
            copy_tags_to_snapshot=True,
        )
        tidy_log_retention_function(self)
        # database.secret is the attachment; the removal policy belongs on the secret itself.
        generated_secret = database.node.find_child("Secret")
        assert isinstance(generated_secret, secretsmanager.Secret)
        generated_secret.apply_removal_policy(self.secrets_removal_policy)
        acknowledge(
            database,
            "AwsSolutions-RDS11",
            "A non-default port adds no protection here: the cluster sits in private subnets and its security "
            "group admits only the MLflow service.",
        )
        if self.database_secret_rotation is not None:
            database.add_rotation_single_user(automatically_after=self.database_secret_rotation)
        else:
            acknowledge(
                database.node.find_child("Secret"),
                "AwsSolutions-SMG4",
                "Rotation is opt-in (database_secret_rotation): tasks read the credentials at start, so a "
                "single-user rotation needs a service redeployment to take effect.",
            )
        return database

    def _create_bucket(self) -> s3.IBucket:
        """Create the artifact bucket: private, TLS-only, versioned, retained."""
        bucket = s3.Bucket(
            self,
            "Artifacts",
            encryption=s3.BucketEncryption.KMS if self.bucket_encryption_key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=self.bucket_encryption_key,
            bucket_key_enabled=self.bucket_encryption_key is not None,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    noncurrent_version_expiration=self.noncurrent_version_expiration,
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                )
            ],
            removal_policy=self.bucket_removal_policy,
        )
        if self.access_logs_bucket is not None:
            self._log_bucket_access(bucket, self.access_logs_bucket, "artifacts/")
        return bucket

    def _log_bucket_access(self, bucket: s3.Bucket, destination: s3.IBucket, prefix: str) -> None:
        """Server access logging through a bucket policy, whatever the app's S3 feature flags say.

        ``Bucket(server_access_logs_bucket=...)`` falls back to ACLs (and fails on a bucket-owner-enforced
        destination) in apps without ``@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy``; this does what
        that flag does, explicitly. An imported destination needs the same policy statement on its side.
        """
        cfn_bucket = bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
            destination_bucket_name=destination.bucket_name, log_file_prefix=prefix
        )
        destination.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"S3ServerAccessLogs{cdk.Names.unique_id(bucket)[-32:]}",
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[destination.arn_for_objects(f"{prefix}*")],
                conditions={
                    "ArnLike": {"aws:SourceArn": bucket.bucket_arn},
                    "StringEquals": {"aws:SourceAccount": cdk.Stack.of(self).account},
                },
            )
        )

    # ------------------------------------------------------------------ internals

    def _create_auth_secrets(self) -> tuple[secretsmanager.ISecret, secretsmanager.ISecret]:
        admin = secretsmanager.Secret(
            self,
            "AdminSecret",
            description="MLflow admin user (username, password)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=cdk.Stack.of(self).to_json_string(
                    {"username": self.authentication.admin_username}
                ),
                generate_string_key="password",
                password_length=32,
                exclude_punctuation=True,
            ),
            removal_policy=self.secrets_removal_policy,
        )
        flask = secretsmanager.Secret(
            self,
            "FlaskSecretKey",
            description="MLflow server Flask secret key, shared by every task",
            generate_secret_string=secretsmanager.SecretStringGenerator(password_length=64, exclude_punctuation=True),
            removal_policy=self.secrets_removal_policy,
        )
        for secret, what in ((admin, "admin password"), (flask, "Flask secret key")):
            acknowledge(
                secret,
                "AwsSolutions-SMG4",
                f"The MLflow {what} has no rotation Lambda: MLflow keeps users in its own database, so a rotated "
                "secret would no longer match. Change it through MLflow and update the secret (docs: operations).",
            )
        return admin, flask

    def _database_environment(self) -> dict[str, str]:
        if self.existing_database is not None:
            host, port = self.existing_database.endpoint, str(self.existing_database.resolved_port)
            engine, name = self.existing_database.engine, self.existing_database.database_name
        else:
            assert self.database is not None
            host = self.database.cluster_endpoint.hostname
            port = cdk.Token.as_string(self.database.cluster_endpoint.port)
            engine, name = DatabaseEngine.POSTGRESQL, _TRACKING_DATABASE
        env = {
            contract.DB_ENGINE: engine.value,
            contract.DB_HOST: host,
            contract.DB_PORT: port,
            contract.DB_NAME: name,
        }
        if self.database is not None and self.database_min_capacity == 0:
            # A paused Aurora cluster only stays paused while no connection is open.
            env[contract.DB_POOL] = "null"
        return env

    def _auth_environment(self) -> dict[str, str]:
        if not self.authentication.enabled:
            return {contract.AUTH_ENABLED: "false"}
        env = {
            contract.AUTH_ENABLED: "true",
            contract.AUTH_DB_NAME: _AUTH_DATABASE,
            contract.AUTH_ADMIN_USERNAME: self.authentication.admin_username,
            contract.AUTH_DEFAULT_PERMISSION: self.authentication.default_permission.value,
            contract.AUTH_CACHE_TTL_SECONDS: str(self.authentication.cache_ttl_seconds),
        }
        if self.auth_database is not None:
            env[contract.AUTH_DB_HOST] = self.auth_database.endpoint
            env[contract.AUTH_DB_PORT] = str(self.auth_database.resolved_port)
        return env

    def _secrets(self) -> dict[str, ecs.Secret]:
        secrets = {
            contract.DB_USERNAME: ecs.Secret.from_secrets_manager(self.database_secret, "username"),
            contract.DB_PASSWORD: ecs.Secret.from_secrets_manager(self.database_secret, "password"),
        }
        if self.admin_secret is not None and self.flask_secret is not None:
            secrets[contract.AUTH_ADMIN_PASSWORD] = ecs.Secret.from_secrets_manager(self.admin_secret, "password")
            secrets[contract.FLASK_SECRET_KEY] = ecs.Secret.from_secrets_manager(self.flask_secret)
        if self.auth_database is not None:
            secrets[contract.AUTH_DB_USERNAME] = ecs.Secret.from_secrets_manager(self.auth_database.secret, "username")
            secrets[contract.AUTH_DB_PASSWORD] = ecs.Secret.from_secrets_manager(self.auth_database.secret, "password")
        return secrets

    def _add_container(self) -> ecs.ContainerDefinition:
        artifacts_uri = self.bucket.s3_url_for_object(self.artifact_prefix)
        environment = {
            contract.PORT: str(contract.DEFAULT_PORT),
            contract.WORKERS: str(self.workers),
            contract.JOB_EXECUTION: "true" if self.enable_job_execution else "false",
            # Lazy: hosts added with add_allowed_host() after construction still reach the container.
            contract.ALLOWED_HOSTS: cdk.Lazy.string(_AllowedHostsProducer(self)),
            contract.ARTIFACTS_MODE: self.artifact_access.value,
            contract.ARTIFACTS_URI: artifacts_uri,
            contract.MULTIPART_UPLOAD: "true" if self.artifact_access is ArtifactAccess.PROXIED else "false",
            **self._database_environment(),
            **self._auth_environment(),
        }
        if self.cors_allowed_origins:
            environment[contract.CORS_ALLOWED_ORIGINS] = ",".join(self.cors_allowed_origins)
        container = self.task_definition.add_container(
            "Mlflow",
            image=self.image.bind(self, self.cpu_architecture),
            entry_point=list(contract.CONTAINER_COMMAND),
            environment=environment,
            secrets=self._secrets(),
            port_mappings=[ecs.PortMapping(container_port=contract.DEFAULT_PORT, name="mlflow")],
            logging=ecs.LogDriver.aws_logs(stream_prefix="mlflow", log_group=self.log_group),
            health_check=ecs.HealthCheck(
                command=list(contract.HEALTH_CHECK_COMMAND),
                interval=cdk.Duration.seconds(30),
                timeout=cdk.Duration.seconds(5),
                retries=3,
                start_period=cdk.Duration.seconds(120),
            ),
            stop_timeout=cdk.Duration.seconds(30),
        )
        acknowledge(
            self.task_definition,
            "AwsSolutions-ECS2",
            "Only non-secret settings (hosts, ports, names, modes) are environment variables; the database "
            "credentials, admin password and Flask secret key come from Secrets Manager as container secrets.",
        )
        return container

    def _create_service(self) -> ecs.FargateService:
        security_group = ec2.SecurityGroup(
            self,
            "ServiceSecurityGroup",
            vpc=self.vpc,
            description="MLflow service: reachable from its load balancer only",
            allow_all_outbound=True,
        )
        return ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            desired_count=self.desired_count,
            vpc_subnets=self.service_subnets,
            security_groups=[security_group],
            assign_public_ip=False,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            min_healthy_percent=100,
            max_healthy_percent=200,
            health_check_grace_period=cdk.Duration.seconds(180),
            enable_execute_command=False,
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
        )

    def _connect_database(self) -> None:
        if self.database is not None:
            self.database.connections.allow_default_port_from(self.service, "MLflow service to its database")
            return
        assert self.existing_database is not None
        for database in (self.existing_database, self.auth_database):
            if database is not None and database.security_group is not None:
                database.security_group.connections.allow_from(
                    self.service, ec2.Port.tcp(database.resolved_port), "MLflow service to its database"
                )

    def _grant_artifact_store(self) -> None:
        # Proxied: the server reads and writes for every client. Direct: clients write themselves; the server
        # still lists, reads (UI previews) and deletes (run and experiment deletion) under the prefix.
        write = self.artifact_access is ArtifactAccess.PROXIED
        self._grant_prefix(self.task_definition.task_role, write=write)
        task_role = self.task_definition.task_role
        acknowledge(
            task_role,
            f"AwsSolutions-IAM5[Resource::<{self._bucket_logical_id()}.Arn>/{self.artifact_prefix}/*]"
            if self.existing_bucket is None
            else f"AwsSolutions-IAM5[Resource::{self.bucket.bucket_arn}/{self.artifact_prefix}/*]",
            "MLflow stores one object per artifact under the artifact prefix; the grant covers that prefix only.",
        )
        for arn in self._legacy_object_arns():
            acknowledge_wildcard_resource(
                task_role,
                arn,
                "Experiments an earlier MLflow server created keep their artifacts under these prefixes "
                "(legacy_artifact_prefixes); MLflow stores one object per artifact.",
            )

    def _bucket_logical_id(self) -> str:
        child = self.bucket.node.default_child
        assert isinstance(child, cdk.CfnElement)
        return cdk.Stack.of(self).get_logical_id(child)

    def _legacy_object_arns(self) -> list[str]:
        return [
            self.bucket.arn_for_objects("*" if prefix == "*" else f"{prefix}/*")
            for prefix in dict.fromkeys(self.legacy_artifact_prefixes)
        ]

    def _grant_prefix(self, grantee: iam.IGrantable, *, write: bool) -> iam.Grant:
        """Grant object access under the artifact prefix (and the legacy prefixes) with explicit actions (no
        ``s3:*Object*`` wildcards)."""
        actions = ["s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject"]
        if write:
            actions += ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=actions,
            resource_arns=[self.bucket.arn_for_objects(f"{self.artifact_prefix}/*"), *self._legacy_object_arns()],
        )
        prefixes = [self.artifact_prefix, *dict.fromkeys(self.legacy_artifact_prefixes)]
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:ListBucket"],
            resource_arns=[self.bucket.bucket_arn],
            conditions=None
            if "*" in prefixes
            else {"StringLike": {"s3:prefix": [key for prefix in prefixes for key in (prefix, f"{prefix}/*")]}},
        )
        if self.bucket.encryption_key is not None:
            if write:
                self.bucket.encryption_key.grant_encrypt_decrypt(grantee)
            else:
                self.bucket.encryption_key.grant_decrypt(grantee)
        return grant

    def _attach_to_listener(self) -> elbv2.ApplicationTargetGroup:
        target_group = elbv2.ApplicationTargetGroup(
            self,
            "TargetGroup",
            vpc=self.vpc,
            port=contract.DEFAULT_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            targets=[self.service],
            deregistration_delay=cdk.Duration.seconds(30),
            health_check=elbv2.HealthCheck(
                path="/health",
                healthy_http_codes="200",
                interval=cdk.Duration.seconds(15),
                timeout=cdk.Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
        )
        self.listener.add_target_groups("Mlflow", target_groups=[target_group])
        return target_group

    def _configure_autoscaling(self) -> ecs.ScalableTaskCount:
        scaling = self.service.auto_scale_task_count(min_capacity=self.min_task_count, max_capacity=self.max_task_count)
        scaling.scale_on_cpu_utilization("Cpu", target_utilization_percent=self.scale_on_cpu_percent)
        scaling.scale_on_request_count(
            "Requests", requests_per_target=self.scale_on_requests_per_target, target_group=self.target_group
        )
        return scaling

    # ------------------------------------------------------------------ public surface

    @property
    def connections(self) -> ec2.Connections:
        """Connections of the load balancer: ``connections.allow_from(peer, port)`` admits callers."""
        return self.load_balancer.connections

    @property
    def listener_port(self) -> int:
        """443 with a certificate, else 80 (or whatever an overriding ``_create_listener`` chose)."""
        return 443 if self.certificate is not None else 80

    @property
    def internal_url(self) -> str:
        """The in-VPC URL of the server through its load balancer, e.g. ``http://internal-...elb.amazonaws.com``."""
        scheme = "https" if self.certificate is not None else "http"
        return f"{scheme}://{self.load_balancer.load_balancer_dns_name}"

    @property
    def allowed_hosts(self) -> list[str]:
        """Host header values the server accepts: the load balancer's DNS name plus added domains and hosts."""
        return [self.load_balancer.load_balancer_dns_name, *self._allowed_hosts]

    def add_allowed_host(self, host: str) -> None:
        """Accept another Host header value (a custom domain, or what a proxy such as the HTTP API forwards)."""
        if not cdk.Token.is_unresolved(host) and ("/" in host or "," in host or not host.strip()):
            raise ValueError(f"add_allowed_host({host!r}): pass a host name without scheme, path or commas")
        if host not in self._allowed_hosts:
            self._allowed_hosts.append(host)

    def allow_from(self, peer: ec2.IConnectable, description: str = "MLflow client") -> None:
        """Admit ``peer`` (a security group, a connectable such as a Lambda, or a CIDR peer) to the listener."""
        self.load_balancer.connections.allow_from(peer, ec2.Port.tcp(self.listener_port), description)

    @property
    def artifacts_uri(self) -> str:
        """``s3://bucket/prefix`` of the artifact store."""
        return self.bucket.s3_url_for_object(self.artifact_prefix)

    def grant_artifact_access(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` read, write and delete artifacts under the prefix and the legacy prefixes (for
        ``ArtifactAccess.DIRECT``, and for runs of experiments an earlier server created)."""
        return self._grant_prefix(grantee, write=True)

    def grant_read_admin_secret(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` read the admin credentials (for automation that manages MLflow users)."""
        if self.admin_secret is None:
            raise ValueError("grant_read_admin_secret: built-in authentication is disabled, there is no admin secret")
        return self.admin_secret.grant_read(grantee)
