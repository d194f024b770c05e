"""How clients reach the server inside the VPC: through an internal Application Load Balancer."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2

from mlflow_sagemaker_constructs.tracking_server.listener import Listener


@dataclass(frozen=True, kw_only=True)
class ServerAccess:
    """The server's front door: :meth:`load_balancer` (the default)."""

    listener: Listener
    subnets: ec2.SubnetSelection | None
    idle_timeout: cdk.Duration

    @staticmethod
    def load_balancer(
        *,
        listener: Listener | None = None,
        subnets: ec2.SubnetSelection | None = None,
        idle_timeout: cdk.Duration | None = None,
    ) -> ServerAccess:
        """An internal Application Load Balancer (never internet-facing) that admits nobody until
        ``allow_from`` or ``connections`` is used; it drops invalid header fields and writes access logs.

        :param listener: :class:`Listener`. Default: ``Listener.http()`` on port 80.
        :param subnets: subnets of the load balancer, in at least two AZs. Default: the service's subnets.
        :param idle_timeout: connection idle timeout, 1 to 4000 s. The server keeps client connections open 5 s
            longer, so the load balancer never reuses a connection the server has closed (a 502). Default: 120 s.
        """
        access = ServerAccess(
            listener=listener or Listener.http(),
            subnets=subnets,
            idle_timeout=idle_timeout or cdk.Duration.seconds(120),
        )
        if idle_timeout is not None and not 1 <= idle_timeout.to_seconds() <= 4000:
            raise ValueError(f"idle_timeout ({idle_timeout.to_seconds()} s) must be between 1 and 4000 seconds")
        return access
