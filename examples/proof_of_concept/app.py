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
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from mlflow_sagemaker_constructs import (
    EdgeAuthorization,
    EndpointVariant,
    MlflowModelEndpoint,
    MlflowMonitoring,
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

    @property
    def availability_zones(self) -> list[str]:
        # The region's first two AZs, resolved by CloudFormation: no account lookup at synthesis and
        # no hard-coded zone names in the template.
        return [cdk.Fn.select(i, cdk.Fn.get_azs()) for i in range(2)]


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


class MlflowStack(cdk.Stack):
    """The MLflow tracking server and registry in the proof-of-concept VPC."""

    def __init__(self, scope: Construct, construct_id: str, *, vpc: ec2.IVpc, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.mlflow = SecureMlflowService(self, "Mlflow", vpc=vpc)
        # Laptops, browsers and CI reach the private load balancer through the HTTP API. MLflow's basic-auth
        # checks every request; IAM at the edge would take the Authorization header that basic-auth reads.
        self.api = PrivateHttpApi(self, "Api", server=self.mlflow, authorization=EdgeAuthorization.NONE)
        cdk.CfnOutput(self, "ApiUrl", value=self.api.url, description="MLflow URL through the HTTP API")
        # SageMaker Studio in the same VPC: JupyterLab and training jobs get MLFLOW_TRACKING_URI and a
        # per-user MLflow credential secret (register the users in MLflow once: docs/constructs/studio.md).
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
            description="Secrets Manager secret with the MLflow admin username and password",
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
