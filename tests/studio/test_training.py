"""MlflowTrainingConfig: the VPC configuration and environment it renders for SageMaker training jobs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager

from mlflow_sagemaker_constructs import MlflowAuthentication, SecureMlflowService
from mlflow_sagemaker_constructs.studio.training import CREDENTIALS_SECRET_ENV, MlflowTrainingConfig
from tests.harness import new_stack
from tests.harness.vpc import imported_isolated_only_vpc, imported_vpc

pytestmark = pytest.mark.xdist_group("training")

PRIVATE_SUBNETS = ["subnet-0a000000000000001", "subnet-0a000000000000002", "subnet-0a000000000000003"]
ISOLATED_SUBNETS = ["subnet-0b000000000000001", "subnet-0b000000000000002", "subnet-0b000000000000003"]
HTTP_API_URL = "https://abc123def4.execute-api.us-east-1.amazonaws.com/"


@dataclass
class World:
    stack: cdk.Stack
    mlflow: SecureMlflowService
    unauthenticated: SecureMlflowService
    isolated: SecureMlflowService
    iam: SecureMlflowService
    group: ec2.ISecurityGroup
    secret: secretsmanager.ISecret
    bucket: s3.IBucket

    def resolve(self, value: Any) -> Any:
        return self.stack.resolve(value)

    def logical_id(self, construct: Any) -> str:
        child = construct.node.default_child
        assert isinstance(child, cdk.CfnElement)
        return self.stack.get_logical_id(child)


@pytest.fixture(scope="module")
def world() -> World:
    stack = new_stack()
    vpc = imported_vpc(stack)
    isolated_vpc = imported_isolated_only_vpc(stack)
    return World(
        stack=stack,
        mlflow=SecureMlflowService(stack, "Mlflow", vpc=vpc, authentication=MlflowAuthentication.basic_auth()),
        unauthenticated=SecureMlflowService(
            stack,
            "Unauthenticated",
            vpc=vpc,
            authentication=MlflowAuthentication.disabled(authenticated_by="IAM (SigV4) at the PrivateHttpApi"),
        ),
        isolated=SecureMlflowService(
            stack, "Isolated", vpc=isolated_vpc, authentication=MlflowAuthentication.basic_auth()
        ),
        iam=SecureMlflowService(stack, "Iam", vpc=vpc),
        group=ec2.SecurityGroup(stack, "Jobs", vpc=vpc),
        secret=secretsmanager.Secret(stack, "Credentials"),
        bucket=s3.Bucket.from_bucket_name(stack, "Data", "ml-data-bucket"),
    )


def _load_balancer_url(world: World, mlflow: SecureMlflowService) -> Any:
    return {"Fn::Join": ["", ["http://", {"Fn::GetAtt": [world.logical_id(mlflow.load_balancer), "DNSName"]}]]}


def test_vpc_config_uses_private_subnets_and_the_security_group(world: World) -> None:
    config = MlflowTrainingConfig(world.mlflow, security_group=world.group, credentials_secret=world.secret)
    assert world.resolve(config.vpc_config()) == {
        "Subnets": PRIVATE_SUBNETS,
        "SecurityGroupIds": [{"Fn::GetAtt": [world.logical_id(world.group), "GroupId"]}],
    }


def test_vpc_without_private_subnets_falls_back_to_isolated_ones(world: World) -> None:
    config = MlflowTrainingConfig(world.isolated, security_group=world.group, credentials_secret=world.secret)
    assert world.resolve(config.vpc_config())["Subnets"] == ["subnet-0c000000000000001", "subnet-0c000000000000002"]


def test_chosen_subnets_are_used(world: World) -> None:
    config = MlflowTrainingConfig(
        world.mlflow,
        security_group=world.group,
        credentials_secret=world.secret,
        subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
    )
    assert world.resolve(config.vpc_config())["Subnets"] == ISOLATED_SUBNETS


def test_built_in_auth_names_the_secret_never_the_password(world: World) -> None:
    config = MlflowTrainingConfig(
        world.mlflow,
        security_group=world.group,
        credentials_secret=world.secret,
        extra_environment={"EXPERIMENT": "churn"},
    )
    assert world.resolve(config.environment()) == {
        "MLFLOW_TRACKING_URI": _load_balancer_url(world, world.mlflow),
        CREDENTIALS_SECRET_ENV: {"Ref": world.logical_id(world.secret)},
        "EXPERIMENT": "churn",
    }
    assert CREDENTIALS_SECRET_ENV == "MLFLOW_CREDENTIALS_SECRET_ARN"


def test_estimator_kwargs_fit_the_sagemaker_sdk(world: World) -> None:
    config = MlflowTrainingConfig(world.mlflow, security_group=world.group, credentials_secret=world.secret)
    kwargs = world.resolve(config.estimator_kwargs())
    assert set(kwargs) == {"subnets", "security_group_ids", "environment"}
    assert kwargs["subnets"] == PRIVATE_SUBNETS
    assert kwargs["security_group_ids"] == [{"Fn::GetAtt": [world.logical_id(world.group), "GroupId"]}]
    assert kwargs["environment"] == world.resolve(config.environment())


def test_sagemaker_sdk_config_sets_training_job_defaults(world: World) -> None:
    config = MlflowTrainingConfig(
        world.mlflow, security_group=world.group, credentials_secret=world.secret, default_bucket=world.bucket
    )
    assert world.resolve(config.sagemaker_sdk_config()) == {
        "SchemaVersion": "1.0",
        "SageMaker": {
            "TrainingJob": {
                "VpcConfig": world.resolve(config.vpc_config()),
                "Environment": world.resolve(config.environment()),
            },
            "PythonSDK": {"Modules": {"Session": {"DefaultS3Bucket": "ml-data-bucket"}}},
        },
    }
    without_bucket = MlflowTrainingConfig(world.mlflow, security_group=world.group, credentials_secret=world.secret)
    assert "PythonSDK" not in world.resolve(without_bucket.sagemaker_sdk_config())["SageMaker"]


def test_sigv4_signs_with_the_job_role(world: World) -> None:
    config = MlflowTrainingConfig(
        world.unauthenticated, security_group=world.group, tracking_uri=HTTP_API_URL, sigv4=True
    )
    assert world.resolve(config.environment()) == {
        "MLFLOW_TRACKING_URI": HTTP_API_URL,
        "MLFLOW_TRACKING_AUTH": "aws-sigv4",
    }
    assert config.grant(iam.Role(world.stack, "SigV4Role", assumed_by=iam.AnyPrincipal())) is None


def test_finding_5_jobs_never_reach_a_server_without_authentication_directly(world: World) -> None:
    with pytest.raises(ValueError, match=r"the MLflow server does not authenticate .* must not reach it directly"):
        MlflowTrainingConfig(world.unauthenticated, security_group=world.group)
    # Through what authenticates instead, the URI is all the jobs get.
    config = MlflowTrainingConfig(world.unauthenticated, security_group=world.group, tracking_uri=HTTP_API_URL)
    assert world.resolve(config.environment()) == {"MLFLOW_TRACKING_URI": HTTP_API_URL}


def test_grant_lets_the_job_role_read_the_secret(world: World) -> None:
    config = MlflowTrainingConfig(world.mlflow, security_group=world.group, credentials_secret=world.secret)
    role = iam.Role(world.stack, "JobRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    grant = config.grant(role)
    assert grant is not None
    assert grant.principal_statement is not None
    statement = world.resolve(grant.principal_statement.to_statement_json())
    assert sorted(statement["Action"]) == ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    assert statement["Resource"] == {"Ref": world.logical_id(world.secret)}


def test_with_iam_authentication_jobs_need_no_credential_code(world: World) -> None:
    """The job's role is its MLflow identity: the environment names the plugin, no secret, no password."""
    config = MlflowTrainingConfig(world.iam, security_group=world.group)
    env = world.resolve(config.environment())
    assert env == {"MLFLOW_TRACKING_URI": world.resolve(world.iam.url), "MLFLOW_TRACKING_AUTH": "aws-iam"}
    assert config.grant(iam.Role(world.stack, "IamJobRole", assumed_by=iam.AccountRootPrincipal())) is None
    with pytest.raises(ValueError, match="credentials_secret was given but the jobs do not use MLflow passwords"):
        MlflowTrainingConfig(world.iam, security_group=world.group, credentials_secret=world.secret)
    with pytest.raises(ValueError, match=r"aws-iam\) signs for an IAM-authorized HTTP API as well; drop sigv4"):
        MlflowTrainingConfig(world.iam, security_group=world.group, sigv4=True, tracking_uri=HTTP_API_URL)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sigv4": True, "service": "unauthenticated"}, r"the MLflow server does not authenticate"),
        (
            {"sigv4": True, "tracking_uri": HTTP_API_URL},
            r"sigv4=True with an MLflow server that uses its built-in authentication",
        ),
        (
            {"service": "unauthenticated", "secret": True, "tracking_uri": HTTP_API_URL},
            r"credentials_secret was given but the jobs do not use",
        ),
        ({}, r"built-in authentication: pass credentials_secret"),
        ({"secret": True, "tracking_uri": "mlflow.internal:80"}, r"tracking_uri \('mlflow.internal:80'\) must start"),
        (
            {"secret": True, "extra_environment": {"MLFLOW_TRACKING_PASSWORD": "x"}},
            r"extra_environment sets MLFLOW_TRACKING_PASSWORD, which this configuration sets itself",
        ),
        (
            {"secret": True, "subnets": ec2.SubnetSelection(subnet_group_name="nope")},
            r"subnets selects no subnets in the given VPC",
        ),
    ],
    ids=[
        "sigv4-without-uri",
        "sigv4-with-basic-auth",
        "secret-without-basic-auth",
        "basic-auth-without-secret",
        "uri-without-scheme",
        "reserved-environment",
        "no-subnets",
    ],
)
def test_rejected_combinations(world: World, kwargs: dict[str, Any], message: str) -> None:
    service = world.unauthenticated if kwargs.pop("service", None) == "unauthenticated" else world.mlflow
    secret = world.secret if kwargs.pop("secret", False) else None
    with pytest.raises(ValueError, match=message):
        MlflowTrainingConfig(service, security_group=world.group, credentials_secret=secret, **kwargs)
