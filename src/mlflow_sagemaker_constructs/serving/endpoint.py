"""``MlflowModelEndpoint``: an MLflow model served by a SageMaker real-time or serverless endpoint."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Unpack

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from mlflow_sagemaker_constructs._internal import validation as check
from mlflow_sagemaker_constructs._internal.nag import acknowledge, acknowledge_wildcard_resource
from mlflow_sagemaker_constructs.monitoring.metrics import MetricOverrides, metric, with_defaults
from mlflow_sagemaker_constructs.serving.serving_image import BoundServingImage, ServingImage
from mlflow_sagemaker_constructs.serving.variant import (
    DEFAULT_SERVERLESS_MAX_CONCURRENCY,
    SERVERLESS_MEMORY_SIZES_MB,
    VARIANT_NAME,
    EndpointVariant,
    RealTimeSettings,
    selected_vpc_subnets,
)

__all__ = [
    "DEFAULT_SERVERLESS_MAX_CONCURRENCY",
    "SERVERLESS_MEMORY_SIZES_MB",
    "VARIANT_NAME",
    "MlflowModelEndpoint",
]

# SageMaker's own limits on a model's container environment.
_MAX_ENVIRONMENT_ENTRIES = 100
_MAX_ENVIRONMENT_LENGTH = 1024
_S3_OBJECT_URL = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>\S+\.tar\.gz)$")
_ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_MAX_ENDPOINT_NAME_LENGTH = 63  # the pattern alone lets hyphens run past SageMaker's length limit
_ERROR_FAMILIES = ("4XX", "5XX")
_ENVIRONMENT_KEY = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# SageMaker attaches the model containers' network interfaces with the execution role: creating one needs
# the subnet, the security groups and the interface itself; the rest acts on interfaces of the VPC only.
_ENI_CREATE = "ec2:CreateNetworkInterface"
_ENI_ACTIONS = (
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
)
_VPC_DESCRIBE_ACTIONS = (
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


@dataclass(frozen=True)
class _S3Path:
    """An S3 URL split for IAM: ``bucket/key`` (possibly a token)."""

    path: str


class MlflowModelEndpoint(Construct):
    """A packaged MLflow model behind a SageMaker endpoint: ``CfnModel``, ``CfnEndpointConfig``, ``CfnEndpoint``.

    The model data is the ``model.tar.gz`` that ``mlflow-sagemaker-package`` uploads to S3. By default it is
    served by the bundled pyfunc serving image (:class:`ServingImage`). The endpoint has one production
    variant (``AllTraffic``, :class:`EndpointVariant`): real-time on instances, or serverless. SageMaker names
    the model, endpoint configuration and endpoint unless ``endpoint_name`` is given, so a new model (a new
    ``model_data_url``) creates a new model and endpoint configuration and updates the endpoint in place.

    The execution role may read exactly the model object, pull exactly the serving image, write the
    endpoint's CloudWatch logs and metrics, and, when configured, attach network interfaces in the VPC only,
    use ``kms_key`` and write captured data under the data capture prefix.

    Protected hooks: :meth:`_create_role`, :meth:`_create_security_group`, :meth:`_create_model`,
    :meth:`_create_endpoint_config`, :meth:`_create_endpoint` and :meth:`_configure_autoscaling`. Every
    prop is stored as a public attribute of the same name.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_data_url: str,
        variant: EndpointVariant,
        image: ServingImage | None = None,
        model_data_kms_key: kms.IKey | None = None,
        environment: Mapping[str, str] | None = None,
        kms_key: kms.IKey | None = None,
        endpoint_name: str | None = None,
    ) -> None:
        """Create the model, endpoint configuration, endpoint and execution role.

        :param model_data_url: ``s3://bucket/key.tar.gz`` of the packaged model (the URI that
            ``mlflow-sagemaker-package`` prints), in the stack's region. Tokens are accepted unchecked.
        :param variant: :class:`EndpointVariant`: ``real_time(...)`` or ``serverless(...)``.
        :param image: :class:`ServingImage`. Default: ``ServingImage.bundled_asset()`` (linux/amd64).
        :param model_data_kms_key: the KMS key the model object is encrypted with (SSE-KMS); the role gets
            ``kms:Decrypt`` on it. Default: none.
        :param environment: extra environment variables of the serving container (for the bundled image e.g.
            ``MLFLOW_MODELS_WORKERS``). Default: none.
        :param kms_key: encrypts the variant's storage volume and the captured data. Default: AWS managed.
        :param endpoint_name: a fixed endpoint name; the role's log permissions are then scoped to exactly
            this endpoint's log group. Default: a name generated by CloudFormation.
        """
        super().__init__(scope, construct_id)
        self.model_data_url = model_data_url
        self.variant = variant
        self.image = image or ServingImage.bundled_asset()
        self.model_data_kms_key = model_data_kms_key
        self.environment = dict(environment or {})
        self.kms_key = kms_key
        self.endpoint_name_prop = endpoint_name
        self.variant_name = VARIANT_NAME
        model_object = self._validate()

        self.role = self._create_role()
        self.bound_image: BoundServingImage = self.image.bind(self)
        self._check_architecture()
        self.bound_image.grant_pull(self.role)
        self.image_asset = self.bound_image.asset
        self.image_uri = self.bound_image.image_uri
        self._grant_model_data(model_object)
        self._grant_logs_and_metrics()
        self.security_group: ec2.ISecurityGroup | None = None
        self.connections = ec2.Connections(security_groups=[])
        vpc_config = self._configure_network()
        self._grant_encryption()
        self.model = self._create_model(vpc_config)
        self.endpoint_config = self._create_endpoint_config()
        self.endpoint = self._create_endpoint()
        self.endpoint_name: str = self.endpoint.attr_endpoint_name
        self.endpoint_arn: str = self.endpoint.ref
        self.scalable_target: appscaling.ScalableTarget | None = self._configure_autoscaling()

    @property
    def serverless(self) -> bool:
        """True for a serverless variant."""
        return self.variant.serverless_settings is not None

    @property
    def security_groups(self) -> list[ec2.ISecurityGroup]:
        """The security groups of the model containers (empty outside a VPC)."""
        return list(self.connections.security_groups)

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to call ``sagemaker:InvokeEndpoint`` on this endpoint only."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["sagemaker:InvokeEndpoint"], resource_arns=[self.endpoint_arn]
        )

    def metric(
        self,
        metric_name: str,
        *,
        namespace: str = "AWS/SageMaker",
        **overrides: Unpack[MetricOverrides],
    ) -> cloudwatch.Metric:
        """A metric of this endpoint's variant (``EndpointName`` and ``VariantName`` dimensions), sum per 5 minutes
        unless ``statistic`` or ``period`` say otherwise."""
        dimensions = {"EndpointName": self.endpoint_name, "VariantName": VARIANT_NAME}
        return metric(namespace, metric_name, dimensions, statistic="Sum", overrides=overrides)

    def metric_invocations(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """Invocations (sum per 5 minutes); no data while nobody invokes the endpoint."""
        return self.metric("Invocations", **overrides)

    def metric_invocation_errors(self, family: str = "5XX", **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """Invocations answered with a ``4XX`` or ``5XX`` error (sum per 5 minutes)."""
        if family.upper() not in _ERROR_FAMILIES:
            raise ValueError(
                f"family ({family!r}) has no SageMaker invocation error metric: use '4XX' (client errors) or "
                "'5XX' (model and server errors)"
            )
        return self.metric(f"Invocation{family.upper()}Errors", **overrides)

    def metric_model_latency(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """Model latency in microseconds (p90 per 5 minutes)."""
        return self.metric("ModelLatency", **with_defaults(overrides, statistic="p90"))

    def metric_overhead_latency(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """SageMaker's own latency on top of the model's, in microseconds (p90 per 5 minutes)."""
        return self.metric("OverheadLatency", **with_defaults(overrides, statistic="p90"))

    def metric_model_setup_time(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """Serverless cold starts: time to launch compute for the model, in microseconds (max per 5 minutes)."""
        return self.metric("ModelSetupTime", **with_defaults(overrides, statistic="Maximum"))

    def metric_cold_starts(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """Serverless cold starts: how many times compute was launched (sample count of ``ModelSetupTime``)."""
        return self.metric("ModelSetupTime", **with_defaults(overrides, statistic="SampleCount"))

    # ------------------------------------------------------------------------------------------------
    # Protected hooks
    # ------------------------------------------------------------------------------------------------

    def _create_role(self) -> iam.Role:
        """The SageMaker execution role of this model."""
        return iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="SageMaker execution role of one MLflow model endpoint",
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

    def _create_model(self, vpc_config: sagemaker.CfnModel.VpcConfigProperty | None) -> sagemaker.CfnModel:
        real_time = self.variant.real_time_settings
        model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=self.image_uri,
                model_data_url=self.model_data_url,
                mode="SingleModel",
                environment=self.environment or None,
            ),
            vpc_config=vpc_config,
            enable_network_isolation=True if real_time is not None and real_time.enable_network_isolation else None,
        )
        # CreateEndpoint pulls the image and model data with the role: its policy must exist first.
        default_policy = self.role.node.try_find_child("DefaultPolicy")
        if default_policy is not None:
            model.node.add_dependency(default_policy)
        return model

    def _create_endpoint_config(self) -> sagemaker.CfnEndpointConfig:
        serverless, real_time = self.variant.serverless_settings, self.variant.real_time_settings
        if serverless is not None:
            variant = sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=VARIANT_NAME,
                model_name=self.model.attr_model_name,
                initial_variant_weight=1,
                serverless_config=sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
                    memory_size_in_mb=serverless.memory_size_mb,
                    max_concurrency=serverless.max_concurrency,
                    provisioned_concurrency=serverless.provisioned_concurrency,
                ),
            )
        else:
            assert real_time is not None
            variant = sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=VARIANT_NAME,
                model_name=self.model.attr_model_name,
                initial_variant_weight=1,
                instance_type=real_time.instance_type,
                initial_instance_count=real_time.initial_instance_count,
            )
        return sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            production_variants=[variant],
            kms_key_id=self.kms_key.key_arn if self.kms_key is not None else None,
            data_capture_config=self._data_capture_config(real_time),
        )

    def _create_endpoint(self) -> sagemaker.CfnEndpoint:
        real_time = self.variant.real_time_settings
        autoscaling = real_time is not None and real_time.autoscaling is not None
        return sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            endpoint_name=self.endpoint_name_prop,
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

    def _configure_autoscaling(self) -> appscaling.ScalableTarget | None:
        real_time = self.variant.real_time_settings
        if real_time is None or real_time.autoscaling is None:
            return None
        autoscaling = real_time.autoscaling
        stack = cdk.Stack.of(self)
        target = appscaling.ScalableTarget(
            self,
            "ScalableTarget",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            resource_id=f"endpoint/{self.endpoint_name}/variant/{VARIANT_NAME}",
            min_capacity=(
                autoscaling.min_capacity if autoscaling.min_capacity is not None else real_time.initial_instance_count
            ),
            max_capacity=autoscaling.max_capacity,
            role=iam.Role.from_role_arn(
                self,
                "AutoscalingServiceLinkedRole",
                stack.format_arn(service="iam", region="", resource="role", resource_name=_AUTOSCALING_ROLE),
                mutable=False,
            ),
        )
        target.scale_to_track_metric(
            "InvocationsPerInstance",
            target_value=autoscaling.target_invocations_per_instance,
            predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
        )
        return target

    # ------------------------------------------------------------------------------------------------
    # Permissions and network
    # ------------------------------------------------------------------------------------------------

    def _check_architecture(self) -> None:
        real_time = self.variant.real_time_settings
        if self.bound_image.amd64_only and real_time is not None and real_time.is_graviton:
            raise ValueError(
                f"instance_type ({real_time.instance_type!r}) is a Graviton (arm64) type and the bundled serving "
                "image is linux/amd64: choose an x86 type such as 'ml.m5.large', or pass an arm64 image "
                "(ServingImage.from_asset or ServingImage.from_repository)"
            )

    def _grant_model_data(self, model_object: _S3Path) -> None:
        stack = cdk.Stack.of(self)
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadModelData",
                actions=["s3:GetObject"],
                resources=[f"arn:{stack.partition}:s3:::{model_object.path}"],
            )
        )
        if self.model_data_kms_key is not None:
            self.model_data_kms_key.grant_decrypt(self.role)

    def _grant_logs_and_metrics(self) -> None:
        stack = cdk.Stack.of(self)
        name = self.endpoint_name_prop
        log_arn = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"/aws/sagemaker/Endpoints/{name or '*'}",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteEndpointLogs", actions=list(_LOG_ACTIONS), resources=[log_arn, f"{log_arn}:log-stream:*"]
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
        reason = (
            "Log streams of the endpoint's own log group."
            if name
            else "SageMaker names the endpoint only when it is created, after this role must already allow "
            "its container to log, so log writes are limited to the account's SageMaker endpoint log groups "
            "in this region (set endpoint_name to limit them to one)."
        )
        for resource in [f"{log_arn}:log-stream:*"] if name else [log_arn, f"{log_arn}:log-stream:*"]:
            acknowledge_wildcard_resource(self.role, resource, reason)
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "Actions without resource-level permissions: ecr:GetAuthorizationToken (image pulls themselves are "
            "limited to the serving image's repository), cloudwatch:PutMetricData (limited to SageMaker's metric "
            "namespaces by condition) and, in a VPC, EC2 Describe* calls.",
        )

    def _configure_network(self) -> sagemaker.CfnModel.VpcConfigProperty | None:
        real_time = self.variant.real_time_settings
        if real_time is None or real_time.vpc is None:
            return None
        vpc = real_time.vpc
        subnets = selected_vpc_subnets(vpc, real_time.vpc_subnets)
        groups = list(real_time.security_groups or [])
        if not groups:
            self.security_group = self._create_security_group(vpc)
            groups = [self.security_group]
        self.connections = ec2.Connections(security_groups=groups)
        self._grant_network_interfaces(vpc, subnets, groups)
        return sagemaker.CfnModel.VpcConfigProperty(
            subnets=subnets.subnet_ids, security_group_ids=[g.security_group_id for g in groups]
        )

    def _grant_network_interfaces(
        self, vpc: ec2.IVpc, subnets: ec2.SelectedSubnets, groups: list[ec2.ISecurityGroup]
    ) -> None:
        """Network interfaces in this VPC only: created in the model's subnets with its security groups."""
        stack = cdk.Stack.of(self)

        def ec2_arn(resource: str, name: str) -> str:
            return stack.format_arn(service="ec2", resource=resource, resource_name=name)

        interfaces = ec2_arn("network-interface", "*")
        in_vpc = {"ArnEquals": {"ec2:Vpc": ec2_arn("vpc", vpc.vpc_id)}}
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="CreateInterfacesInTheModelSubnets",
                actions=[_ENI_CREATE],
                resources=[ec2_arn("subnet", s) for s in subnets.subnet_ids]
                + [ec2_arn("security-group", g.security_group_id) for g in groups],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ManageInterfacesInTheVpc",
                actions=[_ENI_CREATE, *_ENI_ACTIONS],
                resources=[interfaces],
                conditions=in_vpc,
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(sid="DescribeTheNetwork", actions=list(_VPC_DESCRIBE_ACTIONS), resources=["*"])
        )
        acknowledge_wildcard_resource(
            self.role,
            interfaces,
            "SageMaker names the network interfaces it creates for the model containers; the statement is "
            "limited to interfaces in the model's VPC by the ec2:Vpc condition.",
        )

    def _grant_encryption(self) -> None:
        if self.kms_key is None:
            return
        self.kms_key.grant(self.role, "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="GrantVolumeKeyToSageMaker",
                actions=["kms:CreateGrant"],
                resources=[self.kms_key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )

    def _data_capture_config(
        self, real_time: RealTimeSettings | None
    ) -> sagemaker.CfnEndpointConfig.DataCaptureConfigProperty | None:
        capture = real_time.data_capture if real_time is not None else None
        if capture is None:
            return None
        resource = f"arn:{cdk.Stack.of(self).partition}:s3:::{capture.s3_path()}/*"
        self.role.add_to_policy(
            iam.PolicyStatement(sid="WriteCapturedData", actions=["s3:PutObject"], resources=[resource])
        )
        acknowledge_wildcard_resource(
            self.role,
            resource,
            "SageMaker writes captured requests and responses under the data capture prefix in objects named "
            "by endpoint, variant and time; the role may only put objects below that prefix.",
        )
        return sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
            enable_capture=True,
            destination_s3_uri=capture.s3_uri,
            initial_sampling_percentage=capture.sampling_percentage,
            capture_options=[
                sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Input"),
                sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Output"),
            ],
            capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
                csv_content_types=["text/csv"], json_content_types=["application/json"]
            ),
            kms_key_id=self.kms_key.key_arn if self.kms_key is not None else None,
        )

    # ------------------------------------------------------------------------------------------------
    # Validation
    # ------------------------------------------------------------------------------------------------

    def _validate(self) -> _S3Path:
        """Check the props that are not option objects; return the model object's ``bucket/key``."""
        if not isinstance(self.variant, EndpointVariant):
            raise ValueError("variant must be EndpointVariant.real_time(...) or EndpointVariant.serverless(...)")
        self._validate_environment()
        name = self.endpoint_name_prop
        if (
            name is not None
            and not check.is_token(name)
            and (not _ENDPOINT_NAME.match(name) or len(name) > _MAX_ENDPOINT_NAME_LENGTH)
        ):
            raise ValueError(
                f"endpoint_name ({name!r}) is not a SageMaker endpoint name: use 1 to 63 letters, digits and "
                "hyphens, starting and ending with a letter or digit (or omit it to let CloudFormation name it)"
            )
        url = self.model_data_url
        if check.is_token(url):
            # bucket/key from the resolved value: Fn::Select(1, Fn::Split("s3://", url)).
            return _S3Path(path=cdk.Fn.select(1, cdk.Fn.split("s3://", url)))
        match = _S3_OBJECT_URL.match(url)
        if match is None:
            raise ValueError(
                f"model_data_url ({url!r}) is not an S3 URL of a .tar.gz archive: pass "
                "s3://bucket/path/model.tar.gz, e.g. the URI printed by mlflow-sagemaker-package"
            )
        return _S3Path(path=f"{match.group('bucket')}/{match.group('key')}")

    def _validate_environment(self) -> None:
        environment = self.environment
        if len(environment) > _MAX_ENVIRONMENT_ENTRIES:
            raise ValueError(
                f"environment has {len(environment)} variables; SageMaker allows at most "
                f"{_MAX_ENVIRONMENT_ENTRIES}: pass fewer"
            )
        for key, value in environment.items():
            if check.is_token(key):
                continue
            if len(key) > _MAX_ENVIRONMENT_LENGTH:
                raise ValueError(
                    f"environment key {key[:20]}... is {len(key)} characters long; SageMaker allows at most "
                    f"{_MAX_ENVIRONMENT_LENGTH}"
                )
            if not _ENVIRONMENT_KEY.match(key):
                raise ValueError(
                    f"environment key {key!r} is not a valid variable name: use letters, digits and "
                    "underscores, not starting with a digit"
                )
            if not check.is_token(value) and len(value) > _MAX_ENVIRONMENT_LENGTH:
                raise ValueError(
                    f"environment value of {key} is {len(value)} characters long; SageMaker allows at most "
                    f"{_MAX_ENVIRONMENT_LENGTH}"
                )
