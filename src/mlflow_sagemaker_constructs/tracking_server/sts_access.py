"""How the server reaches AWS STS to verify IAM tokens: through egress, or an interface VPC endpoint."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from aws_cdk import aws_ec2 as ec2


class StsAccessKind(enum.Enum):
    EGRESS = "egress"
    NEW_ENDPOINT = "new_endpoint"
    EXISTING_ENDPOINT = "existing_endpoint"


@dataclass(frozen=True)
class StsAccess:
    """The server's route to STS, which verifies every new IAM token (one call per token and worker).

    - :meth:`egress` (default): the service's subnets have a route out (NAT gateway, or an STS endpoint with
      private DNS the VPC already has);
    - :meth:`new_interface_endpoint`: the construct creates an STS interface endpoint with private DNS in the
      service's subnets, reachable only from the service (for isolated subnets);
    - :meth:`existing_endpoint`: an STS interface endpoint you already have.

    The server verifies at the regional endpoint ``https://sts.<region>.amazonaws.com``; with private DNS, that
    name resolves to the endpoint inside the VPC, and clients sign for the same name.
    """

    kind: StsAccessKind
    endpoint: ec2.IInterfaceVpcEndpoint | None = None
    endpoint_url: str | None = None

    @staticmethod
    def egress() -> StsAccess:
        """Through the service subnets' route out; refused at synth for isolated subnets."""
        return StsAccess(StsAccessKind.EGRESS)

    @staticmethod
    def new_interface_endpoint() -> StsAccess:
        """A new STS interface endpoint with private DNS in the service's subnets, open only to the service.

        A VPC can hold one private-DNS endpoint per service: if it already has one for STS, use
        :meth:`existing_endpoint` or :meth:`egress`.
        """
        return StsAccess(StsAccessKind.NEW_ENDPOINT)

    @staticmethod
    def existing_endpoint(endpoint: ec2.IInterfaceVpcEndpoint, *, endpoint_url: str | None = None) -> StsAccess:
        """An STS interface endpoint you have; the service is admitted to it on 443.

        :param endpoint: the endpoint (``InterfaceVpcEndpoint.from_interface_vpc_endpoint_attributes`` for one
            defined elsewhere).
        :param endpoint_url: ``https://<endpoint DNS name>`` when its private DNS is off; clients must then set
            ``MLFLOW_IAM_STS_ENDPOINT`` to the same URL (Studio and training jobs get it from the constructs).
            Default: the regional name, which private DNS resolves to the endpoint.
        """
        if endpoint_url is not None and not endpoint_url.startswith("https://"):
            raise ValueError(f"endpoint_url ({endpoint_url!r}) must be an https:// URL of the endpoint's DNS name")
        return StsAccess(StsAccessKind.EXISTING_ENDPOINT, endpoint=endpoint, endpoint_url=endpoint_url)
