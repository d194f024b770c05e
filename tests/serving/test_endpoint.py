"""MlflowModelEndpoint: model, endpoint configuration and endpoint per variant, option object and serving image.

Scenarios (one stack each, synthesized once per module):

- ``real_time``: instances with autoscaling, a created VPC and security group, a KMS key, data capture and an
  environment (snapshot);
- ``serverless``: serverless with provisioned concurrency (snapshot);
- ``defaults``: ``EndpointVariant.real_time("ml.m5.large")`` and nothing else;
- ``options``: an image from a repository by digest on a Graviton type, network isolation, a fixed endpoint name,
  tokens for the model and capture URIs, and a second endpoint beside it;
- ``given_network``: an imported VPC with given subnets and security groups, an image asset of one's own,
  autoscaling without ``min_capacity`` and an encrypted model object.

Then the network-interface permissions, the metrics, cfn-lint and cdk-nag, and every refused value.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import aws_cdk as cdk
import pytest
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template
from constructs import IConstruct
from syrupy.assertion import SnapshotAssertion

from mlflow_sagemaker_constructs.serving.endpoint import VARIANT_NAME, MlflowModelEndpoint
from mlflow_sagemaker_constructs.serving.image import SERVING_IMAGE_DIRECTORY
from mlflow_sagemaker_constructs.serving.serving_image import ServingImage
from mlflow_sagemaker_constructs.serving.variant import Autoscaling, DataCapture, EndpointVariant
from tests.conftest import normalized
from tests.harness import assert_cfn_lint_clean, assert_nag_clean, new_app, new_stack, synth_template
from tests.harness.vpc import imported_public_only_vpc, imported_vpc, new_vpc

pytestmark = pytest.mark.xdist_group("model_endpoint")

ARN = "arn:aws:{service}:us-east-1:123456789012:{resource}"
MODEL_DATA_URL = "s3://models-bucket/sagemaker/churn/v3/0123456789abcdef/model.tar.gz"
MODEL_OBJECT_ARN = "arn:aws:s3:::models-bucket/sagemaker/churn/v3/0123456789abcdef/model.tar.gz"
MODEL_KEY_ARN = ARN.format(service="kms", resource="key/11111111-2222-3333-4444-555555555555")
CAPTURE_URI = "s3://capture-bucket/endpoints/churn"
DIGEST = "sha256:" + "a" * 64
SERVICE_LINKED_ROLE = (
    "arn:aws:iam::123456789012:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
)
ASSET_REPOSITORY_ARN = ARN.format(
    service="ecr", resource="repository/cdk-hnb659fds-container-assets-123456789012-us-east-1"
)
ENDPOINT_LOG_GROUPS = ARN.format(service="logs", resource="log-group:/aws/sagemaker/Endpoints/*")
# tests/harness/vpc.py: imported_vpc's id and isolated subnets.
IMPORTED_VPC_ID = "vpc-0123456789abcdef0"
IMPORTED_ISOLATED_SUBNETS = ["subnet-0b000000000000001", "subnet-0b000000000000002", "subnet-0b000000000000003"]
GIVEN_GROUP_IDS = ["sg-0a1b2c3d4e5f60718", "sg-0a1b2c3d4e5f60719"]
ENI_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
]
DESCRIBE_ACTIONS = [
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
]
ENI_SIDS = {"CreateInterfacesInTheModelSubnets", "ManageInterfacesInTheVpc", "DescribeTheNetwork"}

#: A synthesized scenario: the endpoint under test and its stack's template.
Built = tuple[MlflowModelEndpoint, dict[str, Any]]


# --------------------------------------------------------------------------------------------------
# Template helpers
# --------------------------------------------------------------------------------------------------


def _logical_id(construct: IConstruct) -> str:
    element = construct if isinstance(construct, cdk.CfnElement) else construct.node.default_child
    assert isinstance(element, cdk.CfnElement)
    return cdk.Stack.of(element).get_logical_id(element)


def _resolve(scope: IConstruct, value: Any) -> Any:
    return cdk.Stack.of(scope).resolve(value)


def _of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def _properties(template: dict[str, Any], resource_type: str, construct: IConstruct | None = None) -> dict[str, Any]:
    """The properties of ``construct``, or of the one resource of ``resource_type``."""
    found = _of_type(template, resource_type)
    if construct is not None:
        return dict(found[_logical_id(construct)]["Properties"])
    assert len(found) == 1, f"{len(found)} {resource_type} resources"
    return dict(next(iter(found.values()))["Properties"])


def _statements(built: Built) -> list[dict[str, Any]]:
    """The statements of the endpoint's execution role policy."""
    endpoint, template = built
    policy = endpoint.role.node.find_child("DefaultPolicy")
    document = template["Resources"][_logical_id(policy)]["Properties"]["PolicyDocument"]
    return list(document["Statement"])


def _statement(built: Built, sid: str) -> dict[str, Any]:
    matches = [s for s in _statements(built) if s.get("Sid") == sid]
    assert len(matches) == 1, f"statement {sid}: {matches}"
    return matches[0]


def _list(value: Any) -> list[Any]:
    return [value] if isinstance(value, str | dict) else list(value)


def _unordered(values: Any) -> list[Any]:
    """A statement's resources in a fixed order (CDK sorts and merges them on its own terms)."""
    return sorted(_list(values), key=lambda v: json.dumps(v, sort_keys=True))


def _actions(statement: dict[str, Any]) -> list[str]:
    return sorted(_list(statement["Action"]))


def _ec2_arn(resource: str, resource_id: Any) -> Any:
    """An EC2 ARN in the test environment; a ``{"Ref": ...}`` id gives the ``Fn::Join`` CDK renders."""
    prefix = ARN.format(service="ec2", resource=f"{resource}/")
    return prefix + resource_id if isinstance(resource_id, str) else {"Fn::Join": ["", [prefix, resource_id]]}


# --------------------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------------------


def _build_real_time(stack: cdk.Stack) -> MlflowModelEndpoint:
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    return MlflowModelEndpoint(
        stack,
        "Churn",
        model_data_url=MODEL_DATA_URL,
        variant=EndpointVariant.real_time(
            "ml.m5.large",
            initial_instance_count=2,
            autoscaling=Autoscaling(min_capacity=1, max_capacity=4, target_invocations_per_instance=200),
            vpc=new_vpc(stack),
            data_capture=DataCapture(s3_uri=CAPTURE_URI, sampling_percentage=25),
        ),
        kms_key=key,
        environment={"MLFLOW_MODELS_WORKERS": "2"},
    )


def _build_serverless(stack: cdk.Stack) -> MlflowModelEndpoint:
    return MlflowModelEndpoint(
        stack,
        "Churn",
        model_data_url=MODEL_DATA_URL,
        variant=EndpointVariant.serverless(2048, max_concurrency=10, provisioned_concurrency=2),
    )


def _build_defaults(stack: cdk.Stack) -> MlflowModelEndpoint:
    return MlflowModelEndpoint(
        stack, "Churn", model_data_url=MODEL_DATA_URL, variant=EndpointVariant.real_time("ml.m5.large")
    )


def _build_options(stack: cdk.Stack) -> MlflowModelEndpoint:
    """The named endpoint; beside it ``Second`` (another endpoint) and ``Invoker`` (a role allowed to invoke it)."""
    repository = ecr.Repository.from_repository_name(stack, "Repo", "mlflow-serving")
    named = MlflowModelEndpoint(
        stack,
        "Named",
        model_data_url=cdk.CfnParameter(stack, "ModelDataUrl", type="String").value_as_string,
        # An arm64 type: allowed with an image that is not the bundled (amd64-only) one.
        variant=EndpointVariant.real_time(
            "ml.c7g.xlarge",
            enable_network_isolation=True,
            data_capture=DataCapture(s3_uri=cdk.CfnParameter(stack, "CaptureUri", type="String").value_as_string),
        ),
        image=ServingImage.from_repository(repository, DIGEST),
        endpoint_name="churn-prod",
    )
    # A second endpoint in the same stack: no physical name may collide.
    MlflowModelEndpoint(
        stack, "Second", model_data_url=MODEL_DATA_URL, variant=EndpointVariant.real_time("ml.t2.medium")
    )
    invoker = iam.Role(stack, "Invoker", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    named.grant_invoke(invoker)
    return named


def _build_given_network(stack: cdk.Stack) -> MlflowModelEndpoint:
    groups = [
        ec2.SecurityGroup.from_security_group_id(stack, f"ModelGroup{i}", group_id)
        for i, group_id in enumerate(GIVEN_GROUP_IDS)
    ]
    image = ecr_assets.DockerImageAsset(
        stack, "OwnImage", directory=str(SERVING_IMAGE_DIRECTORY), platform=ecr_assets.Platform.LINUX_ARM64
    )
    return MlflowModelEndpoint(
        stack,
        "Churn",
        model_data_url=MODEL_DATA_URL,
        variant=EndpointVariant.real_time(
            "ml.m6g.large",
            initial_instance_count=2,
            autoscaling=Autoscaling(max_capacity=3, target_invocations_per_instance=100),
            vpc=imported_vpc(stack),
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=groups,
        ),
        image=ServingImage.from_asset(image),
        model_data_kms_key=kms.Key.from_key_arn(stack, "ModelKey", MODEL_KEY_ARN),
    )


def _built(name: str, build: Callable[[cdk.Stack], MlflowModelEndpoint]) -> Built:
    stack = new_stack(new_app(), name)
    endpoint = build(stack)
    return endpoint, synth_template(stack)


@pytest.fixture(scope="module")
def real_time() -> Built:
    return _built("RealTime", _build_real_time)


@pytest.fixture(scope="module")
def serverless() -> Built:
    return _built("Serverless", _build_serverless)


@pytest.fixture(scope="module")
def defaults() -> Built:
    return _built("Defaults", _build_defaults)


@pytest.fixture(scope="module")
def options() -> Built:
    return _built("Options", _build_options)


@pytest.fixture(scope="module")
def given_network() -> Built:
    return _built("GivenNetwork", _build_given_network)


# --------------------------------------------------------------------------------------------------
# Real-time variant with autoscaling, a created VPC and group, KMS and data capture
# --------------------------------------------------------------------------------------------------


def test_real_time_model_uses_the_bundled_image_and_the_model_data(real_time: Built) -> None:
    endpoint, template = real_time
    model = _properties(template, "AWS::SageMaker::Model")
    container = model["PrimaryContainer"]
    assert container["ModelDataUrl"] == MODEL_DATA_URL
    assert container["Mode"] == "SingleModel"
    assert container["Environment"] == {"MLFLOW_MODELS_WORKERS": "2"}
    assert "cdk-hnb659fds-container-assets-123456789012-us-east-1:" in json.dumps(container["Image"])
    assert model["ExecutionRoleArn"] == {"Fn::GetAtt": [_logical_id(endpoint.role), "Arn"]}
    assert "ModelName" not in model
    assert "EnableNetworkIsolation" not in model
    assert endpoint.image.kind == "bundled-asset"


def test_real_time_model_runs_in_the_private_subnets_with_its_own_group(real_time: Built) -> None:
    endpoint, template = real_time
    vpc_config = _properties(template, "AWS::SageMaker::Model")["VpcConfig"]
    vpc = cdk.Stack.of(endpoint).node.find_child("Vpc")
    assert isinstance(vpc, ec2.Vpc)
    assert vpc_config["Subnets"] == _resolve(endpoint, [s.subnet_id for s in vpc.private_subnets])
    group = endpoint.security_group
    assert isinstance(group, ec2.SecurityGroup)
    assert vpc_config["SecurityGroupIds"] == [{"Fn::GetAtt": [_logical_id(group), "GroupId"]}]
    assert endpoint.security_groups == [group]
    assert endpoint.connections.security_groups == [group]


def test_created_security_group_has_no_ingress_and_https_egress_only(real_time: Built) -> None:
    group = _properties(real_time[1], "AWS::EC2::SecurityGroup")
    assert group["VpcId"] == {"Ref": "Vpc8378EB38"}
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


def test_real_time_variant_is_encrypted_with_the_key(real_time: Built) -> None:
    endpoint, template = real_time
    config = _properties(template, "AWS::SageMaker::EndpointConfig")
    assert config["ProductionVariants"] == [
        {
            "VariantName": VARIANT_NAME,
            "ModelName": {"Fn::GetAtt": [_logical_id(endpoint.model), "ModelName"]},
            "InitialVariantWeight": 1,
            "InstanceType": "ml.m5.large",
            "InitialInstanceCount": 2,
        }
    ]
    assert config["KmsKeyId"] == {"Fn::GetAtt": ["Key961B73FD", "Arn"]}
    assert "EndpointConfigName" not in config
    assert endpoint.serverless is False


def test_data_capture_config(real_time: Built) -> None:
    capture = _properties(real_time[1], "AWS::SageMaker::EndpointConfig")["DataCaptureConfig"]
    assert capture == {
        "EnableCapture": True,
        "DestinationS3Uri": CAPTURE_URI,
        "InitialSamplingPercentage": 25,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]},
        "KmsKeyId": {"Fn::GetAtt": ["Key961B73FD", "Arn"]},
    }


def test_endpoint_is_named_by_cloudformation_and_keeps_scaled_capacity(real_time: Built) -> None:
    endpoint, template = real_time
    properties = _properties(template, "AWS::SageMaker::Endpoint")
    assert properties["EndpointConfigName"] == {
        "Fn::GetAtt": [_logical_id(endpoint.endpoint_config), "EndpointConfigName"]
    }
    assert "EndpointName" not in properties
    assert properties["RetainAllVariantProperties"] is True
    assert properties["ExcludeRetainedVariantProperties"] == [
        {"VariantPropertyType": "DesiredWeight"},
        {"VariantPropertyType": "DataCaptureConfig"},
    ]
    assert _resolve(endpoint, endpoint.endpoint_name) == {
        "Fn::GetAtt": [_logical_id(endpoint.endpoint), "EndpointName"]
    }
    assert _resolve(endpoint, endpoint.endpoint_arn) == {"Ref": _logical_id(endpoint.endpoint)}


def test_autoscaling_tracks_invocations_per_instance(real_time: Built) -> None:
    endpoint, template = real_time
    assert isinstance(endpoint.scalable_target, appscaling.ScalableTarget)
    target = _properties(template, "AWS::ApplicationAutoScaling::ScalableTarget")
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
                {"Fn::GetAtt": [_logical_id(endpoint.endpoint), "EndpointName"]},
                f"/variant/{VARIANT_NAME}",
            ],
        ]
    }
    policy = _properties(template, "AWS::ApplicationAutoScaling::ScalingPolicy")
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert policy["TargetTrackingScalingPolicyConfiguration"] == {
        "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
        "TargetValue": 200,
    }
    # Application Auto Scaling's service-linked role: no role of the construct's own for it.
    principals = json.dumps(
        [r["Properties"]["AssumeRolePolicyDocument"] for r in _of_type(template, "AWS::IAM::Role").values()]
    )
    assert "application-autoscaling" not in principals


def test_role_reads_exactly_the_model_object(real_time: Built) -> None:
    s3_read = [s for s in _statements(real_time) if any(a.startswith("s3:Get") for a in _actions(s))]
    assert s3_read == [
        {"Sid": "ReadModelData", "Action": "s3:GetObject", "Effect": "Allow", "Resource": MODEL_OBJECT_ARN}
    ]


def test_role_writes_captured_data_under_the_prefix_only(real_time: Built) -> None:
    statement = _statement(real_time, "WriteCapturedData")
    assert statement["Action"] == "s3:PutObject"
    assert statement["Resource"] == "arn:aws:s3:::capture-bucket/endpoints/churn/*"


def test_role_pulls_only_the_serving_image_repository(real_time: Built) -> None:
    statements = _statements(real_time)
    pull = [s for s in statements if "ecr:BatchGetImage" in _actions(s)]
    assert [(_actions(s), s["Resource"]) for s in pull] == [
        (["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], ASSET_REPOSITORY_ARN)
    ]
    token = [s for s in statements if "ecr:GetAuthorizationToken" in _actions(s)]
    assert token == [{"Action": "ecr:GetAuthorizationToken", "Effect": "Allow", "Resource": "*"}]


def test_role_writes_logs_and_metrics_of_sagemaker_endpoints_only(real_time: Built) -> None:
    logs = _statement(real_time, "WriteEndpointLogs")
    assert logs["Resource"] == [ENDPOINT_LOG_GROUPS, f"{ENDPOINT_LOG_GROUPS}:log-stream:*"]
    assert _actions(logs) == [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
    ]
    metrics = _statement(real_time, "PublishEndpointMetrics")
    assert metrics["Action"] == "cloudwatch:PutMetricData"
    assert metrics["Resource"] == "*"
    assert metrics["Condition"] == {"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "AWS/SageMaker"]}}


def test_role_uses_the_key_and_may_grant_it_to_sagemaker_only(real_time: Built) -> None:
    key_arn = {"Fn::GetAtt": ["Key961B73FD", "Arn"]}
    key_use = [s for s in _statements(real_time) if s["Resource"] == key_arn and "Sid" not in s]
    assert [_actions(s) for s in key_use] == [["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]]
    grant = _statement(real_time, "GrantVolumeKeyToSageMaker")
    assert grant["Action"] == "kms:CreateGrant"
    assert grant["Resource"] == key_arn
    assert grant["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def test_role_has_no_other_permissions(real_time: Built) -> None:
    endpoint, template = real_time
    sids = sorted(s.get("Sid", "") for s in _statements(real_time))
    assert sids == [
        "",  # ecr pull
        "",  # ecr:GetAuthorizationToken
        "",  # kms use
        "CreateInterfacesInTheModelSubnets",
        "DescribeTheNetwork",
        "GrantVolumeKeyToSageMaker",
        "ManageInterfacesInTheVpc",
        "PublishEndpointMetrics",
        "ReadModelData",
        "WriteCapturedData",
        "WriteEndpointLogs",
    ]
    role = _properties(template, "AWS::IAM::Role", endpoint.role)
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}}
    ]
    assert "ManagedPolicyArns" not in role
    assert "RoleName" not in role


def test_model_waits_for_the_role_policy(real_time: Built) -> None:
    endpoint, template = real_time
    policy = endpoint.role.node.find_child("DefaultPolicy")
    assert template["Resources"][_logical_id(endpoint.model)]["DependsOn"] == [_logical_id(policy)]


def test_bundled_image_asset_is_built_for_linux_amd64_from_the_package(real_time: Built) -> None:
    endpoint, _ = real_time
    assert isinstance(endpoint.image_asset, ecr_assets.DockerImageAsset)
    assert endpoint.bound_image.amd64_only is True
    outdir = Path(cast(cdk.App, endpoint.node.root).outdir)
    manifest = json.loads((outdir / "RealTime.assets.json").read_text())
    images = list(manifest["dockerImages"].values())
    assert len(images) == 1
    assert images[0]["source"]["platform"] == "linux/amd64"
    staged = outdir / images[0]["source"]["directory"]
    # The .dockerignore keeps the build context to what the Dockerfile copies.
    assert sorted(p.name for p in staged.iterdir()) == [
        ".dockerignore",
        "Dockerfile",
        "entrypoint.py",
        "requirements.txt",
    ]
    assert (staged / "Dockerfile").read_text() == (SERVING_IMAGE_DIRECTORY / "Dockerfile").read_text()


def test_real_time_snapshot(real_time: Built, template_snapshot: SnapshotAssertion) -> None:
    assert normalized(real_time[1]) == template_snapshot


# --------------------------------------------------------------------------------------------------
# Network interfaces: limited to the VPC, its selected subnets and the model's security groups
# --------------------------------------------------------------------------------------------------


def test_network_interfaces_are_limited_to_the_given_vpc_subnets_and_groups(given_network: Built) -> None:
    """Literal ARNs: the imported VPC's isolated subnets, the two given groups and the VPC itself."""
    create = _statement(given_network, "CreateInterfacesInTheModelSubnets")
    assert create["Action"] == "ec2:CreateNetworkInterface"
    assert _unordered(create["Resource"]) == _unordered(
        [_ec2_arn("subnet", s) for s in IMPORTED_ISOLATED_SUBNETS]
        + [_ec2_arn("security-group", g) for g in GIVEN_GROUP_IDS]
    )
    assert "Condition" not in create
    manage = _statement(given_network, "ManageInterfacesInTheVpc")
    assert _actions(manage) == ENI_ACTIONS
    assert manage["Resource"] == _ec2_arn("network-interface", "*")
    assert manage["Condition"] == {"ArnEquals": {"ec2:Vpc": _ec2_arn("vpc", IMPORTED_VPC_ID)}}
    describe = _statement(given_network, "DescribeTheNetwork")
    assert _actions(describe) == DESCRIBE_ACTIONS
    assert describe["Resource"] == "*"


def test_network_interfaces_are_limited_to_the_created_vpc_subnets_and_group(real_time: Built) -> None:
    endpoint, _ = real_time
    vpc = cdk.Stack.of(endpoint).node.find_child("Vpc")
    assert isinstance(vpc, ec2.Vpc)
    assert endpoint.security_group is not None
    subnets = [_ec2_arn("subnet", {"Ref": _logical_id(s)}) for s in vpc.private_subnets]
    group = _ec2_arn("security-group", {"Fn::GetAtt": [_logical_id(endpoint.security_group), "GroupId"]})
    assert len(subnets) == 2
    resources = _statement(real_time, "CreateInterfacesInTheModelSubnets")["Resource"]
    assert _unordered(resources) == _unordered([*subnets, group])
    manage = _statement(real_time, "ManageInterfacesInTheVpc")
    assert manage["Condition"] == {"ArnEquals": {"ec2:Vpc": _ec2_arn("vpc", {"Ref": _logical_id(vpc)})}}


@pytest.mark.parametrize("scenario", ["real_time", "given_network"])
def test_only_describe_calls_reach_beyond_the_vpc(scenario: str, request: pytest.FixtureRequest) -> None:
    """Every EC2 action is in the three network statements; on ``*`` only Describe*, and nothing else unconditioned."""
    built: Built = request.getfixturevalue(scenario)
    ec2_statements = [s for s in _statements(built) if any(a.startswith("ec2:") for a in _actions(s))]
    assert {s.get("Sid") for s in ec2_statements} == ENI_SIDS
    for statement in ec2_statements:
        wildcard = [r for r in _list(statement["Resource"]) if r == "*" or str(r).endswith("/*")]
        if "*" in wildcard:
            assert all(a.startswith("ec2:Describe") for a in _actions(statement)), statement
        elif wildcard:
            assert "ArnEquals" in statement.get("Condition", {}), statement


@pytest.mark.parametrize("scenario", ["serverless", "defaults"])
def test_no_network_permissions_outside_a_vpc(scenario: str, request: pytest.FixtureRequest) -> None:
    built: Built = request.getfixturevalue(scenario)
    actions = [a for s in _statements(built) for a in _actions(s)]
    assert actions
    assert not [a for a in actions if a.startswith("ec2:")]
    assert built[0].security_group is None
    assert "VpcConfig" not in _properties(built[1], "AWS::SageMaker::Model")


# --------------------------------------------------------------------------------------------------
# Serverless variant
# --------------------------------------------------------------------------------------------------


def test_serverless_variant(serverless: Built) -> None:
    endpoint, template = serverless
    config = _properties(template, "AWS::SageMaker::EndpointConfig")
    assert config["ProductionVariants"] == [
        {
            "VariantName": VARIANT_NAME,
            "ModelName": {"Fn::GetAtt": [_logical_id(endpoint.model), "ModelName"]},
            "InitialVariantWeight": 1,
            "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 10, "ProvisionedConcurrency": 2},
        }
    ]
    assert "KmsKeyId" not in config
    assert "DataCaptureConfig" not in config
    assert endpoint.serverless is True


def test_serverless_has_no_autoscaling_group_or_key_permissions(serverless: Built) -> None:
    endpoint, template = serverless
    assert endpoint.scalable_target is None
    assert endpoint.security_groups == []
    assert not _of_type(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert not _of_type(template, "AWS::EC2::SecurityGroup")
    assert not [a for s in _statements(serverless) for a in _actions(s) if a.startswith("kms:")]
    properties = _properties(template, "AWS::SageMaker::Endpoint")
    assert "RetainAllVariantProperties" not in properties
    assert "ExcludeRetainedVariantProperties" not in properties


def test_serverless_snapshot(serverless: Built, template_snapshot: SnapshotAssertion) -> None:
    assert normalized(serverless[1]) == template_snapshot


def test_serverless_takes_no_real_time_props() -> None:
    """Instances, autoscaling, VPC, network isolation and data capture cannot be passed to a serverless variant."""
    assert list(inspect.signature(EndpointVariant.serverless).parameters) == [
        "memory_size_mb",
        "max_concurrency",
        "provisioned_concurrency",
    ]
    serverless = cast(Any, EndpointVariant.serverless)
    for prop in ("vpc", "data_capture", "autoscaling", "enable_network_isolation", "initial_instance_count"):
        with pytest.raises(TypeError, match=prop):
            serverless(2048, **{prop: None})


def test_real_time_takes_no_serverless_props() -> None:
    parameters = set(inspect.signature(EndpointVariant.real_time).parameters)
    assert "instance_type" in parameters
    assert not parameters & {"memory_size_mb", "max_concurrency", "provisioned_concurrency"}


@pytest.mark.parametrize(
    "prop",
    [
        "instance_type",
        "min_capacity",
        "serverless_memory_size_mb",
        "vpc",
        "enable_network_isolation",
        "data_capture_s3_uri",
        "image_asset",
        "image_repository",
        "image_tag",
    ],
)
def test_the_flat_props_are_gone(prop: str) -> None:
    stack = new_stack()
    with pytest.raises(TypeError, match=prop):
        cast(Any, MlflowModelEndpoint)(
            stack, "Endpoint", model_data_url=MODEL_DATA_URL, variant=EndpointVariant.serverless(2048), **{prop: None}
        )


# --------------------------------------------------------------------------------------------------
# Defaults
# --------------------------------------------------------------------------------------------------


def test_defaults(defaults: Built) -> None:
    endpoint, template = defaults
    config = _properties(template, "AWS::SageMaker::EndpointConfig")
    assert config["ProductionVariants"][0]["InitialInstanceCount"] == 1
    assert config["ProductionVariants"][0]["InstanceType"] == "ml.m5.large"
    assert "KmsKeyId" not in config
    assert "DataCaptureConfig" not in config
    model = _properties(template, "AWS::SageMaker::Model")
    assert "Environment" not in model["PrimaryContainer"]
    assert "EnableNetworkIsolation" not in model
    assert "EndpointName" not in _properties(template, "AWS::SageMaker::Endpoint")
    assert endpoint.scalable_target is None
    assert endpoint.connections.security_groups == []
    assert endpoint.kms_key is None
    assert endpoint.serverless is False
    assert endpoint.variant_name == VARIANT_NAME
    assert endpoint.image.kind == "bundled-asset"
    assert isinstance(endpoint.image_asset, ecr_assets.DockerImageAsset)
    assert not _of_type(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert not [s for s in _statements(defaults) if s.get("Sid") in {"WriteCapturedData", "GrantVolumeKeyToSageMaker"}]


# --------------------------------------------------------------------------------------------------
# Options: image from a repository, tokens, network isolation, a fixed name, two endpoints, grant_invoke
# --------------------------------------------------------------------------------------------------


def test_image_from_a_repository_by_digest(options: Built) -> None:
    endpoint, template = options
    model = _properties(template, "AWS::SageMaker::Model", endpoint.model)
    assert f"mlflow-serving@{DIGEST}" in json.dumps(model["PrimaryContainer"]["Image"])
    assert endpoint.image.kind == "repository"
    assert endpoint.image_asset is None
    pull = [s for s in _statements(options) if "ecr:BatchGetImage" in _actions(s)]
    assert [s["Resource"] for s in pull] == [ARN.format(service="ecr", resource="repository/mlflow-serving")]


def test_a_graviton_type_is_allowed_with_an_image_of_ones_own(options: Built, given_network: Built) -> None:
    named, template = options
    assert named.bound_image.amd64_only is False
    config = _properties(template, "AWS::SageMaker::EndpointConfig", named.endpoint_config)
    assert config["ProductionVariants"][0]["InstanceType"] == "ml.c7g.xlarge"
    own = _properties(given_network[1], "AWS::SageMaker::EndpointConfig")
    assert own["ProductionVariants"][0]["InstanceType"] == "ml.m6g.large"


def test_model_data_url_token_scopes_the_read_with_intrinsics(options: Built) -> None:
    endpoint, template = options
    model = _properties(template, "AWS::SageMaker::Model", endpoint.model)
    assert model["PrimaryContainer"]["ModelDataUrl"] == {"Ref": "ModelDataUrl"}
    assert _statement(options, "ReadModelData")["Resource"] == {
        "Fn::Join": ["", ["arn:aws:s3:::", {"Fn::Select": [1, {"Fn::Split": ["s3://", {"Ref": "ModelDataUrl"}]}]}]]
    }


def test_endpoint_name_scopes_logs_to_that_endpoint(options: Built) -> None:
    endpoint, template = options
    assert _properties(template, "AWS::SageMaker::Endpoint", endpoint.endpoint)["EndpointName"] == "churn-prod"
    group = ARN.format(service="logs", resource="log-group:/aws/sagemaker/Endpoints/churn-prod")
    assert _statement(options, "WriteEndpointLogs")["Resource"] == [group, f"{group}:log-stream:*"]


def test_data_capture_uri_token_scopes_the_write_with_intrinsics(options: Built) -> None:
    endpoint, template = options
    assert _statement(options, "WriteCapturedData")["Resource"] == {
        "Fn::Join": [
            "",
            ["arn:aws:s3:::", {"Fn::Select": [1, {"Fn::Split": ["s3://", {"Ref": "CaptureUri"}]}]}, "/*"],
        ]
    }
    config = _properties(template, "AWS::SageMaker::EndpointConfig", endpoint.endpoint_config)
    assert config["DataCaptureConfig"]["DestinationS3Uri"] == {"Ref": "CaptureUri"}
    assert config["DataCaptureConfig"]["InitialSamplingPercentage"] == 100
    assert "KmsKeyId" not in config["DataCaptureConfig"]


def test_network_isolation(options: Built) -> None:
    endpoint, template = options
    assert _properties(template, "AWS::SageMaker::Model", endpoint.model)["EnableNetworkIsolation"] is True


def test_two_endpoints_synthesize_side_by_side(options: Built) -> None:
    endpoint, template = options
    second = cdk.Stack.of(endpoint).node.find_child("Second")
    assert isinstance(second, MlflowModelEndpoint)
    assert len(_of_type(template, "AWS::SageMaker::Endpoint")) == 2
    for resource in [
        *_of_type(template, "AWS::SageMaker::Model").values(),
        *_of_type(template, "AWS::SageMaker::EndpointConfig").values(),
    ]:
        assert "ModelName" not in resource["Properties"]
        assert "EndpointConfigName" not in resource["Properties"]
    assert "EndpointName" not in _properties(template, "AWS::SageMaker::Endpoint", second.endpoint)
    assert "EnableNetworkIsolation" not in _properties(template, "AWS::SageMaker::Model", second.model)


def test_grant_invoke_allows_invoking_this_endpoint_only(options: Built) -> None:
    endpoint, template = options
    invoker = cdk.Stack.of(endpoint).node.find_child("Invoker")
    Template.from_json(template).has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": _logical_id(invoker)}],
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": "sagemaker:InvokeEndpoint",
                        "Effect": "Allow",
                        "Resource": {"Ref": _logical_id(endpoint.endpoint)},
                    }
                ]
            },
        },
    )


# --------------------------------------------------------------------------------------------------
# Given network, an image asset of one's own, autoscaling without min_capacity, an encrypted model
# --------------------------------------------------------------------------------------------------


def test_model_runs_in_the_given_subnets_with_the_given_groups(given_network: Built) -> None:
    endpoint, template = given_network
    vpc_config = _properties(template, "AWS::SageMaker::Model")["VpcConfig"]
    assert vpc_config == {"Subnets": IMPORTED_ISOLATED_SUBNETS, "SecurityGroupIds": GIVEN_GROUP_IDS}
    assert endpoint.security_group is None
    assert [g.security_group_id for g in endpoint.security_groups] == GIVEN_GROUP_IDS
    assert not _of_type(template, "AWS::EC2::SecurityGroup")


def test_image_from_an_asset_of_ones_own(given_network: Built) -> None:
    endpoint, template = given_network
    own = cdk.Stack.of(endpoint).node.find_child("OwnImage")
    assert isinstance(own, ecr_assets.DockerImageAsset)
    assert endpoint.image.kind == "asset"
    assert endpoint.image_asset is own
    assert endpoint.bound_image.amd64_only is False
    assert _resolve(endpoint, endpoint.image_uri) == _resolve(endpoint, own.image_uri)
    model = _properties(template, "AWS::SageMaker::Model")
    assert model["PrimaryContainer"]["Image"] == _resolve(endpoint, endpoint.image_uri)
    # The construct builds no image of its own.
    assert endpoint.node.try_find_child("ServingImage") is None


def test_autoscaling_min_capacity_defaults_to_the_initial_instance_count(given_network: Built) -> None:
    target = _properties(given_network[1], "AWS::ApplicationAutoScaling::ScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 3)
    config = _properties(given_network[1], "AWS::SageMaker::EndpointConfig")
    assert config["ProductionVariants"][0]["InitialInstanceCount"] == 2


def test_role_may_decrypt_the_model_object_with_its_key(given_network: Built) -> None:
    decrypt = [s for s in _statements(given_network) if s["Resource"] == MODEL_KEY_ARN]
    assert [_actions(s) for s in decrypt] == [["kms:Decrypt"]]
    # The model key is not the endpoint's key: no volume encryption, no grants.
    assert "KmsKeyId" not in _properties(given_network[1], "AWS::SageMaker::EndpointConfig")
    assert not [s for s in _statements(given_network) if "kms:CreateGrant" in _actions(s)]


# --------------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------------

METRICS: list[tuple[str, Callable[[MlflowModelEndpoint], cloudwatch.Metric], str, str]] = [
    ("invocations", lambda e: e.metric_invocations(), "Invocations", "Sum"),
    ("5xx errors", lambda e: e.metric_invocation_errors(), "Invocation5XXErrors", "Sum"),
    ("4xx errors", lambda e: e.metric_invocation_errors("4XX"), "Invocation4XXErrors", "Sum"),
    ("lower-case family", lambda e: e.metric_invocation_errors("4xx"), "Invocation4XXErrors", "Sum"),
    ("model latency", lambda e: e.metric_model_latency(), "ModelLatency", "p90"),
    ("overhead latency", lambda e: e.metric_overhead_latency(), "OverheadLatency", "p90"),
    ("model setup time", lambda e: e.metric_model_setup_time(), "ModelSetupTime", "Maximum"),
    ("cold starts", lambda e: e.metric_cold_starts(), "ModelSetupTime", "SampleCount"),
]


@pytest.mark.parametrize(("make", "metric_name", "statistic"), [m[1:] for m in METRICS], ids=[m[0] for m in METRICS])
def test_metric(
    defaults: Built,
    make: Callable[[MlflowModelEndpoint], cloudwatch.Metric],
    metric_name: str,
    statistic: str,
) -> None:
    endpoint, _ = defaults
    metric = make(endpoint)
    assert metric.namespace == "AWS/SageMaker"
    assert metric.metric_name == metric_name
    assert metric.statistic == statistic
    assert metric.period.to_minutes() == 5
    assert _resolve(endpoint, metric.dimensions) == {
        "EndpointName": {"Fn::GetAtt": [_logical_id(endpoint.endpoint), "EndpointName"]},
        "VariantName": VARIANT_NAME,
    }


OVERRIDABLE = [
    "metric_invocations",
    "metric_invocation_errors",
    "metric_model_latency",
    "metric_overhead_latency",
    "metric_model_setup_time",
    "metric_cold_starts",
]


@pytest.mark.parametrize("method", OVERRIDABLE)
def test_metric_options_override_the_defaults(defaults: Built, method: str) -> None:
    endpoint, _ = defaults
    metric = getattr(endpoint, method)(statistic="p99", period=cdk.Duration.minutes(1), label="mine")
    assert (metric.statistic, metric.period.to_minutes(), metric.label) == ("p99", 1, "mine")


def test_metrics_render_in_alarms() -> None:
    """Through an alarm: dimensions in the template, p90 as an extended statistic, 5-minute periods."""
    stack = new_stack()
    endpoint = _build_defaults(stack)
    latency = cloudwatch.Alarm(
        stack, "Latency", metric=endpoint.metric_model_latency(), threshold=500_000, evaluation_periods=1
    )
    errors = cloudwatch.Alarm(
        stack, "Errors", metric=endpoint.metric_invocation_errors(), threshold=1, evaluation_periods=1
    )
    template = synth_template(stack)
    dimensions = [
        {"Name": "EndpointName", "Value": {"Fn::GetAtt": [_logical_id(endpoint.endpoint), "EndpointName"]}},
        {"Name": "VariantName", "Value": VARIANT_NAME},
    ]
    latency_alarm = _properties(template, "AWS::CloudWatch::Alarm", latency)
    assert (latency_alarm["MetricName"], latency_alarm["ExtendedStatistic"]) == ("ModelLatency", "p90")
    assert "Statistic" not in latency_alarm
    errors_alarm = _properties(template, "AWS::CloudWatch::Alarm", errors)
    assert (errors_alarm["MetricName"], errors_alarm["Statistic"]) == ("Invocation5XXErrors", "Sum")
    for alarm in (latency_alarm, errors_alarm):
        assert alarm["Namespace"] == "AWS/SageMaker"
        assert alarm["Dimensions"] == dimensions
        assert alarm["Period"] == 300


@pytest.mark.parametrize("family", ["3XX", "500", "", "5XXX"])
def test_invocation_errors_of_another_family_are_refused(defaults: Built, family: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"family ({family!r}) has no SageMaker invocation error metric")):
        defaults[0].metric_invocation_errors(family)


# --------------------------------------------------------------------------------------------------
# cfn-lint and cdk-nag
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["real_time", "serverless", "defaults", "options", "given_network"])
def test_cfn_lint_clean(scenario: str, request: pytest.FixtureRequest) -> None:
    built: Built = request.getfixturevalue(scenario)
    assert_cfn_lint_clean(built[1], scenario)


def test_nag_clean() -> None:
    """Every scenario, and environment-agnostic stacks (tokens in the acknowledged resource ids)."""
    app = new_app()
    _build_real_time(new_stack(app, "RealTime"))
    _build_serverless(new_stack(app, "Serverless"))
    _build_defaults(new_stack(app, "Defaults"))
    _build_options(new_stack(app, "Options"))
    _build_given_network(new_stack(app, "GivenNetwork"))
    _build_real_time(cdk.Stack(app, "AgnosticRealTime"))
    _build_options(cdk.Stack(app, "AgnosticOptions"))
    assert_nag_clean(app)


# --------------------------------------------------------------------------------------------------
# Refused values and combinations: each option object when it is made, the endpoint's own props at synth
# --------------------------------------------------------------------------------------------------

Build = Callable[[cdk.Stack], object]


def _real_time(instance_type: str = "ml.m5.large", **props: Any) -> Build:
    return lambda _stack: EndpointVariant.real_time(instance_type, **props)


def _in_vpc(**props: Any) -> Build:
    return lambda stack: EndpointVariant.real_time("ml.m5.large", vpc=imported_vpc(stack), **props)


def _endpoint(variant: Callable[[], EndpointVariant] | None = None, **props: Any) -> Build:
    """An endpoint with valid props, ``props`` over them (``variant`` is made inside the stack's build)."""

    def build(stack: cdk.Stack) -> MlflowModelEndpoint:
        made = variant() if variant is not None else EndpointVariant.real_time("ml.m5.large")
        return MlflowModelEndpoint(stack, "Endpoint", **{"model_data_url": MODEL_DATA_URL, "variant": made, **props})

    return build


def _groups(stack: cdk.Stack, count: int) -> list[ec2.ISecurityGroup]:
    return [
        ec2.SecurityGroup.from_security_group_id(stack, f"G{i}", f"sg-0123456789abcde{i:02x}") for i in range(count)
    ]


def _subnets(stack: cdk.Stack, zones: list[str]) -> ec2.SubnetSelection:
    return ec2.SubnetSelection(
        subnets=[
            ec2.Subnet.from_subnet_attributes(stack, f"S{i}", subnet_id=f"subnet-0e{i:015x}", availability_zone=zone)
            for i, zone in enumerate(zones)
        ]
    )


REFUSED: list[tuple[str, Build, str]] = [
    # EndpointVariant.real_time: instance type
    (
        "instance type without ml.",
        _real_time("m5.large"),
        "instance_type ('m5.large') is not a SageMaker hosting instance type: use ml.<family>.<size>, e.g. "
        "'ml.m5.large'",
    ),
    ("instance type without size", _real_time("ml.m5"), "instance_type ('ml.m5') is not a SageMaker hosting"),
    ("instance type in capitals", _real_time("ML.M5.LARGE"), "instance_type ('ML.M5.LARGE') is not a SageMaker"),
    (
        "notebook instance type",
        _real_time("ml.t3.medium"),
        "instance_type ('ml.t3.medium') cannot host endpoints (ml.t3 is for notebook instances and Studio apps): "
        "choose a hosting type such as 'ml.m5.large'",
    ),
    (
        "processing instance type",
        _real_time("ml.c5n.xlarge"),
        "instance_type ('ml.c5n.xlarge') cannot host endpoints (ml.c5n is for training and processing jobs)",
    ),
    (
        "training instance type",
        _real_time("ml.p3dn.24xlarge"),
        "instance_type ('ml.p3dn.24xlarge') cannot host endpoints (ml.p3dn is for training jobs)",
    ),
    (
        "accelerator type",
        _real_time("ml.eia2.medium"),
        "(ml.eia2 is for Elastic Inference accelerators, not instances)",
    ),
    # EndpointVariant.real_time: instance counts
    ("no instances", _real_time(initial_instance_count=0), "initial_instance_count (0) must be at least 1"),
    ("negative instances", _real_time(initial_instance_count=-1), "initial_instance_count (-1) must be at least 1"),
    # Autoscaling
    (
        "target zero",
        lambda _s: Autoscaling(max_capacity=3, target_invocations_per_instance=0),
        "autoscaling.target_invocations_per_instance (0) must be greater than 0",
    ),
    (
        "target negative",
        lambda _s: Autoscaling(max_capacity=3, target_invocations_per_instance=-1.5),
        "autoscaling.target_invocations_per_instance (-1.5) must be greater than 0",
    ),
    (
        "min zero",
        lambda _s: Autoscaling(min_capacity=0, max_capacity=3, target_invocations_per_instance=100),
        "autoscaling.min_capacity (0) must be at least 1: a real-time variant keeps an instance",
    ),
    (
        "max zero",
        lambda _s: Autoscaling(max_capacity=0, target_invocations_per_instance=100),
        "autoscaling.max_capacity (0) must be at least 1",
    ),
    (
        "min above max",
        lambda _s: Autoscaling(min_capacity=3, max_capacity=2, target_invocations_per_instance=100),
        "autoscaling.min_capacity (3) is greater than autoscaling.max_capacity (2): set autoscaling.min_capacity <= "
        "autoscaling.max_capacity",
    ),
    # EndpointVariant.real_time: instance count against autoscaling
    (
        "initial above max, min defaulted",
        _real_time(
            initial_instance_count=5, autoscaling=Autoscaling(max_capacity=3, target_invocations_per_instance=100)
        ),
        "initial_instance_count (5) is greater than autoscaling.max_capacity (3): lower initial_instance_count or "
        "raise max_capacity (min_capacity defaults to initial_instance_count)",
    ),
    (
        "initial below min",
        _real_time(
            initial_instance_count=1,
            autoscaling=Autoscaling(min_capacity=2, max_capacity=3, target_invocations_per_instance=100),
        ),
        "initial_instance_count (1) is outside autoscaling's min_capacity..max_capacity (2..3): set it within",
    ),
    (
        "initial above max",
        _real_time(
            initial_instance_count=4,
            autoscaling=Autoscaling(min_capacity=1, max_capacity=3, target_invocations_per_instance=100),
        ),
        "initial_instance_count (4) is outside autoscaling's min_capacity..max_capacity (1..3)",
    ),
    # EndpointVariant.serverless
    (
        "serverless memory",
        lambda _s: EndpointVariant.serverless(1500),
        "memory_size_mb (1500) is not a SageMaker serverless memory size: use one of 1024, 2048, 3072, 4096, 5120, "
        "6144",
    ),
    ("serverless memory above", lambda _s: EndpointVariant.serverless(8192), "memory_size_mb (8192) is not a"),
    (
        "concurrency zero",
        lambda _s: EndpointVariant.serverless(2048, max_concurrency=0),
        "max_concurrency (0) must be between 1 and 200",
    ),
    (
        "concurrency high",
        lambda _s: EndpointVariant.serverless(2048, max_concurrency=201),
        "max_concurrency (201) must be between 1 and 200",
    ),
    (
        "provisioned zero",
        lambda _s: EndpointVariant.serverless(2048, provisioned_concurrency=0),
        "provisioned_concurrency (0) must be between 1 and 5",
    ),
    (
        "provisioned above the default max",
        lambda _s: EndpointVariant.serverless(2048, provisioned_concurrency=6),
        "provisioned_concurrency (6) must be between 1 and 5",
    ),
    (
        "provisioned above max",
        lambda _s: EndpointVariant.serverless(2048, max_concurrency=10, provisioned_concurrency=11),
        "provisioned_concurrency (11) must be between 1 and 10",
    ),
    # EndpointVariant.real_time: network
    (
        "subnets without vpc",
        _real_time(vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)),
        "vpc_subnets only applies with vpc (the VPC the subnets and groups belong to): remove vpc_subnets",
    ),
    (
        "groups without vpc",
        lambda stack: EndpointVariant.real_time("ml.m5.large", security_groups=_groups(stack, 1)),
        "security_groups only applies with vpc (the VPC the subnets and groups belong to): remove security_groups",
    ),
    (
        "empty groups without vpc",
        _real_time(security_groups=[]),
        "security_groups only applies with vpc",
    ),
    (
        "empty groups",
        _in_vpc(security_groups=[]),
        "security_groups has 0 groups: pass 1 to 5, or omit it to have one created",
    ),
    (
        "six groups",
        lambda stack: EndpointVariant.real_time(
            "ml.m5.large", vpc=imported_vpc(stack), security_groups=_groups(stack, 6)
        ),
        "security_groups has 6 groups: pass 1 to 5",
    ),
    (
        "subnets selecting nothing",
        _in_vpc(vpc_subnets=ec2.SubnetSelection(subnet_group_name="nope")),
        "vpc_subnets selects no subnets in the given VPC",
    ),
    (
        "one availability zone",
        _in_vpc(
            vpc_subnets=ec2.SubnetSelection(
                subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, availability_zones=["us-east-1a"]
            )
        ),
        "vpc_subnets selects 1 subnet(s) in 1 availability zone(s): SageMaker needs subnets in at least 2 "
        "availability zones; select more subnets",
    ),
    (
        "two subnets in one availability zone",
        lambda stack: EndpointVariant.real_time(
            "ml.m5.large", vpc=imported_vpc(stack), vpc_subnets=_subnets(stack, ["us-east-1a", "us-east-1a"])
        ),
        "vpc_subnets selects 2 subnet(s) in 1 availability zone(s)",
    ),
    (
        "seventeen subnets",
        lambda stack: EndpointVariant.real_time(
            "ml.m5.large",
            vpc=imported_vpc(stack),
            vpc_subnets=_subnets(stack, [f"us-east-1{'abc'[i % 3]}" for i in range(17)]),
        ),
        "vpc_subnets selects 17 subnets; SageMaker allows at most 16: select fewer",
    ),
    (
        "vpc without private subnets",
        lambda stack: EndpointVariant.real_time("ml.m5.large", vpc=imported_public_only_vpc(stack)),
        "vpc has neither private-with-egress nor isolated subnets: SageMaker gives the containers' network "
        "interfaces no public IP",
    ),
    (
        "public subnets",
        lambda stack: EndpointVariant.real_time(
            "ml.m5.large",
            vpc=imported_public_only_vpc(stack),
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
        ),
        "vpc_subnets selects public subnets: SageMaker gives the containers' network interfaces no public IP",
    ),
    # DataCapture
    (
        "capture uri without scheme",
        lambda _s: DataCapture(s3_uri="capture-bucket/prefix"),
        "data_capture.s3_uri ('capture-bucket/prefix') is not an S3 URL: pass s3://bucket or s3://bucket/prefix",
    ),
    (
        "capture uri https",
        lambda _s: DataCapture(s3_uri="https://capture-bucket.s3.amazonaws.com/x"),
        "data_capture.s3_uri ('https://capture-bucket.s3.amazonaws.com/x') is not an S3 URL",
    ),
    (
        "capture bucket in capitals",
        lambda _s: DataCapture(s3_uri="s3://Capture-Bucket/x"),
        "data_capture.s3_uri ('s3://Capture-Bucket/x') is not an S3 URL",
    ),
    (
        "capture percentage high",
        lambda _s: DataCapture(s3_uri=CAPTURE_URI, sampling_percentage=101),
        "data_capture.sampling_percentage (101 %) must be between 0 and 100 %",
    ),
    (
        "capture percentage negative",
        lambda _s: DataCapture(s3_uri=CAPTURE_URI, sampling_percentage=-1),
        "data_capture.sampling_percentage (-1 %) must be between 0 and 100 %",
    ),
    # ServingImage
    (
        "repository without tag",
        lambda stack: ServingImage.from_repository(ecr.Repository.from_repository_name(stack, "R", "r"), ""),
        "tag_or_digest is empty: pass the tag or digest (sha256:...) of the serving image",
    ),
    (
        "graviton with the bundled image",
        _endpoint(lambda: EndpointVariant.real_time("ml.c7g.xlarge")),
        "instance_type ('ml.c7g.xlarge') is a Graviton (arm64) type and the bundled serving image is linux/amd64: "
        "choose an x86 type such as 'ml.m5.large', or pass an arm64 image",
    ),
    (
        "graviton with the bundled image by default",
        _endpoint(lambda: EndpointVariant.real_time("ml.r6gd.2xlarge"), image=None),
        "instance_type ('ml.r6gd.2xlarge') is a Graviton (arm64) type",
    ),
    # MlflowModelEndpoint: variant
    (
        "variant not an EndpointVariant",
        _endpoint(variant=lambda: cast(EndpointVariant, "ml.m5.large")),
        "variant must be EndpointVariant.real_time(...) or EndpointVariant.serverless(...)",
    ),
    (
        "variant of neither kind",
        lambda _s: EndpointVariant(),
        "an endpoint variant is either real-time or serverless: make it with EndpointVariant.real_time(...) or "
        "EndpointVariant.serverless(...)",
    ),
    (
        "variant of both kinds",
        lambda _s: EndpointVariant(
            real_time_settings=EndpointVariant.real_time("ml.m5.large").real_time_settings,
            serverless_settings=EndpointVariant.serverless(2048).serverless_settings,
        ),
        "an endpoint variant is either real-time or serverless",
    ),
    # MlflowModelEndpoint: environment
    (
        "environment key starting with a digit",
        _endpoint(environment={"1BAD": "x"}),
        "environment key '1BAD' is not a valid variable name: use letters, digits and underscores, not starting "
        "with a digit",
    ),
    ("environment key with a hyphen", _endpoint(environment={"BAD-KEY": "x"}), "environment key 'BAD-KEY' is not"),
    (
        "environment key too long",
        _endpoint(environment={"K" * 1025: "x"}),
        "environment key KKKKKKKKKKKKKKKKKKKK... is 1025 characters long; SageMaker allows at most 1024",
    ),
    (
        "environment value too long",
        _endpoint(environment={"LONG": "x" * 1025}),
        "environment value of LONG is 1025 characters long; SageMaker allows at most 1024",
    ),
    (
        "environment too large",
        _endpoint(environment={f"K{i}": "x" for i in range(101)}),
        "environment has 101 variables; SageMaker allows at most 100: pass fewer",
    ),
    # MlflowModelEndpoint: endpoint name
    (
        "endpoint name with an underscore",
        _endpoint(endpoint_name="churn_prod"),
        "endpoint_name ('churn_prod') is not a SageMaker endpoint name: use 1 to 63 letters, digits and hyphens, "
        "starting and ending with a letter or digit",
    ),
    ("endpoint name of 64 characters", _endpoint(endpoint_name="a" * 64), "is not a SageMaker endpoint name"),
    (
        "endpoint name over 63 characters with hyphens",
        _endpoint(endpoint_name="a-" * 40 + "a"),
        f"endpoint_name ({'a-' * 40 + 'a'!r}) is not a SageMaker endpoint name",
    ),
    ("endpoint name starting with a hyphen", _endpoint(endpoint_name="-churn"), "endpoint_name ('-churn') is not"),
    ("endpoint name ending with a hyphen", _endpoint(endpoint_name="churn-"), "endpoint_name ('churn-') is not"),
    ("empty endpoint name", _endpoint(endpoint_name=""), "endpoint_name ('') is not a SageMaker endpoint name"),
    # MlflowModelEndpoint: model data
    (
        "model data not in s3",
        _endpoint(model_data_url="https://example.com/model.tar.gz"),
        "model_data_url ('https://example.com/model.tar.gz') is not an S3 URL of a .tar.gz archive: pass "
        "s3://bucket/path/model.tar.gz",
    ),
    (
        "model data not an archive",
        _endpoint(model_data_url="s3://models-bucket/model.zip"),
        "model_data_url ('s3://models-bucket/model.zip') is not an S3 URL of a .tar.gz archive",
    ),
    (
        "model data bucket only",
        _endpoint(model_data_url="s3://models-bucket"),
        "model_data_url ('s3://models-bucket') is not an S3 URL of a .tar.gz archive",
    ),
    (
        "model data bucket in capitals",
        _endpoint(model_data_url="s3://Models/model.tar.gz"),
        "model_data_url ('s3://Models/model.tar.gz') is not an S3 URL",
    ),
]


@pytest.mark.parametrize(("build", "message"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_refused(build: Build, message: str) -> None:
    stack = new_stack()
    with pytest.raises(ValueError, match=re.escape(message)):
        build(stack)


def test_tokens_are_accepted_unchecked() -> None:
    """Values known only at deployment pass every check and reach the template unchanged."""
    stack = new_stack()

    def number(name: str) -> int:
        return cast(int, cdk.CfnParameter(stack, name, type="Number").value_as_number)

    def text(name: str) -> str:
        return cdk.CfnParameter(stack, name, type="String").value_as_string

    real_time = MlflowModelEndpoint(
        stack,
        "RealTime",
        model_data_url=text("Url"),
        variant=EndpointVariant.real_time(
            text("Type"),
            initial_instance_count=number("Count"),
            autoscaling=Autoscaling(
                min_capacity=number("Min"), max_capacity=number("Max"), target_invocations_per_instance=number("Target")
            ),
            data_capture=DataCapture(s3_uri=text("Capture"), sampling_percentage=number("Percentage")),
        ),
        environment={"MLFLOW_MODELS_WORKERS": text("Workers")},
        endpoint_name=text("Name"),
    )
    serverless = MlflowModelEndpoint(
        stack,
        "Serverless",
        model_data_url=MODEL_DATA_URL,
        variant=EndpointVariant.serverless(
            number("Memory"), max_concurrency=number("Concurrency"), provisioned_concurrency=number("Provisioned")
        ),
    )
    template = synth_template(stack)
    variant = _properties(template, "AWS::SageMaker::EndpointConfig", real_time.endpoint_config)["ProductionVariants"][
        0
    ]
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ({"Ref": "Type"}, {"Ref": "Count"})
    assert _properties(template, "AWS::SageMaker::Endpoint", real_time.endpoint)["EndpointName"] == {"Ref": "Name"}
    target = _properties(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == ({"Ref": "Min"}, {"Ref": "Max"})
    sizing = _properties(template, "AWS::SageMaker::EndpointConfig", serverless.endpoint_config)["ProductionVariants"]
    assert sizing[0]["ServerlessConfig"] == {
        "MemorySizeInMB": {"Ref": "Memory"},
        "MaxConcurrency": {"Ref": "Concurrency"},
        "ProvisionedConcurrency": {"Ref": "Provisioned"},
    }
