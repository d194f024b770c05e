"""PrivateHttpApi in front of a tracking server: per edge authorization and option, lint, nag, refusals.

Every API fronts a real ``SecureMlflowService`` (or one described by ``SecureMlflowService.from_attributes``),
built with the shared harness: pinned apps and stacks (:mod:`tests.harness`) and its test VPCs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk.assertions import Annotations, Match, Template
from constructs import Construct
from syrupy.assertion import SnapshotAssertion

from mlflow_sagemaker_constructs import (
    EdgeAuthorization,
    IMlflowTrackingServer,
    Listener,
    MlflowAuthentication,
    PrivateHttpApi,
    SecureMlflowService,
    ServerAccess,
    StsAccess,
)
from mlflow_sagemaker_constructs.http_api.private_http_api import (
    DEFAULT_THROTTLE_BURST_LIMIT,
    DEFAULT_THROTTLE_RATE_LIMIT,
    SERVER_AUTHENTICATES_THROTTLE_BURST_LIMIT,
    SERVER_AUTHENTICATES_THROTTLE_RATE_LIMIT,
)
from mlflow_sagemaker_constructs.tracking_server.server import contract
from tests.conftest import normalized
from tests.harness import assert_cfn_lint_clean, assert_nag_clean, new_app, new_stack, synth_template
from tests.harness.nag import acknowledgements
from tests.harness.task_environment import mlflow_environment
from tests.harness.vpc import AZS, imported_isolated_only_vpc, imported_public_only_vpc, imported_vpc

CERT_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
OTHER_REGION_CERT_ARN = "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI"
LISTENER_ARN = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/mlflow/0123456789abcdef/0123456789abcdef"
)
SERVER_SG = "sg-0123456789abcdef0"
SERVER_DOMAIN = "mlflow.internal.example.com"
# The subnet ids of tests.harness.vpc: imported_vpc's private ones, imported_isolated_only_vpc's isolated ones.
PRIVATE_SUBNETS = [f"subnet-0a{i:015x}" for i in range(1, 4)]
ISOLATED_ONLY_SUBNETS = [f"subnet-0c{i:015x}" for i in range(1, 3)]

#: Server authentication that trusts the edge: the only kind allowed behind IAM or JWT for now.
IAM_AT_THE_EDGE = MlflowAuthentication.disabled(authenticated_by="IAM (SigV4) at the PrivateHttpApi")
JWT_AT_THE_EDGE = MlflowAuthentication.disabled(authenticated_by="JWT authorizer at the PrivateHttpApi")
BASIC_AUTH = MlflowAuthentication.basic_auth()


@dataclass(frozen=True)
class Built:
    """One synthesized stack: a server, the API in front of it, and the template."""

    app: cdk.App
    stack: cdk.Stack
    server: SecureMlflowService
    api: PrivateHttpApi
    json: dict[str, Any]
    template: Template

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.json["Resources"].items() if v["Type"] == resource_type}

    def one(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        found = self.of_type(resource_type)
        assert len(found) == 1, f"{len(found)} {resource_type} resources"
        return next(iter(found.items()))

    def ref(self, value: Any) -> Any:
        return self.stack.resolve(value)

    def access_log_fields(self) -> dict[str, str]:
        _, stage = self.one("AWS::ApiGatewayV2::Stage")
        fields: dict[str, str] = json.loads(stage["Properties"]["AccessLogSettings"]["Format"])
        return fields

    def load_balancer_group(self) -> Any:
        (group,) = self.server.connections.security_groups
        return self.ref(group.security_group_id)


def _build(
    api_props: Callable[[cdk.Stack], dict[str, Any]] | None = None,
    *,
    authentication: MlflowAuthentication | None = None,
    vpc: Callable[[cdk.Stack], ec2.IVpc] = imported_vpc,
    access: Callable[[cdk.Stack], ServerAccess] | None = None,
    after: Callable[[cdk.Stack, PrivateHttpApi], None] | None = None,
) -> Built:
    """A stack with a ``SecureMlflowService`` ("Mlflow") and a ``PrivateHttpApi`` ("Api") in front of it."""
    app = new_app()
    stack = new_stack(app)
    server = SecureMlflowService(
        stack, "Mlflow", vpc=vpc(stack), authentication=authentication, access=access(stack) if access else None
    )
    api = PrivateHttpApi(stack, "Api", server=server, **(api_props(stack) if api_props else {}))
    if after is not None:
        after(stack, api)
    template = synth_template(stack)
    return Built(app, stack, server, api, template, Template.from_json(template))


# ------------------------------------------------------------------------------------------------
# Default: IAM at the edge in front of a server that authenticates IAM principals (both defaults), HTTP listener,
# private subnets


@pytest.fixture(scope="module")
def default() -> Built:
    return _build()


@pytest.mark.xdist_group("private_http_api_default")
def test_default_matches_snapshot(default: Built, template_snapshot: SnapshotAssertion) -> None:
    assert normalized(default.json) == template_snapshot


@pytest.mark.xdist_group("private_http_api_default")
def test_default_is_cfn_lint_and_nag_clean(default: Built) -> None:
    assert_cfn_lint_clean(default.json, name="default")
    assert_nag_clean(default.app)


@pytest.mark.xdist_group("private_http_api_default")
def test_default_props_are_public_attributes(default: Built) -> None:
    api = default.api
    assert api.server is default.server
    assert api.authorization is EdgeAuthorization.IAM
    assert api.listener is default.server.listener
    assert api.throttle_rate_limit == DEFAULT_THROTTLE_RATE_LIMIT
    assert api.throttle_burst_limit == DEFAULT_THROTTLE_BURST_LIMIT
    assert api.log_retention == logs.RetentionDays.THREE_MONTHS
    assert api.log_removal_policy == cdk.RemovalPolicy.RETAIN
    assert api.secure_server_name is None
    assert api.integration_timeout is None
    assert api.jwt_issuer is None
    assert api.jwt_audience is None
    assert api.domain_name is None
    assert api.cors_allowed_origins is None
    assert api.existing_vpc_link is None
    assert api.disable_execute_api_endpoint is False


@pytest.mark.xdist_group("private_http_api_default")
def test_default_api_has_no_cors_and_keeps_its_execute_api_endpoint(default: Built) -> None:
    _, api = default.one("AWS::ApiGatewayV2::Api")
    assert api["Properties"]["ProtocolType"] == "HTTP"
    assert api["Properties"]["Description"] == "MLflow tracking server behind an internal load balancer"
    assert "CorsConfiguration" not in api["Properties"]
    assert "DisableExecuteApiEndpoint" not in api["Properties"]
    default.template.resource_count_is("AWS::ApiGatewayV2::DomainName", 0)
    default.template.resource_count_is("AWS::ApiGatewayV2::ApiMapping", 0)
    default.template.resource_count_is("AWS::Route53::RecordSet", 0)


@pytest.mark.xdist_group("private_http_api_default")
def test_default_route_carries_everything_with_iam(default: Built) -> None:
    api_id, _ = default.one("AWS::ApiGatewayV2::Api")
    integration_id, _ = default.one("AWS::ApiGatewayV2::Integration")
    _, route = default.one("AWS::ApiGatewayV2::Route")
    assert route["Properties"] == {
        "ApiId": {"Ref": api_id},
        "AuthorizationType": "AWS_IAM",
        "RouteKey": "$default",
        "Target": {"Fn::Join": ["", ["integrations/", {"Ref": integration_id}]]},
    }
    default.template.resource_count_is("AWS::ApiGatewayV2::Authorizer", 0)


@pytest.mark.xdist_group("private_http_api_default")
def test_default_integration_sends_the_servers_host_to_its_listener(default: Built) -> None:
    link_id, _ = default.one("AWS::ApiGatewayV2::VpcLink")
    api_id, _ = default.one("AWS::ApiGatewayV2::Api")
    _, integration = default.one("AWS::ApiGatewayV2::Integration")
    server_host = default.ref(default.server.host)
    assert server_host == {"Fn::GetAtt": [default.stack.get_logical_id(_cfn(default.server.load_balancer)), "DNSName"]}
    assert integration["Properties"] == {
        "ApiId": {"Ref": api_id},
        "ConnectionId": {"Ref": link_id},
        "ConnectionType": "VPC_LINK",
        "IntegrationMethod": "ANY",
        "IntegrationType": "HTTP_PROXY",
        "IntegrationUri": {"Ref": default.stack.get_logical_id(_cfn(default.server.listener))},
        "PayloadFormatVersion": "1.0",
        # No TlsConfig (HTTP listener) and no TimeoutInMillis (API Gateway's maximum, 30 s).
        "RequestParameters": {"overwrite:header.host": server_host},
    }
    assert default.ref(default.api.host_header) == server_host


@pytest.mark.xdist_group("private_http_api_default")
def test_default_pair_server_accepts_tokens_made_for_the_apis_host(default: Built) -> None:
    """Clients make IAM tokens for the host they address (the execute-api name), which the API replaces with
    the load balancer's: the server must accept that audience, or every request through the API is a 401."""
    api_id, _ = default.one("AWS::ApiGatewayV2::Api")
    env = mlflow_environment(default.template)
    load_balancer = default.stack.get_logical_id(_cfn(default.server.load_balancer))
    assert env[contract.AUTH_IAM_AUDIENCES] == {
        "Fn::Join": [
            "",
            [
                {"Fn::GetAtt": [load_balancer, "DNSName"]},
                ",",
                {"Ref": api_id},
                ".execute-api.us-east-1.",
                {"Ref": "AWS::URLSuffix"},
            ],
        ]
    }


def test_a_custom_domain_is_an_audience_and_a_disabled_execute_api_endpoint_is_not() -> None:
    built = _build(
        lambda stack: {
            "domain_name": "mlflow.example.com",
            "certificate": acm.Certificate.from_certificate_arn(
                stack, "Cert", "arn:aws:acm:us-east-1:123456789012:certificate/abc"
            ),
            "disable_execute_api_endpoint": True,
        }
    )
    assert built.api.client_hosts == ["mlflow.example.com"]
    assert built.server.iam_audiences[-1] == "mlflow.example.com"
    assert len(built.server.iam_audiences) == 2  # the load balancer's name and the domain


def test_an_imported_iam_server_gets_a_warning_naming_where_to_add_the_apis_host() -> None:
    stack = new_stack()
    server = SecureMlflowService.from_attributes(
        stack,
        "Imported",
        vpc=imported_vpc(stack),
        url="http://internal-mlflow-1.us-east-1.elb.amazonaws.com",
        security_group=ec2.SecurityGroup.from_security_group_id(stack, "Sg", "sg-0123456789abcdef0"),
        port=80,
        authentication=MlflowAuthentication.iam(),
        listener_arn=LISTENER_ARN,
    )
    PrivateHttpApi(stack, "Api", server=server)
    Annotations.from_stack(stack).has_warning(
        "/TestStack/Api", Match.string_like_regexp(r"add_iam_audience\('<that domain name>'\) on the server where")
    )


@pytest.mark.xdist_group("private_http_api_default")
def test_default_url_is_the_execute_api_url(default: Built) -> None:
    api_id, _ = default.one("AWS::ApiGatewayV2::Api")
    assert default.ref(default.api.url) == {
        "Fn::Join": ["", ["https://", {"Ref": api_id}, ".execute-api.us-east-1.", {"Ref": "AWS::URLSuffix"}, "/"]]
    }
    assert default.ref(default.api.execute_api_arn) == {
        "Fn::Join": ["", ["arn:aws:execute-api:us-east-1:123456789012:", {"Ref": api_id}, "/*"]]
    }
    assert default.api.domain is None
    assert default.api.alias_record is None
    assert default.api.api_mapping is None


@pytest.mark.xdist_group("private_http_api_default")
def test_default_vpc_link_sits_in_the_servers_private_subnets(default: Built) -> None:
    _, link = default.one("AWS::ApiGatewayV2::VpcLink")
    assert link["Properties"]["SubnetIds"] == PRIVATE_SUBNETS
    assert link["Properties"]["SecurityGroupIds"] == [default.ref(default.api.security_group.security_group_id)]
    default.template.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {"GroupDescription": Match.string_like_regexp("VPC link"), "VpcId": "vpc-0123456789abcdef0"},
    )


@pytest.mark.xdist_group("private_http_api_default")
def test_default_vpc_link_may_only_reach_the_listener_port(default: Built) -> None:
    link_sg = default.ref(default.api.security_group.security_group_id)
    link_sg_resource = default.json["Resources"][link_sg["Fn::GetAtt"][0]]
    # allow_all_outbound=False plus the one egress rule added: no inline rules, so no 0.0.0.0/0.
    assert "SecurityGroupEgress" not in link_sg_resource["Properties"]
    assert "SecurityGroupIngress" not in link_sg_resource["Properties"]
    egress = [
        e["Properties"]
        for e in default.of_type("AWS::EC2::SecurityGroupEgress").values()
        if e["Properties"]["GroupId"] == link_sg
    ]
    assert egress == [
        {
            "Description": "API Gateway VPC link to the MLflow server",
            "DestinationSecurityGroupId": default.load_balancer_group(),
            "FromPort": 80,
            "GroupId": link_sg,
            "IpProtocol": "tcp",
            "ToPort": 80,
        }
    ]


@pytest.mark.xdist_group("private_http_api_default")
def test_default_server_admits_only_the_vpc_link(default: Built) -> None:
    link_sg = default.ref(default.api.security_group.security_group_id)
    lb_sg = default.load_balancer_group()
    assert "SecurityGroupIngress" not in default.json["Resources"][lb_sg["Fn::GetAtt"][0]]["Properties"]
    to_load_balancer = [
        i["Properties"]
        for i in default.of_type("AWS::EC2::SecurityGroupIngress").values()
        if i["Properties"]["GroupId"] == lb_sg
    ]
    assert to_load_balancer == [
        {
            "Description": "API Gateway VPC link to the MLflow server",
            "FromPort": 80,
            "GroupId": lb_sg,
            "IpProtocol": "tcp",
            "SourceSecurityGroupId": link_sg,
            "ToPort": 80,
        }
    ]
    assert "0.0.0.0/0" not in json.dumps(default.of_type("AWS::EC2::SecurityGroupIngress"))


@pytest.mark.xdist_group("private_http_api_default")
def test_default_stage_auto_deploys_with_the_default_throttle(default: Built) -> None:
    api_id, _ = default.one("AWS::ApiGatewayV2::Api")
    default.template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "ApiId": {"Ref": api_id},
            "StageName": "$default",
            "AutoDeploy": True,
            "DefaultRouteSettings": {"ThrottlingRateLimit": 100, "ThrottlingBurstLimit": 200},
        },
    )
    assert (DEFAULT_THROTTLE_RATE_LIMIT, DEFAULT_THROTTLE_BURST_LIMIT) == (100, 200)
    assert default.api.stage.stage_name == "$default"


@pytest.mark.xdist_group("private_http_api_default")
def test_default_access_logs_are_structured_json_kept_three_months(default: Built) -> None:
    log_group_id = default.stack.get_logical_id(_cfn(default.api.log_group))
    log_group = default.json["Resources"][log_group_id]
    assert log_group["Properties"] == {"RetentionInDays": 90}
    assert log_group["DeletionPolicy"] == "Retain"
    assert log_group["UpdateReplacePolicy"] == "Retain"
    _, stage = default.one("AWS::ApiGatewayV2::Stage")
    assert stage["Properties"]["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": [log_group_id, "Arn"]}
    fields = default.access_log_fields()
    for name, value in {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "integrationError": "$context.integration.error",
        "integrationLatency": "$context.integration.latency",
        # IAM: who signed the request.
        "userArn": "$context.identity.userArn",
        "authorizerError": "$context.authorizer.error",
    }.items():
        assert fields[name] == value, name
    assert "principal" not in fields


@pytest.mark.xdist_group("private_http_api_default")
@pytest.mark.parametrize(
    ("method", "metric_name", "statistic"),
    [
        ("metric_count", "Count", "Sum"),
        ("metric_client_error", "4xx", "Sum"),
        ("metric_server_error", "5xx", "Sum"),
        ("metric_latency", "Latency", "Average"),
        ("metric_integration_latency", "IntegrationLatency", "Average"),
    ],
)
def test_metrics_are_the_apis_own(default: Built, method: str, metric_name: str, statistic: str) -> None:
    api_id, _ = default.one("AWS::ApiGatewayV2::Api")
    metric = getattr(default.api, method)(period=cdk.Duration.minutes(1))
    assert metric.namespace == "AWS/ApiGateway"
    assert metric.metric_name == metric_name
    assert metric.statistic == statistic
    assert metric.period.to_seconds() == 60
    assert getattr(default.api, method)(statistic="p99").statistic == "p99"
    assert default.ref(metric.dimensions) == {"ApiId": {"Ref": api_id}}


# ------------------------------------------------------------------------------------------------
# IAM: grant_invoke


def _grant(stack: cdk.Stack, api: PrivateHttpApi) -> None:
    role = iam.Role(stack, "TrainingRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    api.grant_invoke(role)


@pytest.fixture(scope="module")
def granted() -> Built:
    return _build(after=_grant)


@pytest.mark.xdist_group("private_http_api_granted")
def test_grant_invoke_allows_execute_api_on_this_api_only(granted: Built) -> None:
    api_id, _ = granted.one("AWS::ApiGatewayV2::Api")
    role_policies = [p for p in granted.of_type("AWS::IAM::Policy").values() if "TrainingRole" in json.dumps(p)]
    assert len(role_policies) == 1
    assert role_policies[0]["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Action": "execute-api:Invoke",
            "Effect": "Allow",
            "Resource": {"Fn::Join": ["", ["arn:aws:execute-api:us-east-1:123456789012:", {"Ref": api_id}, "/*"]]},
        }
    ]


@pytest.mark.xdist_group("private_http_api_granted")
def test_grant_invoke_is_cfn_lint_and_nag_clean(granted: Built) -> None:
    assert_cfn_lint_clean(granted.json, name="granted")
    assert_nag_clean(granted.app)
    # The wildcard of <api-id>/* is acknowledged on the grantee, for this API's ARN only.
    rules = [rule for path, rule in acknowledgements(Path(granted.app.outdir)) if path == "/TestStack/TrainingRole"]
    api_id, _ = granted.one("AWS::ApiGatewayV2::Api")
    assert rules == [f"AwsSolutions-IAM5[Resource::arn:aws:execute-api:us-east-1:123456789012:<{api_id}>/*]"]


# ------------------------------------------------------------------------------------------------
# NONE: a basic-auth server authenticates every request itself


@pytest.fixture(scope="module")
def unauthenticated() -> Built:
    return _build(lambda _: {"authorization": EdgeAuthorization.NONE}, authentication=BASIC_AUTH)


@pytest.mark.xdist_group("private_http_api_none")
def test_none_route_has_no_authorization(unauthenticated: Built) -> None:
    _, route = unauthenticated.one("AWS::ApiGatewayV2::Route")
    assert route["Properties"]["RouteKey"] == "$default"
    assert route["Properties"]["AuthorizationType"] == "NONE"
    assert "AuthorizerId" not in route["Properties"]
    unauthenticated.template.resource_count_is("AWS::ApiGatewayV2::Authorizer", 0)
    assert unauthenticated.api.authorizer is None


@pytest.mark.xdist_group("private_http_api_none")
def test_finding_9_none_throttles_harder_by_default_to_bound_password_guessing(unauthenticated: Built) -> None:
    unauthenticated.template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage", {"DefaultRouteSettings": {"ThrottlingRateLimit": 25, "ThrottlingBurstLimit": 50}}
    )
    assert (SERVER_AUTHENTICATES_THROTTLE_RATE_LIMIT, SERVER_AUTHENTICATES_THROTTLE_BURST_LIMIT) == (25, 50)
    assert unauthenticated.api.throttle_rate_limit == 25
    assert unauthenticated.api.throttle_burst_limit == 50


@pytest.mark.xdist_group("private_http_api_none")
def test_none_access_logs_have_no_principal_fields(unauthenticated: Built) -> None:
    fields = unauthenticated.access_log_fields()
    assert fields["requestId"] == "$context.requestId"
    for name in ("userArn", "principal", "authorizerError"):
        assert name not in fields


@pytest.mark.xdist_group("private_http_api_none")
def test_none_is_cfn_lint_clean_and_nag_clean_with_the_apig4_acknowledgement(unauthenticated: Built) -> None:
    assert_cfn_lint_clean(unauthenticated.json, name="none")
    assert_nag_clean(unauthenticated.app)
    found = acknowledgements(Path(unauthenticated.app.outdir))
    reason = found[("/TestStack/Api/HttpApi/DefaultRoute", "AwsSolutions-APIG4")]
    assert "authenticates every request itself (basic)" in reason
    assert "throttled" in reason
    assert not [
        path for path, rule in found if rule == "AwsSolutions-APIG4" and path != "/TestStack/Api/HttpApi/DefaultRoute"
    ]


@pytest.mark.xdist_group("private_http_api_none")
def test_grant_invoke_is_refused_without_iam(unauthenticated: Built) -> None:
    role = iam.Role(unauthenticated.stack, "Refused", assumed_by=iam.AccountRootPrincipal())
    with pytest.raises(
        ValueError, match=r"grant_invoke\(\) needs authorization=EdgeAuthorization.IAM, but this API uses NONE"
    ):
        unauthenticated.api.grant_invoke(role)


@pytest.mark.xdist_group("private_http_api_none")
def test_explicit_throttling_wins_over_the_none_default() -> None:
    stack = new_stack()
    server = SecureMlflowService.from_attributes(
        stack,
        "Mlflow",
        vpc=imported_vpc(stack),
        url="http://mlflow.internal.example.com",
        security_group=ec2.SecurityGroup.from_security_group_id(stack, "Sg", SERVER_SG),
        port=80,
        authentication=BASIC_AUTH,
        listener_arn=LISTENER_ARN,
    )
    api = PrivateHttpApi(
        stack,
        "Api",
        server=server,
        authorization=EdgeAuthorization.NONE,
        throttle_rate_limit=5,
        throttle_burst_limit=10,
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::ApiGatewayV2::Stage", {"DefaultRouteSettings": {"ThrottlingRateLimit": 5, "ThrottlingBurstLimit": 10}}
    )
    assert (api.throttle_rate_limit, api.throttle_burst_limit) == (5, 10)


# ------------------------------------------------------------------------------------------------
# JWT


@pytest.fixture(scope="module")
def jwt() -> Built:
    return _build(
        lambda _: {
            "authorization": EdgeAuthorization.JWT,
            "jwt_issuer": ISSUER,
            "jwt_audience": ["app-client-1", "app-client-2"],
        },
        authentication=JWT_AT_THE_EDGE,
    )


@pytest.mark.xdist_group("private_http_api_jwt")
def test_jwt_authorizer_checks_issuer_and_audience(jwt: Built) -> None:
    api_id, _ = jwt.one("AWS::ApiGatewayV2::Api")
    authorizer_id, authorizer = jwt.one("AWS::ApiGatewayV2::Authorizer")
    assert authorizer["Properties"] == {
        "ApiId": {"Ref": api_id},
        "AuthorizerType": "JWT",
        "IdentitySource": ["$request.header.Authorization"],
        "JwtConfiguration": {"Audience": ["app-client-1", "app-client-2"], "Issuer": ISSUER},
        "Name": "JwtAuthorizer",
    }
    _, route = jwt.one("AWS::ApiGatewayV2::Route")
    assert route["Properties"]["AuthorizationType"] == "JWT"
    assert route["Properties"]["AuthorizerId"] == {"Ref": authorizer_id}
    assert jwt.api.jwt_issuer == ISSUER
    assert jwt.api.jwt_audience == ["app-client-1", "app-client-2"]


@pytest.mark.xdist_group("private_http_api_jwt")
def test_jwt_access_logs_name_the_token_subject_and_client(jwt: Built) -> None:
    fields = jwt.access_log_fields()
    assert fields["principal"] == "$context.authorizer.claims.sub"
    assert fields["clientId"] == "$context.authorizer.claims.client_id"
    assert fields["authorizerError"] == "$context.authorizer.error"
    assert "userArn" not in fields


@pytest.mark.xdist_group("private_http_api_jwt")
def test_jwt_is_cfn_lint_and_nag_clean(jwt: Built) -> None:
    assert_cfn_lint_clean(jwt.json, name="jwt")
    assert_nag_clean(jwt.app)


@pytest.mark.xdist_group("private_http_api_jwt")
def test_grant_invoke_is_refused_with_jwt(jwt: Built) -> None:
    role = iam.Role(jwt.stack, "Refused", assumed_by=iam.AccountRootPrincipal())
    with pytest.raises(ValueError, match=r"but this API uses JWT: IAM permissions are not checked"):
        jwt.api.grant_invoke(role)


# ------------------------------------------------------------------------------------------------
# Custom domain with an alias record, execute-api endpoint off


def _domain_props(stack: cdk.Stack) -> dict[str, Any]:
    return {
        "domain_name": "mlflow.example.com",
        "certificate": acm.Certificate.from_certificate_arn(stack, "Certificate", CERT_ARN),
        "hosted_zone": route53.HostedZone.from_hosted_zone_attributes(
            stack, "Zone", hosted_zone_id="Z0123456789ABCDEFGHIJ", zone_name="example.com"
        ),
        "disable_execute_api_endpoint": True,
    }


@pytest.fixture(scope="module")
def domain() -> Built:
    return _build(_domain_props)


@pytest.mark.xdist_group("private_http_api_domain")
def test_domain_is_regional_tls12_and_mapped_to_the_stage(domain: Built) -> None:
    api_id, api = domain.one("AWS::ApiGatewayV2::Api")
    assert api["Properties"]["DisableExecuteApiEndpoint"] is True
    domain_id, domain_resource = domain.one("AWS::ApiGatewayV2::DomainName")
    assert domain_resource["Properties"] == {
        "DomainName": "mlflow.example.com",
        "DomainNameConfigurations": [
            {"CertificateArn": CERT_ARN, "EndpointType": "REGIONAL", "SecurityPolicy": "TLS_1_2"}
        ],
    }
    stage_id, _ = domain.one("AWS::ApiGatewayV2::Stage")
    _, mapping = domain.one("AWS::ApiGatewayV2::ApiMapping")
    assert mapping["Properties"] == {"ApiId": {"Ref": api_id}, "DomainName": {"Ref": domain_id}, "Stage": "$default"}
    assert mapping["DependsOn"] == [stage_id]
    assert domain.api.api_mapping is not None


@pytest.mark.xdist_group("private_http_api_domain")
def test_domain_gets_an_alias_record(domain: Built) -> None:
    domain_id, _ = domain.one("AWS::ApiGatewayV2::DomainName")
    _, record = domain.one("AWS::Route53::RecordSet")
    assert record["Properties"] == {
        "Name": "mlflow.example.com.",
        "Type": "A",
        "HostedZoneId": "Z0123456789ABCDEFGHIJ",
        "AliasTarget": {
            "DNSName": {"Fn::GetAtt": [domain_id, "RegionalDomainName"]},
            "HostedZoneId": {"Fn::GetAtt": [domain_id, "RegionalHostedZoneId"]},
        },
    }
    assert domain.api.alias_record is not None


@pytest.mark.xdist_group("private_http_api_domain")
def test_domain_is_the_url_but_the_server_still_gets_its_own_host(domain: Built) -> None:
    assert domain.api.url == "https://mlflow.example.com/"
    _, integration = domain.one("AWS::ApiGatewayV2::Integration")
    assert integration["Properties"]["RequestParameters"] == {"overwrite:header.host": domain.ref(domain.server.host)}
    assert "mlflow.example.com" not in json.dumps(integration)


@pytest.mark.xdist_group("private_http_api_domain")
def test_domain_is_cfn_lint_clean(domain: Built) -> None:
    assert_cfn_lint_clean(domain.json, name="domain")


# ------------------------------------------------------------------------------------------------
# CORS, throttling, logs and timeout options


def _option_props(_: cdk.Stack) -> dict[str, Any]:
    return {
        "cors_allowed_origins": ["https://studio.example.com", "http://localhost:5000"],
        "throttle_rate_limit": 10.5,
        "throttle_burst_limit": 20,
        "log_retention": logs.RetentionDays.ONE_YEAR,
        "log_removal_policy": cdk.RemovalPolicy.DESTROY,
        "integration_timeout": cdk.Duration.seconds(10),
        "description": "team MLflow",
    }


@pytest.fixture(scope="module")
def options() -> Built:
    return _build(_option_props)


@pytest.mark.xdist_group("private_http_api_options")
def test_cors_lists_the_allowed_origins_without_credentials(options: Built) -> None:
    _, api = options.one("AWS::ApiGatewayV2::Api")
    assert api["Properties"]["Description"] == "team MLflow"
    assert api["Properties"]["CorsConfiguration"] == {
        "AllowOrigins": ["https://studio.example.com", "http://localhost:5000"],
        "AllowMethods": ["*"],
        "AllowHeaders": ["Authorization", "Content-Type", "X-Amz-Content-Sha256", "X-Amz-Date", "X-Amz-Security-Token"],
        "MaxAge": 3600,
    }


@pytest.mark.xdist_group("private_http_api_options")
def test_explicit_throttling_is_applied_to_the_stage(options: Built) -> None:
    options.template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage", {"DefaultRouteSettings": {"ThrottlingRateLimit": 10.5, "ThrottlingBurstLimit": 20}}
    )


@pytest.mark.xdist_group("private_http_api_options")
def test_log_retention_and_removal_policy_are_applied(options: Built) -> None:
    log_group = options.json["Resources"][options.stack.get_logical_id(_cfn(options.api.log_group))]
    assert log_group["Properties"] == {"RetentionInDays": 365}
    assert log_group["DeletionPolicy"] == "Delete"
    assert log_group["UpdateReplacePolicy"] == "Delete"


@pytest.mark.xdist_group("private_http_api_options")
def test_integration_timeout_is_applied(options: Built) -> None:
    _, integration = options.one("AWS::ApiGatewayV2::Integration")
    assert integration["Properties"]["TimeoutInMillis"] == 10000


@pytest.mark.xdist_group("private_http_api_options")
def test_options_are_cfn_lint_clean(options: Built) -> None:
    assert_cfn_lint_clean(options.json, name="options")


# ------------------------------------------------------------------------------------------------
# A second API on the first one's VPC link (10 per account and region), with an existing log group


def _second_api(stack: cdk.Stack, first: PrivateHttpApi) -> None:
    PrivateHttpApi(
        stack,
        "SecondApi",
        server=first.server,
        existing_vpc_link=first.vpc_link,
        existing_vpc_link_security_group=first.security_group,
        existing_log_group=logs.LogGroup.from_log_group_name(stack, "TeamLogs", "mlflow-team-access"),
    )


@pytest.fixture(scope="module")
def shared_link() -> Built:
    return _build(after=_second_api)


@pytest.mark.xdist_group("private_http_api_shared")
def test_second_api_reuses_the_vpc_link_and_its_admission(shared_link: Built) -> None:
    shared_link.template.resource_count_is("AWS::ApiGatewayV2::Api", 2)
    link_id, _ = shared_link.one("AWS::ApiGatewayV2::VpcLink")
    integrations = shared_link.of_type("AWS::ApiGatewayV2::Integration").values()
    assert [i["Properties"]["ConnectionId"] for i in integrations] == [{"Ref": link_id}, {"Ref": link_id}]
    # One security group for the link, admitted once.
    groups = [g for g in shared_link.of_type("AWS::EC2::SecurityGroup") if g.startswith(("Api", "SecondApi"))]
    assert groups == ["ApiVpcLinkSecurityGroup665079B1"]
    lb_sg = shared_link.load_balancer_group()
    ingress = [
        i for i in shared_link.of_type("AWS::EC2::SecurityGroupIngress").values() if i["Properties"]["GroupId"] == lb_sg
    ]
    assert len(ingress) == 1


@pytest.mark.xdist_group("private_http_api_shared")
def test_existing_log_group_receives_the_access_logs(shared_link: Built) -> None:
    shared_link.template.resource_count_is("AWS::Logs::LogGroup", 2)  # the server's and the first API's
    stages = [s["Properties"] for s in shared_link.of_type("AWS::ApiGatewayV2::Stage").values()]
    destinations = [json.dumps(s["AccessLogSettings"]["DestinationArn"]) for s in stages]
    assert sum(":log-group:mlflow-team-access" in d for d in destinations) == 1


@pytest.mark.xdist_group("private_http_api_shared")
def test_shared_link_is_cfn_lint_clean(shared_link: Built) -> None:
    assert_cfn_lint_clean(shared_link.json, name="shared-link")


@pytest.mark.xdist_group("private_http_api_shared")
def test_an_imported_vpc_link_is_used_as_given() -> None:
    stack = new_stack()
    vpc = imported_vpc(stack)
    server = SecureMlflowService.from_attributes(
        stack,
        "Mlflow",
        vpc=vpc,
        url="http://mlflow.internal.example.com",
        security_group=ec2.SecurityGroup.from_security_group_id(stack, "Sg", SERVER_SG, allow_all_outbound=False),
        port=80,
        authentication=IAM_AT_THE_EDGE,
        listener_arn=LISTENER_ARN,
    )
    PrivateHttpApi(
        stack,
        "Api",
        server=server,
        existing_vpc_link=apigwv2.VpcLink.from_vpc_link_attributes(stack, "Link", vpc_link_id="abc123", vpc=vpc),
        existing_vpc_link_security_group=ec2.SecurityGroup.from_security_group_id(
            stack, "LinkSg", "sg-0bbbbbbbbbbbbbbbb", allow_all_outbound=False
        ),
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::ApiGatewayV2::VpcLink", 0)
    template.resource_count_is("AWS::EC2::SecurityGroup", 0)
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Integration", {"ConnectionId": "abc123", "IntegrationUri": LISTENER_ARN}
    )
    ingress = [i["Properties"] for i in template.find_resources("AWS::EC2::SecurityGroupIngress").values()]
    assert ingress == [
        {
            "Description": "API Gateway VPC link to the MLflow server",
            "FromPort": 80,
            "GroupId": SERVER_SG,
            "IpProtocol": "tcp",
            "SourceSecurityGroupId": "sg-0bbbbbbbbbbbbbbbb",
            "ToPort": 80,
        }
    ]
    assert_cfn_lint_clean(template.to_json(), name="imported-link")


# ------------------------------------------------------------------------------------------------
# A server with an HTTPS listener: TLS verified against the server's own host


@pytest.fixture(scope="module")
def https() -> Built:
    return _build(
        access=lambda stack: ServerAccess.load_balancer(
            listener=Listener.https(
                certificate=acm.Certificate.from_certificate_arn(stack, "Certificate", CERT_ARN),
                domain_name=SERVER_DOMAIN,
            )
        )
    )


@pytest.mark.xdist_group("private_http_api_https")
def test_https_listener_gets_tls_verification_of_the_servers_host(https: Built) -> None:
    _, integration = https.one("AWS::ApiGatewayV2::Integration")
    assert integration["Properties"]["TlsConfig"] == {"ServerNameToVerify": SERVER_DOMAIN}
    assert integration["Properties"]["RequestParameters"] == {"overwrite:header.host": SERVER_DOMAIN}
    assert https.server.host == SERVER_DOMAIN
    assert https.api.secure_server_name == SERVER_DOMAIN


@pytest.mark.xdist_group("private_http_api_https")
def test_https_link_and_server_meet_on_port_443(https: Built) -> None:
    lb_sg = https.load_balancer_group()
    link_sg = https.ref(https.api.security_group.security_group_id)
    https.template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {"GroupId": lb_sg, "SourceSecurityGroupId": link_sg, "FromPort": 443, "ToPort": 443},
    )
    https.template.has_resource_properties(
        "AWS::EC2::SecurityGroupEgress",
        {"GroupId": link_sg, "DestinationSecurityGroupId": lb_sg, "FromPort": 443, "ToPort": 443},
    )


@pytest.mark.xdist_group("private_http_api_https")
def test_https_is_cfn_lint_clean(https: Built) -> None:
    assert_cfn_lint_clean(https.json, name="https")


@pytest.mark.parametrize(
    ("secure_server_name", "expected"),
    [(None, SERVER_DOMAIN), ("tls.internal.example.com", "tls.internal.example.com")],
    ids=["default-server-host", "explicit"],
)
def test_imported_https_server_is_verified_by_its_host_name_without_the_port(
    secure_server_name: str | None, expected: str
) -> None:
    stack = new_stack()
    server = SecureMlflowService.from_attributes(
        stack,
        "Mlflow",
        vpc=imported_vpc(stack),
        url=f"https://{SERVER_DOMAIN}:8443",
        security_group=ec2.SecurityGroup.from_security_group_id(stack, "Sg", SERVER_SG),
        port=8443,
        authentication=IAM_AT_THE_EDGE,
        listener_arn=LISTENER_ARN,
    )
    api = PrivateHttpApi(stack, "Api", server=server, secure_server_name=secure_server_name)
    Template.from_stack(stack).has_resource_properties(
        "AWS::ApiGatewayV2::Integration", {"TlsConfig": {"ServerNameToVerify": expected}}
    )
    assert api.secure_server_name == expected


# ------------------------------------------------------------------------------------------------
# A VPC with isolated subnets only


@pytest.fixture(scope="module")
def isolated_only() -> Built:
    # Isolated subnets have no route to STS: the server gets its own STS endpoint.
    return _build(
        vpc=imported_isolated_only_vpc,
        authentication=MlflowAuthentication.iam(sts_access=StsAccess.new_interface_endpoint()),
    )


@pytest.mark.xdist_group("private_http_api_isolated")
def test_vpc_without_private_subnets_puts_the_link_in_the_isolated_ones(isolated_only: Built) -> None:
    _, link = isolated_only.one("AWS::ApiGatewayV2::VpcLink")
    assert link["Properties"]["SubnetIds"] == ISOLATED_ONLY_SUBNETS
    isolated_only.template.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {"GroupDescription": Match.string_like_regexp("VPC link"), "VpcId": "vpc-0fedcba9876543210"},
    )


@pytest.mark.xdist_group("private_http_api_isolated")
def test_isolated_only_is_cfn_lint_and_nag_clean(isolated_only: Built) -> None:
    assert_cfn_lint_clean(isolated_only.json, name="isolated-only")
    assert_nag_clean(isolated_only.app)


@pytest.mark.xdist_group("private_http_api_isolated")
def test_explicit_vpc_link_subnets_are_used() -> None:
    stack = new_stack()
    vpc = imported_vpc(stack)
    server = SecureMlflowService.from_attributes(
        stack,
        "Mlflow",
        vpc=vpc,
        url="http://mlflow.internal.example.com",
        security_group=ec2.SecurityGroup.from_security_group_id(stack, "Sg", SERVER_SG),
        port=80,
        authentication=IAM_AT_THE_EDGE,
        listener_arn=LISTENER_ARN,
    )
    PrivateHttpApi(
        stack, "Api", server=server, vpc_link_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::ApiGatewayV2::VpcLink", {"SubnetIds": [f"subnet-0b{i:015x}" for i in range(1, 4)]}
    )


# ------------------------------------------------------------------------------------------------
# A server in another stack of the same app, described by SecureMlflowService.from_attributes


@dataclass(frozen=True)
class TwoStacks:
    app: cdk.App
    server_stack: cdk.Stack
    api_stack: cdk.Stack
    mlflow: SecureMlflowService
    server: IMlflowTrackingServer
    api: PrivateHttpApi
    server_json: dict[str, Any]
    api_json: dict[str, Any]


@pytest.fixture(scope="module")
def two_stacks() -> TwoStacks:
    app = new_app()
    server_stack = new_stack(app, "Server")
    mlflow = SecureMlflowService(
        server_stack,
        "Mlflow",
        vpc=imported_vpc(server_stack),
        authentication=IAM_AT_THE_EDGE,
        access=ServerAccess.load_balancer(listener=Listener.http(port=8080)),
    )
    api_stack = new_stack(app, "Api")
    (load_balancer_group,) = mlflow.connections.security_groups
    server = SecureMlflowService.from_attributes(
        api_stack,
        "Mlflow",
        vpc=imported_vpc(api_stack),
        url=mlflow.url,
        security_group=ec2.SecurityGroup.from_security_group_id(
            api_stack, "MlflowSg", load_balancer_group.security_group_id, allow_all_outbound=False
        ),
        port=mlflow.port,
        authentication=mlflow.authentication,
        listener_arn=mlflow.listener.listener_arn if mlflow.listener is not None else None,
    )
    api = PrivateHttpApi(api_stack, "Api", server=server)
    return TwoStacks(
        app, server_stack, api_stack, mlflow, server, api, synth_template(server_stack), synth_template(api_stack)
    )


def _output_value(template: dict[str, Any], reference: Any) -> Any:
    """The value a cross-stack reference in the API stack points at in the server stack's outputs."""
    output = reference["Fn::GetStackOutput"]
    assert output["StackName"] == "Server"
    return template["Outputs"][output["OutputName"]]["Value"]


@pytest.mark.xdist_group("private_http_api_two_stacks")
def test_other_stack_server_admits_the_vpc_link_on_its_port(two_stacks: TwoStacks) -> None:
    link_sg = two_stacks.api_stack.resolve(two_stacks.api.security_group.security_group_id)
    (ingress,) = [
        i["Properties"]
        for i in two_stacks.api_json["Resources"].values()
        if i["Type"] == "AWS::EC2::SecurityGroupIngress"
    ]
    (lb_sg,) = two_stacks.mlflow.connections.security_groups
    assert _output_value(two_stacks.server_json, ingress["GroupId"]) == two_stacks.server_stack.resolve(
        lb_sg.security_group_id
    )
    assert ingress["SourceSecurityGroupId"] == link_sg
    assert (ingress["FromPort"], ingress["ToPort"], ingress["IpProtocol"]) == (8080, 8080, "tcp")
    # Nothing is added to the server's own stack.
    server_rules = [
        r for r in two_stacks.server_json["Resources"].values() if r["Type"] == "AWS::EC2::SecurityGroupIngress"
    ]
    assert all("VpcLink" not in json.dumps(r) for r in server_rules)


@pytest.mark.xdist_group("private_http_api_two_stacks")
def test_other_stack_integration_targets_the_imported_listener(two_stacks: TwoStacks) -> None:
    (integration,) = [
        r["Properties"]
        for r in two_stacks.api_json["Resources"].values()
        if r["Type"] == "AWS::ApiGatewayV2::Integration"
    ]
    assert _output_value(two_stacks.server_json, integration["IntegrationUri"]) == {
        "Ref": two_stacks.server_stack.get_logical_id(_cfn(two_stacks.mlflow.listener))
    }
    assert integration["ConnectionType"] == "VPC_LINK"
    assert "TlsConfig" not in integration
    assert two_stacks.api.listener is two_stacks.server.listener


@pytest.mark.xdist_group("private_http_api_two_stacks")
def test_other_stack_templates_are_cfn_lint_and_nag_clean(two_stacks: TwoStacks) -> None:
    assert_cfn_lint_clean(two_stacks.api_json, name="api-stack")
    assert_cfn_lint_clean(two_stacks.server_json, name="server-stack")
    assert_nag_clean(two_stacks.app)


# ------------------------------------------------------------------------------------------------
# Refused edge/server authentication pairs; the fix each message names is accepted


@dataclass
class Servers:
    """One stack with servers of every kind the refusals need; each case builds its API in a scope of its own."""

    stack: cdk.Stack
    vpc: ec2.IVpc
    basic: SecureMlflowService
    edge: SecureMlflowService
    imported_basic: IMlflowTrackingServer
    https: IMlflowTrackingServer
    no_listener: IMlflowTrackingServer
    counter: list[int]

    def scope(self) -> Construct:
        self.counter[0] += 1
        return Construct(self.stack, f"Case{self.counter[0]}")


@pytest.fixture(scope="module")
def servers() -> Servers:
    stack = new_stack()
    vpc = imported_vpc(stack)

    def imported(
        construct_id: str, url: str, authentication: MlflowAuthentication, listener: bool
    ) -> IMlflowTrackingServer:
        return SecureMlflowService.from_attributes(
            stack,
            construct_id,
            vpc=vpc,
            url=url,
            security_group=ec2.SecurityGroup.from_security_group_id(stack, f"{construct_id}Sg", SERVER_SG),
            port=443 if url.startswith("https") else 80,
            authentication=authentication,
            listener_arn=LISTENER_ARN if listener else None,
        )

    return Servers(
        stack=stack,
        vpc=vpc,
        basic=SecureMlflowService(stack, "Basic", vpc=vpc, authentication=BASIC_AUTH),
        edge=SecureMlflowService(stack, "Edge", vpc=vpc, authentication=IAM_AT_THE_EDGE),
        imported_basic=imported("ImportedBasic", "http://mlflow.internal.example.com", BASIC_AUTH, True),
        https=imported("Https", f"https://{SERVER_DOMAIN}", IAM_AT_THE_EDGE, True),
        no_listener=imported("NoListener", "http://mlflow.internal.example.com", IAM_AT_THE_EDGE, False),
        counter=[0],
    )


AUTH_PAIRS: list[tuple[str, Callable[[Servers], IMlflowTrackingServer], EdgeAuthorization, list[str]]] = [
    (
        "none-in-front-of-a-server-that-does-not-authenticate",
        lambda s: s.edge,
        EdgeAuthorization.NONE,
        [
            "authorization=EdgeAuthorization.NONE in front of a server that does not authenticate",
            "authenticated_by='IAM (SigV4) at the PrivateHttpApi'",
            "public and unauthenticated",
            "use EdgeAuthorization.IAM or EdgeAuthorization.JWT",
            "MlflowAuthentication.basic_auth()",
        ],
    ),
    (
        "iam-in-front-of-basic-auth",
        lambda s: s.basic,
        EdgeAuthorization.IAM,
        [
            "authorization=EdgeAuthorization.IAM and a server with basic-auth cannot work together",
            "both need the Authorization header",
            "EdgeAuthorization.NONE",
            "MlflowAuthentication.iam()",
            "MlflowAuthentication.disabled(authenticated_by=...)",
        ],
    ),
    (
        "jwt-in-front-of-basic-auth",
        lambda s: s.basic,
        EdgeAuthorization.JWT,
        [
            "authorization=EdgeAuthorization.JWT and a server with basic-auth cannot work together",
            "EdgeAuthorization.NONE",
            "MlflowAuthentication.disabled(authenticated_by=...)",
        ],
    ),
    (
        "iam-in-front-of-an-imported-basic-auth-server",
        lambda s: s.imported_basic,
        EdgeAuthorization.IAM,
        ["authorization=EdgeAuthorization.IAM and a server with basic-auth cannot work together"],
    ),
]


def test_finding_5_no_public_api_in_front_of_a_server_that_does_not_authenticate() -> None:
    """Security review finding 5: NONE at the edge and a server without authentication would be a public,
    unauthenticated endpoint. Refused at synthesis, for a server of this stack and an imported one."""
    stack = new_stack()
    vpc = imported_vpc(stack)
    local = SecureMlflowService(stack, "Edge", vpc=vpc, authentication=IAM_AT_THE_EDGE)
    imported = SecureMlflowService.from_attributes(
        stack,
        "Imported",
        vpc=vpc,
        url="http://mlflow.internal.example.com",
        security_group=ec2.SecurityGroup.from_security_group_id(stack, "Sg", "sg-0123456789abcdef0"),
        port=80,
        authentication=IAM_AT_THE_EDGE,
        listener_arn=LISTENER_ARN,
    )
    for number, server in enumerate((local, imported)):
        with pytest.raises(ValueError, match="public and unauthenticated"):
            PrivateHttpApi(stack, f"Api{number}", server=server, authorization=EdgeAuthorization.NONE)


@pytest.mark.xdist_group("private_http_api_rejected")
@pytest.mark.parametrize(
    ("server", "authorization", "fragments"), [c[1:] for c in AUTH_PAIRS], ids=[c[0] for c in AUTH_PAIRS]
)
def test_refused_auth_pair(
    servers: Servers,
    server: Callable[[Servers], IMlflowTrackingServer],
    authorization: EdgeAuthorization,
    fragments: list[str],
) -> None:
    jwt: dict[str, Any] = (
        {"jwt_issuer": ISSUER, "jwt_audience": ["c"]} if authorization is EdgeAuthorization.JWT else {}
    )
    with pytest.raises(ValueError, match=re.escape(fragments[0])) as refused:
        PrivateHttpApi(servers.scope(), "Api", server=server(servers), authorization=authorization, **jwt)
    for fragment in fragments:
        assert fragment in str(refused.value)


@pytest.mark.xdist_group("private_http_api_rejected")
@pytest.mark.parametrize(
    ("server", "authorization"),
    [
        (lambda s: s.basic, EdgeAuthorization.NONE),
        (lambda s: s.edge, EdgeAuthorization.IAM),
        (lambda s: s.edge, EdgeAuthorization.JWT),
    ],
    ids=["none-basic-auth", "iam-disabled", "jwt-disabled"],
)
def test_valid_auth_pair_is_accepted(
    servers: Servers, server: Callable[[Servers], IMlflowTrackingServer], authorization: EdgeAuthorization
) -> None:
    jwt: dict[str, Any] = (
        {"jwt_issuer": ISSUER, "jwt_audience": ["c"]} if authorization is EdgeAuthorization.JWT else {}
    )
    api = PrivateHttpApi(servers.scope(), "Api", server=server(servers), authorization=authorization, **jwt)
    assert api.authorization is authorization


# ------------------------------------------------------------------------------------------------
# Rejected prop combinations: each raises ValueError naming the prop and the fix


def _cert(scope: Construct, arn: str = CERT_ARN) -> acm.ICertificate:
    return acm.Certificate.from_certificate_arn(scope, "Certificate", arn)


def _zone(scope: Construct) -> route53.IHostedZone:
    return route53.HostedZone.from_hosted_zone_attributes(scope, "Zone", hosted_zone_id="Z1", zone_name="example.com")


def _link(scope: Construct, vpc: ec2.IVpc) -> apigwv2.IVpcLink:
    return apigwv2.VpcLink.from_vpc_link_attributes(scope, "Link", vpc_link_id="abc123", vpc=vpc)


def _sg(scope: Construct) -> ec2.ISecurityGroup:
    return ec2.SecurityGroup.from_security_group_id(scope, "LinkSg", "sg-0bbbbbbbbbbbbbbbb")


Props = Callable[[Construct, Servers], dict[str, Any]]
JWT = EdgeAuthorization.JWT
REJECTED: list[tuple[str, Props, list[str]]] = [
    (
        "authorization-not-an-enum",
        lambda s, n: {"authorization": "IAM"},
        ["authorization ('IAM') is not an EdgeAuthorization", "use EdgeAuthorization.IAM"],
    ),
    (
        "jwt-without-issuer",
        lambda s, n: {"authorization": JWT, "jwt_audience": ["client"]},
        ["jwt_issuer is required with authorization=EdgeAuthorization.JWT", "https://cognito-idp."],
    ),
    (
        "jwt-without-audience",
        lambda s, n: {"authorization": JWT, "jwt_issuer": ISSUER},
        ["jwt_audience is required with authorization=EdgeAuthorization.JWT", "app client ids"],
    ),
    (
        "jwt-with-empty-audience",
        lambda s, n: {"authorization": JWT, "jwt_issuer": ISSUER, "jwt_audience": []},
        ["jwt_audience is required with authorization=EdgeAuthorization.JWT"],
    ),
    (
        "jwt-issuer-not-https",
        lambda s, n: {"authorization": JWT, "jwt_issuer": "http://idp.example.com", "jwt_audience": ["c"]},
        ["jwt_issuer (http://idp.example.com) is not an https:// URL"],
    ),
    (
        "issuer-without-jwt",
        lambda s, n: {"jwt_issuer": ISSUER},
        ["jwt_issuer only applies with authorization=EdgeAuthorization.JWT: remove jwt_issuer"],
    ),
    (
        "audience-without-jwt",
        lambda s, n: {"server": n.basic, "authorization": EdgeAuthorization.NONE, "jwt_audience": ["c"]},
        ["jwt_audience only applies with authorization=EdgeAuthorization.JWT: remove jwt_audience"],
    ),
    (
        "domain-without-certificate",
        lambda s, n: {"domain_name": "mlflow.example.com"},
        ["domain_name (mlflow.example.com) needs a certificate", "pass certificate"],
    ),
    (
        "certificate-without-domain",
        lambda s, n: {"certificate": _cert(s)},
        ["certificate only applies with a custom domain (domain_name): remove certificate"],
    ),
    (
        "hosted-zone-without-domain",
        lambda s, n: {"hosted_zone": _zone(s)},
        ["hosted_zone only applies with a custom domain (domain_name): remove hosted_zone"],
    ),
    (
        "domain-outside-hosted-zone",
        lambda s, n: {"domain_name": "mlflow.example.org", "certificate": _cert(s), "hosted_zone": _zone(s)},
        ["domain_name (mlflow.example.org) is not in hosted_zone (example.com)"],
    ),
    (
        "domain-with-scheme",
        lambda s, n: {"domain_name": "https://mlflow.example.com", "certificate": _cert(s)},
        ["domain_name ('https://mlflow.example.com') is not a host name", "without scheme"],
    ),
    (
        "domain-in-upper-case",
        lambda s, n: {"domain_name": "MLflow.example.com", "certificate": _cert(s)},
        ["domain_name ('MLflow.example.com') is not a host name", "lower-case"],
    ),
    (
        "certificate-in-another-region",
        lambda s, n: {"domain_name": "mlflow.example.com", "certificate": _cert(s, OTHER_REGION_CERT_ARN)},
        ["certificate is in eu-west-1 but the API is in us-east-1"],
    ),
    (
        "disable-execute-api-endpoint-without-domain",
        lambda s, n: {"disable_execute_api_endpoint": True},
        ["disable_execute_api_endpoint=True without domain_name leaves the API unreachable"],
    ),
    ("zero-rate-limit", lambda s, n: {"throttle_rate_limit": 0}, ["throttle_rate_limit (0) must be", "> 0"]),
    ("negative-rate-limit", lambda s, n: {"throttle_rate_limit": -5.0}, ["throttle_rate_limit (-5.0) must be"]),
    ("boolean-rate-limit", lambda s, n: {"throttle_rate_limit": True}, ["throttle_rate_limit (True) must be"]),
    ("zero-burst-limit", lambda s, n: {"throttle_burst_limit": 0}, ["throttle_burst_limit (0) must be", "> 0"]),
    (
        "fractional-burst-limit",
        lambda s, n: {"throttle_burst_limit": 2.5},
        ["throttle_burst_limit (2.5) must be a whole number"],
    ),
    (
        "timeout-too-long",
        lambda s, n: {"integration_timeout": cdk.Duration.seconds(30)},
        ["integration_timeout (30000 ms) is out of range", "between 50 milliseconds and 29 seconds"],
    ),
    (
        "timeout-too-short",
        lambda s, n: {"integration_timeout": cdk.Duration.millis(10)},
        ["integration_timeout (10 ms) is out of range"],
    ),
    (
        "subnet-group-that-does-not-exist",
        lambda s, n: {"vpc_link_subnets": ec2.SubnetSelection(subnet_group_name="nonexistent")},
        ["vpc_link_subnets selects no subnets"],
    ),
    (
        "empty-subnet-list",
        lambda s, n: {"vpc_link_subnets": ec2.SubnetSelection(subnets=[])},
        ["vpc_link_subnets selects no subnets"],
    ),
    (
        "subnets-of-another-vpc",
        lambda s, n: {
            "vpc_link_subnets": ec2.SubnetSelection(
                subnets=[
                    ec2.Subnet.from_subnet_attributes(
                        s, "Foreign", subnet_id="subnet-0f000000000000001", availability_zone=AZS[0]
                    )
                ]
            )
        },
        ["vpc_link_subnets selects subnets that are not in the server's VPC (subnet-0f000000000000001)"],
    ),
    (
        "existing-vpc-link-without-security-group",
        lambda s, n: {"existing_vpc_link": _link(s, n.vpc)},
        ["existing_vpc_link and existing_vpc_link_security_group go together"],
    ),
    (
        "security-group-without-existing-vpc-link",
        lambda s, n: {"existing_vpc_link_security_group": _sg(s)},
        ["existing_vpc_link and existing_vpc_link_security_group go together"],
    ),
    (
        "existing-vpc-link-with-subnets",
        lambda s, n: {
            "existing_vpc_link": _link(s, n.vpc),
            "existing_vpc_link_security_group": _sg(s),
            "vpc_link_subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        },
        ["vpc_link_subnets only applies with a new VPC link (no existing_vpc_link): remove vpc_link_subnets"],
    ),
    (
        "existing-vpc-link-in-another-vpc",
        lambda s, n: {
            "existing_vpc_link": _link(s, imported_isolated_only_vpc(cdk.Stack.of(s), f"{s.node.id}Vpc")),
            "existing_vpc_link_security_group": _sg(s),
        },
        ["existing_vpc_link is in VPC vpc-0fedcba9876543210, not in vpc (vpc-0123456789abcdef0)"],
    ),
    ("cors-empty", lambda s, n: {"cors_allowed_origins": []}, ["cors_allowed_origins is empty"]),
    (
        "cors-origin-with-path",
        lambda s, n: {"cors_allowed_origins": ["https://studio.example.com/"]},
        ["cors_allowed_origins (", "studio.example.com/", "is not a host name"],
    ),
    (
        "cors-origin-without-scheme",
        lambda s, n: {"cors_allowed_origins": ["studio.example.com"]},
        ["cors_allowed_origins ('studio.example.com') is not an origin: give scheme://host[:port]"],
    ),
    (
        "existing-log-group-with-retention",
        lambda s, n: {
            "existing_log_group": logs.LogGroup.from_log_group_name(s, "Logs", "mlflow-access"),
            "log_retention": logs.RetentionDays.ONE_WEEK,
        },
        ["log_retention only applies with the log group the construct creates (no existing_log_group)"],
    ),
    (
        "existing-log-group-with-removal-policy",
        lambda s, n: {
            "existing_log_group": logs.LogGroup.from_log_group_name(s, "Logs", "mlflow-access"),
            "log_removal_policy": cdk.RemovalPolicy.DESTROY,
        },
        ["log_removal_policy only applies with the log group the construct creates"],
    ),
    (
        "secure-server-name-on-an-http-listener",
        lambda s, n: {"secure_server_name": SERVER_DOMAIN},
        [f"secure_server_name ({SERVER_DOMAIN}) is set but the server's listener is not HTTPS"],
    ),
    (
        "secure-server-name-that-is-not-a-host",
        lambda s, n: {"server": n.https, "secure_server_name": f"https://{SERVER_DOMAIN}"},
        [f"secure_server_name ('https://{SERVER_DOMAIN}') is not a host name"],
    ),
    (
        "server-without-a-listener",
        lambda s, n: {"server": n.no_listener},
        ["server has no load balancer listener for the VPC link", "listener_arn=..."],
    ),
    (
        "vpc-with-only-public-subnets",
        lambda s, n: {
            "server": SecureMlflowService.from_attributes(
                s,
                "PublicOnly",
                vpc=imported_public_only_vpc(cdk.Stack.of(s), f"{s.node.id}PublicVpc"),
                url="http://mlflow.internal.example.com",
                security_group=ec2.SecurityGroup.from_security_group_id(s, "PublicOnlySg", SERVER_SG),
                port=80,
                authentication=IAM_AT_THE_EDGE,
                listener_arn=LISTENER_ARN,
            )
        },
        ["vpc has neither private-with-egress nor isolated subnets", "pass vpc_link_subnets"],
    ),
]


@pytest.mark.xdist_group("private_http_api_rejected")
@pytest.mark.parametrize(("props", "fragments"), [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED])
def test_rejected_combination(servers: Servers, props: Props, fragments: list[str]) -> None:
    scope = servers.scope()
    kwargs = props(scope, servers)
    kwargs.setdefault("server", servers.edge)
    with pytest.raises(ValueError, match=re.escape(fragments[0])) as refused:
        PrivateHttpApi(scope, "Api", **kwargs)
    for fragment in fragments:
        assert fragment in str(refused.value)


class _InternetFacingMlflow(SecureMlflowService):
    """A subclass whose load balancer hook ignores the rule that it must be internal."""

    def _create_load_balancer(self) -> elbv2.IApplicationLoadBalancer:
        return elbv2.ApplicationLoadBalancer(
            self, "PublicLoadBalancer", vpc=self.vpc, internet_facing=True, vpc_subnets=self.service_subnets
        )


@pytest.mark.xdist_group("private_http_api_rejected")
def test_internet_facing_load_balancer_is_rejected(servers: Servers) -> None:
    scope = servers.scope()
    server = _InternetFacingMlflow(scope, "Mlflow", vpc=servers.vpc, authentication=IAM_AT_THE_EDGE)
    with pytest.raises(ValueError, match="internet-facing load balancer") as refused:
        PrivateHttpApi(scope, "Api", server=server)
    message = str(refused.value)
    assert f"internet-facing load balancer {server.load_balancer.node.path}" in message
    assert "use an internal load balancer (internet_facing=False)" in message


def _cfn(construct: Construct | Any) -> cdk.CfnElement:
    child = construct.node.default_child
    assert isinstance(child, cdk.CfnElement)
    return child
