"""SecureMlflowService: an MLflow tracking server and model registry on Fargate inside an existing VPC."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Unpack

import aws_cdk as cdk
import jsii
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct

from mlflow_sagemaker_constructs._internal import checkov
from mlflow_sagemaker_constructs._internal import validation as check
from mlflow_sagemaker_constructs._internal.cdk_fixups import tidy_log_retention_function
from mlflow_sagemaker_constructs._internal.nag import acknowledge
from mlflow_sagemaker_constructs.monitoring import server_logs
from mlflow_sagemaker_constructs.monitoring.metrics import MetricOverrides, metric, with_defaults
from mlflow_sagemaker_constructs.tracking_server.access import CloudMapDiscovery, ServerAccess
from mlflow_sagemaker_constructs.tracking_server.access_logs import AccessLogs
from mlflow_sagemaker_constructs.tracking_server.artifacts import ArtifactAccess, ArtifactStore, grant_prefix
from mlflow_sagemaker_constructs.tracking_server.authentication import MlflowAuthentication
from mlflow_sagemaker_constructs.tracking_server.capacity import FargateCapacity
from mlflow_sagemaker_constructs.tracking_server.database import (
    POSTGRES_LOGGING_PARAMETERS,
    AuroraServerlessSettings,
    DatabaseEngine,
    ExistingDatabase,
    TrackingDatabase,
)
from mlflow_sagemaker_constructs.tracking_server.interface import IMlflowTrackingServer, ImportedMlflowTrackingServer
from mlflow_sagemaker_constructs.tracking_server.listener import CertificateSource
from mlflow_sagemaker_constructs.tracking_server.principal_mapping import PrincipalMapping
from mlflow_sagemaker_constructs.tracking_server.server import contract
from mlflow_sagemaker_constructs.tracking_server.server_image import ServerImage, architecture_name
from mlflow_sagemaker_constructs.tracking_server.sts_access import StsAccessKind

# Characters left out of generated passwords: they would need URL-encoding in database URIs and
# quoting in shells. The entrypoint URL-encodes anyway; this keeps the secrets easy to use by hand.
_URL_UNSAFE_CHARACTERS = " %+~`#$&*()|[]{}:;<>?!'/@\"\\,=^"
#: Where the container's writable scratch volume is mounted (the root filesystem is read-only).
SCRATCH_PATH = contract.DEFAULT_SCRATCH_DIR
#: The default task: 0.5 vCPU, 1 GB, one worker, Graviton, from the task-size table of the benchmarks page. One
#: worker peaked at 760 MiB RSS (570 MiB PSS) under 8 clients, so 1 GB leaves a quarter free; half a vCPU
#: serves the mix of a dozen active users at the 60 % CPU autoscaling target (measured on a busy machine, so
#: conservatively), and autoscaling adds tasks for a team of 25 and for bursts. It keeps the secure default
#: in an existing VPC under $35 a month idle (docs/cost.md).
DEFAULT_CPU = 512
DEFAULT_MEMORY_LIMIT_MIB = 1024
#: Target load balancer requests per task per minute for autoscaling (load-balanced access only).
DEFAULT_SCALE_ON_REQUESTS_PER_TARGET = 600
#: Writable paths the ECS Exec agent needs when the root filesystem is read-only.
_EXECUTE_COMMAND_PATHS = {
    "ExecAgents": "/managed-agents",
    "SsmState": "/var/lib/amazon/ssm",
    "SsmLogs": "/var/log/amazon/ssm",
}


@jsii.implements(cdk.IStableStringProducer)
class _AllowedHostsProducer:
    def __init__(self, service: SecureMlflowService) -> None:
        self._service = service

    def produce(self) -> str:
        return ",".join(self._service.allowed_hosts)


@jsii.implements(cdk.IStableStringProducer)
class _IamAudiencesProducer:
    def __init__(self, service: SecureMlflowService) -> None:
        self._service = service

    def produce(self) -> str:
        # Empty without added audiences: the server then takes its allowed hosts (without wildcards).
        return ",".join(self._service.iam_audiences) if self._service.added_iam_audiences else ""


@jsii.implements(cdk.IStableStringProducer)
class _PrincipalMappingsProducer:
    def __init__(self, service: SecureMlflowService) -> None:
        self._service = service

    def produce(self) -> str:
        rules = [mapping.render(self._service) for mapping in self._service.principal_mappings]
        return cdk.Stack.of(self._service).to_json_string(rules)


@jsii.implements(ec2.IConnectable)
class SecureMlflowService(Construct):
    """An MLflow tracking server and model registry on AWS Fargate inside an existing VPC.

    Minimal use: ``SecureMlflowService(self, "Mlflow", vpc=vpc)``. What it creates by default:

    - an internal Application Load Balancer (never internet-facing) with an HTTP listener; its security
      group admits nobody until you call :meth:`allow_from` (or use :attr:`connections`);
    - an ECS cluster with Container Insights and a Fargate service running the bundled MLflow server image
      (read-only root filesystem, no Linux capabilities), with health checks on ``/health``, a deployment
      circuit breaker with rollback and autoscaling on CPU and requests per target;
    - an Aurora Serverless v2 PostgreSQL cluster (0 to 4 ACU: it pauses when idle), encrypted, with deletion
      protection, 7 days of backups, a snapshot on removal, logs without statement values, and generated
      credentials in Secrets Manager;
    - an S3 artifact bucket (private, TLS only, versioned, retained on destroy) served through the MLflow
      server, and an access-log bucket for the load balancer and the artifact bucket;
    - IAM principals as MLflow users (clients use ``MLFLOW_TRACKING_AUTH=aws-iam``; the server has STS verify
      a signed request and maps the caller with :class:`PrincipalMapping` rules), MLflow's per-experiment
      and per-model permissions with ``NO_PERMISSIONS`` by default, basic authentication for the break-glass
      admin (generated password and Flask secret key in Secrets Manager), the user database beside the
      tracking database.

    The service is an ``ec2.IConnectable`` and an :class:`IMlflowTrackingServer`; its port, URL and
    ``allow_from`` all come from the listener, whichever hook created it.

    Subclasses replace parts through the protected hooks :meth:`_create_load_balancer`,
    :meth:`_create_listener`, :meth:`_create_cluster`, :meth:`_create_database`, :meth:`_create_bucket`,
    :meth:`_create_access_logs_bucket` and :meth:`_create_service`. Hooks run inside ``__init__`` in that
    order; they read the props from ``self`` (every prop is stored as a public attribute of the same name).

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
        database: TrackingDatabase | None = None,
        artifact_store: ArtifactStore | None = None,
        authentication: MlflowAuthentication | None = None,
        access: ServerAccess | None = None,
        access_logs: AccessLogs | None = None,
        image: ServerImage | None = None,
        cluster: ecs.ICluster | None = None,
        service_subnets: ec2.SubnetSelection | None = None,
        cpu: int = DEFAULT_CPU,
        memory_limit_mib: int | None = None,
        cpu_architecture: ecs.CpuArchitecture | None = None,
        workers: int | None = None,
        capacity: FargateCapacity | None = None,
        desired_count: int | None = None,
        min_task_count: int = 1,
        max_task_count: int = 4,
        scale_on_cpu_percent: int = 60,
        scale_on_requests_per_target: int | None = None,
        extra_allowed_hosts: Sequence[str] = (),
        cors_allowed_origins: Sequence[str] = (),
        enable_job_execution: bool = False,
        enable_ai_gateway: bool = False,
        enable_execute_command: bool = False,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
        log_removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        secrets_removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        """Create the service.

        :param vpc: the VPC to run in; any ``ec2.IVpc``, including ``Vpc.from_lookup`` and
            ``Vpc.from_vpc_attributes``.
        :param database: :class:`TrackingDatabase`. Default: ``TrackingDatabase.aurora_serverless()``.
        :param artifact_store: :class:`ArtifactStore`. Default: ``ArtifactStore.new_bucket()``.
        :param authentication: :class:`MlflowAuthentication`. Default: ``MlflowAuthentication.iam()``: IAM
            principals are MLflow users (map them with ``principals`` or :meth:`add_principal_mapping`;
            ``StudioDomainOrUser`` maps its users), basic authentication for the break-glass admin.
        :param access: :class:`ServerAccess`. Default: ``ServerAccess.load_balancer()`` (internal ALB, HTTP);
            ``ServerAccess.cloud_map()`` is the lean topology without a load balancer.
        :param access_logs: :class:`AccessLogs` of the load balancer and a new artifact bucket. Default:
            ``AccessLogs.new_bucket()``.
        :param image: how the server image reaches ECR (:class:`ServerImage`). Default:
            ``ServerImage.bundled_asset()``, built locally from the bundled Dockerfile.
        :param cluster: an existing ECS cluster of the same VPC. Default: a new cluster with Container Insights.
        :param service_subnets: subnets of the Fargate tasks. Default: private subnets with egress, or isolated
            subnets when the VPC has none (then the VPC needs endpoints for ECR, S3, Secrets Manager and Logs).
        :param cpu: task CPU units. Default: 512 (0.5 vCPU; see the task-size table of the benchmarks page).
        :param memory_limit_mib: task memory. Default: 1024 MiB, or the smallest Fargate allows for ``cpu`` when
            that is more (one worker peaked at about 760 MiB RSS, two at about 1030 MiB; see the benchmarks).
        :param cpu_architecture: ``ARM64`` (Graviton, about 20 % cheaper per vCPU and GB) or ``X86_64``. The
            bundled image is built for it. Default: the architecture ``image`` declares
            (``ServerImage.from_container_image(..., architecture=...)``), else ``ARM64``; a prebuilt image that
            declares none needs this prop.
        :param workers: uvicorn worker processes. Default: one per vCPU, at least one. A worker is one Python
            process, which uses at most about one core; at 1 vCPU a second worker served less, not more, and
            took 330 MiB more (benchmarks page, task size).
        :param capacity: :class:`FargateCapacity`. Default: ``FargateCapacity.on_demand()``;
            ``FargateCapacity.spot()`` runs tasks on Fargate Spot (interruptions: see the class).
        :param desired_count: tasks at deployment. Default: ``min_task_count``.
        :param min_task_count: autoscaling minimum. Default: 1 (use 2 for a task in each of two AZs).
        :param max_task_count: autoscaling maximum. Default: 4.
        :param scale_on_cpu_percent: target average CPU utilisation, 1 to 100. Default: 60.
        :param scale_on_requests_per_target: target load balancer requests per task per minute; only with a load
            balancer (``ServerAccess.load_balancer``). Default: 600 with a load balancer.
        :param extra_allowed_hosts: further ``Host`` header values the server accepts (``host``, ``host:port``,
            ``*.domain``), e.g. a DNS name of your own that points at the load balancer. Default: none.
        :param cors_allowed_origins: origins allowed for cross-origin requests. Default: none.
        :param enable_job_execution: run MLflow's background job runner (7 more processes). Default: False.
        :param enable_ai_gateway: turn on MLflow's AI Gateway, with a generated passphrase secret for the
            key that encrypts stored provider API keys. Default: False (MLflow's default is on, with a public
            passphrase).
        :param enable_execute_command: allow ``aws ecs execute-command`` into the tasks (writable volumes are
            added for the ECS Exec agent; the root filesystem stays read-only). Default: False.
        :param log_retention: retention of the server's log group (and of the database logs). Default: three
            months.
        :param log_removal_policy: removal policy of the log group. Default: ``RETAIN``.
        :param secrets_removal_policy: removal policy of generated secrets. Default: ``RETAIN``.
        """
        super().__init__(scope, construct_id)
        self.vpc = vpc
        self.database = database or TrackingDatabase.aurora_serverless()
        self.artifact_store = artifact_store or ArtifactStore.new_bucket()
        self.authentication = authentication or MlflowAuthentication.iam()
        self.access = access or ServerAccess.load_balancer()
        self.access_logs = access_logs or AccessLogs.new_bucket()
        self.image = image or ServerImage.bundled_asset()
        self.service_subnets = service_subnets or check.default_private_selection(vpc)
        self.cpu = cpu
        self.memory_limit_mib = (
            memory_limit_mib
            if memory_limit_mib is not None
            else check.default_fargate_memory(cpu, DEFAULT_MEMORY_LIMIT_MIB)
        )
        self.cpu_architecture = cpu_architecture or self._default_architecture()
        self.workers = workers if workers is not None else max(1, math.floor(cpu / 1024))
        self.capacity = capacity or FargateCapacity.on_demand()
        self.min_task_count = min_task_count
        self.max_task_count = max_task_count
        self.desired_count = desired_count if desired_count is not None else min_task_count
        self.scale_on_cpu_percent = scale_on_cpu_percent
        self._validate_access(scale_on_requests_per_target)
        self.scale_on_requests_per_target: int | None = (
            scale_on_requests_per_target
            if scale_on_requests_per_target is not None or not self.access.load_balanced
            else DEFAULT_SCALE_ON_REQUESTS_PER_TARGET
        )
        self.cors_allowed_origins = list(cors_allowed_origins)
        self.enable_job_execution = enable_job_execution
        self.enable_ai_gateway = enable_ai_gateway
        self.enable_execute_command = enable_execute_command
        self.log_retention = log_retention
        self.log_removal_policy = log_removal_policy
        self.secrets_removal_policy = secrets_removal_policy
        self._allowed_hosts: list[str] = list(extra_allowed_hosts)
        self._iam_audiences: list[str] = []
        self._principal_mappings: list[PrincipalMapping] = list(self.authentication.principals)
        self._validate(cluster)

        self.access_logs_bucket: s3.IBucket | None = self._access_logs_destination()
        self._load_balancer: elbv2.IApplicationLoadBalancer | None = None
        #: The load balancer's listener; None with ``ServerAccess.cloud_map()``.
        self.listener: elbv2.IApplicationListener | None = None
        if self.access.load_balanced:
            self._load_balancer = self._create_load_balancer()
            self.listener = self._create_listener(self._load_balancer)
            self._connections = ec2.Connections(
                security_groups=self._load_balancer.connections.security_groups, default_port=ec2.Port.tcp(self.port)
            )
        self.cluster: ecs.ICluster = cluster or self._create_cluster()
        self._use_capacity_providers()
        self.database_cluster: rds.DatabaseCluster | None = None
        if self.database.new_cluster is not None:
            self.database_cluster = self._create_database(self.database.new_cluster)
        self.database_secret: secretsmanager.ISecret = self._tracking_database_secret()
        self.bucket: s3.IBucket = self.artifact_store.bucket or self._create_bucket()
        self.admin_secret, self.flask_secret = self._create_auth_secrets()
        self.ai_gateway_secret = self._create_ai_gateway_secret()
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=log_removal_policy)
        checkov.skip(self.log_group, "CKV_AWS_158", checkov.LOG_GROUP_KMS_REASON)
        self.log_metric_filters = self._create_log_metric_filters()
        self.task_definition = self._create_task_definition()
        self.container = self._add_container()
        self.service = self._create_service()
        self.sts_endpoint: ec2.IInterfaceVpcEndpoint | None = self._reach_sts()
        #: The Cloud Map namespace and service the tasks register into; None behind a load balancer.
        self.cloud_map_namespace: servicediscovery.INamespace | None = None
        self.cloud_map_service: servicediscovery.IService | None = None
        if self.access.discovery is not None:
            self.cloud_map_namespace = self.access.discovery.namespace or self._create_cloud_map_namespace(
                self.access.discovery
            )
            self.cloud_map_service = self._register_in_cloud_map(self.access.discovery, self.cloud_map_namespace)
            # Clients are admitted to the tasks themselves: their security group, the container port.
            self._connections = ec2.Connections(
                security_groups=self.service.connections.security_groups, default_port=ec2.Port.tcp(self.port)
            )
        self._connect_database()
        self._grant_artifact_store()
        #: The load balancer's target group; None with ``ServerAccess.cloud_map()``.
        self.target_group: elbv2.ApplicationTargetGroup | None = (
            self._attach_to_listener() if self.listener is not None else None
        )
        self.scaling = self._configure_autoscaling()

    # ------------------------------------------------------------------ composition with other stacks

    @staticmethod
    def from_attributes(
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        url: str,
        security_group: ec2.ISecurityGroup,
        port: int,
        authentication: MlflowAuthentication,
        listener_arn: str | None = None,
        cloud_map_service: servicediscovery.IService | None = None,
        artifact_bucket: s3.IBucket | None = None,
        artifact_prefix: str = "mlflow-artifacts",
        artifact_access: ArtifactAccess = ArtifactAccess.PROXIED,
    ) -> IMlflowTrackingServer:
        """A server defined in another stack or app, for ``StudioDomainOrUser``, ``PrivateHttpApi`` and
        ``MlflowTrainingConfig``.

        :param vpc: the server's VPC.
        :param url: its in-VPC URL (``service.url``).
        :param security_group: the security group clients are admitted to (the load balancer's, or the service's
            with ``ServerAccess.cloud_map()``: ``service.connections.security_groups[0]``).
        :param port: the port clients connect to (``service.port``).
        :param authentication: how it authenticates (the same object as where it is defined).
        :param listener_arn: its load balancer listener, needed by ``PrivateHttpApi``. Default: none.
        :param cloud_map_service: its Cloud Map service (``ServerAccess.cloud_map()``), needed by
            ``PrivateHttpApi`` instead of ``listener_arn``, e.g. ``servicediscovery.Service.from_service_attributes``.
            Default: none.
        :param artifact_bucket: its artifact bucket, needed for the artifact grants. Default: none.
        :param artifact_prefix: its artifact prefix. Default: ``"mlflow-artifacts"``.
        :param artifact_access: its :class:`ArtifactAccess`. Default: ``PROXIED``.
        """
        return ImportedMlflowTrackingServer(
            scope,
            construct_id,
            vpc=vpc,
            url=url,
            security_group=security_group,
            port=port,
            authentication=authentication,
            listener_arn=listener_arn,
            cloud_map_service=cloud_map_service,
            artifact_bucket=artifact_bucket,
            artifact_prefix=artifact_prefix,
            artifact_access=artifact_access,
        )

    # ------------------------------------------------------------------ validation

    def _validate(self, cluster: ecs.ICluster | None) -> None:
        check.fargate_task_size(self.cpu, self.memory_limit_mib)
        architecture_name(self.cpu_architecture)  # ARM64 or X86_64, nothing else
        check.positive(self.workers, "workers")
        check.positive(self.min_task_count, "min_task_count")
        check.ordered(self.min_task_count, self.max_task_count, "min_task_count", "max_task_count")
        if not self.min_task_count <= self.desired_count <= self.max_task_count:
            raise ValueError(
                f"desired_count ({self.desired_count}) is outside min_task_count..max_task_count "
                f"({self.min_task_count}..{self.max_task_count}): choose a value in that range"
            )
        check.in_range(self.scale_on_cpu_percent, 1, 100, "scale_on_cpu_percent")
        if self.scale_on_requests_per_target is not None:
            check.positive(self.scale_on_requests_per_target, "scale_on_requests_per_target")
        check.same_vpc(self.vpc, cluster.vpc if cluster is not None else None, "cluster")
        selected = check.selected_subnets(self.vpc, self.service_subnets, "service_subnets")
        sts_access = self.authentication.sts_access
        if (
            sts_access is not None
            and sts_access.kind is StsAccessKind.EGRESS
            and check.all_isolated(self.vpc, selected)
        ):
            raise ValueError(
                "MlflowAuthentication.iam(sts_access=StsAccess.egress()): the service subnets are isolated, so the "
                "server cannot reach STS to verify IAM tokens; pass sts_access=StsAccess.new_interface_endpoint() "
                "(or StsAccess.existing_endpoint(...)), or service_subnets with a route out"
            )
        if self.access.load_balanced:
            check.selected_subnets(self.vpc, self._load_balancer_subnets(), "access.subnets", min_azs=2)
        if self.database.new_cluster is not None:
            subnets = self.database.new_cluster.subnets or check.default_isolated_selection(self.vpc)
            check.selected_subnets(self.vpc, subnets, "database subnets", min_azs=2)
        if (
            self.authentication.enabled
            and self.database.engine is DatabaseEngine.MYSQL
            and (self.database.auth_database is None)
        ):
            raise ValueError(
                "the tracking database is MySQL and the server authenticates, but MLflow's auth store fails on "
                "MySQL: pass TrackingDatabase.existing(..., auth_database=<a PostgreSQL server>) or "
                "authentication=MlflowAuthentication.disabled(authenticated_by=...)"
            )
        if not self.authentication.enabled and self.database.auth_database is not None:
            raise ValueError("auth_database was given but the server does not authenticate: drop auth_database")
        for host in self._allowed_hosts:
            check.check_host(host, "extra_allowed_hosts", port=True, wildcard=True)
        for origin in self.cors_allowed_origins:
            check.check_origin(origin, "cors_allowed_origins")
        region = cdk.Stack.of(self).region
        if self.access.load_balanced and self.access_logs.enabled and check.is_token(region):
            raise ValueError(
                "SecureMlflowService is in an environment-agnostic stack, but load balancer access logging needs "
                "the region (the log delivery principal differs by region): give the stack an env with a region "
                "(env=cdk.Environment(account=..., region=...)), or pass access_logs=AccessLogs.disabled()"
            )

    def _validate_access(self, scale_on_requests_per_target: int | None) -> None:
        """Props that only apply behind a load balancer, and the Cloud Map namespace's VPC."""
        if self.access.load_balanced:
            return
        if scale_on_requests_per_target is not None:
            raise ValueError(
                "scale_on_requests_per_target needs a load balancer (it counts the target group's requests), but "
                "access is ServerAccess.cloud_map(): drop scale_on_requests_per_target (the service scales on CPU), "
                "or use ServerAccess.load_balancer()"
            )
        discovery = self.access.discovery
        assert discovery is not None
        namespace = discovery.namespace
        if namespace is not None and namespace.type != servicediscovery.NamespaceType.DNS_PRIVATE:
            raise ValueError(
                "ServerAccess.cloud_map(namespace=...) must be a private DNS namespace (PrivateDnsNamespace or "
                "PrivateDnsNamespace.from_private_dns_namespace_attributes): clients in the VPC resolve the name"
            )

    def _default_architecture(self) -> ecs.CpuArchitecture:
        """The image's declared architecture, else Graviton; a prebuilt image without one cannot be guessed."""
        if self.image.architecture is not None:
            return self.image.architecture
        if self.image.kind == "container-image":
            raise ValueError(
                "image=ServerImage.from_container_image(...) does not say which architecture the image is built for, "
                "and the default cpu_architecture is ARM64: pass architecture=ecs.CpuArchitecture.X86_64 (or ARM64) "
                "to from_container_image, or cpu_architecture to SecureMlflowService"
            )
        return ecs.CpuArchitecture.ARM64

    def _load_balancer_subnets(self) -> ec2.SubnetSelection:
        return self.access.subnets or self.service_subnets

    # ------------------------------------------------------------------ hooks

    def _access_logs_destination(self) -> s3.IBucket | None:
        if not self.access_logs.enabled:
            return None
        return self.access_logs.bucket or self._create_access_logs_bucket()

    def _create_access_logs_bucket(self) -> s3.IBucket:
        """The bucket for load balancer and artifact bucket access logs (SSE-S3: ALB logs require it)."""
        bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=self.access_logs.expiration)],
            removal_policy=self.access_logs.removal_policy,
        )
        acknowledge(
            bucket,
            "AwsSolutions-S1",
            "This bucket is the access-log destination itself; logging it into another bucket would only move "
            "the question one bucket further.",
        )
        checkov.skip(bucket, "CKV_AWS_18", "This bucket is the access-log destination itself; logging it would loop.")
        checkov.skip(
            bucket,
            "CKV_AWS_21",
            "Log delivery writes each object once and the lifecycle rule expires it; versions would only keep "
            "expired logs.",
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
            vpc_subnets=self._load_balancer_subnets(),
            security_group=security_group,
            drop_invalid_header_fields=True,
            idle_timeout=self.access.idle_timeout,
        )
        if self.access_logs_bucket is not None:
            load_balancer.log_access_logs(self.access_logs_bucket, "load-balancer")
        else:
            acknowledge(
                load_balancer,
                "AwsSolutions-ELB2",
                "Access logging was turned off with access_logs=AccessLogs.disabled() by the user of "
                "SecureMlflowService.",
            )
        return load_balancer

    def _create_listener(self, load_balancer: elbv2.IApplicationLoadBalancer) -> elbv2.IApplicationListener:
        """Create the listener from ``access.listener``; it admits nobody by itself."""
        options = self.access.listener
        assert options is not None, "only ServerAccess.load_balancer() has a listener"
        if not options.is_https:
            http = load_balancer.add_listener(
                "Http", protocol=elbv2.ApplicationProtocol.HTTP, port=options.port, open=False
            )
            for check_id in ("CKV_AWS_2", "CKV_AWS_103"):
                checkov.skip(
                    http,
                    check_id,
                    "Listener.http() was chosen: plain HTTP on an internal load balancer inside the VPC; the "
                    "Listener.https* factories give TLS (docs/security.md, finding 13).",
                )
            return http
        assert options.domain_name is not None
        listener = load_balancer.add_listener(
            "Https",
            protocol=elbv2.ApplicationProtocol.HTTPS,
            port=options.port,
            certificates=[elbv2.ListenerCertificate.from_certificate_manager(self._listener_certificate())],
            ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
            open=False,
        )
        if options.hosted_zone is not None:
            route53.ARecord(
                self,
                "Alias",
                zone=options.hosted_zone,
                record_name=options.domain_name,
                target=route53.RecordTarget.from_alias(route53_targets.LoadBalancerTarget(load_balancer)),
            )
        self.add_allowed_host(options.domain_name)
        return listener

    def _listener_certificate(self) -> acm.ICertificate:
        options = self.access.listener
        assert options is not None
        assert options.domain_name is not None
        if options.certificate_source is CertificateSource.DNS_VALIDATED:
            assert options.hosted_zone is not None
            return acm.Certificate(
                self,
                "Certificate",
                domain_name=options.domain_name,
                validation=acm.CertificateValidation.from_dns(options.hosted_zone),
            )
        if options.certificate_source is CertificateSource.PRIVATE_CA:
            assert options.certificate_authority is not None
            return acm.PrivateCertificate(
                self,
                "Certificate",
                domain_name=options.domain_name,
                certificate_authority=options.certificate_authority,
            )
        assert options.certificate is not None
        return options.certificate

    def _create_cluster(self) -> ecs.ICluster:
        """Create the ECS cluster (Container Insights on)."""
        return ecs.Cluster(self, "Cluster", vpc=self.vpc, container_insights_v2=ecs.ContainerInsights.ENABLED)

    def _use_capacity_providers(self) -> None:
        """Associate FARGATE and FARGATE_SPOT with the cluster when the tasks run on Spot.

        Done for a cluster of this app (``ecs.Cluster``); an imported cluster must have them associated already
        (``aws ecs put-cluster-capacity-providers``), which synthesis cannot check.
        """
        if self.capacity.on_spot and isinstance(self.cluster, ecs.Cluster):
            self.cluster.enable_fargate_capacity_providers()

    def _create_cloud_map_namespace(self, discovery: CloudMapDiscovery) -> servicediscovery.INamespace:
        """Create the private DNS namespace (a Route 53 private hosted zone associated with the VPC)."""
        return servicediscovery.PrivateDnsNamespace(
            self,
            "Namespace",
            vpc=self.vpc,
            name=discovery.namespace_name,
            description="MLflow tracking server: clients in the VPC resolve the server's tasks here",
        )

    def _register_in_cloud_map(
        self, discovery: CloudMapDiscovery, namespace: servicediscovery.INamespace
    ) -> servicediscovery.IService:
        """The Cloud Map service the tasks register into, and the ECS service's registration.

        A records (MULTIVALUE: every healthy task's address) for clients in the VPC. ECS reports each task's
        container health check as the instance's custom health status, so an unhealthy task leaves the answers
        (and API Gateway's targets) at once. The registration names the container port, which ECS records as
        ``AWS_INSTANCE_PORT``: API Gateway's Cloud Map integration connects to ``AWS_INSTANCE_IPV4`` on it.
        """
        cloud_map_service = servicediscovery.Service(
            self,
            "CloudMapService",
            namespace=namespace,
            name=discovery.service_name,
            description="MLflow tracking server tasks (registered by ECS, health from the container health check)",
            dns_record_type=servicediscovery.DnsRecordType.A,
            dns_ttl=discovery.dns_ttl,
            routing_policy=servicediscovery.RoutingPolicy.MULTIVALUE,
            custom_health_check=servicediscovery.HealthCheckCustomConfig(failure_threshold=1),
        )
        self.service.associate_cloud_map_service(
            service=cloud_map_service, container=self.container, container_port=contract.DEFAULT_PORT
        )
        # CDK names the container only for SRV records; the port must be registered for API Gateway.
        cfn_service = self.service.node.default_child
        assert isinstance(cfn_service, ecs.CfnService)
        cfn_service.add_property_override(
            "ServiceRegistries",
            [
                {
                    "RegistryArn": cloud_map_service.service_arn,
                    "ContainerName": self.container.container_name,
                    "ContainerPort": contract.DEFAULT_PORT,
                }
            ],
        )
        return cloud_map_service

    def _create_database(self, settings: AuroraServerlessSettings) -> rds.DatabaseCluster:
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
            engine=settings.engine,
            writer=rds.ClusterInstance.serverless_v2(
                "Writer", auto_minor_version_upgrade=True, publicly_accessible=False
            ),
            serverless_v2_min_capacity=settings.min_capacity,
            serverless_v2_max_capacity=settings.max_capacity,
            serverless_v2_auto_pause_duration=settings.auto_pause if settings.min_capacity == 0 else None,
            vpc=self.vpc,
            vpc_subnets=settings.subnets or check.default_isolated_selection(self.vpc),
            security_groups=[security_group],
            credentials=rds.Credentials.from_generated_secret("mlflow", exclude_characters=_URL_UNSAFE_CHARACTERS),
            default_database_name=contract.DEFAULT_DB_NAME,
            parameters=dict(POSTGRES_LOGGING_PARAMETERS),
            storage_encrypted=True,
            iam_authentication=True,
            deletion_protection=settings.deletion_protection,
            backup=rds.BackupProps(retention=settings.backup_retention),
            removal_policy=settings.removal_policy,
            cloudwatch_logs_exports=["postgresql"],
            cloudwatch_logs_retention=self.log_retention,
            copy_tags_to_snapshot=True,
        )
        tidy_log_retention_function(self)
        # database.secret is the attachment; the removal policy belongs on the secret itself.
        generated_secret = database.node.find_child("Secret")
        assert isinstance(generated_secret, secretsmanager.Secret)
        generated_secret.apply_removal_policy(self.secrets_removal_policy)
        checkov.skip(generated_secret, "CKV_AWS_149", checkov.SECRET_KMS_REASON)
        checkov.skip(
            database.node.find_child("Writer"),
            "CKV_AWS_118",
            "Enhanced Monitoring streams OS metrics every few seconds to CloudWatch Logs at extra cost; the "
            "standard Aurora metrics (ACU, connections) are what the construct's metrics and alarms use.",
        )
        acknowledge(
            database,
            "AwsSolutions-RDS11",
            "A non-default port adds no protection here: the cluster sits in private subnets and its security "
            "group admits only the MLflow service.",
        )
        if settings.secret_rotation is not None:
            database.add_rotation_single_user(automatically_after=settings.secret_rotation)
        else:
            acknowledge(
                generated_secret,
                "AwsSolutions-SMG4",
                "Rotation is opt-in (TrackingDatabase.aurora_serverless(secret_rotation=...)): tasks read the "
                "credentials at start, so a single-user rotation needs a service redeployment to take effect.",
            )
        return database

    def _tracking_database_secret(self) -> secretsmanager.ISecret:
        if self.database_cluster is not None:
            assert self.database_cluster.secret is not None
            return self.database_cluster.secret
        assert self.database.existing_database is not None
        return self.database.existing_database.secret

    def _create_bucket(self) -> s3.IBucket:
        """Create the artifact bucket: private, TLS-only, versioned, retained."""
        settings = self.artifact_store.new_bucket_settings
        assert settings is not None
        bucket = s3.Bucket(
            self,
            "Artifacts",
            encryption=s3.BucketEncryption.KMS if settings.encryption_key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=settings.encryption_key,
            bucket_key_enabled=settings.encryption_key is not None,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    noncurrent_version_expiration=settings.noncurrent_version_expiration,
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                )
            ],
            removal_policy=settings.removal_policy,
        )
        if self.access_logs_bucket is not None:
            self._log_bucket_access(bucket, self.access_logs_bucket, "artifacts/")
        else:
            acknowledge(
                bucket,
                "AwsSolutions-S1",
                "Access logging was turned off with access_logs=AccessLogs.disabled() by the user of "
                "SecureMlflowService.",
            )
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

    def _create_service(self) -> ecs.FargateService:
        """Create the Fargate service in its own security group."""
        security_group = ec2.SecurityGroup(
            self,
            "ServiceSecurityGroup",
            vpc=self.vpc,
            description=(
                "MLflow service: reachable from its load balancer only"
                if self.access.load_balanced
                else "MLflow service: reachable from the clients admitted with allow_from() only"
            ),
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
            enable_execute_command=self.enable_execute_command,
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
            capacity_provider_strategies=self.capacity.strategies(),
        )

    # ------------------------------------------------------------------ internals

    def _generated_secret(
        self, construct_id: str, description: str, what: str, **kwargs: object
    ) -> secretsmanager.Secret:
        secret = secretsmanager.Secret(
            self,
            construct_id,
            description=description,
            generate_secret_string=secretsmanager.SecretStringGenerator(exclude_punctuation=True, **kwargs),  # type: ignore[arg-type]
            removal_policy=self.secrets_removal_policy,
        )
        checkov.skip(secret, "CKV_AWS_149", checkov.SECRET_KMS_REASON)
        acknowledge(
            secret,
            "AwsSolutions-SMG4",
            f"The MLflow {what} has no rotation Lambda: MLflow keeps it in its own database or derives keys from "
            "it, so a rotated secret would no longer match. Change it as the operations page describes.",
        )
        return secret

    def _create_auth_secrets(self) -> tuple[secretsmanager.ISecret | None, secretsmanager.ISecret | None]:
        if not self.authentication.enabled:
            return None, None
        admin = self._generated_secret(
            "AdminSecret",
            "MLflow admin user (username, password)",
            "admin password",
            secret_string_template=cdk.Stack.of(self).to_json_string({"username": self.authentication.admin_username}),
            generate_string_key="password",
            password_length=32,
        )
        flask = self._generated_secret(
            "FlaskSecretKey",
            "MLflow server Flask secret key, shared by every task",
            "Flask secret key",
            password_length=64,
        )
        return admin, flask

    def _create_ai_gateway_secret(self) -> secretsmanager.ISecret | None:
        if not self.enable_ai_gateway:
            return None
        return self._generated_secret(
            "AiGatewayPassphrase",
            "MLflow AI Gateway passphrase: derives the key that encrypts stored provider API keys",
            "AI Gateway passphrase",
            password_length=64,
        )

    def _database_environment(self) -> dict[str, str]:
        existing = self.database.existing_database
        if existing is not None:
            env = {
                contract.DB_ENGINE: existing.engine.value,
                contract.DB_HOST: existing.endpoint,
                contract.DB_PORT: existing.port_string,
                contract.DB_NAME: existing.database_name,
            }
        else:
            assert self.database_cluster is not None
            env = {
                contract.DB_ENGINE: DatabaseEngine.POSTGRESQL.value,
                contract.DB_HOST: self.database_cluster.cluster_endpoint.hostname,
                contract.DB_PORT: cdk.Token.as_string(self.database_cluster.cluster_endpoint.port),
                contract.DB_NAME: contract.DEFAULT_DB_NAME,
            }
        auth_database = self.database.auth_database
        if self.authentication.enabled:
            env[contract.AUTH_DB_NAME] = contract.DEFAULT_AUTH_DB_NAME
            if auth_database is not None:
                env[contract.AUTH_DB_HOST] = auth_database.endpoint
                env[contract.AUTH_DB_PORT] = auth_database.port_string
                env[contract.AUTH_DB_NAME] = auth_database.database_name
        return env

    def _secrets(self) -> dict[str, ecs.Secret]:
        secrets = {
            contract.DB_USERNAME: ecs.Secret.from_secrets_manager(self.database_secret, "username"),
            contract.DB_PASSWORD: ecs.Secret.from_secrets_manager(self.database_secret, "password"),
        }
        if self.admin_secret is not None and self.flask_secret is not None:
            secrets[contract.AUTH_ADMIN_PASSWORD] = ecs.Secret.from_secrets_manager(self.admin_secret, "password")
            secrets[contract.FLASK_SECRET_KEY] = ecs.Secret.from_secrets_manager(self.flask_secret)
        auth_database = self.database.auth_database
        if auth_database is not None and self.authentication.enabled:
            secrets[contract.AUTH_DB_USERNAME] = ecs.Secret.from_secrets_manager(auth_database.secret, "username")
            secrets[contract.AUTH_DB_PASSWORD] = ecs.Secret.from_secrets_manager(auth_database.secret, "password")
        if self.ai_gateway_secret is not None:
            secrets[contract.CRYPTO_KEK_PASSPHRASE] = ecs.Secret.from_secrets_manager(self.ai_gateway_secret)
        return secrets

    def _environment(self) -> dict[str, str]:
        proxied = self.artifact_store.access is ArtifactAccess.PROXIED
        environment = {
            contract.PORT: str(contract.DEFAULT_PORT),
            contract.WORKERS: str(self.workers),
            contract.JOB_EXECUTION: "true" if self.enable_job_execution else "false",
            # Lazy: hosts added with add_allowed_host() after construction still reach the container.
            contract.ALLOWED_HOSTS: cdk.Lazy.string(_AllowedHostsProducer(self)),
            contract.ARTIFACTS_MODE: self.artifact_store.access.value,
            contract.ARTIFACTS_URI: self.artifacts_uri,
            contract.MULTIPART_UPLOAD: "true" if proxied else "false",
            # Longer than whatever is in front of the server keeps idle connections (ServerAccess).
            contract.KEEP_ALIVE_SECONDS: str(self.access.server_keep_alive_seconds),
            **self._database_environment(),
            **self.authentication.container_environment(),
        }
        if self.enable_ai_gateway:
            environment[contract.AI_GATEWAY_ENABLED] = "true"
        if self.authentication.uses_iam_tokens:
            # Lazy: rules added with add_principal_mapping() (Studio adds its users') still reach the container.
            environment[contract.AUTH_IAM_PRINCIPALS] = cdk.Lazy.string(_PrincipalMappingsProducer(self))
            # Lazy, too: a PrivateHttpApi adds the host its clients address after construction.
            environment[contract.AUTH_IAM_AUDIENCES] = cdk.Lazy.string(_IamAudiencesProducer(self))
            environment[contract.AUTH_IAM_STS_ENDPOINT] = self.sts_endpoint_url
        if self.cors_allowed_origins:
            environment[contract.CORS_ALLOWED_ORIGINS] = ",".join(self.cors_allowed_origins)
        return environment

    def _create_task_definition(self) -> ecs.FargateTaskDefinition:
        task_definition = ecs.FargateTaskDefinition(
            self,
            "TaskDefinition",
            cpu=self.cpu,
            memory_limit_mib=self.memory_limit_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=self.cpu_architecture, operating_system_family=ecs.OperatingSystemFamily.LINUX
            ),
        )
        # Fargate task storage (no host path): the only writable place in the container.
        task_definition.add_volume(name="scratch")
        if self.enable_execute_command:
            for name in _EXECUTE_COMMAND_PATHS:
                task_definition.add_volume(name=name)
        acknowledge(
            task_definition.obtain_execution_role(),
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken has no resource-level permissions; image pulls and log writes are scoped "
            "to the repository and log group.",
        )
        return task_definition

    def _add_container(self) -> ecs.ContainerDefinition:
        linux = ecs.LinuxParameters(self, "LinuxParameters", init_process_enabled=True)
        linux.drop_capabilities(ecs.Capability.ALL)
        container = self.task_definition.add_container(
            "Mlflow",
            image=self.image.bind(self, self.cpu_architecture),
            entry_point=list(contract.CONTAINER_COMMAND),
            environment=self._environment(),
            secrets=self._secrets(),
            port_mappings=[ecs.PortMapping(container_port=contract.DEFAULT_PORT, name="mlflow")],
            logging=ecs.LogDriver.aws_logs(stream_prefix="mlflow", log_group=self.log_group),
            readonly_root_filesystem=True,
            linux_parameters=linux,
            health_check=ecs.HealthCheck(
                command=list(contract.HEALTH_CHECK_COMMAND),
                interval=cdk.Duration.seconds(30),
                timeout=cdk.Duration.seconds(5),
                retries=3,
                start_period=cdk.Duration.seconds(120),
            ),
            stop_timeout=cdk.Duration.seconds(30),
        )
        container.add_mount_points(
            ecs.MountPoint(source_volume="scratch", container_path=SCRATCH_PATH, read_only=False)
        )
        if self.enable_execute_command:
            for name, path in _EXECUTE_COMMAND_PATHS.items():
                container.add_mount_points(ecs.MountPoint(source_volume=name, container_path=path, read_only=False))
        acknowledge(
            self.task_definition,
            "AwsSolutions-ECS2",
            "Only non-secret settings (hosts, ports, names, modes) are environment variables; the database "
            "credentials, admin password and Flask secret key come from Secrets Manager as container secrets.",
        )
        return container

    def _reach_sts(self) -> ec2.IInterfaceVpcEndpoint | None:
        """Open the route to STS that IAM token verification needs (nothing for other modes or egress)."""
        sts_access = self.authentication.sts_access
        if not self.authentication.uses_iam_tokens or sts_access is None or sts_access.kind is StsAccessKind.EGRESS:
            return None
        endpoint = sts_access.endpoint
        if endpoint is None:
            endpoint = ec2.InterfaceVpcEndpoint(
                self,
                "StsEndpoint",
                vpc=self.vpc,
                service=ec2.InterfaceVpcEndpointAwsService.STS,
                subnets=self.service_subnets,
                private_dns_enabled=True,
                open=False,
            )
        endpoint.connections.allow_default_port_from(self.service, "MLflow server verifies IAM tokens with STS")
        return endpoint

    def _connect_database(self) -> None:
        description = "MLflow service to its database"
        if self.database_cluster is not None:
            self.database_cluster.connections.allow_default_port_from(self.service, description)
            return
        if self.database.cluster is not None:
            self.database.cluster.connections.allow_default_port_from(self.service, description)
        databases: list[ExistingDatabase | None] = [self.database.existing_database, self.database.auth_database]
        for database in databases:
            if database is not None and database.security_group is not None:
                database.security_group.connections.allow_from(
                    self.service, ec2.Port.tcp(database.resolved_port), description
                )

    def _grant_artifact_store(self) -> None:
        # Proxied: the server reads and writes for every client. Direct: clients write themselves; the server
        # still lists, reads (UI previews) and deletes (run and experiment deletion) under the prefix.
        grant_prefix(
            self.bucket,
            self.artifact_store.prefixes,
            self.task_definition.task_role,
            write=self.artifact_store.access is ArtifactAccess.PROXIED,
            delete=True,
        )

    def _attach_to_listener(self) -> elbv2.ApplicationTargetGroup:
        assert self.listener is not None
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
        if self.target_group is not None and self.scale_on_requests_per_target is not None:
            scaling.scale_on_request_count(
                "Requests", requests_per_target=self.scale_on_requests_per_target, target_group=self.target_group
            )
        return scaling

    # ------------------------------------------------------------------ IMlflowTrackingServer

    @property
    def load_balancer(self) -> elbv2.IApplicationLoadBalancer:
        """The internal load balancer (whatever ``_create_load_balancer`` returned).

        Raises with ``ServerAccess.cloud_map()``, which has none: use :attr:`access` to tell the two apart.
        """
        if self._load_balancer is None:
            raise ValueError(
                "this server has no load balancer (access=ServerAccess.cloud_map()): clients reach the tasks through "
                "cloud_map_service; use ServerAccess.load_balancer() for one"
            )
        return self._load_balancer

    @property
    def connections(self) -> ec2.Connections:
        """The load balancer's security groups with the listener's port as default port; with
        ``ServerAccess.cloud_map()`` the service's security groups with the container port."""
        return self._connections

    @property
    def port(self) -> int:
        """The listener's port (whatever ``_create_listener`` chose); the container port without a load balancer."""
        listener = self.listener
        if listener is None:
            return contract.DEFAULT_PORT
        if isinstance(listener, elbv2.ApplicationListener):
            return int(listener.port)
        default = listener.connections.default_port
        if default is None:
            raise ValueError("the listener has no default port: import it with default_port=<its port>")
        return int(default.to_rule_json()["fromPort"])

    @property
    def protocol(self) -> elbv2.ApplicationProtocol:
        """The listener's protocol; HTTP without a load balancer."""
        listener = self.listener
        if isinstance(listener, elbv2.ApplicationListener):
            return listener.protocol
        options = self.access.listener
        return (
            elbv2.ApplicationProtocol.HTTPS
            if options is not None and options.is_https
            else elbv2.ApplicationProtocol.HTTP
        )

    @property
    def host(self) -> str:
        """The host name in :attr:`url`: the listener's domain name, else the load balancer's DNS name; the Cloud
        Map name (``tracking.mlflow.internal``) without a load balancer."""
        if self.access.discovery is not None:
            return self.access.discovery.dns_name
        assert self.access.listener is not None
        return self.access.listener.domain_name or self.load_balancer.load_balancer_dns_name

    @property
    def url(self) -> str:
        """The in-VPC URL, e.g. ``http://internal-mlflow-123.us-east-1.elb.amazonaws.com``."""
        https = self.protocol == elbv2.ApplicationProtocol.HTTPS
        default = 443 if https else 80
        scheme = "https" if https else "http"
        return f"{scheme}://{self.host}" if self.port == default else f"{scheme}://{self.host}:{self.port}"

    @property
    def internal_url(self) -> str:
        """Alias of :attr:`url`."""
        return self.url

    @property
    def artifact_access(self) -> ArtifactAccess:
        return self.artifact_store.access

    @property
    def artifact_prefix(self) -> str:
        return self.artifact_store.prefix

    @property
    def artifacts_uri(self) -> str:
        """``s3://bucket/prefix`` of the artifact store."""
        return self.bucket.s3_url_for_object(self.artifact_prefix)

    @property
    def allowed_hosts(self) -> list[str]:
        """Host header values the server accepts: the load balancer's (or Cloud Map) DNS name plus added hosts,
        and on a non-default port also ``host:port`` (what clients send for :attr:`url`)."""
        own = self._load_balancer.load_balancer_dns_name if self._load_balancer is not None else self.host
        hosts = [own, *self._allowed_hosts]
        https = self.protocol == elbv2.ApplicationProtocol.HTTPS
        if self.port != (443 if https else 80):
            hosts += [f"{host}:{self.port}" for host in (own, self.host)]
        return list(dict.fromkeys(hosts))

    @property
    def added_iam_audiences(self) -> list[str]:
        """The audiences added with :meth:`add_iam_audience`."""
        return list(self._iam_audiences)

    @property
    def iam_audiences(self) -> list[str]:
        """The hosts IAM tokens may be made for (the host a client addresses): the allowed hosts without
        wildcards, and those added with :meth:`add_iam_audience` (a ``PrivateHttpApi`` adds its own)."""
        return list(dict.fromkeys([h for h in self.allowed_hosts if "*" not in h] + self._iam_audiences))

    @property
    def sts_endpoint_url(self) -> str:
        """The STS endpoint the server verifies IAM tokens at (clients sign for the same)."""
        sts_access = self.authentication.sts_access
        if sts_access is not None and sts_access.endpoint_url is not None:
            return sts_access.endpoint_url
        stack = cdk.Stack.of(self)
        return f"https://sts.{stack.region}.{stack.url_suffix}"

    @property
    def principal_mappings(self) -> list[PrincipalMapping]:
        """The IAM principal mapping rules, in the order the server tries them."""
        return list(self._principal_mappings)

    def add_principal_mapping(self, mapping: PrincipalMapping) -> None:
        """Map more IAM principals to MLflow users; tried after the rules given before.

        Only with ``authentication=MlflowAuthentication.iam(...)``.
        """
        if not self.authentication.uses_iam_tokens:
            raise ValueError(
                "add_principal_mapping: the server does not authenticate IAM principals; pass "
                "authentication=MlflowAuthentication.iam(...)"
            )
        self._principal_mappings.append(mapping)

    def add_allowed_host(self, host: str) -> None:
        """Accept another Host header value (``host``, ``host:port`` or ``*.domain``)."""
        check.check_host(host, "add_allowed_host", port=True, wildcard=True)
        if host not in self._allowed_hosts:
            self._allowed_hosts.append(host)

    def add_iam_audience(self, host: str) -> None:
        """Accept IAM tokens made for ``host`` (``host`` or ``host:port``): a name clients address that reaches this
        server through something that rewrites ``Host``, such as a ``PrivateHttpApi`` (which adds its own)."""
        check.check_host(host, "add_iam_audience", port=True)
        if not self.authentication.uses_iam_tokens:
            raise ValueError(
                "add_iam_audience: this server does not authenticate IAM principals; use "
                "authentication=MlflowAuthentication.iam()"
            )
        if host not in self._iam_audiences:
            self._iam_audiences.append(host)

    def allow_from(self, peer: ec2.IConnectable, description: str = "MLflow client") -> None:
        """Admit ``peer`` (a security group, a connectable such as a Lambda, or a CIDR peer) to the listener."""
        self.connections.allow_default_port_from(peer, description)

    def grant_artifact_access(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` read, write and delete artifacts under the prefix and the legacy prefixes (for
        ``ArtifactAccess.DIRECT``, and for runs of experiments an earlier server created)."""
        return grant_prefix(self.bucket, self.artifact_store.prefixes, grantee, write=True)

    def grant_artifact_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` read artifacts under the prefix and the legacy prefixes."""
        return grant_prefix(self.bucket, self.artifact_store.prefixes, grantee, write=False)

    def grant_read_admin_secret(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` read the admin credentials (for automation that manages MLflow users)."""
        if self.admin_secret is None:
            raise ValueError("grant_read_admin_secret: the server does not authenticate, there is no admin secret")
        return self.admin_secret.grant_read(grantee)

    # ------------------------------------------------------------------ metrics

    def metric_cpu_utilization(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """Average CPU utilisation of the service's tasks (percent, average per 5 minutes)."""
        return self.service.metric_cpu_utilization(**overrides)

    def metric_memory_utilization(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """Average memory utilisation of the service's tasks (percent, average per 5 minutes)."""
        return self.service.metric_memory_utilization(**overrides)

    def metric_running_tasks(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """Tasks in the RUNNING state (Container Insights ``RunningTaskCount``, average per 5 minutes).

        Container Insights is on in the cluster the construct creates; a cluster of your own needs it on.
        """
        dimensions = {"ClusterName": self.cluster.cluster_name, "ServiceName": self.service.service_name}
        return metric("ECS/ContainerInsights", "RunningTaskCount", dimensions, statistic="Average", overrides=overrides)

    def metric_request_count(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """Requests the load balancer sent to the server (sum per 5 minutes)."""
        return self._target_group_for_metrics().metrics.request_count(**overrides)

    def metric_load_balancer_5xx(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """5xx answers the load balancer made itself, e.g. 502/503/504 without a healthy task (sum per 5 minutes)."""
        return self._load_balancer_for_metrics().metrics.http_code_elb(
            elbv2.HttpCodeElb.ELB_5XX_COUNT, **with_defaults(overrides, statistic="Sum")
        )

    def metric_target_5xx(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """5xx answers of the server's tasks, as the load balancer saw them (sum per 5 minutes)."""
        return self._target_group_for_metrics().metrics.http_code_target(
            elbv2.HttpCodeTarget.TARGET_5XX_COUNT, **with_defaults(overrides, statistic="Sum")
        )

    def metric_target_response_time(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """Seconds from the load balancer sending a request to the task answering it (average per 5 minutes)."""
        return self._target_group_for_metrics().metrics.target_response_time(**overrides)

    def metric_unhealthy_hosts(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """Tasks failing the load balancer's health check (average per 5 minutes)."""
        return self._target_group_for_metrics().metrics.unhealthy_host_count(**overrides)

    def metric_healthy_hosts(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """Tasks passing the load balancer's health check (average per 5 minutes)."""
        return self._target_group_for_metrics().metrics.healthy_host_count(**overrides)

    def _target_group_for_metrics(self) -> elbv2.ApplicationTargetGroup:
        self._load_balancer_for_metrics()
        assert self.target_group is not None
        return self.target_group

    def _load_balancer_for_metrics(self) -> elbv2.IApplicationLoadBalancer:
        if self._load_balancer is None:
            raise ValueError(
                "load balancer metrics: this server has no load balancer (ServerAccess.cloud_map()); use the "
                "PrivateHttpApi's metric_* methods, or the task metrics (metric_cpu_utilization, metric_running_tasks)"
            )
        return self._load_balancer

    def _measured_database(self, what: str) -> rds.IDatabaseCluster:
        cluster = self.database_cluster or self.database.cluster
        if cluster is None:
            raise ValueError(
                f"{what}: the service uses TrackingDatabase.existing(...), which names no cluster to measure: use "
                "TrackingDatabase.from_cluster(cluster, ...) or your database's own metrics"
            )
        return cluster

    def metric_database_capacity(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """Aurora Serverless v2 capacity in ACUs (average per 5 minutes): 0 or no data while the cluster is
        paused, so resumes show as steps up from 0."""
        cluster = self._measured_database("metric_database_capacity")
        return cluster.metric("ServerlessDatabaseCapacity", **with_defaults(overrides, statistic="Average"))

    def metric_database_acu_utilization(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """Capacity as a percentage of the cluster's maximum ACUs (average per 5 minutes); near 100, the
        cluster cannot scale further."""
        cluster = self._measured_database("metric_database_acu_utilization")
        return cluster.metric("ACUUtilization", **with_defaults(overrides, statistic="Average"))

    def metric_database_connections(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """Open database connections (average per 5 minutes); the cluster pauses only at 0."""
        cluster = self._measured_database("metric_database_connections")
        return cluster.metric_database_connections(**overrides)

    def metric_database_cpu_utilization(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """CPU utilisation of the database (percent, average per 5 minutes)."""
        cluster = self._measured_database("metric_database_cpu_utilization")
        return cluster.metric_cpu_utilization(**overrides)

    def metric_artifact_bucket_size(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """Bytes in the artifact bucket, standard storage class (S3 reports once a day; average per day)."""
        dimensions = {"BucketName": self.bucket.bucket_name, "StorageType": "StandardStorage"}
        options = with_defaults(overrides, period=cdk.Duration.days(1))
        return metric("AWS/S3", "BucketSizeBytes", dimensions, statistic="Average", overrides=options)

    def metric_artifact_objects(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """Objects in the artifact bucket, every storage class (S3 reports once a day; average per day)."""
        dimensions = {"BucketName": self.bucket.bucket_name, "StorageType": "AllStorageTypes"}
        options = with_defaults(overrides, period=cdk.Duration.days(1))
        return metric("AWS/S3", "NumberOfObjects", dimensions, statistic="Average", overrides=options)

    def _log_metric(self, metric_name: str, overrides: MetricOverrides) -> cloudwatch.Metric:
        return metric(self.log_metrics_namespace, metric_name, {}, statistic="Sum", overrides=overrides)

    def metric_auth_failures(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """Requests the server refused with 401 or 403, from its log (sum per 5 minutes; no data without any)."""
        return self._log_metric(server_logs.AUTH_FAILURES_METRIC, overrides)

    def metric_server_errors(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """Requests the server answered with a 5xx, from its log (sum per 5 minutes; no data without any)."""
        return self._log_metric(server_logs.SERVER_ERRORS_METRIC, overrides)

    def metric_entrypoint_failures(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """Tasks whose entrypoint stopped with an error before the server started (sum per 5 minutes)."""
        return self._log_metric(server_logs.ENTRYPOINT_FAILURES_METRIC, overrides)

    @property
    def log_metrics_namespace(self) -> str:
        """The CloudWatch namespace of the metrics from the log group's metric filters, unique per deployment."""
        return server_logs.log_metrics_namespace(self)

    def _create_log_metric_filters(self) -> dict[str, logs.MetricFilter]:
        """Metric filters on the server's log group: 401/403s, 5xx and entrypoint failures (no default value,
        so nothing is published, and nothing billed, while nothing matches)."""
        patterns = {
            server_logs.AUTH_FAILURES_METRIC: server_logs.AUTH_FAILURES_PATTERN,
            server_logs.SERVER_ERRORS_METRIC: server_logs.SERVER_ERRORS_PATTERN,
            server_logs.ENTRYPOINT_FAILURES_METRIC: server_logs.ENTRYPOINT_FAILURES_PATTERN,
        }
        return {
            name: logs.MetricFilter(
                self,
                f"{name}Filter",
                log_group=self.log_group,
                filter_pattern=logs.FilterPattern.literal(pattern),
                metric_namespace=self.log_metrics_namespace,
                metric_name=name,
                metric_value="1",
                unit=cloudwatch.Unit.COUNT,
            )
            for name, pattern in patterns.items()
        }
