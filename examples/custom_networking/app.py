"""Custom networking: subclass SecureMlflowService to put its load balancer behind your own network rules.

Two things many platform teams need, and how the construct supports them:

- HTTPS inside the VPC on a name of your own: ``Listener.https_with_dns_validated_certificate`` creates a
  DNS-validated ACM certificate for ``mlflow.<zone>``, an HTTPS listener, an alias record to the internal
  load balancer, and adds the name to the server's allowed hosts. ``mlflow.url`` is then
  ``https://mlflow.<zone>``.
- A load balancer placed and guarded your way: the subclass overrides the ``_create_load_balancer`` hook to
  put the load balancer in dedicated subnets and additionally into a security group your network team
  manages. Port, URL, ``allow_from`` and ``connections`` still come from the listener, so nothing else
  needs overriding.

Values come from ``cdk.json`` context; replace them with your VPC, subnets, security group and Route 53 zone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_route53 as route53
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from mlflow_sagemaker_constructs import Listener, MlflowMonitoring, SecureMlflowService, ServerAccess

FEATURE_FLAGS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent.parent / "cdk_feature_flags.json").read_text()
)


class CorporateNetworkMlflow(SecureMlflowService):
    """SecureMlflowService whose load balancer also joins a security group the network team manages."""

    def __init__(
        self, scope: Construct, construct_id: str, *, corporate_security_group: ec2.ISecurityGroup, **kwargs: Any
    ) -> None:
        # Hooks run inside super().__init__: set what they read first.
        self.corporate_security_group = corporate_security_group
        super().__init__(scope, construct_id, **kwargs)

    def _create_load_balancer(self) -> elbv2.IApplicationLoadBalancer:
        load_balancer = super()._create_load_balancer()
        assert isinstance(load_balancer, elbv2.ApplicationLoadBalancer)
        load_balancer.add_security_group(self.corporate_security_group)
        return load_balancer


class CustomNetworkingStack(cdk.Stack):
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
        zone = route53.HostedZone.from_hosted_zone_attributes(
            self, "Zone", hosted_zone_id=context("hosted_zone_id"), zone_name=context("zone_name")
        )
        corporate = ec2.SecurityGroup.from_security_group_id(
            self, "Corporate", context("corporate_security_group_id"), mutable=False
        )
        mlflow = CorporateNetworkMlflow(
            self,
            "Mlflow",
            vpc=vpc,
            corporate_security_group=corporate,
            access=ServerAccess.load_balancer(
                listener=Listener.https_with_dns_validated_certificate(
                    domain_name=f"{context('record_name')}.{context('zone_name')}", hosted_zone=zone
                ),
                subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            ),
        )
        MlflowMonitoring(self, "Monitoring", server=mlflow)
        cdk.CfnOutput(self, "Url", value=mlflow.url)


def build(app: cdk.App) -> None:
    """Add the custom-networking stack to ``app``."""
    CustomNetworkingStack(
        app,
        "MlflowCustomNetworking",
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
