"""``IMlflowTrackingServer``: what clients and fronting constructs need of a tracking server.

``SecureMlflowService`` implements it, and so does the object :meth:`SecureMlflowService.from_attributes`
returns for a server defined in another stack or app. ``StudioDomainOrUser``, ``MlflowTrainingConfig`` and
``PrivateHttpApi`` take the interface, never the concrete class.
"""

from __future__ import annotations

from typing import Protocol

import jsii
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct

from mlflow_sagemaker_constructs._internal import validation as check
from mlflow_sagemaker_constructs.tracking_server.artifacts import DEFAULT_PREFIX, ArtifactAccess, grant_prefix
from mlflow_sagemaker_constructs.tracking_server.authentication import MlflowAuthentication
from mlflow_sagemaker_constructs.tracking_server.principal_mapping import PrincipalMapping


class IMlflowTrackingServer(ec2.IConnectable, Protocol):
    """An MLflow tracking server reachable inside a VPC.

    ``connections`` has the server's port as default port, so ``allow_default_port_from(peer)`` and
    ``peer.connections.allow_to(server, ...)`` work as for any CDK connectable.
    """

    @property
    def vpc(self) -> ec2.IVpc:
        """The VPC the server is reachable in."""
        ...

    @property
    def url(self) -> str:
        """The URL clients inside the VPC use, e.g. ``http://internal-mlflow-123.us-east-1.elb.amazonaws.com``."""
        ...

    @property
    def host(self) -> str:
        """The host name in :attr:`url`, which the server accepts as ``Host`` header."""
        ...

    @property
    def port(self) -> int:
        """The port clients connect to."""
        ...

    @property
    def authentication(self) -> MlflowAuthentication:
        """How the server authenticates requests."""
        ...

    @property
    def artifact_access(self) -> ArtifactAccess:
        """Whether clients reach artifacts through the server or in S3 directly."""
        ...

    @property
    def listener(self) -> elbv2.IApplicationListener | None:
        """The load balancer listener in front of the server (for an HTTP API's VPC link), if there is one."""
        ...

    @property
    def cloud_map_service(self) -> servicediscovery.IService | None:
        """The Cloud Map service the server's tasks register into when there is no load balancer
        (``ServerAccess.cloud_map()``), for an HTTP API's VPC link; None behind a load balancer."""
        ...

    def allow_from(self, peer: ec2.IConnectable, description: str = "MLflow client") -> None:
        """Admit ``peer`` to the server's port."""
        ...

    def add_principal_mapping(self, mapping: PrincipalMapping) -> None:
        """Map more IAM principals to MLflow users (``MlflowAuthentication.iam`` only)."""
        ...

    def add_iam_audience(self, host: str) -> None:
        """Accept IAM tokens made for ``host``, a name that reaches the server through a proxy."""
        ...

    def grant_artifact_access(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` read, write and delete artifacts in S3 (for direct artifact access)."""
        ...

    def grant_artifact_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` read artifacts in S3 (e.g. SageMaker loading a model from the artifact store)."""
        ...


@jsii.implements(ec2.IConnectable)
class ImportedMlflowTrackingServer(Construct):
    """A tracking server defined elsewhere, described by its attributes.

    Made by :meth:`SecureMlflowService.from_attributes`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        url: str,
        security_group: ec2.ISecurityGroup,
        port: int,
        authentication: MlflowAuthentication,
        listener_arn: str | None = None,
        cloud_map_service: servicediscovery.IService | None = None,
        artifact_bucket: s3.IBucket | None = None,
        artifact_prefix: str = DEFAULT_PREFIX,
        artifact_access: ArtifactAccess = ArtifactAccess.PROXIED,
    ) -> None:
        super().__init__(scope, construct_id)
        if not check.is_token(url) and not url.startswith(("http://", "https://")):
            raise ValueError(f"url ({url!r}) must start with http:// or https://")
        check.in_range(port, 1, 65535, "port")
        if listener_arn is not None and cloud_map_service is not None:
            raise ValueError(
                "listener_arn and cloud_map_service describe two different front doors: pass listener_arn for a "
                "server behind a load balancer, cloud_map_service for one with ServerAccess.cloud_map()"
            )
        self._cloud_map_service = cloud_map_service
        self._vpc = vpc
        self._url = url
        self._port = port
        self._authentication = authentication
        self._artifact_access = artifact_access
        self.artifact_bucket = artifact_bucket
        self.artifact_prefix = artifact_prefix
        self._connections = ec2.Connections(security_groups=[security_group], default_port=ec2.Port.tcp(port))
        self._listener: elbv2.IApplicationListener | None = None
        if listener_arn is not None:
            self._listener = elbv2.ApplicationListener.from_application_listener_attributes(
                self, "Listener", listener_arn=listener_arn, security_group=security_group, default_port=port
            )

    @property
    def vpc(self) -> ec2.IVpc:
        return self._vpc

    @property
    def url(self) -> str:
        return self._url

    @property
    def host(self) -> str:
        return host_of(self._url)

    @property
    def port(self) -> int:
        return self._port

    @property
    def authentication(self) -> MlflowAuthentication:
        return self._authentication

    @property
    def artifact_access(self) -> ArtifactAccess:
        return self._artifact_access

    @property
    def listener(self) -> elbv2.IApplicationListener | None:
        return self._listener

    @property
    def cloud_map_service(self) -> servicediscovery.IService | None:
        return self._cloud_map_service

    @property
    def connections(self) -> ec2.Connections:
        return self._connections

    def allow_from(self, peer: ec2.IConnectable, description: str = "MLflow client") -> None:
        self._connections.allow_default_port_from(peer, description)

    def add_principal_mapping(self, mapping: PrincipalMapping) -> None:
        raise ValueError(
            "add_principal_mapping: this server is defined in another stack or app and its rules are fixed there. "
            "Map the principals where it is defined, e.g. with PrincipalMapping.role_name_prefix('<prefix>') for "
            "roles named <prefix><user>, and pass the same MlflowAuthentication to from_attributes"
        )

    def add_iam_audience(self, host: str) -> None:
        raise ValueError(
            f"add_iam_audience({host!r}): this server is defined in another stack or app, where the hosts its IAM "
            "tokens may name are fixed. Give the PrivateHttpApi a domain_name and call "
            "add_iam_audience('<that domain name>') on the server where it is defined"
        )

    def _bucket(self, what: str) -> s3.IBucket:
        if self.artifact_bucket is None:
            raise ValueError(
                f"{what}: this server was imported without artifact_bucket; pass artifact_bucket (and "
                "artifact_prefix) to SecureMlflowService.from_attributes"
            )
        return self.artifact_bucket

    def grant_artifact_access(self, grantee: iam.IGrantable) -> iam.Grant:
        return grant_prefix(self._bucket("grant_artifact_access"), self.artifact_prefix, grantee, write=True)

    def grant_artifact_read(self, grantee: iam.IGrantable) -> iam.Grant:
        return grant_prefix(self._bucket("grant_artifact_read"), self.artifact_prefix, grantee, write=False)


def host_of(url: str) -> str:
    """The host name of ``url``, without port; works on tokens inside the URL."""
    rest = url.split("://", 1)[-1]
    host = rest.split("/", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
