"""Lean topology: the server without a load balancer, for a small team, at under $18 a month when idle.

What differs from ``existing_vpc``: ``access=ServerAccess.cloud_map()``. The Fargate task registers into an AWS
Cloud Map service (A records in the private DNS namespace ``mlflow.internal``, health from the container health
check); the HTTP API's VPC link integrates with that Cloud Map service; Studio and training jobs in the VPC use
``http://tracking.mlflow.internal:5000``. Everything else stays as secure as the default: private only, MLflow's
authentication on, encrypted and deletion-protected data, Aurora pausing when idle, security groups admitting
only the VPC link and Studio's groups. What it gives up (load balancer access logs, its header hygiene, TLS at
the load balancer) is listed on the sizing and cost page.

The VPC and the Studio domain are identified by ids in ``cdk.json`` context; replace them with yours.
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
    PrivateHttpApi,
    SecureMlflowService,
    ServerAccess,
    StudioDomainOrUser,
)

FEATURE_FLAGS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent.parent / "cdk_feature_flags.json").read_text()
)


class LeanStack(cdk.Stack):
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
        mlflow = SecureMlflowService(self, "Mlflow", vpc=vpc, access=ServerAccess.cloud_map())
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
        cdk.CfnOutput(self, "InVpcUrl", value=mlflow.url)
        cdk.CfnOutput(self, "ApiUrl", value=api.url)
        cdk.CfnOutput(self, "StudioDomainId", value=studio.domain_id)


def build(app: cdk.App) -> None:
    """Add the lean stack to ``app``."""
    LeanStack(
        app,
        "MlflowLean",
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
