"""Training jobs that log to MLflow: the infrastructure, with outputs that ``launch.py`` reads.

Deploys MLflow and a Studio domain with one user, and publishes what a training job needs (subnets,
security group, environment with the tracking URI and the name of the user's MLflow credential secret,
and the role) as stack outputs. ``train.py`` is the job's script; ``launch.py`` starts a job.
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

from mlflow_sagemaker_constructs import MlflowMonitoring, SecureMlflowService, StudioDomainOrUser

FEATURE_FLAGS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent.parent / "cdk_feature_flags.json").read_text()
)


class TrainingStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        context = self.node.try_get_context
        vpc = ec2.Vpc.from_vpc_attributes(
            self,
            "Vpc",
            vpc_id=context("vpc_id"),
            availability_zones=context("availability_zones"),
            private_subnet_ids=context("private_subnet_ids"),
            private_subnet_route_table_ids=context("private_route_table_ids"),
            isolated_subnet_ids=context("isolated_subnet_ids"),
            isolated_subnet_route_table_ids=context("isolated_route_table_ids"),
        )
        mlflow = SecureMlflowService(self, "Mlflow", vpc=vpc)
        MlflowMonitoring(self, "Monitoring", server=mlflow)
        user = context("user_profile_name")
        studio = StudioDomainOrUser(self, "Studio", vpc=vpc, mlflow=mlflow, user_profile_names=[user])
        config = studio.training_config(user)
        vpc_config = config.vpc_config()
        cdk.CfnOutput(self, "TrainingSubnets", value=cdk.Fn.join(",", vpc_config["Subnets"]))
        cdk.CfnOutput(self, "TrainingSecurityGroups", value=cdk.Fn.join(",", vpc_config["SecurityGroupIds"]))
        cdk.CfnOutput(self, "TrainingEnvironment", value=self.to_json_string(config.environment()))
        # The user's own execution role: jobs launched with it log to MLflow as that user.
        cdk.CfnOutput(self, "TrainingRoleArn", value=studio.user_roles[user].role_arn)


def build(app: cdk.App) -> None:
    """Add the training stack to ``app``."""
    TrainingStack(
        app,
        "MlflowTraining",
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
