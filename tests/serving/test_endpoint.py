"""MlflowModelEndpoint: model, endpoint configuration and endpoint per variant kind and option."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template
from syrupy.assertion import SnapshotAssertion

from mlflow_sagemaker_constructs.serving.endpoint import VARIANT_NAME, MlflowModelEndpoint
from mlflow_sagemaker_constructs.serving.image import SERVING_IMAGE_DIRECTORY
from tests.conftest import normalized
from tests.harness import assert_cfn_lint_clean, assert_nag_clean, new_app, new_stack
from tests.harness.vpc import imported_vpc, new_vpc

pytestmark = pytest.mark.xdist_group("model_endpoint")

MODEL_DATA_URL = "s3://models-bucket/sagemaker/churn/v3/0123456789abcdef/model.tar.gz"
MODEL_OBJECT_ARN = "arn:aws:s3:::models-bucket/sagemaker/churn/v3/0123456789abcdef/model.tar.gz"
CAPTURE_URI = "s3://capture-bucket/endpoints/churn"
SERVICE_LINKED_ROLE = (
    "arn:aws:iam::123456789012:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
)
VPC_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
]


@dataclass
class Case:
    stack: cdk.Stack
    endpoint: MlflowModelEndpoint
    template: dict[str, Any]

    @property
    def assertions(self) -> Template:
        return Template.from_json(self.template)

    def resolve(self, value: Any) -> Any:
        return self.stack.resolve(value)

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == resource_type}

    def properties(self, resource_type: str, construct: cdk.CfnResource | None = None) -> dict[str, Any]:
        found = self.of_type(resource_type)
        if construct is not None:
            return dict(found[self.stack.get_logical_id(construct)]["Properties"])
        assert len(found) == 1, f"{len(found)} {resource_type} resources"
        return dict(next(iter(found.values()))["Properties"])

    def statements(self, endpoint: MlflowModelEndpoint | None = None) -> list[dict[str, Any]]:
        """The statements of an endpoint's execution role policy."""
        role = (endpoint or self.endpoint).role
        policy = role.node.find_child("DefaultPolicy").node.default_child
        assert isinstance(policy, cdk.CfnResource)
        document = self.template["Resources"][self.stack.get_logical_id(policy)]["Properties"]["PolicyDocument"]
        return list(document["Statement"])

    def statement(self, sid: str, endpoint: MlflowModelEndpoint | None = None) -> dict[str, Any]:
        matches = [s for s in self.statements(endpoint) if s.get("Sid") == sid]
        assert len(matches) == 1, f"statement {sid}: {matches}"
        return matches[0]


def _template(stack: cdk.Stack) -> dict[str, Any]:
    return dict(Template.from_stack(stack).to_json())


@dataclass
class Cases:
    app: cdk.App
    real_time: Case
    serverless: Case
    defaults: Case
    options: Case
    options_second: MlflowModelEndpoint
    invoker: iam.Role


def _real_time(stack: cdk.Stack) -> MlflowModelEndpoint:
    vpc = new_vpc(stack)
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    return MlflowModelEndpoint(
        stack,
        "Churn",
        model_data_url=MODEL_DATA_URL,
        instance_type="ml.m5.large",
        initial_instance_count=2,
        min_capacity=1,
        max_capacity=4,
        target_invocations_per_instance=200,
        vpc=vpc,
        kms_key=key,
        data_capture_s3_uri=CAPTURE_URI,
        data_capture_sampling_percentage=25,
        environment={"MLFLOW_MODELS_WORKERS": "2"},
    )


def _serverless(stack: cdk.Stack) -> MlflowModelEndpoint:
    return MlflowModelEndpoint(
        stack,
        "Churn",
        model_data_url=MODEL_DATA_URL,
        serverless_memory_size_mb=2048,
        serverless_max_concurrency=10,
        serverless_provisioned_concurrency=2,
    )


def _options(stack: cdk.Stack) -> tuple[MlflowModelEndpoint, MlflowModelEndpoint]:
    repository = ecr.Repository.from_repository_name(stack, "Repo", "mlflow-serving")
    url = cdk.CfnParameter(stack, "ModelDataUrl", type="String")
    named = MlflowModelEndpoint(
        stack,
        "Named",
        model_data_url=url.value_as_string,
        image_repository=repository,
        image_tag="sha256:" + "a" * 64,
        instance_type="ml.c6i.xlarge",
        enable_network_isolation=True,
        endpoint_name="churn-prod",
        data_capture_s3_uri=cdk.CfnParameter(stack, "CaptureUri", type="String").value_as_string,
    )
    # A second endpoint in the same stack: no physical name may collide.
    second = MlflowModelEndpoint(stack, "Second", model_data_url=MODEL_DATA_URL, instance_type="ml.t2.medium")
    return named, second


@pytest.fixture(scope="module")
def cases() -> Cases:
    app = new_app()
    built: dict[str, tuple[cdk.Stack, MlflowModelEndpoint]] = {}
    for name, build in (("RealTime", _real_time), ("Serverless", _serverless)):
        stack = new_stack(app, name)
        built[name] = (stack, build(stack))
    defaults_stack = new_stack(app, "Defaults")
    defaults = MlflowModelEndpoint(defaults_stack, "Churn", model_data_url=MODEL_DATA_URL, instance_type="ml.m5.large")
    options_stack = new_stack(app, "Options")
    named, second = _options(options_stack)
    invoker = iam.Role(options_stack, "Invoker", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    named.grant_invoke(invoker)
    return Cases(
        app=app,
        real_time=Case(built["RealTime"][0], built["RealTime"][1], _template(built["RealTime"][0])),
        serverless=Case(built["Serverless"][0], built["Serverless"][1], _template(built["Serverless"][0])),
        defaults=Case(defaults_stack, defaults, _template(defaults_stack)),
        options=Case(options_stack, named, _template(options_stack)),
        options_second=second,
        invoker=invoker,
    )


# --------------------------------------------------------------------------------------------------
# Real-time variant with autoscaling, VPC, KMS and data capture
# --------------------------------------------------------------------------------------------------


def test_real_time_model_uses_the_bundled_image_and_the_model_data(cases: Cases) -> None:
    case = cases.real_time
    model = case.properties("AWS::SageMaker::Model")
    container = model["PrimaryContainer"]
    assert container["ModelDataUrl"] == MODEL_DATA_URL
    assert container["Mode"] == "SingleModel"
    assert container["Environment"] == {"MLFLOW_MODELS_WORKERS": "2"}
    assert "cdk-hnb659fds-container-assets-123456789012-us-east-1:" in json.dumps(container["Image"])
    assert model["ExecutionRoleArn"] == {"Fn::GetAtt": [_logical_id(case.stack, case.endpoint.role), "Arn"]}
    assert "ModelName" not in model
    assert "EnableNetworkIsolation" not in model


def test_real_time_model_runs_in_the_private_subnets_with_its_own_group(cases: Cases) -> None:
    case = cases.real_time
    vpc_config = case.properties("AWS::SageMaker::Model")["VpcConfig"]
    vpc = case.stack.node.find_child("Vpc")
    assert isinstance(vpc, ec2.Vpc)
    assert vpc_config["Subnets"] == case.resolve([s.subnet_id for s in vpc.private_subnets])
    assert case.endpoint.security_group is not None
    assert vpc_config["SecurityGroupIds"] == case.resolve([case.endpoint.security_group.security_group_id])
    assert case.endpoint.security_groups == [case.endpoint.security_group]
    assert case.endpoint.connections.security_groups == [case.endpoint.security_group]


def test_security_group_has_no_ingress_and_https_egress_only(cases: Cases) -> None:
    group = cases.real_time.properties("AWS::EC2::SecurityGroup")
    assert "SecurityGroupIngress" not in group
    assert group["SecurityGroupEgress"] == [
        {
            "CidrIp": "0.0.0.0/0",
            "Description": "HTTPS to AWS APIs and S3",
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]


def test_real_time_variant_and_encryption(cases: Cases) -> None:
    case = cases.real_time
    config = case.properties("AWS::SageMaker::EndpointConfig")
    key_arn = case.resolve(case.stack.node.find_child("Key").key_arn)  # type: ignore[attr-defined]
    assert config["ProductionVariants"] == [
        {
            "VariantName": VARIANT_NAME,
            "ModelName": {"Fn::GetAtt": [case.stack.get_logical_id(case.endpoint.model), "ModelName"]},
            "InitialVariantWeight": 1,
            "InstanceType": "ml.m5.large",
            "InitialInstanceCount": 2,
        }
    ]
    assert config["KmsKeyId"] == key_arn
    assert "EndpointConfigName" not in config


def test_data_capture_config(cases: Cases) -> None:
    case = cases.real_time
    capture = case.properties("AWS::SageMaker::EndpointConfig")["DataCaptureConfig"]
    assert capture == {
        "EnableCapture": True,
        "DestinationS3Uri": CAPTURE_URI,
        "InitialSamplingPercentage": 25,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]},
        "KmsKeyId": case.resolve(case.endpoint.kms_key.key_arn),  # type: ignore[union-attr]
    }


def test_endpoint_is_named_by_cloudformation_and_keeps_scaled_capacity(cases: Cases) -> None:
    case = cases.real_time
    endpoint = case.properties("AWS::SageMaker::Endpoint")
    assert endpoint["EndpointConfigName"] == {
        "Fn::GetAtt": [case.stack.get_logical_id(case.endpoint.endpoint_config), "EndpointConfigName"]
    }
    assert "EndpointName" not in endpoint
    assert endpoint["RetainAllVariantProperties"] is True
    assert endpoint["ExcludeRetainedVariantProperties"] == [
        {"VariantPropertyType": "DesiredWeight"},
        {"VariantPropertyType": "DataCaptureConfig"},
    ]
    assert case.resolve(case.endpoint.endpoint_name) == {
        "Fn::GetAtt": [case.stack.get_logical_id(case.endpoint.endpoint), "EndpointName"]
    }


def test_autoscaling_tracks_invocations_per_instance(cases: Cases) -> None:
    case = cases.real_time
    assert case.endpoint.scalable_target is not None
    target = case.properties("AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["MinCapacity"] == 1
    assert target["MaxCapacity"] == 4
    assert target["ServiceNamespace"] == "sagemaker"
    assert target["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert target["RoleARN"] == SERVICE_LINKED_ROLE
    assert target["ResourceId"] == {
        "Fn::Join": [
            "",
            [
                "endpoint/",
                {"Fn::GetAtt": [case.stack.get_logical_id(case.endpoint.endpoint), "EndpointName"]},
                f"/variant/{VARIANT_NAME}",
            ],
        ]
    }
    case.assertions.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
                "TargetValue": 200,
            },
        },
    )
    # Application Auto Scaling's service-linked role: no role of the construct's own for it.
    principals = json.dumps(
        [r["Properties"]["AssumeRolePolicyDocument"] for r in case.of_type("AWS::IAM::Role").values()]
    )
    assert "application-autoscaling" not in principals


def test_role_reads_exactly_the_model_object(cases: Cases) -> None:
    statements = cases.real_time.statements()
    s3_read = [s for s in statements if any(str(a).startswith("s3:Get") for a in _list(s["Action"]))]
    assert s3_read == [
        {"Sid": "ReadModelData", "Action": "s3:GetObject", "Effect": "Allow", "Resource": MODEL_OBJECT_ARN}
    ]


def test_role_writes_captured_data_under_the_prefix_only(cases: Cases) -> None:
    statement = cases.real_time.statement("WriteCapturedData")
    assert statement["Action"] == "s3:PutObject"
    assert statement["Resource"] == "arn:aws:s3:::capture-bucket/endpoints/churn/*"


def test_role_pulls_only_the_serving_image_repository(cases: Cases) -> None:
    statements = cases.real_time.statements()
    pull = [s for s in statements if "ecr:BatchGetImage" in _list(s["Action"])]
    assert len(pull) == 1
    assert pull[0]["Resource"] == (
        "arn:aws:ecr:us-east-1:123456789012:repository/cdk-hnb659fds-container-assets-123456789012-us-east-1"
    )
    token = [s for s in statements if "ecr:GetAuthorizationToken" in _list(s["Action"])]
    assert token == [{"Action": "ecr:GetAuthorizationToken", "Effect": "Allow", "Resource": "*"}]


def test_role_writes_logs_and_metrics_of_sagemaker_endpoints_only(cases: Cases) -> None:
    logs = cases.real_time.statement("WriteEndpointLogs")
    group = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/*"
    assert logs["Resource"] == [group, f"{group}:log-stream:*"]
    assert sorted(logs["Action"]) == [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
    ]
    metrics = cases.real_time.statement("PublishEndpointMetrics")
    assert metrics["Resource"] == "*"
    assert metrics["Condition"] == {"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "AWS/SageMaker"]}}


def test_role_attaches_to_the_vpc_and_uses_the_key(cases: Cases) -> None:
    case = cases.real_time
    assert sorted(case.statement("AttachToVpc")["Action"]) == VPC_ACTIONS
    key_arn = case.resolve(case.endpoint.kms_key.key_arn)  # type: ignore[union-attr]
    key_use = [s for s in case.statements() if s["Resource"] == key_arn and "Sid" not in s]
    assert [sorted(s["Action"]) for s in key_use] == [
        ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
    ]
    grant = case.statement("GrantVolumeKeyToSageMaker")
    assert grant["Action"] == "kms:CreateGrant"
    assert grant["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def test_role_has_no_other_permissions(cases: Cases) -> None:
    sids = sorted(s.get("Sid", "") for s in cases.real_time.statements())
    assert sids == [
        "",  # ecr pull
        "",  # ecr:GetAuthorizationToken
        "",  # kms use
        "AttachToVpc",
        "GrantVolumeKeyToSageMaker",
        "PublishEndpointMetrics",
        "ReadModelData",
        "WriteCapturedData",
        "WriteEndpointLogs",
    ]
    role_resource = cases.real_time.endpoint.role.node.default_child
    assert isinstance(role_resource, cdk.CfnResource)
    role = cases.real_time.properties("AWS::IAM::Role", role_resource)
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}}
    ]
    assert "ManagedPolicyArns" not in role
    assert "RoleName" not in role


def test_model_waits_for_the_role_policy(cases: Cases) -> None:
    case = cases.real_time
    model_id = case.stack.get_logical_id(case.endpoint.model)
    policy = case.endpoint.role.node.find_child("DefaultPolicy")
    assert case.template["Resources"][model_id]["DependsOn"] == [_logical_id(case.stack, policy)]


def test_serving_image_asset_is_built_for_linux_amd64_from_the_package(cases: Cases) -> None:
    asset = cases.real_time.endpoint.image_asset
    assert asset is not None
    manifest = json.loads((Path(cases.app.outdir) / "RealTime.assets.json").read_text())
    images = list(manifest["dockerImages"].values())
    assert len(images) == 1
    assert images[0]["source"]["platform"] == "linux/amd64"
    staged = Path(cases.app.outdir) / images[0]["source"]["directory"]
    # The .dockerignore keeps the build context to what the Dockerfile copies.
    assert sorted(p.name for p in staged.iterdir()) == [
        ".dockerignore",
        "Dockerfile",
        "entrypoint.py",
        "requirements.txt",
    ]
    assert (staged / "Dockerfile").read_text() == (SERVING_IMAGE_DIRECTORY / "Dockerfile").read_text()


def test_real_time_snapshot(cases: Cases, template_snapshot: SnapshotAssertion) -> None:
    assert normalized(cases.real_time.template) == template_snapshot


# --------------------------------------------------------------------------------------------------
# Serverless variant
# --------------------------------------------------------------------------------------------------


def test_serverless_variant(cases: Cases) -> None:
    case = cases.serverless
    config = case.properties("AWS::SageMaker::EndpointConfig")
    assert config["ProductionVariants"] == [
        {
            "VariantName": VARIANT_NAME,
            "ModelName": {"Fn::GetAtt": [case.stack.get_logical_id(case.endpoint.model), "ModelName"]},
            "InitialVariantWeight": 1,
            "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 10, "ProvisionedConcurrency": 2},
        }
    ]
    assert "KmsKeyId" not in config
    assert "DataCaptureConfig" not in config
    assert "VpcConfig" not in case.properties("AWS::SageMaker::Model")
    assert case.endpoint.serverless is True


def test_serverless_has_no_autoscaling_vpc_or_ec2_permissions(cases: Cases) -> None:
    case = cases.serverless
    assert case.endpoint.scalable_target is None
    assert case.endpoint.security_group is None
    assert case.endpoint.security_groups == []
    case.assertions.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 0)
    case.assertions.resource_count_is("AWS::EC2::SecurityGroup", 0)
    actions = [a for s in case.statements() for a in _list(s["Action"])]
    assert not [a for a in actions if a.startswith(("ec2:", "kms:"))]
    endpoint = case.properties("AWS::SageMaker::Endpoint")
    assert "RetainAllVariantProperties" not in endpoint


def test_serverless_snapshot(cases: Cases, template_snapshot: SnapshotAssertion) -> None:
    assert normalized(cases.serverless.template) == template_snapshot


# --------------------------------------------------------------------------------------------------
# Defaults and options
# --------------------------------------------------------------------------------------------------


def test_defaults(cases: Cases) -> None:
    case = cases.defaults
    variant = case.properties("AWS::SageMaker::EndpointConfig")["ProductionVariants"][0]
    assert variant["InitialInstanceCount"] == 1
    assert variant["InstanceType"] == "ml.m5.large"
    config = case.properties("AWS::SageMaker::EndpointConfig")
    assert "KmsKeyId" not in config
    assert "DataCaptureConfig" not in config
    model = case.properties("AWS::SageMaker::Model")
    assert "VpcConfig" not in model
    assert "Environment" not in model["PrimaryContainer"]
    assert case.endpoint.scalable_target is None
    assert case.endpoint.security_group is None
    assert case.endpoint.connections.security_groups == []
    assert case.endpoint.kms_key is None
    assert case.endpoint.serverless is False
    assert case.endpoint.variant_name == VARIANT_NAME
    assert isinstance(case.endpoint.image_asset, ecr_assets.DockerImageAsset)
    case.assertions.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 0)
    assert not [s for s in case.statements() if s.get("Sid") in {"AttachToVpc", "WriteCapturedData"}]


def test_image_from_a_repository_by_digest(cases: Cases) -> None:
    case = cases.options
    model = case.properties("AWS::SageMaker::Model", case.endpoint.model)
    image = json.dumps(model["PrimaryContainer"]["Image"])
    assert "mlflow-serving@sha256:" + "a" * 64 in image
    assert case.endpoint.image_asset is None
    pull = [s for s in case.statements() if "ecr:BatchGetImage" in _list(s["Action"])]
    assert pull[0]["Resource"] == "arn:aws:ecr:us-east-1:123456789012:repository/mlflow-serving"


def test_model_data_url_token_scopes_the_read_with_intrinsics(cases: Cases) -> None:
    case = cases.options
    model = case.properties("AWS::SageMaker::Model", case.endpoint.model)
    assert model["PrimaryContainer"]["ModelDataUrl"] == {"Ref": "ModelDataUrl"}
    read = case.statement("ReadModelData")
    assert read["Resource"] == {
        "Fn::Join": [
            "",
            ["arn:aws:s3:::", {"Fn::Select": [1, {"Fn::Split": ["s3://", {"Ref": "ModelDataUrl"}]}]}],
        ]
    }


def test_endpoint_name_scopes_logs_to_that_endpoint(cases: Cases) -> None:
    case = cases.options
    assert case.properties("AWS::SageMaker::Endpoint", case.endpoint.endpoint)["EndpointName"] == "churn-prod"
    group = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/churn-prod"
    assert case.statement("WriteEndpointLogs")["Resource"] == [group, f"{group}:log-stream:*"]


def test_data_capture_uri_token_scopes_the_write_with_intrinsics(cases: Cases) -> None:
    case = cases.options
    write = case.statement("WriteCapturedData")
    assert write["Resource"] == {
        "Fn::Join": [
            "",
            ["arn:aws:s3:::", {"Fn::Select": [1, {"Fn::Split": ["s3://", {"Ref": "CaptureUri"}]}]}, "/*"],
        ]
    }


def test_network_isolation(cases: Cases) -> None:
    case = cases.options
    assert case.properties("AWS::SageMaker::Model", case.endpoint.model)["EnableNetworkIsolation"] is True


def test_two_endpoints_synthesize_side_by_side(cases: Cases) -> None:
    case = cases.options
    assert len(case.of_type("AWS::SageMaker::Endpoint")) == 2
    for resource in [
        *case.of_type("AWS::SageMaker::Model").values(),
        *case.of_type("AWS::SageMaker::EndpointConfig").values(),
    ]:
        assert "ModelName" not in resource["Properties"]
        assert "EndpointConfigName" not in resource["Properties"]
    second = case.properties("AWS::SageMaker::Endpoint", cases.options_second.endpoint)
    assert "EndpointName" not in second


def test_grant_invoke_allows_invoking_this_endpoint_only(cases: Cases) -> None:
    case = cases.options
    case.assertions.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": _logical_id(case.stack, cases.invoker)}],
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": "sagemaker:InvokeEndpoint",
                        "Effect": "Allow",
                        "Resource": {"Ref": case.stack.get_logical_id(case.endpoint.endpoint)},
                    }
                ]
            },
        },
    )


# --------------------------------------------------------------------------------------------------
# cfn-lint and cdk-nag
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["real_time", "serverless", "defaults", "options"])
def test_cfn_lint_clean(cases: Cases, name: str) -> None:
    case: Case = getattr(cases, name)
    assert_cfn_lint_clean(case.template, name)


def test_nag_clean() -> None:
    """Every variant, and an environment-agnostic stack (tokens in the acknowledged resource ids)."""
    app = new_app()
    _real_time(new_stack(app, "RealTime"))
    _serverless(new_stack(app, "Serverless"))
    _options(new_stack(app, "Options"))
    agnostic = cdk.Stack(app, "Agnostic")
    MlflowModelEndpoint(agnostic, "Churn", model_data_url=MODEL_DATA_URL, instance_type="ml.m5.large")
    assert_nag_clean(app)


# --------------------------------------------------------------------------------------------------
# Rejected combinations
# --------------------------------------------------------------------------------------------------

Props = Callable[[cdk.Stack], dict[str, Any]]


def _real(**extra: Any) -> Props:
    return lambda _stack: {"instance_type": "ml.m5.large", **extra}


def _sls(**extra: Any) -> Props:
    return lambda _stack: {"serverless_memory_size_mb": 2048, **extra}


def _in_vpc(**extra: Any) -> Props:
    return lambda stack: {"instance_type": "ml.m5.large", "vpc": imported_vpc(stack), **extra}


def _public_only_vpc(stack: cdk.Stack) -> ec2.IVpc:
    return ec2.Vpc.from_vpc_attributes(
        stack,
        "PublicVpc",
        vpc_id="vpc-0aaaaaaaaaaaaaaaa",
        availability_zones=["us-east-1a", "us-east-1b"],
        public_subnet_ids=["subnet-0c000000000000001", "subnet-0c000000000000002"],
    )


REJECTED: list[tuple[str, Props, str]] = [
    (
        "both variants",
        _real(serverless_memory_size_mb=2048),
        "instance_type and serverless_memory_size_mb are both set: choose one variant kind",
    ),
    ("no variant", lambda _s: {}, "neither instance_type nor serverless_memory_size_mb is set: set instance_type"),
    (
        "serverless memory",
        lambda _s: {"serverless_memory_size_mb": 1500},
        "serverless_memory_size_mb (1500) is not a SageMaker serverless memory size: use one of 1024, 2048, 3072, "
        "4096, 5120, 6144",
    ),
    ("concurrency high", _sls(serverless_max_concurrency=201), "serverless_max_concurrency (201) is outside 1..200"),
    ("concurrency zero", _sls(serverless_max_concurrency=0), "serverless_max_concurrency (0) is outside 1..200"),
    (
        "provisioned above max",
        _sls(serverless_provisioned_concurrency=6),
        "serverless_provisioned_concurrency (6) is outside 1..serverless_max_concurrency (5)",
    ),
    (
        "instance type without ml.",
        lambda _s: {"instance_type": "m5.large"},
        "instance_type ('m5.large') is not a SageMaker hosting instance type: use ml.<family>.<size>",
    ),
    (
        "instance type without size",
        lambda _s: {"instance_type": "ml.m5"},
        "instance_type ('ml.m5') is not a SageMaker hosting instance type",
    ),
    (
        "notebook instance type",
        lambda _s: {"instance_type": "ml.t3.medium"},
        "instance_type ('ml.t3.medium') cannot host endpoints (ml.t3 is for notebook instances and Studio apps)",
    ),
    (
        "training instance type",
        lambda _s: {"instance_type": "ml.c5n.xlarge"},
        "instance_type ('ml.c5n.xlarge') cannot host endpoints (ml.c5n is for training and processing jobs)",
    ),
    (
        "accelerator type",
        lambda _s: {"instance_type": "ml.eia2.medium"},
        "ml.eia2 is for Elastic Inference accelerators, not instances",
    ),
    (
        "graviton with the bundled image",
        lambda _s: {"instance_type": "ml.c7g.xlarge"},
        "instance_type ('ml.c7g.xlarge') is a Graviton (arm64) type and the bundled serving image is linux/amd64",
    ),
    ("zero instances", _real(initial_instance_count=0), "initial_instance_count (0) must be at least 1"),
    (
        "min above max",
        _real(initial_instance_count=2, min_capacity=3, max_capacity=2, target_invocations_per_instance=100),
        "min_capacity (3) is greater than max_capacity (2): set min_capacity <= max_capacity",
    ),
    (
        "min zero",
        _real(min_capacity=0, max_capacity=2, target_invocations_per_instance=100),
        "min_capacity (0) must be at least 1",
    ),
    (
        "initial outside range",
        _real(initial_instance_count=5, max_capacity=3, target_invocations_per_instance=100),
        "initial_instance_count (5) is greater than max_capacity (3): lower initial_instance_count or raise",
    ),
    (
        "initial above max",
        _real(initial_instance_count=4, min_capacity=1, max_capacity=3, target_invocations_per_instance=100),
        "initial_instance_count (4) is outside min_capacity..max_capacity (1..3): set it within that range",
    ),
    (
        "max without target",
        _real(max_capacity=3),
        "max_capacity is set without target_invocations_per_instance",
    ),
    ("min without max", _real(min_capacity=1), "min_capacity is set without max_capacity: set max_capacity"),
    (
        "target without max",
        _real(target_invocations_per_instance=50),
        "target_invocations_per_instance is set without max_capacity",
    ),
    (
        "target not positive",
        _real(max_capacity=3, target_invocations_per_instance=0),
        "target_invocations_per_instance (0) must be greater than 0",
    ),
    (
        "instances on serverless",
        _sls(initial_instance_count=1),
        "initial_instance_count applies to real-time variants only",
    ),
    ("autoscaling on serverless", _sls(max_capacity=2), "max_capacity applies to real-time variants only"),
    (
        "concurrency on real-time",
        _real(serverless_max_concurrency=5),
        "serverless_max_concurrency applies to serverless variants only",
    ),
    (
        "serverless in a vpc",
        lambda stack: {"serverless_memory_size_mb": 2048, "vpc": imported_vpc(stack)},
        "vpc is not supported by SageMaker serverless endpoints",
    ),
    (
        "serverless data capture",
        _sls(data_capture_s3_uri=CAPTURE_URI),
        "data_capture_s3_uri is not supported by SageMaker serverless endpoints",
    ),
    (
        "serverless network isolation",
        _sls(enable_network_isolation=True),
        "enable_network_isolation is not supported by SageMaker serverless endpoints",
    ),
    (
        "model data not s3",
        _real(model_data_url="https://example.com/model.tar.gz"),
        "model_data_url ('https://example.com/model.tar.gz') is not an S3 URL of a .tar.gz archive",
    ),
    (
        "model data not an archive",
        _real(model_data_url="s3://models-bucket/model.zip"),
        "model_data_url ('s3://models-bucket/model.zip') is not an S3 URL of a .tar.gz archive",
    ),
    (
        "model data bucket only",
        _real(model_data_url="s3://models-bucket"),
        "is not an S3 URL of a .tar.gz archive: pass s3://bucket/path/model.tar.gz",
    ),
    (
        "two images",
        lambda stack: {
            "instance_type": "ml.m5.large",
            "image_repository": ecr.Repository.from_repository_name(stack, "R", "r"),
            "image_tag": "v1",
            "image_asset": ecr_assets.DockerImageAsset(stack, "A", directory=str(SERVING_IMAGE_DIRECTORY)),
        },
        "image_asset and image_repository are both set",
    ),
    (
        "repository without tag",
        lambda stack: {
            "instance_type": "ml.m5.large",
            "image_repository": ecr.Repository.from_repository_name(stack, "R", "r"),
        },
        "image_repository is set without image_tag",
    ),
    ("tag without repository", _real(image_tag="v1"), "image_tag is set without image_repository"),
    (
        "subnets without vpc",
        _real(vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)),
        "vpc_subnets is set without vpc",
    ),
    (
        "groups without vpc",
        lambda stack: {
            "instance_type": "ml.m5.large",
            "security_groups": [ec2.SecurityGroup.from_security_group_id(stack, "G", "sg-0123456789abcdef0")],
        },
        "security_groups is set without vpc",
    ),
    ("empty groups", _in_vpc(security_groups=[]), "security_groups is empty: pass at least one group"),
    (
        "too many groups",
        lambda stack: {
            "instance_type": "ml.m5.large",
            "vpc": imported_vpc(stack),
            "security_groups": [
                ec2.SecurityGroup.from_security_group_id(stack, f"G{i}", f"sg-0123456789abcdef{i}") for i in range(6)
            ],
        },
        "security_groups has 6 groups; SageMaker allows at most 5",
    ),
    (
        "subnets selecting nothing",
        _in_vpc(vpc_subnets=ec2.SubnetSelection(subnet_group_name="nope")),
        "vpc_subnets selects no subnets in the given VPC",
    ),
    (
        "one subnet",
        _in_vpc(
            vpc_subnets=ec2.SubnetSelection(
                subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, availability_zones=["us-east-1a"]
            )
        ),
        "vpc_subnets selects 1 subnet(s) in 1 availability zone(s): SageMaker needs subnets in at least 2",
    ),
    (
        "vpc without private subnets",
        lambda stack: {"instance_type": "ml.m5.large", "vpc": _public_only_vpc(stack)},
        "vpc has neither private-with-egress nor isolated subnets: SageMaker gives",
    ),
    (
        "public subnets",
        lambda stack: {
            "instance_type": "ml.m5.large",
            "vpc": _public_only_vpc(stack),
            "vpc_subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
        },
        "vpc_subnets selects public subnets",
    ),
    (
        "capture percentage high",
        _real(data_capture_s3_uri=CAPTURE_URI, data_capture_sampling_percentage=101),
        "data_capture_sampling_percentage (101) is outside 0..100",
    ),
    (
        "capture percentage negative",
        _real(data_capture_s3_uri=CAPTURE_URI, data_capture_sampling_percentage=-1),
        "data_capture_sampling_percentage (-1) is outside 0..100",
    ),
    (
        "capture percentage without uri",
        _real(data_capture_sampling_percentage=50),
        "data_capture_sampling_percentage is set without data_capture_s3_uri",
    ),
    (
        "capture uri not s3",
        _real(data_capture_s3_uri="capture-bucket/prefix"),
        "data_capture_s3_uri ('capture-bucket/prefix') is not an S3 URL",
    ),
    (
        "environment key",
        _real(environment={"1BAD": "x"}),
        "environment key '1BAD' is not a valid variable name",
    ),
    (
        "environment value",
        _real(environment={"LONG": "x" * 1025}),
        "environment value of LONG is 1025 characters long; SageMaker allows at most 1024",
    ),
    (
        "endpoint name",
        _real(endpoint_name="churn_prod"),
        "endpoint_name ('churn_prod') is not a SageMaker endpoint name",
    ),
    ("endpoint name length", _real(endpoint_name="a" * 64), "is not a SageMaker endpoint name: use 1 to 63"),
]


@pytest.mark.parametrize(("props", "message"), [(p, m) for _, p, m in REJECTED], ids=[i for i, _, _ in REJECTED])
def test_rejected(props: Props, message: str) -> None:
    stack = new_stack()
    kwargs = {"model_data_url": MODEL_DATA_URL, **props(stack)}
    with pytest.raises(ValueError, match=_literal(message)):
        MlflowModelEndpoint(stack, "Endpoint", **kwargs)


def test_tokens_are_accepted_unchecked() -> None:
    stack = new_stack()
    MlflowModelEndpoint(
        stack,
        "Endpoint",
        model_data_url=cdk.CfnParameter(stack, "Url").value_as_string,
        instance_type=cdk.CfnParameter(stack, "Type").value_as_string,
        initial_instance_count=cast(int, cdk.CfnParameter(stack, "Count", type="Number").value_as_number),
        data_capture_s3_uri=cdk.CfnParameter(stack, "Capture").value_as_string,
        endpoint_name=cdk.CfnParameter(stack, "Name").value_as_string,
    )


def _logical_id(stack: cdk.Stack, construct: Any) -> str:
    element = construct.node.default_child
    assert isinstance(element, cdk.CfnElement)
    return stack.get_logical_id(element)


def _literal(message: str) -> str:
    import re

    return re.escape(message)


def _list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
