"""Existing VPC and existing SageMaker Studio domain: the constructs dropped into what a platform team has.

The VPC and its subnets are identified by ids in ``cdk.json`` context (no lookups, no credentials needed
to synthesize); the Studio domain by its id; the platform team's SNS topic for alarms by its ARN
(``alarm_topic_arn``). Replace the context values with yours, then ``cdk deploy``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_sns as sns
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from mlflow_sagemaker_constructs import (
    EdgeAuthorization,
    MlflowMonitoring,
    PrivateHttpApi,
    SecureMlflowService,
    StudioDomainOrUser,
)

FEATURE_FLAGS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent.parent / "cdk_feature_flags.json").read_text()
)


class ExistingVpcStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        context = self.node.try_get_context
        vpc = ec2.Vpc.from_vpc_attributes(
            self,
            "Vpc",
            vpc_id=context("vpc_id"),
            vpc_cidr_block=context("vpc_cidr"),
            availability_zones=context("availability_zones"),
            private_subnet_ids=context("private_subnet_ids"),
            private_subnet_route_table_ids=context("private_route_table_ids"),
            isolated_subnet_ids=context("isolated_subnet_ids"),
            isolated_subnet_route_table_ids=context("isolated_route_table_ids"),
        )
        mlflow = SecureMlflowService(self, "Mlflow", vpc=vpc, min_task_count=2, max_task_count=6)
        # NONE at the edge: the server checks every request's MLflow credentials (and the stage is throttled).
        api = PrivateHttpApi(self, "Api", server=mlflow, authorization=EdgeAuthorization.NONE)
        studio = StudioDomainOrUser(
            self,
            "Studio",
            vpc=vpc,
            mlflow=mlflow,
            existing_domain_id=context("studio_domain_id"),
            user_profile_names=context("user_profile_names"),
        )
        # The platform team's existing alarm topic: every alarm notifies it when it fires and when it recovers.
        topic = sns.Topic.from_topic_arn(self, "AlarmTopic", context("alarm_topic_arn"))
        MlflowMonitoring(
            self,
            "Monitoring",
            server=mlflow,
            http_api=api,
            alarm_actions=[cloudwatch_actions.SnsAction(topic)],
            ok_actions=[cloudwatch_actions.SnsAction(topic)],
        )
        cdk.CfnOutput(self, "InVpcUrl", value=mlflow.url)
        cdk.CfnOutput(self, "ApiUrl", value=api.url)
        cdk.CfnOutput(self, "StudioDomainId", value=studio.domain_id)


def build(app: cdk.App) -> None:
    """Add the existing-VPC stack to ``app``."""
    ExistingVpcStack(
        app,
        "MlflowExistingVpc",
        env=cdk.Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT", "123456789012"),
            region=os.environ.get("CDK_DEFAULT_REGION", "us-east-1"),
        ),
    )


def main() -> None:
    context = json.loads((Path(__file__).resolve().parent / "cdk.json").read_text())["context"]
    app = cdk.App(context={**FEATURE_FLAGS, **context})
    build(app)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()


if __name__ == "__main__":
    main()
