"""``MlflowModelEndpoint``: an MLflow model served by a SageMaker real-time or serverless endpoint."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from mlflow_sagemaker_constructs._internal import validation as check
from mlflow_sagemaker_constructs._internal.nag import acknowledge, acknowledge_wildcard_resource
from mlflow_sagemaker_constructs.serving.image import SERVING_IMAGE_DIRECTORY

#: The one production variant of the endpoint (SageMaker's conventional name).
VARIANT_NAME = "AllTraffic"

#: Memory sizes a serverless variant may have (MB).
SERVERLESS_MEMORY_SIZES_MB = (1024, 2048, 3072, 4096, 5120, 6144)
SERVERLESS_MAX_CONCURRENCY_LIMIT = 200
DEFAULT_SERVERLESS_MAX_CONCURRENCY = 5
DEFAULT_INITIAL_INSTANCE_COUNT = 1
DEFAULT_DATA_CAPTURE_SAMPLING_PERCENTAGE = 100

# SageMaker's own limits on a model's VPC configuration and container environment.
_MAX_SUBNETS = 16
_MAX_SECURITY_GROUPS = 5
_MAX_ENVIRONMENT_ENTRIES = 100
_MAX_ENVIRONMENT_LENGTH = 1024

_S3_OBJECT_URL = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>\S+\.tar\.gz)$")
_S3_PREFIX_URL = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>\S*))?$")
_INSTANCE_TYPE = re.compile(
    r"^ml\.(?P<family>[a-z][a-z0-9]*(?:-[a-z0-9]+)?)\.(?P<size>medium|large|xlarge|[1-9][0-9]*xlarge)$"
)
_GRAVITON_FAMILY = re.compile(r"^[cmrt][0-9]+g[a-z]*$")
_ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_ENVIRONMENT_KEY = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# Instance families that exist under the ml. prefix but cannot host endpoints.
_NON_HOSTING_FAMILIES: Mapping[str, str] = {
    "t3": "notebook instances and Studio apps",
    "t3a": "notebook instances and Studio apps",
    "c5n": "training and processing jobs",
    "p3dn": "training jobs",
    "eia1": "Elastic Inference accelerators, not instances",
    "eia2": "Elastic Inference accelerators, not instances",
    "geospatial": "geospatial jobs",
}
# Actions SageMaker needs to attach the model containers' network interfaces to the VPC; EC2 grants
# them on no narrower resource than "*" for a service acting on the role's behalf.
_VPC_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
)
_LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")
# The service-linked role Application Auto Scaling uses for SageMaker endpoint variants.
_AUTOSCALING_ROLE = (
    "aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
)


def _is_token(value: object) -> bool:
    return isinstance(value, str | int | float) and cdk.Token.is_unresolved(value)


@dataclass(frozen=True)
class _S3Path:
    """An S3 URL split for IAM: ``bucket/key`` (possibly a token) and whether it could be checked."""

    path: str
    literal: bool


class MlflowModelEndpoint(Construct):
    """A packaged MLflow model behind a SageMaker endpoint: ``CfnModel``, ``CfnEndpointConfig``, ``CfnEndpoint``.

    The model data is the ``model.tar.gz`` that ``mlflow-sagemaker-package`` uploads to S3. By default it
    is served by the bundled pyfunc serving image (``mlflow_sagemaker_constructs/serving/image``, MLflow's
    scoring server pinned to ``MLFLOW_VERSION`` with scikit-learn and its usual dependencies), built as a
    CDK Docker image asset for ``linux/amd64``; models with other dependencies need an image of their own
    (``image_asset`` or ``image_repository``).

    The endpoint has one production variant (``AllTraffic``): either real-time on instances
    (``instance_type``; optional target-tracking autoscaling on ``SageMakerVariantInvocationsPerInstance``)
    or serverless (``serverless_memory_size_mb``). SageMaker names the model, endpoint configuration and
    endpoint unless ``endpoint_name`` is given, so a new model (a new ``model_data_url``) creates a new
    model and endpoint configuration and updates the endpoint in place (blue/green).

    The execution role may read exactly the model object, pull exactly the serving image, write the
    endpoint's CloudWatch logs and instance metrics, and, when configured, attach network interfaces to
    the VPC, use ``kms_key`` and write captured data under ``data_capture_s3_uri``.

    Protected hooks for subclasses:

    - ``_create_image_asset(self) -> ecr_assets.DockerImageAsset``: the default serving image.
    - ``_create_security_group(self, vpc) -> ec2.SecurityGroup``: the group created when ``vpc`` is given
      without ``security_groups`` (egress: HTTPS only).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_data_url: str,
        model_data_kms_key: kms.IKey | None = None,
        image_asset: ecr_assets.DockerImageAsset | None = None,
        image_repository: ecr.IRepository | None = None,
        image_tag: str | None = None,
        environment: Mapping[str, str] | None = None,
        instance_type: str | None = None,
        initial_instance_count: int | None = None,
        min_capacity: int | None = None,
        max_capacity: int | None = None,
        target_invocations_per_instance: float | None = None,
        serverless_memory_size_mb: int | None = None,
        serverless_max_concurrency: int | None = None,
        serverless_provisioned_concurrency: int | None = None,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
        enable_network_isolation: bool = False,
        kms_key: kms.IKey | None = None,
        data_capture_s3_uri: str | None = None,
        data_capture_sampling_percentage: int | None = None,
        endpoint_name: str | None = None,
    ) -> None:
        """Create the model, endpoint configuration, endpoint and execution role.

        :param model_data_url: Required. ``s3://bucket/key.tar.gz`` of the packaged model (the URI that
            ``mlflow-sagemaker-package`` prints), in the stack's region. Tokens are accepted unchecked.
        :param model_data_kms_key: Default: none. The KMS key the model object is encrypted with (SSE-KMS);
            the role gets ``kms:Decrypt`` on it.
        :param image_asset: Default: the bundled pyfunc serving image, built for ``linux/amd64``. A Docker
            image asset of your own that implements SageMaker's hosting contract.
        :param image_repository: Default: none. An ECR repository holding the serving image; requires
            ``image_tag``. Exclusive with ``image_asset``.
        :param image_tag: Default: none. Tag or digest (``sha256:...``) in ``image_repository``.
        :param environment: Default: none. Extra environment variables of the serving container (for the
            bundled image e.g. ``MLFLOW_MODELS_WORKERS``, ``MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT``).
        :param instance_type: Default: none. A SageMaker hosting instance type (``ml.<family>.<size>``)
            for a real-time variant (x86 types with the bundled image). Exactly one of ``instance_type`` and
            ``serverless_memory_size_mb``.
        :param initial_instance_count: Default: 1. Instances of a real-time variant at creation.
        :param min_capacity: Default: ``initial_instance_count``. Autoscaling lower bound (needs
            ``max_capacity``).
        :param max_capacity: Default: none (no autoscaling). Autoscaling upper bound; setting it enables
            target tracking on ``SageMakerVariantInvocationsPerInstance``.
        :param target_invocations_per_instance: Default: none. Invocations per instance per minute that
            autoscaling keeps the variant at; required with ``max_capacity``.
        :param serverless_memory_size_mb: Default: none. Memory of a serverless variant: 1024, 2048, 3072,
            4096, 5120 or 6144.
        :param serverless_max_concurrency: Default: 5. Concurrent invocations of a serverless variant
            (1 to 200).
        :param serverless_provisioned_concurrency: Default: none. Provisioned concurrency of a serverless
            variant (1 to ``serverless_max_concurrency``).
        :param vpc: Default: none (SageMaker's network). The VPC the model containers attach to (real-time
            only). SageMaker then downloads the model data through this VPC: it needs an S3 gateway
            endpoint or a NAT route.
        :param vpc_subnets: Default: the VPC's private subnets with egress, else its isolated subnets.
            At least two subnets; public subnets are refused.
        :param security_groups: Default: one created group allowing HTTPS egress only. Up to 5 groups.
        :param enable_network_isolation: Default: False. No network access at all from the container
            (real-time only); the bundled image needs none.
        :param kms_key: Default: none (AWS managed encryption). Encrypts the variant's storage volume and
            the captured data.
        :param data_capture_s3_uri: Default: none (no capture). ``s3://bucket/prefix`` receiving request
            and response payloads (real-time only).
        :param data_capture_sampling_percentage: Default: 100. Percentage of requests captured (0 to 100).
        :param endpoint_name: Default: a name generated by CloudFormation. A fixed endpoint name; the role's
            log permissions are then scoped to exactly this endpoint's log group.
        """
        super().__init__(scope, construct_id)
        model_object = self._validate_model_data_url(model_data_url)
        self._validate_image(image_asset, image_repository, image_tag)
        serverless = self._validate_variant(
            instance_type=instance_type,
            initial_instance_count=initial_instance_count,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
            target_invocations_per_instance=target_invocations_per_instance,
            serverless_memory_size_mb=serverless_memory_size_mb,
            serverless_max_concurrency=serverless_max_concurrency,
            serverless_provisioned_concurrency=serverless_provisioned_concurrency,
        )
        if serverless:
            for prop, value in (
                ("vpc", vpc),
                ("enable_network_isolation", enable_network_isolation or None),
                ("data_capture_s3_uri", data_capture_s3_uri),
            ):
                if value is not None:
                    raise ValueError(
                        f"{prop} is not supported by SageMaker serverless endpoints: remove {prop}, or use "
                        "instance_type (a real-time variant) instead of serverless_memory_size_mb"
                    )
        if image_asset is None and image_repository is None and instance_type and not _is_token(instance_type):
            family = instance_type.split(".")[1]
            if _GRAVITON_FAMILY.match(family):
                raise ValueError(
                    f"instance_type ({instance_type!r}) is a Graviton (arm64) type and the bundled serving image "
                    "is linux/amd64: choose an x86 type such as 'ml.m5.large', or pass an arm64 image as "
                    "image_asset or image_repository"
                )
        subnets = self._validate_vpc(vpc, vpc_subnets, security_groups)
        capture_path = self._validate_data_capture(data_capture_s3_uri, data_capture_sampling_percentage)
        self._validate_environment(environment)
        self._validate_endpoint_name(endpoint_name)

        self.serverless = serverless
        self.variant_name = VARIANT_NAME
        stack = cdk.Stack.of(self)

        self.role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="SageMaker execution role of one MLflow model endpoint",
        )

        # Serving image.
        self.image_asset: ecr_assets.DockerImageAsset | None
        if image_repository is not None:
            assert image_tag is not None
            self.image_asset = None
            self.image_uri = image_repository.repository_uri_for_tag_or_digest(image_tag)
            image_repository.grant_pull(self.role)
        else:
            self.image_asset = image_asset or self._create_image_asset()
            self.image_uri = self.image_asset.image_uri
            self.image_asset.repository.grant_pull(self.role)

        # Model data.
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadModelData",
                actions=["s3:GetObject"],
                resources=[f"arn:{stack.partition}:s3:::{model_object.path}"],
            )
        )
        if model_data_kms_key is not None:
            model_data_kms_key.grant_decrypt(self.role)

        # Logs and metrics.
        log_group = f"/aws/sagemaker/Endpoints/{endpoint_name or '*'}"
        log_arn = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=log_group,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteEndpointLogs",
                actions=list(_LOG_ACTIONS),
                resources=[log_arn, f"{log_arn}:log-stream:*"],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="PublishEndpointMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "AWS/SageMaker"]}},
            )
        )
        log_reason = (
            "Log streams of the endpoint's own log group. "
            if endpoint_name
            else "SageMaker names the endpoint only when it is created, after this role must already allow "
            "its container to log, so log writes are limited to the account's SageMaker endpoint log groups "
            "in this region (set endpoint_name to limit them to one). "
        )
        wildcard_log_resources = [f"{log_arn}:log-stream:*"] if endpoint_name else [log_arn, f"{log_arn}:log-stream:*"]
        for resource in wildcard_log_resources:
            acknowledge_wildcard_resource(self.role, resource, log_reason.strip())

        # Network.
        self.security_group: ec2.ISecurityGroup | None = None
        self._security_groups: list[ec2.ISecurityGroup] = []
        vpc_config: sagemaker.CfnModel.VpcConfigProperty | None = None
        if vpc is not None and subnets is not None:
            if security_groups:
                self._security_groups = list(security_groups)
            else:
                self.security_group = self._create_security_group(vpc)
                self._security_groups = [self.security_group]
            vpc_config = sagemaker.CfnModel.VpcConfigProperty(
                subnets=subnets.subnet_ids,
                security_group_ids=[sg.security_group_id for sg in self._security_groups],
            )
            self.role.add_to_policy(iam.PolicyStatement(sid="AttachToVpc", actions=list(_VPC_ACTIONS), resources=["*"]))
        self.connections = ec2.Connections(security_groups=self._security_groups)
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "Actions without resource-level permissions: ecr:GetAuthorizationToken (image pulls themselves "
            "are limited to the serving image's repository) and cloudwatch:PutMetricData (limited to "
            "SageMaker's metric namespaces by condition)"
            + (
                "; in a VPC also the EC2 network-interface actions SageMaker performs with this role to "
                "attach the model containers to the selected subnets."
                if vpc_config is not None
                else "."
            ),
        )

        # Encryption.
        self.kms_key = kms_key
        if kms_key is not None:
            kms_key.grant(self.role, "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")
            self.role.add_to_policy(
                iam.PolicyStatement(
                    sid="GrantVolumeKeyToSageMaker",
                    actions=["kms:CreateGrant"],
                    resources=[kms_key.key_arn],
                    conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
                )
            )

        # Data capture.
        data_capture_config: sagemaker.CfnEndpointConfig.DataCaptureConfigProperty | None = None
        if data_capture_s3_uri is not None and capture_path is not None:
            capture_resource = f"arn:{stack.partition}:s3:::{capture_path.path}/*"
            self.role.add_to_policy(
                iam.PolicyStatement(sid="WriteCapturedData", actions=["s3:PutObject"], resources=[capture_resource])
            )
            acknowledge_wildcard_resource(
                self.role,
                capture_resource,
                "SageMaker writes captured requests and responses under data_capture_s3_uri in objects named "
                "by endpoint, variant and time; the role may only put objects below that prefix.",
            )
            data_capture_config = sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
                enable_capture=True,
                destination_s3_uri=data_capture_s3_uri,
                initial_sampling_percentage=(
                    DEFAULT_DATA_CAPTURE_SAMPLING_PERCENTAGE
                    if data_capture_sampling_percentage is None
                    else data_capture_sampling_percentage
                ),
                capture_options=[
                    sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Input"),
                    sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Output"),
                ],
                capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
                    csv_content_types=["text/csv"], json_content_types=["application/json"]
                ),
                kms_key_id=kms_key.key_arn if kms_key is not None else None,
            )

        # Model, endpoint configuration, endpoint.
        self.model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=self.image_uri,
                model_data_url=model_data_url,
                mode="SingleModel",
                environment=dict(environment) if environment else None,
            ),
            vpc_config=vpc_config,
            enable_network_isolation=True if enable_network_isolation else None,
        )
        # CreateEndpoint pulls the image and model data with the role: its policy must exist first.
        default_policy = self.role.node.try_find_child("DefaultPolicy")
        if default_policy is not None:
            self.model.node.add_dependency(default_policy)

        if serverless:
            assert serverless_memory_size_mb is not None
            variant = sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=VARIANT_NAME,
                model_name=self.model.attr_model_name,
                initial_variant_weight=1,
                serverless_config=sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
                    memory_size_in_mb=serverless_memory_size_mb,
                    max_concurrency=serverless_max_concurrency or DEFAULT_SERVERLESS_MAX_CONCURRENCY,
                    provisioned_concurrency=serverless_provisioned_concurrency,
                ),
            )
        else:
            variant = sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=VARIANT_NAME,
                model_name=self.model.attr_model_name,
                initial_variant_weight=1,
                instance_type=instance_type,
                initial_instance_count=initial_instance_count or DEFAULT_INITIAL_INSTANCE_COUNT,
            )
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            production_variants=[variant],
            kms_key_id=kms_key.key_arn if kms_key is not None else None,
            data_capture_config=data_capture_config,
        )
        autoscaling = max_capacity is not None
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            endpoint_name=endpoint_name,
            # With autoscaling, an update keeps the instance count autoscaling has reached.
            retain_all_variant_properties=True if autoscaling else None,
            exclude_retained_variant_properties=(
                [
                    sagemaker.CfnEndpoint.VariantPropertyProperty(variant_property_type="DesiredWeight"),
                    sagemaker.CfnEndpoint.VariantPropertyProperty(variant_property_type="DataCaptureConfig"),
                ]
                if autoscaling
                else None
            ),
        )
        self.endpoint_name: str = self.endpoint.attr_endpoint_name
        self.endpoint_arn: str = self.endpoint.ref

        # Autoscaling.
        self.scalable_target: appscaling.ScalableTarget | None = None
        if max_capacity is not None:
            assert target_invocations_per_instance is not None
            self.scalable_target = appscaling.ScalableTarget(
                self,
                "ScalableTarget",
                service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
                scalable_dimension="sagemaker:variant:DesiredInstanceCount",
                resource_id=f"endpoint/{self.endpoint_name}/variant/{VARIANT_NAME}",
                min_capacity=(
                    min_capacity
                    if min_capacity is not None
                    else initial_instance_count or DEFAULT_INITIAL_INSTANCE_COUNT
                ),
                max_capacity=max_capacity,
                role=iam.Role.from_role_arn(
                    self,
                    "AutoscalingServiceLinkedRole",
                    stack.format_arn(
                        service="iam",
                        region="",
                        resource="role",
                        resource_name=_AUTOSCALING_ROLE,
                    ),
                    mutable=False,
                ),
            )
            self.scalable_target.scale_to_track_metric(
                "InvocationsPerInstance",
                target_value=target_invocations_per_instance,
                predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
            )

    # ------------------------------------------------------------------------------------------------
    # Public helpers
    # ------------------------------------------------------------------------------------------------

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to call ``sagemaker:InvokeEndpoint`` on this endpoint only."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["sagemaker:InvokeEndpoint"], resource_arns=[self.endpoint_arn]
        )

    @property
    def security_groups(self) -> list[ec2.ISecurityGroup]:
        """The security groups of the model containers (empty outside a VPC)."""
        return list(self._security_groups)

    # ------------------------------------------------------------------------------------------------
    # Protected hooks
    # ------------------------------------------------------------------------------------------------

    def _create_image_asset(self) -> ecr_assets.DockerImageAsset:
        """The bundled pyfunc serving image, built from the package's ``serving`` directory."""
        return ecr_assets.DockerImageAsset(
            self,
            "ServingImage",
            directory=str(SERVING_IMAGE_DIRECTORY),
            platform=ecr_assets.Platform.LINUX_AMD64,
        )

    def _create_security_group(self, vpc: ec2.IVpc) -> ec2.SecurityGroup:
        """A group for the model containers: no ingress (invocations arrive through SageMaker), HTTPS egress."""
        group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="MLflow model endpoint containers (SageMaker)",
            allow_all_outbound=False,
        )
        group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS APIs and S3")
        return group

    # ------------------------------------------------------------------------------------------------
    # Validation
    # ------------------------------------------------------------------------------------------------

    @staticmethod
    def _validate_model_data_url(model_data_url: str) -> _S3Path:
        if _is_token(model_data_url):
            # bucket/key from the resolved value: Fn::Select(1, Fn::Split("s3://", url)).
            return _S3Path(path=cdk.Fn.select(1, cdk.Fn.split("s3://", model_data_url)), literal=False)
        match = _S3_OBJECT_URL.match(model_data_url)
        if match is None:
            raise ValueError(
                f"model_data_url ({model_data_url!r}) is not an S3 URL of a .tar.gz archive: pass "
                "s3://bucket/path/model.tar.gz, e.g. the URI printed by mlflow-sagemaker-package"
            )
        return _S3Path(path=f"{match.group('bucket')}/{match.group('key')}", literal=True)

    @staticmethod
    def _validate_image(
        image_asset: ecr_assets.DockerImageAsset | None,
        image_repository: ecr.IRepository | None,
        image_tag: str | None,
    ) -> None:
        if image_asset is not None and image_repository is not None:
            raise ValueError(
                "image_asset and image_repository are both set: pass one serving image (or neither for the "
                "bundled pyfunc serving image)"
            )
        if image_repository is not None and not image_tag:
            raise ValueError(
                "image_repository is set without image_tag: pass the tag or digest (sha256:...) of the "
                "serving image in the repository"
            )
        if image_tag is not None and image_repository is None:
            raise ValueError("image_tag is set without image_repository: pass the repository the tag belongs to")

    @staticmethod
    def _validate_variant(
        *,
        instance_type: str | None,
        initial_instance_count: int | None,
        min_capacity: int | None,
        max_capacity: int | None,
        target_invocations_per_instance: float | None,
        serverless_memory_size_mb: int | None,
        serverless_max_concurrency: int | None,
        serverless_provisioned_concurrency: int | None,
    ) -> bool:
        """Check the variant props; return True for a serverless variant."""
        if instance_type is not None and serverless_memory_size_mb is not None:
            raise ValueError(
                "instance_type and serverless_memory_size_mb are both set: choose one variant kind, "
                "instance_type for a real-time variant or serverless_memory_size_mb for a serverless one"
            )
        if instance_type is None and serverless_memory_size_mb is None:
            raise ValueError(
                "neither instance_type nor serverless_memory_size_mb is set: set instance_type "
                "(e.g. 'ml.m5.large') for a real-time variant or serverless_memory_size_mb (e.g. 2048) for "
                "a serverless variant"
            )
        real_time_props = {
            "initial_instance_count": initial_instance_count,
            "min_capacity": min_capacity,
            "max_capacity": max_capacity,
            "target_invocations_per_instance": target_invocations_per_instance,
        }
        serverless_props = {
            "serverless_max_concurrency": serverless_max_concurrency,
            "serverless_provisioned_concurrency": serverless_provisioned_concurrency,
        }
        if serverless_memory_size_mb is not None:
            for prop, value in real_time_props.items():
                if value is not None:
                    raise ValueError(
                        f"{prop} applies to real-time variants only: remove it, or use instance_type instead "
                        "of serverless_memory_size_mb"
                    )
            MlflowModelEndpoint._validate_serverless(
                serverless_memory_size_mb, serverless_max_concurrency, serverless_provisioned_concurrency
            )
            return True
        for prop, value in serverless_props.items():
            if value is not None:
                raise ValueError(
                    f"{prop} applies to serverless variants only: remove it, or use serverless_memory_size_mb "
                    "instead of instance_type"
                )
        assert instance_type is not None
        MlflowModelEndpoint._validate_instance_type(instance_type)
        count = DEFAULT_INITIAL_INSTANCE_COUNT if initial_instance_count is None else initial_instance_count
        if not _is_token(count) and count < 1:
            raise ValueError(f"initial_instance_count ({count}) must be at least 1: set 1 or more instances")
        MlflowModelEndpoint._validate_autoscaling(count, min_capacity, max_capacity, target_invocations_per_instance)
        return False

    @staticmethod
    def _validate_instance_type(instance_type: str) -> None:
        if _is_token(instance_type):
            return
        match = _INSTANCE_TYPE.match(instance_type)
        if match is None:
            raise ValueError(
                f"instance_type ({instance_type!r}) is not a SageMaker hosting instance type: use "
                "ml.<family>.<size>, e.g. 'ml.m5.large' or 'ml.c6i.xlarge'"
            )
        family = match.group("family")
        if family in _NON_HOSTING_FAMILIES:
            raise ValueError(
                f"instance_type ({instance_type!r}) cannot host endpoints (ml.{family} is for "
                f"{_NON_HOSTING_FAMILIES[family]}): choose a hosting type such as 'ml.m5.large' or 'ml.t2.medium'"
            )

    @staticmethod
    def _validate_autoscaling(
        initial_instance_count: int,
        min_capacity: int | None,
        max_capacity: int | None,
        target_invocations_per_instance: float | None,
    ) -> None:
        if max_capacity is None:
            for prop, value in (
                ("min_capacity", min_capacity),
                ("target_invocations_per_instance", target_invocations_per_instance),
            ):
                if value is not None:
                    raise ValueError(
                        f"{prop} is set without max_capacity: set max_capacity to enable autoscaling, or remove {prop}"
                    )
            return
        if target_invocations_per_instance is None:
            raise ValueError(
                "max_capacity is set without target_invocations_per_instance: set the invocations per "
                "instance per minute that autoscaling should keep the variant at"
            )
        if not _is_token(target_invocations_per_instance) and target_invocations_per_instance <= 0:
            raise ValueError(
                f"target_invocations_per_instance ({target_invocations_per_instance}) must be greater than 0"
            )
        if any(_is_token(v) for v in (min_capacity, max_capacity, initial_instance_count)):
            return
        if min_capacity is None:
            if initial_instance_count > max_capacity:
                raise ValueError(
                    f"initial_instance_count ({initial_instance_count}) is greater than max_capacity "
                    f"({max_capacity}): lower initial_instance_count or raise max_capacity (min_capacity "
                    "defaults to initial_instance_count)"
                )
            return
        if min_capacity < 1:
            raise ValueError(f"min_capacity ({min_capacity}) must be at least 1: a real-time variant keeps an instance")
        if min_capacity > max_capacity:
            raise ValueError(
                f"min_capacity ({min_capacity}) is greater than max_capacity ({max_capacity}): set min_capacity "
                "<= max_capacity"
            )
        if not min_capacity <= initial_instance_count <= max_capacity:
            raise ValueError(
                f"initial_instance_count ({initial_instance_count}) is outside min_capacity..max_capacity "
                f"({min_capacity}..{max_capacity}): set it within that range"
            )

    @staticmethod
    def _validate_serverless(memory: int, max_concurrency: int | None, provisioned: int | None) -> None:
        if not _is_token(memory) and memory not in SERVERLESS_MEMORY_SIZES_MB:
            raise ValueError(
                f"serverless_memory_size_mb ({memory}) is not a SageMaker serverless memory size: use one of "
                f"{', '.join(str(m) for m in SERVERLESS_MEMORY_SIZES_MB)}"
            )
        concurrency = DEFAULT_SERVERLESS_MAX_CONCURRENCY if max_concurrency is None else max_concurrency
        if not _is_token(concurrency) and not 1 <= concurrency <= SERVERLESS_MAX_CONCURRENCY_LIMIT:
            raise ValueError(
                f"serverless_max_concurrency ({concurrency}) is outside 1..{SERVERLESS_MAX_CONCURRENCY_LIMIT}: "
                f"set a value from 1 to {SERVERLESS_MAX_CONCURRENCY_LIMIT}"
            )
        if provisioned is None or _is_token(provisioned) or _is_token(concurrency):
            return
        if not 1 <= provisioned <= concurrency:
            raise ValueError(
                f"serverless_provisioned_concurrency ({provisioned}) is outside 1..serverless_max_concurrency "
                f"({concurrency}): set a value from 1 to {concurrency}"
            )

    @staticmethod
    def _validate_vpc(
        vpc: ec2.IVpc | None,
        vpc_subnets: ec2.SubnetSelection | None,
        security_groups: Sequence[ec2.ISecurityGroup] | None,
    ) -> ec2.SelectedSubnets | None:
        if vpc is None:
            for prop, value in (("vpc_subnets", vpc_subnets), ("security_groups", security_groups)):
                if value is not None:
                    raise ValueError(f"{prop} is set without vpc: pass the vpc the subnets and groups belong to")
            return None
        if security_groups is not None:
            if not security_groups:
                raise ValueError("security_groups is empty: pass at least one group, or omit it to have one created")
            if len(security_groups) > _MAX_SECURITY_GROUPS:
                raise ValueError(
                    f"security_groups has {len(security_groups)} groups; SageMaker allows at most "
                    f"{_MAX_SECURITY_GROUPS}: pass fewer"
                )
        if vpc_subnets is None:
            vpc_subnets = check.default_private_selection(
                vpc,
                "SageMaker gives the containers' network interfaces no public IP; pass a VPC with private "
                "subnets, or set vpc_subnets",
            )
        selected = check.selected_subnets(vpc, vpc_subnets, "vpc_subnets")
        count = len(selected.subnet_ids)
        if selected.has_public:
            raise ValueError(
                "vpc_subnets selects public subnets: SageMaker gives the containers' network interfaces no "
                "public IP; select private or isolated subnets"
            )
        zones = selected.availability_zones
        distinct_zones = len(set(zones)) if not any(_is_token(z) for z in zones) else count
        if count < 2 or distinct_zones < 2:
            raise ValueError(
                f"vpc_subnets selects {count} subnet(s) in {distinct_zones} availability zone(s): SageMaker "
                "needs subnets in at least 2 availability zones; select more subnets"
            )
        if count > _MAX_SUBNETS:
            raise ValueError(
                f"vpc_subnets selects {count} subnets; SageMaker allows at most {_MAX_SUBNETS}: select fewer "
                "(e.g. one_per_az=True)"
            )
        return selected

    @staticmethod
    def _validate_data_capture(data_capture_s3_uri: str | None, percentage: int | None) -> _S3Path | None:
        if data_capture_s3_uri is None:
            if percentage is not None:
                raise ValueError(
                    "data_capture_sampling_percentage is set without data_capture_s3_uri: set "
                    "data_capture_s3_uri to enable data capture, or remove the percentage"
                )
            return None
        if percentage is not None and not _is_token(percentage) and not 0 <= percentage <= 100:
            raise ValueError(
                f"data_capture_sampling_percentage ({percentage}) is outside 0..100: set a percentage from 0 to 100"
            )
        if _is_token(data_capture_s3_uri):
            return _S3Path(path=cdk.Fn.select(1, cdk.Fn.split("s3://", data_capture_s3_uri)), literal=False)
        match = _S3_PREFIX_URL.match(data_capture_s3_uri)
        if match is None:
            raise ValueError(
                f"data_capture_s3_uri ({data_capture_s3_uri!r}) is not an S3 URL: pass s3://bucket or "
                "s3://bucket/prefix"
            )
        prefix = (match.group("prefix") or "").strip("/")
        return _S3Path(path="/".join(p for p in (match.group("bucket"), prefix) if p), literal=True)

    @staticmethod
    def _validate_environment(environment: Mapping[str, str] | None) -> None:
        if not environment:
            return
        if len(environment) > _MAX_ENVIRONMENT_ENTRIES:
            raise ValueError(
                f"environment has {len(environment)} variables; SageMaker allows at most "
                f"{_MAX_ENVIRONMENT_ENTRIES}: pass fewer"
            )
        for key, value in environment.items():
            if _is_token(key):
                continue
            if not _ENVIRONMENT_KEY.match(key) or len(key) > _MAX_ENVIRONMENT_LENGTH:
                raise ValueError(
                    f"environment key {key!r} is not a valid variable name: use letters, digits and "
                    "underscores, not starting with a digit"
                )
            if not _is_token(value) and len(value) > _MAX_ENVIRONMENT_LENGTH:
                raise ValueError(
                    f"environment value of {key} is {len(value)} characters long; SageMaker allows at most "
                    f"{_MAX_ENVIRONMENT_LENGTH}"
                )

    @staticmethod
    def _validate_endpoint_name(endpoint_name: str | None) -> None:
        if endpoint_name is None or _is_token(endpoint_name):
            return
        if not _ENDPOINT_NAME.match(endpoint_name):
            raise ValueError(
                f"endpoint_name ({endpoint_name!r}) is not a SageMaker endpoint name: use 1 to 63 letters, "
                "digits and hyphens, starting and ending with a letter or digit (or omit it to let "
                "CloudFormation name the endpoint)"
            )


__all__ = [
    "DEFAULT_SERVERLESS_MAX_CONCURRENCY",
    "SERVERLESS_MEMORY_SIZES_MB",
    "VARIANT_NAME",
    "MlflowModelEndpoint",
]
