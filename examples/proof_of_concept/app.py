"""Proof of concept: a new VPC with every construct of the library, deployed with one ``cdk deploy --all``.

Run from this directory with ``cdk deploy --all``; the repository's ``./dev report`` synthesizes it and
reports on the templates. cdk-nag's AwsSolutions pack runs on every synthesis.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks
from constructs import Construct, IConstruct

from mlflow_sagemaker_constructs import (
    EndpointVariant,
    MlflowAuthentication,
    MlflowModelEndpoint,
    MlflowMonitoring,
    PrincipalMapping,
    PrivateHttpApi,
    SecureMlflowService,
    StudioDomainOrUser,
)

FEATURE_FLAGS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent.parent / "cdk_feature_flags.json").read_text()
)


class NetworkStack(cdk.Stack):
    """A VPC with public, private (NAT) and isolated subnets in two AZs, with flow logs."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=1,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22),
                ec2.SubnetConfiguration(name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
            ],
            flow_logs={"all": ec2.FlowLogOptions(traffic_type=ec2.FlowLogTrafficType.ALL)},
        )
        drop_redundant_provider_dependency(self)
        skip_checkov(
            self.vpc.node.find_child("all").node.find_child("LogGroup"),
            CKV_AWS_158="CloudWatch Logs encrypts flow logs at rest; a customer managed key would add a key policy "
            "and a monthly charge to a proof of concept.",
        )
        provider = self.node.try_find_child("Custom::VpcRestrictDefaultSGCustomResourceProvider")
        if provider is not None:
            skip_checkov(
                provider.node.find_child("Handler"),
                CKV_AWS_115="aws-cdk-lib's handler runs only when CloudFormation deploys the VPC: nothing to reserve.",
                CKV_AWS_116="CloudFormation invokes it synchronously and reports failures: no event to keep in a DLQ.",
                CKV_AWS_117="It only calls the EC2 API to empty the default security group; no VPC access needed.",
            )

    @property
    def availability_zones(self) -> list[str]:
        # The region's first two AZs, resolved by CloudFormation: no account lookup at synthesis and
        # no hard-coded zone names in the template.
        return [cdk.Fn.select(i, cdk.Fn.get_azs()) for i in range(2)]


def skip_checkov(construct: IConstruct, **reasons: str) -> None:
    """Tell checkov why its checks (``CKV_...=reason``) do not apply to ``construct``'s resource."""
    resource = construct if isinstance(construct, cdk.CfnResource) else construct.node.default_child
    assert isinstance(resource, cdk.CfnResource)
    resource.add_metadata("checkov", {"skip": [{"id": i, "comment": r} for i, r in reasons.items()]})


def drop_redundant_provider_dependency(stack: cdk.Stack) -> None:
    """Remove the DependsOn that CDK's restrict-default-security-group handler repeats.

    The handler already references its role with Fn::GetAtt, which orders creation; the extra
    DependsOn only makes cfn-lint report W3005.
    """
    provider = stack.node.try_find_child("Custom::VpcRestrictDefaultSGCustomResourceProvider")
    if provider is not None:
        handler = provider.node.find_child("Handler")
        assert isinstance(handler, cdk.CfnResource)
        handler.add_deletion_override("DependsOn")


#: Role whose sessions are MLflow users: ``aws sts assume-role --role-session-name alice`` is the user alice.
USERS_ROLE_NAME = "MlflowPocUsers"


class MlflowStack(cdk.Stack):
    """The MLflow tracking server and registry in the proof-of-concept VPC.

    Nobody has a password: IAM principals are MLflow users. IAM authorizes requests at the HTTP API (a signed
    request, as for any AWS API) and the server maps the caller's verified IAM identity to an MLflow user, whose
    per-experiment permissions MLflow checks. Both fit on one request.
    """

    def __init__(self, scope: Construct, construct_id: str, *, vpc: ec2.IVpc, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # Laptops and CI: sessions of one role, each session name an MLflow user (who must be allowed to
        # assume it: the account's administrators decide who, with their own IAM policies).
        self.users_role = iam.Role(
            self,
            "UsersRole",
            role_name=USERS_ROLE_NAME,
            assumed_by=iam.AccountRootPrincipal(),
            max_session_duration=cdk.Duration.hours(12),
            description="MLflow users of the proof of concept: the session name is the MLflow user",
        )
        self.mlflow = SecureMlflowService(
            self,
            "Mlflow",
            vpc=vpc,
            authentication=MlflowAuthentication.iam(principals=[PrincipalMapping.role_sessions(USERS_ROLE_NAME)]),
        )
        self.api = PrivateHttpApi(self, "Api", server=self.mlflow)  # IAM authorization at the edge (default)
        self.api.grant_invoke(self.users_role)
        cdk.CfnOutput(self, "ApiUrl", value=self.api.url, description="MLflow URL through the HTTP API")
        cdk.CfnOutput(self, "UsersRoleArn", value=self.users_role.role_arn, description="assume it as <user>")
        # SageMaker Studio in the same VPC: each user profile's execution role is its MLflow user; JupyterLab
        # gets MLFLOW_TRACKING_URI, MLFLOW_TRACKING_AUTH=aws-iam and the client plugin at every start.
        self.studio = StudioDomainOrUser(
            self, "Studio", vpc=vpc, mlflow=self.mlflow, user_profile_names=["data-scientist"]
        )
        cdk.CfnOutput(self, "StudioDomainId", value=self.studio.domain_id, description="SageMaker Studio domain")
        if self.studio.url is not None:
            cdk.CfnOutput(self, "StudioUrl", value=self.studio.url, description="SageMaker Studio URL")
        # A serving endpoint needs a packaged model, which exists only after a first training run:
        #   mlflow-sagemaker-package models:/diabetes-elasticnet/1 --s3-uri s3://<bucket>/models/
        #   cdk deploy --all -c model_data_url=s3://<bucket>/models/.../model.tar.gz
        model_data_url = self.node.try_get_context("model_data_url")
        self.endpoint: MlflowModelEndpoint | None = None
        if model_data_url:
            self.endpoint = MlflowModelEndpoint(
                self,
                "Endpoint",
                model_data_url=model_data_url,
                variant=EndpointVariant.serverless(2048, max_concurrency=5),
            )
            cdk.CfnOutput(self, "EndpointName", value=self.endpoint.endpoint_name)
        # Alarms (quiet while idle), a dashboard by tier and saved Logs Insights queries. To be told, pass
        # alarm_actions=[aws_cloudwatch_actions.SnsAction(topic)] (docs/monitoring.md).
        self.monitoring = MlflowMonitoring(
            self,
            "Monitoring",
            server=self.mlflow,
            http_api=self.api,
            endpoints=[self.endpoint] if self.endpoint is not None else [],
        )
        cdk.CfnOutput(self, "InVpcUrl", value=self.mlflow.url, description="MLflow URL inside the VPC")
        assert self.mlflow.admin_secret is not None
        cdk.CfnOutput(
            self,
            "AdminSecretName",
            value=self.mlflow.admin_secret.secret_name,
            description="Break-glass MLflow admin (basic auth), e.g. to grant the first permissions",
        )


def build(app: cdk.App) -> None:
    """Add the proof-of-concept stacks to ``app``."""
    env = cdk.Environment(
        account=os.environ.get("CDK_DEFAULT_ACCOUNT", "123456789012"),
        region=os.environ.get("CDK_DEFAULT_REGION", "us-east-1"),
    )
    network = NetworkStack(app, "MlflowPocNetwork", env=env)
    MlflowStack(app, "MlflowPocServer", vpc=network.vpc, env=env)


def main() -> None:
    app = cdk.App(context=FEATURE_FLAGS)
    build(app)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()


if __name__ == "__main__":
    main()
