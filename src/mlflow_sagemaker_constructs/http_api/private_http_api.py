"""An API Gateway HTTP API in front of a tracking server's internal load balancer (or its Cloud Map service),
through a VPC link."""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Sequence
from typing import Unpack

import aws_cdk as cdk
import jsii
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from constructs import Construct

from mlflow_sagemaker_constructs._internal import checkov
from mlflow_sagemaker_constructs._internal import validation as check
from mlflow_sagemaker_constructs._internal.nag import acknowledge, acknowledge_wildcard_resource
from mlflow_sagemaker_constructs.monitoring.metrics import MetricOverrides, with_defaults
from mlflow_sagemaker_constructs.tracking_server.interface import IMlflowTrackingServer

__all__ = [
    "DEFAULT_LOG_RETENTION",
    "DEFAULT_THROTTLE_BURST_LIMIT",
    "DEFAULT_THROTTLE_RATE_LIMIT",
    "SERVER_AUTHENTICATES_THROTTLE_BURST_LIMIT",
    "SERVER_AUTHENTICATES_THROTTLE_RATE_LIMIT",
    "EdgeAuthorization",
    "PrivateHttpApi",
]

#: Steady-state requests per second the ``$default`` stage accepts before answering 429.
DEFAULT_THROTTLE_RATE_LIMIT = 100.0
#: Requests the ``$default`` stage accepts in a burst above the rate limit.
DEFAULT_THROTTLE_BURST_LIMIT = 200
#: The lower default when nothing at the edge authenticates (``EdgeAuthorization.NONE``): every guessed
#: password reaches the server, so the stage bounds how fast anyone can guess.
SERVER_AUTHENTICATES_THROTTLE_RATE_LIMIT = 25.0
SERVER_AUTHENTICATES_THROTTLE_BURST_LIMIT = 50
#: Retention of the access log group when the construct creates it.
DEFAULT_LOG_RETENTION = logs.RetentionDays.THREE_MONTHS

_MIN_TIMEOUT_MS = 50
# HTTP APIs wait at most 30 s (their default); CDK accepts an explicit timeout up to 29 s only.
_MAX_TIMEOUT_MS = 29_000
# ":<port>" at the end of a host; a token (``${Token[...]}``) never ends in one.
_PORT_SUFFIX = re.compile(r":\d+$")


def _without_port(host: str) -> str:
    """``host`` without a ``:port`` suffix: ``mlflow.example.com:8443`` -> ``mlflow.example.com``."""
    return _PORT_SUFFIX.sub("", host)


class EdgeAuthorization(enum.Enum):
    """Who authorizes a request at the API Gateway edge, before it reaches the load balancer.

    * ``IAM`` (default): callers sign requests with AWS Signature Version 4 and need ``execute-api:Invoke``
      on the API (:meth:`PrivateHttpApi.grant_invoke`). With a server that authenticates IAM principals
      (``MlflowAuthentication.iam()``, the default) the client plugin ``aws-iam`` sends both the signature and
      the server's IAM token, so the edge and the server each check the caller. The signature occupies the
      ``Authorization`` header, so a basic-auth server cannot sit behind it; a server with authentication
      disabled trusts the edge alone.
    * ``JWT``: callers send a bearer token from an OpenID Connect issuer in the ``Authorization`` header;
      API Gateway checks issuer, audience, signature and expiry. Same header constraint as ``IAM``.
    * ``NONE``: API Gateway lets every request through and the server must authenticate each one itself;
      refused in front of a server that does not authenticate.
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


class PrivateHttpApi(Construct):
    """An API Gateway HTTP API that forwards every request to a tracking server's load balancer listener, or to
    its Cloud Map service when it has no load balancer (``ServerAccess.cloud_map()``).

    Minimal use: ``PrivateHttpApi(self, "Api", server=mlflow)``. What it creates: an HTTP API whose
    ``$default`` route (every method and path: the MLflow REST API, the UI and proxied artifacts) goes to an
    ``HttpAlbIntegration`` (or an ``HttpServiceDiscoveryIntegration`` with the server's Cloud Map service) over a
    VPC link in the VPC's private subnets; a security group for the VPC link that may only reach the server's
    port, and the matching ingress rule on the server (from the VPC link's group only); the ``$default`` stage
    (auto-deploy) with throttling and structured JSON access logs; optionally a custom domain with a Route 53
    alias record, and CORS.

    The integration sends the server's own host name (:attr:`IMlflowTrackingServer.host`, without a port) as
    ``Host``, a value the server always accepts, so the API needs nothing registered on the server.

    Limits of HTTP APIs that shape how MLflow is used through it (none can be raised):

    * **10 MB** request and response payload: larger artifact uploads and downloads through a proxied
      artifact store fail with 413. Move large artifacts from inside the VPC (``server.url``) or with
      direct S3 artifact access (``ArtifactAccess.DIRECT``).
    * **30 seconds** integration timeout: a request the server answers later gets 504.
    * **10 VPC links** per account and region: share one link with ``existing_vpc_link``.

    Edge and server authentication must compose (:class:`EdgeAuthorization`); combinations that cannot work
    or leave the API unauthenticated are refused at synthesis with the fix in the message.

    Protected hooks: ``_create_security_group``, ``_create_vpc_link``, ``_create_log_group``,
    ``_create_authorizer``, ``_create_integration``, ``_create_custom_domain``, ``_create_stage`` and
    ``_access_log_format``. Every prop is stored as a public attribute of the same name.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        server: IMlflowTrackingServer,
        authorization: EdgeAuthorization = EdgeAuthorization.IAM,
        vpc_link_subnets: ec2.SubnetSelection | None = None,
        existing_vpc_link: apigwv2.IVpcLink | None = None,
        existing_vpc_link_security_group: ec2.ISecurityGroup | None = None,
        jwt_issuer: str | None = None,
        jwt_audience: Sequence[str] | None = None,
        secure_server_name: str | None = None,
        integration_timeout: cdk.Duration | None = None,
        domain_name: str | None = None,
        certificate: acm.ICertificate | None = None,
        hosted_zone: route53.IHostedZone | None = None,
        disable_execute_api_endpoint: bool = False,
        cors_allowed_origins: Sequence[str] | None = None,
        throttle_rate_limit: float | None = None,
        throttle_burst_limit: int | None = None,
        existing_log_group: logs.ILogGroup | None = None,
        log_retention: logs.RetentionDays | None = None,
        log_removal_policy: cdk.RemovalPolicy | None = None,
        description: str | None = None,
    ) -> None:
        """Create the API.

        :param server: the tracking server (``SecureMlflowService``, or ``SecureMlflowService.from_attributes``
            with ``listener_arn`` or ``cloud_map_service``); it must sit behind a load balancer listener or be
            registered in a Cloud Map service.
        :param authorization: who authorizes requests at the edge. Default: ``EdgeAuthorization.IAM``.
        :param vpc_link_subnets: subnets of the server's VPC for the VPC link. Default: the private subnets with
            egress, or the isolated subnets when the VPC has none.
        :param existing_vpc_link: a VPC link to reuse (HTTP APIs allow 10 per account and region). Default: new.
        :param existing_vpc_link_security_group: the security group of ``existing_vpc_link``; required with it.
            Default: none (a new security group for a new VPC link).
        :param jwt_issuer: ``https://`` issuer URL of the JWTs; only with ``JWT``, then required. Default: none.
        :param jwt_audience: accepted ``aud`` (or Cognito ``client_id``) values; only with ``JWT``, then required.
            Default: none.
        :param secure_server_name: for an HTTPS listener, the host name API Gateway verifies in the server's
            certificate. Default: the server's host name for an HTTPS listener; refused for an HTTP one.
        :param integration_timeout: how long API Gateway waits for the load balancer, 50 ms to 29 s.
            Default: unset, API Gateway's own maximum of 30 seconds.
        :param domain_name: a custom domain name for the API, e.g. ``mlflow.example.com``. Default: none.
        :param certificate: ACM certificate for ``domain_name`` in the stack's region; required with it.
            Default: none.
        :param hosted_zone: Route 53 zone for an alias A record of ``domain_name``. Default: no record.
        :param disable_execute_api_endpoint: turn off the ``execute-api`` endpoint so the custom domain is the
            only way in; needs ``domain_name``. Default: False.
        :param cors_allowed_origins: origins (``https://host[:port]``) allowed to call the API from a browser.
            Default: none, no CORS configuration.
        :param throttle_rate_limit: steady-state requests per second of the stage, > 0. Default: 100, or 25
            with ``EdgeAuthorization.NONE`` (bounds password guessing).
        :param throttle_burst_limit: burst capacity in requests, an integer > 0. Default: 200, or 50 with
            ``EdgeAuthorization.NONE``.
        :param existing_log_group: log group for the access logs. Default: a new log group.
        :param log_retention: retention of the new access log group. Default: three months.
        :param log_removal_policy: removal policy of the new access log group. Default: ``RETAIN``.
        :param description: description of the HTTP API. Default: a generic description.
        """
        super().__init__(scope, construct_id)
        self.server = server
        self.authorization = authorization
        self.existing_vpc_link = existing_vpc_link
        self.existing_vpc_link_security_group = existing_vpc_link_security_group
        self.jwt_issuer = jwt_issuer
        self.jwt_audience = list(jwt_audience) if jwt_audience is not None else None
        self.integration_timeout = integration_timeout
        self.domain_name = domain_name
        self.certificate = certificate
        self.hosted_zone = hosted_zone
        self.disable_execute_api_endpoint = disable_execute_api_endpoint
        self.cors_allowed_origins = list(cors_allowed_origins) if cors_allowed_origins is not None else None
        edge = authorization is not EdgeAuthorization.NONE
        self.throttle_rate_limit = (
            throttle_rate_limit
            if throttle_rate_limit is not None
            else (DEFAULT_THROTTLE_RATE_LIMIT if edge else SERVER_AUTHENTICATES_THROTTLE_RATE_LIMIT)
        )
        self.throttle_burst_limit = (
            throttle_burst_limit
            if throttle_burst_limit is not None
            else (DEFAULT_THROTTLE_BURST_LIMIT if edge else SERVER_AUTHENTICATES_THROTTLE_BURST_LIMIT)
        )
        self.existing_log_group = existing_log_group
        self.log_retention = log_retention if log_retention is not None else DEFAULT_LOG_RETENTION
        self.log_removal_policy = log_removal_policy if log_removal_policy is not None else cdk.RemovalPolicy.RETAIN
        self.description = description
        #: The server's load balancer listener the API integrates with; None for a server in Cloud Map.
        self.listener: elbv2.IApplicationListener | None = self._validate(
            secure_server_name, vpc_link_subnets, log_retention, log_removal_policy
        )
        # The host name without a port: a certificate names hosts, not ports, and the server's allowed hosts
        # are host names (an imported server's host keeps a non-default port of its URL).
        server_host_name = _without_port(server.host)
        self.secure_server_name = secure_server_name or (server_host_name if self._is_https(self.listener) else None)
        #: The ``Host`` header the load balancer receives: the server's own host name, which it accepts.
        self.host_header: str = server_host_name

        self.security_group, self.vpc_link = self._vpc_link(vpc_link_subnets)
        # The server accepts its port from the VPC link only; with a security group the construct created
        # (no outbound by default) this is also the link's only egress rule.
        server.connections.allow_default_port_from(self.security_group, "API Gateway VPC link to the MLflow server")
        self.log_group: logs.ILogGroup = existing_log_group or self._create_log_group()
        self.authorizer: apigwv2.IHttpRouteAuthorizer | None = self._create_authorizer()
        self.http_api = self._create_http_api()
        self.integration: integrations.HttpAlbIntegration | integrations.HttpServiceDiscoveryIntegration = (
            self._create_integration()
        )
        self.route = self._create_route()
        self.domain, self.alias_record = self._create_custom_domain()
        self.stage = self._create_stage()
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
        self._register_client_hosts()
        #: ARN covering every stage, method and path of this API, for ``execute-api:Invoke``.
        self.execute_api_arn: str = cdk.Stack.of(self).format_arn(
            service="execute-api",
            resource=self.http_api.api_id,
            resource_name="*",
            arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
        )

    # ----------------------------------------------------------------------------------------------
    # Public API

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

    def metric_count(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """Requests the API received (sum per 5 minutes)."""
        return self.http_api.metric_count(**with_defaults(overrides, statistic="Sum"))

    def metric_client_error(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """4xx responses of the API, including the server's 401/403 and the stage's 429 (sum per 5 minutes)."""
        return self.http_api.metric_client_error(**overrides)

    def metric_server_error(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """5xx responses of the API, including 504 when the server takes longer than 30 s (sum per 5 minutes)."""
        return self.http_api.metric_server_error(**overrides)

    def metric_latency(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """Time from request to response at the edge (milliseconds, average per 5 minutes)."""
        return self.http_api.metric_latency(**overrides)

    def metric_integration_latency(self, **overrides: Unpack[MetricOverrides]) -> cloudwatch.Metric:
        """Time the load balancer and server took (milliseconds, average per 5 minutes)."""
        return self.http_api.metric_integration_latency(**overrides)

    # ----------------------------------------------------------------------------------------------
    # Protected hooks

    def _create_security_group(self) -> ec2.ISecurityGroup:
        """The VPC link's security group: no inbound, outbound only as the server connection adds."""
        return ec2.SecurityGroup(
            self,
            "VpcLinkSecurityGroup",
            vpc=self.server.vpc,
            description=(
                "API Gateway VPC link of the MLflow HTTP API: egress to the load balancer only"
                if self.server.listener is not None
                else "API Gateway VPC link of the MLflow HTTP API: egress to the MLflow tasks only"
            ),
            allow_all_outbound=False,
        )

    def _create_vpc_link(self, subnets: ec2.SubnetSelection, security_group: ec2.ISecurityGroup) -> apigwv2.IVpcLink:
        """The VPC link, its network interfaces in ``subnets`` with ``security_group``."""
        return apigwv2.VpcLink(self, "VpcLink", vpc=self.server.vpc, subnets=subnets, security_groups=[security_group])

    @property
    def client_hosts(self) -> list[str]:
        """The hosts clients address: the custom domain, and the ``execute-api`` name unless it is disabled."""
        stack = cdk.Stack.of(self)
        hosts = [self.domain_name] if self.domain_name is not None else []
        if not self.disable_execute_api_endpoint:
            hosts.append(f"{self.http_api.api_id}.execute-api.{stack.region}.{stack.url_suffix}")
        return hosts

    def _register_client_hosts(self) -> None:
        """Clients make IAM tokens for the host they address, which the API replaces with the server's own:
        the server must accept tokens made for the API's hosts too."""
        if not self.server.authentication.uses_iam_tokens:
            return
        for host in self.client_hosts:
            try:
                self.server.add_iam_audience(host)
            except ValueError as error:
                # A server defined elsewhere: it works if its own definition accepts the host, which only
                # that definition can tell.
                cdk.Annotations.of(self).add_warning_v2("mlflow-sagemaker:ImportedServerAudience", str(error))
                return

    def _create_log_group(self) -> logs.ILogGroup:
        """The access log group with the retention and removal policy of the props."""
        group = logs.LogGroup(self, "AccessLogs", retention=self.log_retention, removal_policy=self.log_removal_policy)
        checkov.skip(group, "CKV_AWS_158", checkov.LOG_GROUP_KMS_REASON)
        return group

    def _create_authorizer(self) -> apigwv2.IHttpRouteAuthorizer | None:
        """The route authorizer for :attr:`authorization`, ``None`` for ``NONE``."""
        if self.authorization is EdgeAuthorization.IAM:
            return authorizers.HttpIamAuthorizer()
        if self.authorization is EdgeAuthorization.JWT:
            assert self.jwt_issuer is not None
            assert self.jwt_audience is not None
            return authorizers.HttpJwtAuthorizer("JwtAuthorizer", self.jwt_issuer, jwt_audience=self.jwt_audience)
        return None

    def _create_http_api(self) -> apigwv2.HttpApi:
        cors = None
        if self.cors_allowed_origins is not None:
            cors = apigwv2.CorsPreflightOptions(
                allow_origins=self.cors_allowed_origins,
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
        return apigwv2.HttpApi(
            self,
            "HttpApi",
            # Unique per construct path (no hard-coded physical name), and recognisable in the console.
            api_name=cdk.Names.unique_resource_name(self, max_length=128, separator="-"),
            description=self.description
            or (
                "MLflow tracking server behind an internal load balancer"
                if self.listener is not None
                else "MLflow tracking server registered in AWS Cloud Map"
            ),
            create_default_stage=False,
            cors_preflight=cors,
            disable_execute_api_endpoint=self.disable_execute_api_endpoint or None,
        )

    def _create_integration(self) -> integrations.HttpAlbIntegration | integrations.HttpServiceDiscoveryIntegration:
        """The ALB integration over :attr:`vpc_link` (or the Cloud Map integration for a server without a load
        balancer), overwriting ``Host`` with :attr:`host_header`."""
        host = apigwv2.ParameterMapping().overwrite_header("host", apigwv2.MappingValue.custom(self.host_header))
        if self.listener is None:
            cloud_map_service = self.server.cloud_map_service
            assert cloud_map_service is not None
            # API Gateway discovers the healthy instances (AWS_INSTANCE_IPV4, AWS_INSTANCE_PORT) and connects to one.
            return integrations.HttpServiceDiscoveryIntegration(
                "CloudMapIntegration",
                cloud_map_service,
                vpc_link=self.vpc_link,
                method=apigwv2.HttpMethod.ANY,
                timeout=self.integration_timeout,
                parameter_mapping=host,
            )
        return integrations.HttpAlbIntegration(
            "AlbIntegration",
            self.listener,
            vpc_link=self.vpc_link,
            method=apigwv2.HttpMethod.ANY,
            secure_server_name=self.secure_server_name,
            timeout=self.integration_timeout,
            parameter_mapping=host,
        )

    def _create_route(self) -> apigwv2.HttpRoute:
        route = apigwv2.HttpRoute(
            self.http_api,
            "DefaultRoute",
            http_api=self.http_api,
            route_key=apigwv2.HttpRouteKey.DEFAULT,
            integration=self.integration,
            authorizer=self.authorizer if self.authorizer is not None else apigwv2.HttpNoneAuthorizer(),
        )
        if self.authorization is EdgeAuthorization.NONE:
            acknowledge(
                route,
                "AwsSolutions-APIG4",
                "Edge authorization is NONE by choice: the MLflow server authenticates every request itself "
                f"({self.server.authentication.mode.value}) and answers 401 without valid credentials; the "
                "stage is throttled to bound password guessing.",
            )
        return route

    def _create_custom_domain(self) -> tuple[apigwv2.DomainName | None, route53.ARecord | None]:
        if self.domain_name is None or self.certificate is None:
            return None, None
        domain = apigwv2.DomainName(
            self,
            "Domain",
            domain_name=self.domain_name,
            certificate=self.certificate,
            endpoint_type=apigwv2.EndpointType.REGIONAL,
            security_policy=apigwv2.SecurityPolicy.TLS_1_2,
        )
        if self.hosted_zone is None:
            return domain, None
        record = route53.ARecord(
            self,
            "AliasRecord",
            zone=self.hosted_zone,
            record_name=self.domain_name,
            target=route53.RecordTarget.from_alias(
                route53_targets.ApiGatewayv2DomainProperties(
                    domain.regional_domain_name, domain.regional_hosted_zone_id
                )
            ),
        )
        return domain, record

    def _create_stage(self) -> apigwv2.HttpStage:
        """The ``$default`` stage (auto-deploy) with throttling and access logs."""
        return apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.http_api,
            stage_name="$default",
            auto_deploy=True,
            access_log_settings=_AccessLogSettings(
                apigwv2.LogGroupLogDestination(self.log_group), self._access_log_format()
            ),
            throttle=apigwv2.ThrottleSettings(
                rate_limit=self.throttle_rate_limit, burst_limit=self.throttle_burst_limit
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
    # Internals

    def _is_https(self, listener: elbv2.IApplicationListener | None) -> bool:
        if isinstance(listener, elbv2.ApplicationListener):
            return listener.protocol == elbv2.ApplicationProtocol.HTTPS
        return self.server.url.startswith("https://")

    def _vpc_link(self, subnets: ec2.SubnetSelection | None) -> tuple[ec2.ISecurityGroup, apigwv2.IVpcLink]:
        if self.existing_vpc_link is not None and self.existing_vpc_link_security_group is not None:
            return self.existing_vpc_link_security_group, self.existing_vpc_link
        selection = subnets or check.default_private_selection(
            self.server.vpc, "the VPC link needs some; pass vpc_link_subnets to choose its subnets"
        )
        security_group = self._create_security_group()
        return security_group, self._create_vpc_link(selection, security_group)

    # ----------------------------------------------------------------------------------------------
    # Validation

    def _validate(
        self,
        secure_server_name: str | None,
        vpc_link_subnets: ec2.SubnetSelection | None,
        log_retention: logs.RetentionDays | None,
        log_removal_policy: cdk.RemovalPolicy | None,
    ) -> elbv2.IApplicationListener | None:
        """Check every prop; return the server's listener (None for a server in Cloud Map)."""
        self._validate_authorization()
        listener = self._validate_listener(secure_server_name)
        self._validate_domain()
        self._validate_vpc_link(vpc_link_subnets)
        self._validate_stage(log_retention, log_removal_policy)
        return listener

    def _validate_authorization(self) -> None:
        auth = self.authorization
        if not isinstance(auth, EdgeAuthorization):
            raise ValueError(
                f"authorization ({auth!r}) is not an EdgeAuthorization: use EdgeAuthorization.IAM, "
                "EdgeAuthorization.JWT or EdgeAuthorization.NONE"
            )
        server_auth = self.server.authentication
        if auth is EdgeAuthorization.NONE and not server_auth.enabled:
            raise ValueError(
                "authorization=EdgeAuthorization.NONE in front of a server that does not authenticate "
                f"(authenticated_by={server_auth.authenticated_by!r}) would make the API public and "
                "unauthenticated: use EdgeAuthorization.IAM or EdgeAuthorization.JWT, or let the server "
                "authenticate (MlflowAuthentication.iam() or MlflowAuthentication.basic_auth())"
            )
        if auth is not EdgeAuthorization.NONE and server_auth.uses_authorization_header:
            raise ValueError(
                f"authorization=EdgeAuthorization.{auth.name} and a server with basic-auth cannot work together: "
                "both need the Authorization header, so every request would get 401. Use "
                "MlflowAuthentication.iam() on the server (its IAM token has a header of its own), "
                "EdgeAuthorization.NONE to let the server check passwords, or "
                "MlflowAuthentication.disabled(authenticated_by=...) on the server to let the edge authenticate"
            )
        if auth is EdgeAuthorization.JWT:
            if not self.jwt_issuer:
                raise ValueError(
                    "jwt_issuer is required with authorization=EdgeAuthorization.JWT: set it to the https:// "
                    "issuer URL, e.g. https://cognito-idp.<region>.amazonaws.com/<user-pool-id>"
                )
            if not check.is_token(self.jwt_issuer) and not self.jwt_issuer.startswith("https://"):
                raise ValueError(
                    f"jwt_issuer ({self.jwt_issuer}) is not an https:// URL: API Gateway only accepts "
                    "https issuers, e.g. https://cognito-idp.<region>.amazonaws.com/<user-pool-id>"
                )
            if not self.jwt_audience:
                raise ValueError(
                    "jwt_audience is required with authorization=EdgeAuthorization.JWT: list the accepted "
                    "audiences (for a Cognito user pool, its app client ids)"
                )
        check.only_with(
            {"jwt_issuer": self.jwt_issuer, "jwt_audience": self.jwt_audience},
            auth is EdgeAuthorization.JWT,
            "authorization=EdgeAuthorization.JWT",
        )

    def _validate_listener(self, secure_server_name: str | None) -> elbv2.IApplicationListener | None:
        listener = self.server.listener
        if listener is None:
            if self.server.cloud_map_service is None:
                raise ValueError(
                    "server has no load balancer listener for the VPC link, and no Cloud Map service: pass a "
                    "SecureMlflowService, or SecureMlflowService.from_attributes(..., listener_arn=...) (or "
                    "cloud_map_service=... for a server with ServerAccess.cloud_map())"
                )
            if secure_server_name is not None:
                raise ValueError(
                    f"secure_server_name ({secure_server_name}) is set but the server is reached through Cloud Map "
                    "over plain HTTP inside the VPC (no load balancer terminates TLS): remove secure_server_name"
                )
            return None
        if isinstance(listener, elbv2.ApplicationListener):
            cfn = listener.load_balancer.node.default_child
            if isinstance(cfn, elbv2.CfnLoadBalancer) and cfn.scheme == "internet-facing":
                raise ValueError(
                    f"the server's listener belongs to the internet-facing load balancer "
                    f"{listener.load_balancer.node.path}: the HTTP API must be the only way in, so use an internal "
                    "load balancer (internet_facing=False)"
                )
        if secure_server_name is not None:
            if not self._is_https(listener):
                raise ValueError(
                    f"secure_server_name ({secure_server_name}) is set but the server's listener is not HTTPS: "
                    "remove secure_server_name or use an HTTPS listener (Listener.https...)"
                )
            check.check_host(secure_server_name, "secure_server_name", example="mlflow.internal.example.com")
        return listener

    def _validate_domain(self) -> None:
        domain_name = self.domain_name
        if domain_name is not None and self.certificate is None:
            raise ValueError(
                f"domain_name ({domain_name}) needs a certificate: pass certificate, an ACM certificate for "
                "it in the stack's region"
            )
        check.only_with(
            {"certificate": self.certificate, "hosted_zone": self.hosted_zone},
            domain_name is not None,
            "a custom domain (domain_name)",
        )
        if self.disable_execute_api_endpoint and domain_name is None:
            raise ValueError(
                "disable_execute_api_endpoint=True without domain_name leaves the API unreachable: set "
                "domain_name and certificate, or keep the execute-api endpoint"
            )
        if domain_name is None:
            return
        check.check_host(domain_name, "domain_name")
        if self.certificate is not None:
            arn = self.certificate.certificate_arn
            cert_region = None if check.is_token(arn) else cdk.Arn.split(arn, cdk.ArnFormat.SLASH_RESOURCE_NAME).region
            stack_region = cdk.Stack.of(self).region
            if cert_region and not check.is_token(stack_region) and cert_region != stack_region:
                raise ValueError(
                    f"certificate is in {cert_region} but the API is in {stack_region}: a regional custom "
                    "domain needs an ACM certificate in the API's own region"
                )
        if self.hosted_zone is not None and not check.is_token(domain_name):
            zone = self.hosted_zone.zone_name.rstrip(".")
            if not check.is_token(zone) and domain_name != zone and not domain_name.endswith("." + zone):
                raise ValueError(
                    f"domain_name ({domain_name}) is not in hosted_zone ({zone}): pass the zone that "
                    "contains the domain name"
                )

    def _validate_vpc_link(self, vpc_link_subnets: ec2.SubnetSelection | None) -> None:
        link, group = self.existing_vpc_link, self.existing_vpc_link_security_group
        if (link is None) != (group is None):
            raise ValueError(
                "existing_vpc_link and existing_vpc_link_security_group go together: pass both (the load balancer "
                "admits the link's security group), or neither to create a VPC link"
            )
        if link is not None:
            check.only_with({"vpc_link_subnets": vpc_link_subnets}, False, "a new VPC link (no existing_vpc_link)")
            check.same_vpc(self.server.vpc, link.vpc, "existing_vpc_link")
            return
        if vpc_link_subnets is not None:
            vpc = self.server.vpc
            selected = check.selected_subnets(vpc, vpc_link_subnets, "vpc_link_subnets").subnets
            known = {s.subnet_id for s in [*vpc.public_subnets, *vpc.private_subnets, *vpc.isolated_subnets]}
            # Only an imported VPC has literal subnet ids to compare with; tokens cannot be compared.
            foreign = [s.subnet_id for s in selected if not check.is_token(s.subnet_id) and s.subnet_id not in known]
            if foreign and not any(check.is_token(i) for i in known):
                raise ValueError(
                    f"vpc_link_subnets selects subnets that are not in the server's VPC ({', '.join(foreign)}): "
                    "choose subnets of the load balancer's VPC"
                )

    def _validate_stage(
        self, log_retention: logs.RetentionDays | None, log_removal_policy: cdk.RemovalPolicy | None
    ) -> None:
        rate, burst = self.throttle_rate_limit, self.throttle_burst_limit
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
        if self.integration_timeout is not None:
            timeout_ms = self.integration_timeout.to_milliseconds()
            if not _MIN_TIMEOUT_MS <= timeout_ms <= _MAX_TIMEOUT_MS:
                raise ValueError(
                    f"integration_timeout ({timeout_ms:g} ms) is out of range: set it between 50 "
                    "milliseconds and 29 seconds, or leave it unset for API Gateway's maximum of 30 seconds"
                )
        check.only_with(
            {"log_retention": log_retention, "log_removal_policy": log_removal_policy},
            self.existing_log_group is None,
            "the log group the construct creates (no existing_log_group)",
        )
        origins = self.cors_allowed_origins
        if origins is not None:
            if not origins:
                raise ValueError(
                    "cors_allowed_origins is empty: list the allowed origins (e.g. "
                    "https://studio.example.com) or leave it unset for no CORS configuration"
                )
            for origin in origins:
                check.check_origin(origin, "cors_allowed_origins")
