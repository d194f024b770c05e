"""Custom networking: subclass SecureMlflowService to serve HTTPS on a custom domain.

The subclass overrides the listener hook: HTTPS on 443 with a DNS-validated ACM certificate for
``mlflow.<zone>``, an alias record to the internal load balancer, and the domain added to the server's
allowed hosts. Everything else (database, bucket, auth, service) is the construct's default.

Values come from ``cdk.json`` context; replace them with your VPC and Route 53 zone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as targets
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from mlflow_sagemaker_constructs import SecureMlflowService

FEATURE_FLAGS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent.parent / "cdk_feature_flags.json").read_text()
)


class CustomDomainMlflow(SecureMlflowService):
    """SecureMlflowService with an HTTPS listener on ``domain_name`` in ``zone``."""

    def __init__(
        self, scope: Construct, construct_id: str, *, zone: route53.IHostedZone, domain_name: str, **kwargs: Any
    ) -> None:
        # Hooks run inside super().__init__: set what they read first.
        self.zone = zone
        self.domain_name = domain_name
        super().__init__(scope, construct_id, domain_names=[domain_name], **kwargs)
        route53.ARecord(
            self,
            "Alias",
            zone=zone,
            record_name=domain_name,
            target=route53.RecordTarget.from_alias(targets.LoadBalancerTarget(self.load_balancer)),
        )

    @property
    def listener_port(self) -> int:
        return 443

    @property
    def internal_url(self) -> str:
        return f"https://{self.domain_name}"

    def _create_listener(self, load_balancer: elbv2.IApplicationLoadBalancer) -> elbv2.IApplicationListener:
        certificate = acm.Certificate(
            self,
            "Certificate",
            domain_name=self.domain_name,
            validation=acm.CertificateValidation.from_dns(self.zone),
        )
        return load_balancer.add_listener(
            "Https",
            protocol=elbv2.ApplicationProtocol.HTTPS,
            port=443,
            certificates=[certificate],
            ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
            open=False,
        )


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
        mlflow = CustomDomainMlflow(
            self, "Mlflow", vpc=vpc, zone=zone, domain_name=f"{context('record_name')}.{context('zone_name')}"
        )
        cdk.CfnOutput(self, "Url", value=mlflow.internal_url)


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
