"""How clients reach the server inside the VPC: an internal Application Load Balancer, or AWS Cloud Map."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_servicediscovery as servicediscovery

from mlflow_sagemaker_constructs._internal import validation as check
from mlflow_sagemaker_constructs.tracking_server.listener import Listener

#: Namespace and service name of :meth:`ServerAccess.cloud_map`: clients use ``tracking.mlflow.internal``.
#: ``.internal`` is reserved for private use (ICANN, 2024), so it can never collide with a public name.
DEFAULT_NAMESPACE_NAME = "mlflow.internal"
DEFAULT_SERVICE_NAME = "tracking"
#: Keep-alive of the server's client connections without a load balancer. API Gateway does not document how
#: long it keeps an idle connection to a Cloud Map target open; the server waiting longer than the 120 s of
#: the load-balanced default keeps it from closing a connection the gateway is about to reuse in most cases.
CLOUD_MAP_KEEP_ALIVE_SECONDS = 125


class AccessKind(enum.Enum):
    """What stands between clients and the Fargate tasks."""

    LOAD_BALANCER = "load-balancer"
    CLOUD_MAP = "cloud-map"


@dataclass(frozen=True, kw_only=True)
class CloudMapDiscovery:
    """The Cloud Map service the tasks register into (see :meth:`ServerAccess.cloud_map`)."""

    namespace: servicediscovery.IPrivateDnsNamespace | None
    namespace_name: str
    service_name: str
    dns_ttl: cdk.Duration

    @property
    def dns_name(self) -> str:
        """``<service_name>.<namespace_name>``: what clients in the VPC resolve."""
        return f"{self.service_name}.{self.namespace_name}"


@dataclass(frozen=True, kw_only=True)
class ServerAccess:
    """The server's front door: :meth:`load_balancer` (the default) or :meth:`cloud_map` (no load balancer)."""

    kind: AccessKind = AccessKind.LOAD_BALANCER
    #: The load balancer's listener; None with :meth:`cloud_map`.
    listener: Listener | None = None
    subnets: ec2.SubnetSelection | None = None
    idle_timeout: cdk.Duration = field(default_factory=lambda: cdk.Duration.seconds(120))
    #: The Cloud Map service; None with :meth:`load_balancer`.
    discovery: CloudMapDiscovery | None = None

    @property
    def load_balanced(self) -> bool:
        """True for :meth:`load_balancer`."""
        return self.kind is AccessKind.LOAD_BALANCER

    @property
    def server_keep_alive_seconds(self) -> int:
        """How long the server keeps an idle client connection open: longer than whatever is in front of it."""
        if self.load_balanced:
            # The load balancer must never reuse a connection the server has just closed (a 502).
            return int(self.idle_timeout.to_seconds()) + 5
        return CLOUD_MAP_KEEP_ALIVE_SECONDS

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

    @staticmethod
    def cloud_map(
        *,
        namespace: servicediscovery.IPrivateDnsNamespace | None = None,
        namespace_name: str | None = None,
        service_name: str = DEFAULT_SERVICE_NAME,
        dns_ttl: cdk.Duration | None = None,
    ) -> ServerAccess:
        """No load balancer: the tasks register into an AWS Cloud Map service with A records in a private DNS
        namespace; clients in the VPC use ``http://<service_name>.<namespace>:5000`` and a ``PrivateHttpApi``
        integrates with the Cloud Map service over its VPC link. ECS reports the container health check to
        Cloud Map, so an unhealthy task leaves DNS answers and API Gateway's targets, and ECS replaces it.

        The lean topology for small teams: it saves the load balancer's hourly charge (about $16 a month), and
        loses the load balancer's access logs, its header hygiene (invalid header fields dropped) and TLS at the
        load balancer; see the sizing and cost page.

        :param namespace: an existing private DNS namespace of the service's VPC. Default: a new one named
            ``namespace_name`` (a Route 53 private hosted zone, about $0.50 a month).
        :param namespace_name: name of the new namespace; only without ``namespace``. Two namespaces of the same
            name cannot serve one VPC: give each server in a VPC its own. Default: ``mlflow.internal``.
        :param service_name: the Cloud Map service name, the first label of the DNS name. Default: ``tracking``.
        :param dns_ttl: how long resolvers cache the task addresses, 1 s to 1 h; short, so a replaced task is
            found quickly. Default: 10 s.
        """
        if namespace is not None and namespace_name is not None:
            raise ValueError(
                "namespace_name is only for the namespace ServerAccess.cloud_map creates: drop namespace_name, or "
                "drop namespace to create one with that name"
            )
        name = namespace.namespace_name if namespace is not None else (namespace_name or DEFAULT_NAMESPACE_NAME)
        check.check_host(name, "namespace_name", example=DEFAULT_NAMESPACE_NAME)
        check.check_host(f"{service_name}.{name}", "service_name", example=DEFAULT_SERVICE_NAME)
        if not check.is_token(service_name) and "." in service_name:
            raise ValueError(
                f"service_name ({service_name!r}) must be one DNS label (letters, digits, hyphens), e.g. "
                f"{DEFAULT_SERVICE_NAME!r}: the namespace supplies the rest of the name"
            )
        ttl = dns_ttl or cdk.Duration.seconds(10)
        if not 1 <= ttl.to_seconds() <= 3600:
            raise ValueError(f"dns_ttl ({ttl.to_seconds()} s) must be between 1 second and 1 hour")
        return ServerAccess(
            kind=AccessKind.CLOUD_MAP,
            discovery=CloudMapDiscovery(
                namespace=namespace, namespace_name=name, service_name=service_name, dns_ttl=ttl
            ),
        )
