"""An API Gateway HTTP API in front of an internal Application Load Balancer, reached through a VPC link."""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Sequence

import aws_cdk as cdk
import jsii
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from constructs import Construct

from mlflow_sagemaker_constructs._internal.nag import acknowledge_wildcard_resource
from mlflow_sagemaker_constructs._internal.validation import default_private_selection, selected_subnets

__all__ = [
    "DEFAULT_LOG_RETENTION",
    "DEFAULT_THROTTLE_BURST_LIMIT",
    "DEFAULT_THROTTLE_RATE_LIMIT",
    "EdgeAuthorization",
    "PrivateHttpApi",
]

#: Steady-state requests per second the ``$default`` stage accepts before answering 429.
DEFAULT_THROTTLE_RATE_LIMIT = 100.0
#: Requests the ``$default`` stage accepts in a burst above the rate limit.
DEFAULT_THROTTLE_BURST_LIMIT = 200
#: Retention of the access log group when the construct creates it.
DEFAULT_LOG_RETENTION = logs.RetentionDays.THREE_MONTHS

_MIN_TIMEOUT_MS = 50
# HTTP APIs wait at most 30 s (their default); CDK accepts an explicit timeout up to 29 s only.
_MAX_TIMEOUT_MS = 29_000
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")


class EdgeAuthorization(enum.Enum):
    """Who authorizes a request at the API Gateway edge, before it reaches the load balancer.

    * ``IAM``: callers sign requests with AWS Signature Version 4 and need ``execute-api:Invoke`` on the
      API (see :meth:`PrivateHttpApi.grant_invoke`). The default; run the server with
      ``MlflowAuthentication.disabled(authenticated_by=...)``, since the signature occupies the
      ``Authorization`` header that MLflow's basic-auth would read.
    * ``JWT``: callers send a bearer token from an OpenID Connect issuer (e.g. a Cognito user pool) in the
      ``Authorization`` header; API Gateway checks issuer, audience, signature and expiry. As with IAM,
      the token occupies the header basic-auth would read.
    * ``NONE``: API Gateway lets every request through and the MLflow server must authenticate each one
      itself (basic-auth); only allowed with ``server_authenticates=True``.
    """

    NONE = "NONE"
    IAM = "AWS_IAM"
    JWT = "JWT"


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    """The stage's access log destination and format (an ``IAccessLogSettings`` has no struct form)."""

    def __init__(self, destination: apigwv2.IAccessLogDestination, log_format: apigw.AccessLogFormat) -> None:
        self._destination = destination
        self._format = log_format

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return self._format


def _concrete(value: str | None) -> bool:
    return value is not None and not cdk.Token.is_unresolved(value)


class PrivateHttpApi(Construct):
    """An API Gateway HTTP API that forwards every request to an internal ALB listener through a VPC link.

    What it creates: an HTTP API whose ``$default`` route (every method, every path: the MLflow REST API,
    the UI and proxied artifacts) goes to an ``HttpAlbIntegration`` over a VPC link in the VPC's private
    subnets; a security group for the VPC link that may only reach the listener port of the load balancer,
    and the matching ingress rule on the load balancer's security group (from the VPC link's group only);
    the ``$default`` stage (auto-deploy) with throttling and structured JSON access logs in a CloudWatch log
    group; optionally a custom domain with a Route 53 alias record, and CORS.

    Limits of HTTP APIs that shape how MLflow is used through it (none can be raised):

    * **10 MB** request and response payload: larger artifact uploads and downloads through a proxied
      artifact store fail with 413. Move large artifacts either from inside the VPC, against the load
      balancer's own URL (``SecureMlflowService.internal_url``), or with direct S3 artifact access
      (``ArtifactAccess.DIRECT``: server ``--no-serve-artifacts``, clients with S3 permissions).
    * **30 seconds** integration timeout: a request the server answers later gets 504.
    * **10 VPC links** per account and region (HTTP APIs): share one link between APIs with
      ``existing_vpc_link`` and ``existing_vpc_link_security_group``.

    Authorization (:class:`EdgeAuthorization`, default ``IAM``): SigV4 (IAM) and JWT bearer tokens travel in
    the ``Authorization`` header, the same header MLflow's basic-auth reads, so one request cannot carry
    both. With ``IAM`` or ``JWT`` the server runs without its own authentication
    (``MlflowAuthentication.disabled(authenticated_by=...)``); with ``NONE`` the server must authenticate
    every request, which ``server_authenticates=True`` acknowledges. :attr:`authorization` is public so the
    service construct and examples can check the combination.

    Host header: API Gateway forwards requests to the load balancer with the API's own host name, which
    MLflow's host check (MLflow 3.5+) rejects unless it is listed in ``--allowed-hosts``. The integration
    therefore overwrites ``Host`` with one known value, :attr:`host_header` (the custom domain, otherwise the
    ``execute-api`` host name, or the ``host_header`` prop): add it to the server's allowed hosts.

    Protected hooks a subclass may replace: ``_create_security_group``, ``_create_vpc_link``,
    ``_create_log_group``, ``_create_authorizer``, ``_create_integration`` and ``_access_log_format``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        listener: elbv2.IApplicationListener,
        vpc_link_subnets: ec2.SubnetSelection | None = None,
        existing_vpc_link: apigwv2.IVpcLink | None = None,
        existing_vpc_link_security_group: ec2.ISecurityGroup | None = None,
        authorization: EdgeAuthorization = EdgeAuthorization.IAM,
        server_authenticates: bool = False,
        jwt_issuer: str | None = None,
        jwt_audience: Sequence[str] | None = None,
        secure_server_name: str | None = None,
        host_header: str | None = None,
        integration_timeout: cdk.Duration | None = None,
        domain_name: str | None = None,
        certificate: acm.ICertificate | None = None,
        hosted_zone: route53.IHostedZone | None = None,
        disable_execute_api_endpoint: bool = False,
        cors_allowed_origins: Sequence[str] | None = None,
        throttle_rate_limit: float = DEFAULT_THROTTLE_RATE_LIMIT,
        throttle_burst_limit: int = DEFAULT_THROTTLE_BURST_LIMIT,
        existing_log_group: logs.ILogGroup | None = None,
        log_retention: logs.RetentionDays | None = None,
        log_removal_policy: cdk.RemovalPolicy | None = None,
        description: str | None = None,
    ) -> None:
        """Create the API.

        :param vpc: The VPC of the load balancer; the VPC link's network interfaces go into its subnets.
        :param listener: The internal ALB listener every request is forwarded to. An imported listener needs
            its security group and ``default_port``. Its load balancer must not be internet-facing.
        :param vpc_link_subnets: Subnets of ``vpc`` for the VPC link. Default: the private subnets with
            egress, or the isolated subnets when the VPC has none.
        :param existing_vpc_link: A VPC link to reuse instead of creating one (HTTP APIs allow 10 per
            account and region). Default: a new VPC link.
        :param existing_vpc_link_security_group: The security group of ``existing_vpc_link``; required with
            it. The load balancer accepts the listener port from this group. Default: a new group.
        :param authorization: Who authorizes requests at the edge. Default: ``EdgeAuthorization.IAM``.
        :param server_authenticates: Acknowledges that the MLflow server authenticates every request itself;
            required for ``EdgeAuthorization.NONE``. Default: ``False``.
        :param jwt_issuer: The ``https://`` issuer URL of the JWTs (e.g.
            ``https://cognito-idp.<region>.amazonaws.com/<user-pool-id>``); only with ``JWT``, then required.
        :param jwt_audience: Accepted ``aud`` (or Cognito ``client_id``) values; only with ``JWT``, then
            required and non-empty.
        :param secure_server_name: For an HTTPS listener, the host name API Gateway verifies in the load
            balancer's certificate (TLS config of the integration). Required for an HTTPS listener, refused
            for an HTTP one. Default: none (plain HTTP inside the VPC).
        :param host_header: The ``Host`` header sent to the load balancer. Default: ``domain_name`` when
            given, otherwise the API's ``<api-id>.execute-api.<region>.<suffix>`` host name.
        :param integration_timeout: How long API Gateway waits for the load balancer, 50 ms to 29 s (the
            most CDK accepts). Default: unset, API Gateway's own maximum of 30 seconds.
        :param domain_name: A custom domain name for the API, e.g. ``mlflow.example.com``. Default: none,
            clients use the ``execute-api`` URL.
        :param certificate: ACM certificate for ``domain_name`` in the stack's region; required with it.
        :param hosted_zone: Route 53 zone in which to create an alias A record for ``domain_name``.
            Default: no record.
        :param disable_execute_api_endpoint: Turn off the default ``execute-api`` endpoint so the custom
            domain is the only way in; needs ``domain_name``. Default: ``False``.
        :param cors_allowed_origins: Origins (``https://host[:port]``) allowed to call the API from a
            browser. Default: none, no CORS configuration at all.
        :param throttle_rate_limit: Steady-state requests per second of the stage, > 0. Default: 100.
        :param throttle_burst_limit: Burst capacity of the stage in requests, an integer > 0. Default: 200.
        :param existing_log_group: Log group for the access logs. Default: a new log group.
        :param log_retention: Retention of the new access log group. Default: three months.
        :param log_removal_policy: What ``cdk destroy`` does with the new access log group. Default:
            ``RemovalPolicy.RETAIN``.
        :param description: Description of the HTTP API. Default: a generic description.
        """
        super().__init__(scope, construct_id)
        self._vpc = vpc
        self._listener = listener
        self._server_authenticates = server_authenticates
        self._jwt_issuer = jwt_issuer
        self._jwt_audience = list(jwt_audience) if jwt_audience is not None else None
        self._secure_server_name = secure_server_name
        self._domain_name = domain_name
        self._cors_allowed_origins = list(cors_allowed_origins) if cors_allowed_origins is not None else None
        self._throttle_rate_limit = throttle_rate_limit
        self._throttle_burst_limit = throttle_burst_limit
        self._log_retention = log_retention if log_retention is not None else DEFAULT_LOG_RETENTION
        self._log_removal_policy = log_removal_policy if log_removal_policy is not None else cdk.RemovalPolicy.RETAIN
        self._integration_timeout = integration_timeout

        #: How requests are authorized at the edge; the MLflow service construct reads it.
        self.authorization: EdgeAuthorization = authorization

        self._validate_authorization()
        self._validate_listener()
        self._validate_domain(certificate, hosted_zone, disable_execute_api_endpoint)
        self._validate_vpc_link(existing_vpc_link, existing_vpc_link_security_group, vpc_link_subnets)
        self._validate_stage(existing_log_group, log_retention, log_removal_policy)
        self._validate_host_header(host_header)
        self._vpc_link_subnets = self._selected_subnets(vpc_link_subnets) if existing_vpc_link is None else None

        if existing_vpc_link is not None and existing_vpc_link_security_group is not None:
            #: The security group of the VPC link's network interfaces.
            self.security_group: ec2.ISecurityGroup = existing_vpc_link_security_group
            #: The VPC link through which API Gateway reaches the load balancer.
            self.vpc_link: apigwv2.IVpcLink = existing_vpc_link
        else:
            assert self._vpc_link_subnets is not None
            self.security_group = self._create_security_group()
            self.vpc_link = self._create_vpc_link(self._vpc_link_subnets, self.security_group)

        # The load balancer accepts the listener port from the VPC link only; with a security group the
        # construct created (no outbound by default) this is also the link's only egress rule.
        listener.connections.allow_default_port_from(
            self.security_group, "API Gateway VPC link to the MLflow load balancer"
        )

        #: The access log group of the ``$default`` stage.
        self.log_group: logs.ILogGroup = (
            existing_log_group if existing_log_group is not None else self._create_log_group()
        )

        #: The route authorizer (IAM or JWT); ``None`` with ``EdgeAuthorization.NONE``.
        self.authorizer: apigwv2.IHttpRouteAuthorizer | None = self._create_authorizer()

        cors = None
        if self._cors_allowed_origins is not None:
            cors = apigwv2.CorsPreflightOptions(
                allow_origins=self._cors_allowed_origins,
                allow_methods=[apigwv2.CorsHttpMethod.ANY],
                allow_headers=[
                    "Authorization",
                    "Content-Type",
                    "X-Amz-Content-Sha256",
                    "X-Amz-Date",
                    "X-Amz-Security-Token",
                ],
                max_age=cdk.Duration.hours(1),
            )

        #: The HTTP API. Its ``$default`` stage is :attr:`stage`, not ``http_api.default_stage``.
        self.http_api = apigwv2.HttpApi(
            self,
            "HttpApi",
            # Unique per construct path (no hard-coded physical name), and recognisable in the console.
            api_name=cdk.Names.unique_resource_name(self, max_length=128, separator="-"),
            description=description or "MLflow tracking server behind an internal load balancer",
            create_default_stage=False,
            cors_preflight=cors,
            disable_execute_api_endpoint=disable_execute_api_endpoint or None,
        )

        #: The ``Host`` header value the load balancer receives from the integration; add it to the MLflow
        #: server's allowed hosts (``--allowed-hosts`` / ``MLFLOW_SERVER_ALLOWED_HOSTS``).
        self.host_header: str = host_header or domain_name or self._execute_api_host()

        #: The HTTP API integration with the load balancer listener.
        self.integration: integrations.HttpAlbIntegration = self._create_integration()
        #: The ``$default`` route: every method and path, to :attr:`integration`.
        self.route = apigwv2.HttpRoute(
            self.http_api,
            "DefaultRoute",
            http_api=self.http_api,
            route_key=apigwv2.HttpRouteKey.DEFAULT,
            integration=self.integration,
            authorizer=self.authorizer if self.authorizer is not None else apigwv2.HttpNoneAuthorizer(),
        )
        if authorization is EdgeAuthorization.NONE:
            cdk.Validations.of(self.route).acknowledge(
                cdk.Acknowledgment(
                    id="AwsSolutions-APIG4",
                    reason="Edge authorization is NONE by choice (server_authenticates=True): the MLflow "
                    "server authenticates every request itself (basic-auth) and answers 401 without "
                    "valid credentials.",
                )
            )

        #: The custom domain, or ``None``.
        self.domain: apigwv2.DomainName | None = None
        #: The Route 53 alias record of the custom domain, or ``None``.
        self.alias_record: route53.ARecord | None = None
        if domain_name is not None and certificate is not None:
            self.domain = apigwv2.DomainName(
                self,
                "Domain",
                domain_name=domain_name,
                certificate=certificate,
                endpoint_type=apigwv2.EndpointType.REGIONAL,
                security_policy=apigwv2.SecurityPolicy.TLS_1_2,
            )
            if hosted_zone is not None:
                self.alias_record = route53.ARecord(
                    self,
                    "AliasRecord",
                    zone=hosted_zone,
                    record_name=domain_name,
                    target=route53.RecordTarget.from_alias(
                        route53_targets.ApiGatewayv2DomainProperties(
                            self.domain.regional_domain_name, self.domain.regional_hosted_zone_id
                        )
                    ),
                )

        #: The ``$default`` stage (auto-deploy) with throttling and access logs.
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.http_api,
            stage_name="$default",
            auto_deploy=True,
            access_log_settings=_AccessLogSettings(
                apigwv2.LogGroupLogDestination(self.log_group), self._access_log_format()
            ),
            throttle=apigwv2.ThrottleSettings(rate_limit=throttle_rate_limit, burst_limit=throttle_burst_limit),
        )
        #: The mapping of the custom domain's root to the ``$default`` stage, or ``None``.
        self.api_mapping: apigwv2.ApiMapping | None = None
        if self.domain is not None:
            # Not the stage's domain_mapping: that also makes the mapping depend on the domain, which its
            # Ref already does (cfn-lint W3005).
            self.api_mapping = apigwv2.ApiMapping(
                self, "ApiMapping", api=self.http_api, domain_name=self.domain, stage=self.stage
            )

        #: The URL clients use as ``MLFLOW_TRACKING_URI``: ``https://<domain_name>/`` with a custom domain,
        #: otherwise the ``execute-api`` URL of the ``$default`` stage.
        self.url: str = f"https://{domain_name}/" if self.domain is not None else self.stage.url

        #: ARN covering every stage, method and path of this API, for ``execute-api:Invoke``.
        self.execute_api_arn: str = cdk.Stack.of(self).format_arn(
            service="execute-api",
            resource=self.http_api.api_id,
            resource_name="*",
            arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
        )

    # ----------------------------------------------------------------------------------------------
    # Public API

    @property
    def forwarded_host(self) -> str:
        """Alias of :attr:`host_header`: the ``Host`` the MLflow server sees for requests through this API."""
        return self.host_header

    @property
    def server_authenticates(self) -> bool:
        """Whether the ``server_authenticates`` acknowledgement was given."""
        return self._server_authenticates

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to call every route of this API (``execute-api:Invoke`` on ``<api-id>/*``).

        Only meaningful with ``EdgeAuthorization.IAM``; raises ``ValueError`` otherwise. The wildcard of the
        resource (every stage, method and path of this one API) is acknowledged for cdk-nag on the grantee.
        """
        if self.authorization is not EdgeAuthorization.IAM:
            raise ValueError(
                f"grant_invoke() needs authorization=EdgeAuthorization.IAM, but this API uses "
                f"{self.authorization.name}: IAM permissions are not checked, so grant nothing or switch "
                "authorization to EdgeAuthorization.IAM"
            )
        grant = iam.Grant.add_to_principal(
            grantee=grantee, actions=["execute-api:Invoke"], resource_arns=[self.execute_api_arn]
        )
        principal = grantee.grant_principal
        if isinstance(principal, Construct):
            acknowledge_wildcard_resource(
                principal,
                self.execute_api_arn,
                "execute-api:Invoke on every stage, method and path of one MLflow HTTP API: "
                "its single $default route carries the whole MLflow REST API, UI and artifacts.",
            )
        return grant

    # ----------------------------------------------------------------------------------------------
    # Protected hooks

    def _create_security_group(self) -> ec2.ISecurityGroup:
        """The VPC link's security group: no inbound, outbound only as the listener connection adds."""
        return ec2.SecurityGroup(
            self,
            "VpcLinkSecurityGroup",
            vpc=self._vpc,
            description="API Gateway VPC link of the MLflow HTTP API: egress to the load balancer only",
            allow_all_outbound=False,
        )

    def _create_vpc_link(self, subnets: ec2.SubnetSelection, security_group: ec2.ISecurityGroup) -> apigwv2.IVpcLink:
        """The VPC link, its network interfaces in ``subnets`` with ``security_group``."""
        return apigwv2.VpcLink(self, "VpcLink", vpc=self._vpc, subnets=subnets, security_groups=[security_group])

    def _create_log_group(self) -> logs.ILogGroup:
        """The access log group with the retention and removal policy of the props."""
        return logs.LogGroup(
            self,
            "AccessLogs",
            retention=self._log_retention,
            removal_policy=self._log_removal_policy,
        )

    def _create_authorizer(self) -> apigwv2.IHttpRouteAuthorizer | None:
        """The route authorizer for :attr:`authorization`, ``None`` for ``NONE``."""
        if self.authorization is EdgeAuthorization.IAM:
            return authorizers.HttpIamAuthorizer()
        if self.authorization is EdgeAuthorization.JWT:
            assert self._jwt_issuer is not None
            assert self._jwt_audience is not None
            return authorizers.HttpJwtAuthorizer("JwtAuthorizer", self._jwt_issuer, jwt_audience=self._jwt_audience)
        return None

    def _create_integration(self) -> integrations.HttpAlbIntegration:
        """The ALB integration over :attr:`vpc_link`, overwriting ``Host`` with :attr:`host_header`."""
        return integrations.HttpAlbIntegration(
            "AlbIntegration",
            self._listener,
            vpc_link=self.vpc_link,
            method=apigwv2.HttpMethod.ANY,
            secure_server_name=self._secure_server_name,
            timeout=self._integration_timeout,
            parameter_mapping=apigwv2.ParameterMapping().overwrite_header(
                "host", apigwv2.MappingValue.custom(self.host_header)
            ),
        )

    def _access_log_format(self) -> apigw.AccessLogFormat:
        """One JSON object per request; principal fields follow :attr:`authorization`."""
        fields: dict[str, str] = {
            "requestId": "$context.requestId",
            "extendedRequestId": "$context.extendedRequestId",
            "ip": "$context.identity.sourceIp",
            "userAgent": "$context.identity.userAgent",
            "requestTime": "$context.requestTime",
            "requestTimeEpoch": "$context.requestTimeEpoch",
            "httpMethod": "$context.httpMethod",
            "routeKey": "$context.routeKey",
            "path": "$context.path",
            "domainName": "$context.domainName",
            "status": "$context.status",
            "protocol": "$context.protocol",
            "responseLength": "$context.responseLength",
            "responseLatency": "$context.responseLatency",
            "errorMessage": "$context.error.message",
            "integrationStatus": "$context.integration.status",
            "integrationError": "$context.integration.error",
            "integrationLatency": "$context.integration.latency",
        }
        if self.authorization is EdgeAuthorization.IAM:
            fields["userArn"] = "$context.identity.userArn"
            fields["caller"] = "$context.identity.caller"
            fields["accountId"] = "$context.identity.accountId"
            fields["principalOrgId"] = "$context.identity.principalOrgId"
            fields["authorizerError"] = "$context.authorizer.error"
        elif self.authorization is EdgeAuthorization.JWT:
            fields["principal"] = "$context.authorizer.claims.sub"
            fields["clientId"] = "$context.authorizer.claims.client_id"
            fields["authorizerError"] = "$context.authorizer.error"
        return apigw.AccessLogFormat.custom(json.dumps(fields, separators=(",", ":")))

    # ----------------------------------------------------------------------------------------------
    # Validation

    def _validate_authorization(self) -> None:
        auth = self.authorization
        if not isinstance(auth, EdgeAuthorization):
            raise ValueError(
                f"authorization ({auth!r}) is not an EdgeAuthorization: use EdgeAuthorization.IAM, "
                "EdgeAuthorization.JWT or EdgeAuthorization.NONE"
            )
        if auth is EdgeAuthorization.NONE and not self._server_authenticates:
            raise ValueError(
                "authorization=EdgeAuthorization.NONE lets every request through API Gateway "
                "unauthenticated: set server_authenticates=True to acknowledge that the MLflow server "
                "authenticates every request itself (basic-auth), or use EdgeAuthorization.IAM or "
                "EdgeAuthorization.JWT"
            )
        if auth is EdgeAuthorization.JWT:
            if not self._jwt_issuer:
                raise ValueError(
                    "jwt_issuer is required with authorization=EdgeAuthorization.JWT: set it to the https:// "
                    "issuer URL, e.g. https://cognito-idp.<region>.amazonaws.com/<user-pool-id>"
                )
            if _concrete(self._jwt_issuer) and not str(self._jwt_issuer).startswith("https://"):
                raise ValueError(
                    f"jwt_issuer ({self._jwt_issuer}) is not an https:// URL: API Gateway only accepts "
                    "https issuers, e.g. https://cognito-idp.<region>.amazonaws.com/<user-pool-id>"
                )
            if not self._jwt_audience:
                raise ValueError(
                    "jwt_audience is required with authorization=EdgeAuthorization.JWT: list the accepted "
                    "audiences (for a Cognito user pool, its app client ids)"
                )
        else:
            given = [
                name
                for name, value in (("jwt_issuer", self._jwt_issuer), ("jwt_audience", self._jwt_audience))
                if value is not None
            ]
            if given:
                raise ValueError(
                    f"{' and '.join(given)} only apply to authorization=EdgeAuthorization.JWT, but "
                    f"authorization is {auth.name}: remove {' and '.join(given)} or use EdgeAuthorization.JWT"
                )

    def _validate_listener(self) -> None:
        listener = self._listener
        if listener.connections.default_port is None:
            raise ValueError(
                "listener has no default port, so the load balancer cannot be opened to the VPC link: "
                "import it with ApplicationListener.from_application_listener_attributes(..., "
                "security_group=..., default_port=<listener port>)"
            )
        if isinstance(listener, elbv2.ApplicationListener):
            load_balancer = listener.load_balancer
            cfn = load_balancer.node.default_child
            if isinstance(cfn, elbv2.CfnLoadBalancer) and cfn.scheme == "internet-facing":
                raise ValueError(
                    f"listener belongs to the internet-facing load balancer {load_balancer.node.path}: "
                    "the HTTP API must be the only way in, so use a listener of an internal load balancer "
                    "(internet_facing=False)"
                )
            lb_vpc = getattr(load_balancer, "vpc", None)
            if (
                lb_vpc is not None
                and lb_vpc is not self._vpc
                and _concrete(lb_vpc.vpc_id)
                and _concrete(self._vpc.vpc_id)
                and lb_vpc.vpc_id != self._vpc.vpc_id
            ):
                raise ValueError(
                    f"listener's load balancer is in VPC {lb_vpc.vpc_id}, not in vpc ({self._vpc.vpc_id}): "
                    "pass the load balancer's VPC as vpc"
                )
            https = listener.protocol == elbv2.ApplicationProtocol.HTTPS
            if https and not self._secure_server_name:
                raise ValueError(
                    "listener is an HTTPS listener: set secure_server_name to the host name in the load "
                    "balancer's certificate so API Gateway can verify it"
                )
            if not https and self._secure_server_name:
                raise ValueError(
                    f"secure_server_name ({self._secure_server_name}) is set but listener is a "
                    f"{listener.protocol.value} listener: remove secure_server_name or use an HTTPS listener"
                )
        if _concrete(self._secure_server_name) and not _HOSTNAME.match(str(self._secure_server_name)):
            raise ValueError(
                f"secure_server_name ({self._secure_server_name}) is not a host name: give the bare name in "
                "the certificate, e.g. mlflow.internal.example.com"
            )

    def _validate_domain(
        self,
        certificate: acm.ICertificate | None,
        hosted_zone: route53.IHostedZone | None,
        disable_execute_api_endpoint: bool,
    ) -> None:
        domain_name = self._domain_name
        if domain_name is not None and certificate is None:
            raise ValueError(
                f"domain_name ({domain_name}) needs a certificate: pass certificate, an ACM certificate for "
                "it in the stack's region"
            )
        if certificate is not None and domain_name is None:
            raise ValueError("certificate is only used with a custom domain: set domain_name or remove it")
        if hosted_zone is not None and domain_name is None:
            raise ValueError(
                "hosted_zone is only used for the alias record of a custom domain: set domain_name and "
                "certificate, or remove hosted_zone"
            )
        if disable_execute_api_endpoint and domain_name is None:
            raise ValueError(
                "disable_execute_api_endpoint=True without domain_name leaves the API unreachable: set "
                "domain_name and certificate, or keep the execute-api endpoint"
            )
        if domain_name is None:
            return
        if _concrete(domain_name) and not _HOSTNAME.match(domain_name):
            raise ValueError(
                f"domain_name ({domain_name}) is not a lower-case host name: give the bare name, e.g. "
                "mlflow.example.com, without scheme, port, path or trailing dot"
            )
        if certificate is not None:
            arn = certificate.certificate_arn
            cert_region = cdk.Arn.split(arn, cdk.ArnFormat.SLASH_RESOURCE_NAME).region if _concrete(arn) else None
            stack_region = cdk.Stack.of(self).region
            if _concrete(cert_region) and _concrete(stack_region) and cert_region != stack_region:
                raise ValueError(
                    f"certificate is in {cert_region} but the API is in {stack_region}: a regional custom "
                    "domain needs an ACM certificate in the API's own region"
                )
        if hosted_zone is not None and _concrete(domain_name):
            zone = hosted_zone.zone_name.rstrip(".")
            if _concrete(zone) and domain_name != zone and not domain_name.endswith("." + zone):
                raise ValueError(
                    f"domain_name ({domain_name}) is not in hosted_zone ({zone}): pass the zone that "
                    "contains the domain name"
                )

    def _validate_vpc_link(
        self,
        existing_vpc_link: apigwv2.IVpcLink | None,
        existing_security_group: ec2.ISecurityGroup | None,
        vpc_link_subnets: ec2.SubnetSelection | None,
    ) -> None:
        if existing_vpc_link is not None and existing_security_group is None:
            raise ValueError(
                "existing_vpc_link needs existing_vpc_link_security_group, the security group of its network "
                "interfaces, so the load balancer can admit it: pass both"
            )
        if existing_security_group is not None and existing_vpc_link is None:
            raise ValueError(
                "existing_vpc_link_security_group is only used with existing_vpc_link: pass both, or "
                "neither to create a VPC link"
            )
        if existing_vpc_link is not None and vpc_link_subnets is not None:
            raise ValueError(
                "vpc_link_subnets cannot be applied to existing_vpc_link: remove vpc_link_subnets, or "
                "remove existing_vpc_link to create a VPC link in those subnets"
            )
        if existing_vpc_link is not None:
            link_vpc_id = existing_vpc_link.vpc.vpc_id
            if (
                existing_vpc_link.vpc is not self._vpc
                and _concrete(link_vpc_id)
                and _concrete(self._vpc.vpc_id)
                and link_vpc_id != self._vpc.vpc_id
            ):
                raise ValueError(
                    f"existing_vpc_link is in VPC {link_vpc_id}, not in vpc ({self._vpc.vpc_id}): pass a "
                    "VPC link of the load balancer's VPC"
                )

    def _validate_stage(
        self,
        existing_log_group: logs.ILogGroup | None,
        log_retention: logs.RetentionDays | None,
        log_removal_policy: cdk.RemovalPolicy | None,
    ) -> None:
        rate, burst = self._throttle_rate_limit, self._throttle_burst_limit
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0:
            raise ValueError(
                f"throttle_rate_limit ({rate!r}) must be a number of requests per second > 0: "
                f"e.g. {DEFAULT_THROTTLE_RATE_LIMIT:g}"
            )
        if isinstance(burst, bool) or not isinstance(burst, int) or burst <= 0:
            raise ValueError(
                f"throttle_burst_limit ({burst!r}) must be a whole number of requests > 0: "
                f"e.g. {DEFAULT_THROTTLE_BURST_LIMIT}"
            )
        if self._integration_timeout is not None:
            timeout_ms = self._integration_timeout.to_milliseconds()
            if not _MIN_TIMEOUT_MS <= timeout_ms <= _MAX_TIMEOUT_MS:
                raise ValueError(
                    f"integration_timeout ({timeout_ms:g} ms) is out of range: set it between 50 "
                    "milliseconds and 29 seconds, or leave it unset for API Gateway's maximum of 30 seconds"
                )
        if existing_log_group is not None:
            given = [
                name
                for name, value in (
                    ("log_retention", log_retention),
                    ("log_removal_policy", log_removal_policy),
                )
                if value is not None
            ]
            if given:
                raise ValueError(
                    f"{' and '.join(given)} only apply to the log group the construct creates, but "
                    f"existing_log_group is given: remove {' and '.join(given)} or existing_log_group"
                )
        origins = self._cors_allowed_origins
        if origins is not None:
            if not origins:
                raise ValueError(
                    "cors_allowed_origins is empty: list the allowed origins (e.g. "
                    "https://studio.example.com) or leave it unset for no CORS configuration"
                )
            for origin in origins:
                if _concrete(origin) and origin != "*" and not _ORIGIN.match(origin):
                    raise ValueError(
                        f"cors_allowed_origins contains {origin!r}, which is not an origin: give "
                        "scheme://host[:port] without path or trailing slash, e.g. https://studio.example.com"
                    )

    def _validate_host_header(self, host_header: str | None) -> None:
        if _concrete(host_header) and (
            not host_header or any(c in str(host_header) for c in " /\t\r\n,") or "://" in str(host_header)
        ):
            raise ValueError(
                f"host_header ({host_header!r}) is not a host: give a bare host[:port] such as "
                "mlflow.example.com, without scheme, path or commas"
            )

    def _selected_subnets(self, selection: ec2.SubnetSelection | None) -> ec2.SubnetSelection:
        """``selection`` (or the default) after checking it selects subnets of :attr:`vpc`."""
        vpc = self._vpc
        if selection is None:
            return default_private_selection(
                vpc, "the VPC link needs some; pass vpc_link_subnets to choose its subnets"
            )
        selected = selected_subnets(vpc, selection, "vpc_link_subnets").subnets
        known = {s.subnet_id for s in [*vpc.public_subnets, *vpc.private_subnets, *vpc.isolated_subnets]}
        # Only an imported VPC has literal subnet ids to compare with; tokens cannot be compared.
        foreign = [s.subnet_id for s in selected if _concrete(s.subnet_id) and s.subnet_id not in known]
        if foreign and all(_concrete(i) for i in known):
            raise ValueError(
                f"vpc_link_subnets selects subnets that are not in vpc ({', '.join(foreign)}): choose "
                "subnets of the load balancer's VPC"
            )
        return selection

    def _execute_api_host(self) -> str:
        stack = cdk.Stack.of(self)
        return f"{self.http_api.api_id}.execute-api.{stack.region}.{stack.url_suffix}"
