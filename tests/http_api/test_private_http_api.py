"""PrivateHttpApi: HTTP API + VPC link + ALB integration, per authorization mode and option."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import aws_cdk as cdk
import pytest
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk.assertions import Match, Template
from syrupy.assertion import SnapshotAssertion

from mlflow_sagemaker_constructs.http_api.private_http_api import (
    DEFAULT_THROTTLE_BURST_LIMIT,
    DEFAULT_THROTTLE_RATE_LIMIT,
    EdgeAuthorization,
    PrivateHttpApi,
)
from tests.conftest import normalized
from tests.harness import ENV, assert_cfn_lint_clean, assert_nag_clean, new_app, synth_template

CERT_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
OTHER_REGION_CERT_ARN = "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI"
LISTENER_ARN = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/mlflow/0123456789abcdef/0123456789abcdef"
)
PRIVATE_SUBNETS = ["subnet-0a000000000000001", "subnet-0a000000000000002", "subnet-0a000000000000003"]
ISOLATED_SUBNETS = ["subnet-0b000000000000001", "subnet-0b000000000000002", "subnet-0b000000000000003"]
IMPORTED_AZS = ["us-east-1a", "us-east-1b", "us-east-1c"]
TEST_FIXTURE = "test fixture: only the PrivateHttpApi is under test"


class _TestStack(cdk.Stack):
    """A stack in the test environment whose AZs CloudFormation resolves: no lookup, no hard-coded zone."""

    @property
    def availability_zones(self) -> list[str]:
        return [cdk.Fn.select(i, cdk.Fn.get_azs()) for i in range(2)]


@dataclass
class Case:
    app: cdk.App
    stack: cdk.Stack
    api: PrivateHttpApi
    template: dict[str, Any]

    @property
    def assertions(self) -> Template:
        return Template.from_json(self.template)

    def resolve(self, value: Any) -> Any:
        return self.stack.resolve(value)

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == resource_type}

    def one(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        found = self.of_type(resource_type)
        assert len(found) == 1, f"{len(found)} {resource_type} resources"
        return next(iter(found.items()))

    def access_log_fields(self) -> dict[str, str]:
        _, stage = self.one("AWS::ApiGatewayV2::Stage")
        fields: dict[str, str] = json.loads(stage["Properties"]["AccessLogSettings"]["Format"])
        return fields


def new_stack() -> cdk.Stack:
    return _TestStack(new_app(), "TestStack", env=ENV)


def new_vpc(stack: cdk.Stack) -> ec2.Vpc:
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=1,
        restrict_default_security_group=False,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
            ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22),
            ec2.SubnetConfiguration(name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
        ],
    )
    cdk.Validations.of(vpc).acknowledge(cdk.Acknowledgment(id="AwsSolutions-VPC7", reason=TEST_FIXTURE))
    return vpc


def new_listener(
    stack: cdk.Stack, vpc: ec2.IVpc, *, https: bool = False, internet_facing: bool = False
) -> elbv2.ApplicationListener:
    """An ALB listener as the MLflow service builds it: its security group admits nobody by itself."""
    load_balancer = elbv2.ApplicationLoadBalancer(
        stack,
        "Alb",
        vpc=vpc,
        internet_facing=internet_facing,
        vpc_subnets=ec2.SubnetSelection(
            subnet_type=ec2.SubnetType.PUBLIC if internet_facing else ec2.SubnetType.PRIVATE_WITH_EGRESS
        ),
        drop_invalid_header_fields=True,
    )
    cdk.Validations.of(load_balancer).acknowledge(cdk.Acknowledgment(id="AwsSolutions-ELB2", reason=TEST_FIXTURE))
    action = elbv2.ListenerAction.fixed_response(200, content_type="text/plain", message_body="ok")
    if https:
        return load_balancer.add_listener(
            "Https",
            protocol=elbv2.ApplicationProtocol.HTTPS,
            port=443,
            certificates=[elbv2.ListenerCertificate.from_arn(CERT_ARN)],
            open=False,
            default_action=action,
        )
    return load_balancer.add_listener(
        "Http", protocol=elbv2.ApplicationProtocol.HTTP, port=80, open=False, default_action=action
    )


def imported_vpc(stack: cdk.Stack, *, private: bool = True) -> ec2.IVpc:
    return ec2.Vpc.from_vpc_attributes(
        stack,
        "ImportedVpc",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=IMPORTED_AZS,
        private_subnet_ids=PRIVATE_SUBNETS if private else None,
        isolated_subnet_ids=ISOLATED_SUBNETS,
    )


def imported_listener(stack: cdk.Stack, *, default_port: int | None = 80) -> elbv2.IApplicationListener:
    return elbv2.ApplicationListener.from_application_listener_attributes(
        stack,
        "ImportedListener",
        listener_arn=LISTENER_ARN,
        security_group=ec2.SecurityGroup.from_security_group_id(
            stack, "ImportedAlbSg", "sg-0123456789abcdef0", allow_all_outbound=False
        ),
        default_port=default_port,
    )


def build(
    customize: Callable[[cdk.Stack], dict[str, Any]] | None = None,
    *,
    after: Callable[[cdk.Stack, PrivateHttpApi], None] | None = None,
    synth: bool = True,
) -> Case:
    """A stack with a VPC, an internal ALB listener and a PrivateHttpApi; ``customize`` returns its props."""
    stack = new_stack()
    props: dict[str, Any] = customize(stack) if customize else {}
    if "vpc" not in props:
        props["vpc"] = new_vpc(stack)
    if "listener" not in props:
        props["listener"] = new_listener(stack, props["vpc"])
    api = PrivateHttpApi(stack, "Api", **props)
    if after is not None:
        after(stack, api)
    app = stack.node.scope
    assert isinstance(app, cdk.App)
    return Case(app=app, stack=stack, api=api, template=synth_template(stack) if synth else {})


# ------------------------------------------------------------------------------------------------
# Default: IAM at the edge, private subnets, HTTP listener


@pytest.fixture(scope="module")
def default() -> Case:
    return build()


@pytest.mark.xdist_group("private_http_api_default")
def test_default_matches_snapshot(default: Case, template_snapshot: SnapshotAssertion) -> None:
    assert normalized(default.template) == template_snapshot


@pytest.mark.xdist_group("private_http_api_default")
def test_default_is_cfn_lint_clean(default: Case) -> None:
    assert_cfn_lint_clean(default.template, name="default")


@pytest.mark.xdist_group("private_http_api_default")
def test_default_api_has_no_cors_and_its_execute_api_endpoint(default: Case) -> None:
    _, api = default.one("AWS::ApiGatewayV2::Api")
    assert api["Properties"]["ProtocolType"] == "HTTP"
    assert "CorsConfiguration" not in api["Properties"]
    assert "DisableExecuteApiEndpoint" not in api["Properties"]
    default.assertions.resource_count_is("AWS::ApiGatewayV2::DomainName", 0)
    default.assertions.resource_count_is("AWS::ApiGatewayV2::ApiMapping", 0)


@pytest.mark.xdist_group("private_http_api_default")
def test_default_route_carries_everything_with_iam(default: Case) -> None:
    api_id, _ = default.one("AWS::ApiGatewayV2::Api")
    integration_id, _ = default.one("AWS::ApiGatewayV2::Integration")
    _, route = default.one("AWS::ApiGatewayV2::Route")
    assert route["Properties"] == {
        "ApiId": {"Ref": api_id},
        "AuthorizationType": "AWS_IAM",
        "RouteKey": "$default",
        "Target": {"Fn::Join": ["", ["integrations/", {"Ref": integration_id}]]},
    }
    default.assertions.resource_count_is("AWS::ApiGatewayV2::Authorizer", 0)
    assert default.api.authorization is EdgeAuthorization.IAM


@pytest.mark.xdist_group("private_http_api_default")
def test_default_integration_goes_to_the_listener_over_the_vpc_link(default: Case) -> None:
    api_id, _ = default.one("AWS::ApiGatewayV2::Api")
    link_id, _ = default.one("AWS::ApiGatewayV2::VpcLink")
    listener_id, _ = default.one("AWS::ElasticLoadBalancingV2::Listener")
    _, integration = default.one("AWS::ApiGatewayV2::Integration")
    props = integration["Properties"]
    assert props["ConnectionType"] == "VPC_LINK"
    assert props["ConnectionId"] == {"Ref": link_id}
    assert props["IntegrationType"] == "HTTP_PROXY"
    assert props["IntegrationMethod"] == "ANY"
    assert props["IntegrationUri"] == {"Ref": listener_id}
    assert "TlsConfig" not in props
    assert "TimeoutInMillis" not in props  # API Gateway's maximum, 30 s
    host = {"Fn::Join": ["", [{"Ref": api_id}, ".execute-api.us-east-1.", {"Ref": "AWS::URLSuffix"}]]}
    assert props["RequestParameters"] == {"overwrite:header.host": host}
    assert default.resolve(default.api.host_header) == host
    assert default.resolve(default.api.forwarded_host) == host


@pytest.mark.xdist_group("private_http_api_default")
def test_default_url_is_the_execute_api_url(default: Case) -> None:
    api_id, _ = default.one("AWS::ApiGatewayV2::Api")
    assert default.resolve(default.api.url) == {
        "Fn::Join": [
            "",
            ["https://", {"Ref": api_id}, ".execute-api.us-east-1.", {"Ref": "AWS::URLSuffix"}, "/"],
        ]
    }
    assert default.api.domain is None
    assert default.api.alias_record is None


@pytest.mark.xdist_group("private_http_api_default")
def test_default_vpc_link_sits_in_the_private_subnets(default: Case) -> None:
    sg_id = default.resolve(default.api.security_group.security_group_id)
    _, link = default.one("AWS::ApiGatewayV2::VpcLink")
    assert link["Properties"]["SecurityGroupIds"] == [sg_id]
    private = [default.resolve(s.subnet_id) for s in default.api.vpc_link.vpc.private_subnets]
    assert sorted(link["Properties"]["SubnetIds"], key=json.dumps) == sorted(private, key=json.dumps)


@pytest.mark.xdist_group("private_http_api_default")
def test_default_vpc_link_may_only_reach_the_listener_port(default: Case) -> None:
    sg_id = default.resolve(default.api.security_group.security_group_id)
    link_sg = default.template["Resources"][sg_id["Fn::GetAtt"][0]]
    # allow_all_outbound=False plus the one egress rule added: no inline rules, so no 0.0.0.0/0.
    assert "SecurityGroupEgress" not in link_sg["Properties"]
    assert "SecurityGroupIngress" not in link_sg["Properties"]
    _, alb = default.one("AWS::ElasticLoadBalancingV2::LoadBalancer")
    (lb_sg,) = alb["Properties"]["SecurityGroups"]
    egress = [e["Properties"] for e in default.of_type("AWS::EC2::SecurityGroupEgress").values()]
    assert egress == [
        {
            "Description": "API Gateway VPC link to the MLflow load balancer",
            "DestinationSecurityGroupId": lb_sg,
            "FromPort": 80,
            "GroupId": sg_id,
            "IpProtocol": "tcp",
            "ToPort": 80,
        }
    ]


@pytest.mark.xdist_group("private_http_api_default")
def test_default_load_balancer_admits_only_the_vpc_link(default: Case) -> None:
    sg_id = default.resolve(default.api.security_group.security_group_id)
    _, alb = default.one("AWS::ElasticLoadBalancingV2::LoadBalancer")
    (lb_sg,) = alb["Properties"]["SecurityGroups"]
    lb_sg_resource = default.template["Resources"][lb_sg["Fn::GetAtt"][0]]
    assert "SecurityGroupIngress" not in lb_sg_resource["Properties"]
    ingress = [i["Properties"] for i in default.of_type("AWS::EC2::SecurityGroupIngress").values()]
    assert ingress == [
        {
            "Description": "API Gateway VPC link to the MLflow load balancer",
            "FromPort": 80,
            "GroupId": lb_sg,
            "IpProtocol": "tcp",
            "SourceSecurityGroupId": sg_id,
            "ToPort": 80,
        }
    ]
    for resource in default.of_type("AWS::EC2::SecurityGroup").values():
        for rule in resource["Properties"].get("SecurityGroupIngress", []):
            assert rule.get("CidrIp") != "0.0.0.0/0"


@pytest.mark.xdist_group("private_http_api_default")
def test_default_stage_auto_deploys_with_throttling(default: Case) -> None:
    api_id, _ = default.one("AWS::ApiGatewayV2::Api")
    default.assertions.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "ApiId": {"Ref": api_id},
            "StageName": "$default",
            "AutoDeploy": True,
            "DefaultRouteSettings": {
                "ThrottlingRateLimit": DEFAULT_THROTTLE_RATE_LIMIT,
                "ThrottlingBurstLimit": DEFAULT_THROTTLE_BURST_LIMIT,
            },
        },
    )
    assert default.api.stage.stage_name == "$default"


@pytest.mark.xdist_group("private_http_api_default")
def test_default_access_logs_are_structured_json_kept_three_months(default: Case) -> None:
    log_group_id, log_group = default.one("AWS::Logs::LogGroup")
    assert log_group["Properties"] == {"RetentionInDays": 90}
    assert log_group["DeletionPolicy"] == "Retain"
    assert log_group["UpdateReplacePolicy"] == "Retain"
    _, stage = default.one("AWS::ApiGatewayV2::Stage")
    assert stage["Properties"]["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": [log_group_id, "Arn"]}
    fields = default.access_log_fields()
    assert fields["requestId"] == "$context.requestId"
    assert fields["ip"] == "$context.identity.sourceIp"
    assert fields["requestTime"] == "$context.requestTime"
    assert fields["httpMethod"] == "$context.httpMethod"
    assert fields["routeKey"] == "$context.routeKey"
    assert fields["status"] == "$context.status"
    assert fields["protocol"] == "$context.protocol"
    assert fields["responseLength"] == "$context.responseLength"
    assert fields["integrationError"] == "$context.integration.error"
    assert fields["integrationLatency"] == "$context.integration.latency"
    assert fields["userArn"] == "$context.identity.userArn"
    assert "principal" not in fields


# ------------------------------------------------------------------------------------------------
# IAM: grant_invoke


def _grant(stack: cdk.Stack, api: PrivateHttpApi) -> None:
    role = iam.Role(stack, "TrainingRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    api.grant_invoke(role)


@pytest.fixture(scope="module")
def granted() -> Case:
    return build(after=_grant)


@pytest.mark.xdist_group("private_http_api_granted")
def test_grant_invoke_allows_execute_api_on_this_api_only(granted: Case) -> None:
    api_id, _ = granted.one("AWS::ApiGatewayV2::Api")
    granted.assertions.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": "execute-api:Invoke",
                        "Effect": "Allow",
                        "Resource": {
                            "Fn::Join": [
                                "",
                                ["arn:aws:execute-api:us-east-1:123456789012:", {"Ref": api_id}, "/*"],
                            ]
                        },
                    }
                ]
            }
        },
    )


@pytest.mark.xdist_group("private_http_api_granted")
def test_grant_invoke_template_is_cfn_lint_clean(granted: Case) -> None:
    assert_cfn_lint_clean(granted.template, name="granted")


@pytest.mark.xdist_group("private_http_api_nag_iam")
def test_iam_with_a_grant_is_nag_clean() -> None:
    assert_nag_clean(build(after=_grant, synth=False).app)


# ------------------------------------------------------------------------------------------------
# NONE: the server authenticates


@pytest.fixture(scope="module")
def unauthenticated() -> Case:
    return build(lambda _: {"authorization": EdgeAuthorization.NONE, "server_authenticates": True})


@pytest.mark.xdist_group("private_http_api_none")
def test_none_route_has_no_authorization(unauthenticated: Case) -> None:
    unauthenticated.assertions.has_resource_properties(
        "AWS::ApiGatewayV2::Route", {"RouteKey": "$default", "AuthorizationType": "NONE"}
    )
    unauthenticated.assertions.resource_count_is("AWS::ApiGatewayV2::Authorizer", 0)
    assert unauthenticated.api.authorization is EdgeAuthorization.NONE
    assert unauthenticated.api.authorizer is None
    assert unauthenticated.api.server_authenticates is True


@pytest.mark.xdist_group("private_http_api_none")
def test_none_access_logs_have_no_principal_fields(unauthenticated: Case) -> None:
    fields = unauthenticated.access_log_fields()
    assert "userArn" not in fields
    assert "principal" not in fields
    assert fields["requestId"] == "$context.requestId"


@pytest.mark.xdist_group("private_http_api_none")
def test_none_template_is_cfn_lint_clean(unauthenticated: Case) -> None:
    assert_cfn_lint_clean(unauthenticated.template, name="none")


@pytest.mark.xdist_group("private_http_api_nag_none")
def test_none_is_nag_clean_with_the_acknowledgement() -> None:
    case = build(lambda _: {"authorization": EdgeAuthorization.NONE, "server_authenticates": True}, synth=False)
    assert_nag_clean(case.app)


@pytest.mark.xdist_group("private_http_api_none")
def test_grant_invoke_is_refused_without_iam(unauthenticated: Case) -> None:
    role = iam.Role(unauthenticated.stack, "Refused", assumed_by=iam.AccountRootPrincipal())
    with pytest.raises(ValueError, match=r"grant_invoke\(\) needs authorization=EdgeAuthorization.IAM"):
        unauthenticated.api.grant_invoke(role)


# ------------------------------------------------------------------------------------------------
# JWT


@pytest.fixture(scope="module")
def jwt() -> Case:
    return build(
        lambda _: {
            "authorization": EdgeAuthorization.JWT,
            "jwt_issuer": ISSUER,
            "jwt_audience": ["app-client-1", "app-client-2"],
        }
    )


@pytest.mark.xdist_group("private_http_api_jwt")
def test_jwt_authorizer_checks_issuer_and_audience(jwt: Case) -> None:
    api_id, _ = jwt.one("AWS::ApiGatewayV2::Api")
    authorizer_id, authorizer = jwt.one("AWS::ApiGatewayV2::Authorizer")
    assert authorizer["Properties"] == {
        "ApiId": {"Ref": api_id},
        "AuthorizerType": "JWT",
        "IdentitySource": ["$request.header.Authorization"],
        "JwtConfiguration": {"Audience": ["app-client-1", "app-client-2"], "Issuer": ISSUER},
        "Name": "JwtAuthorizer",
    }
    jwt.assertions.has_resource_properties(
        "AWS::ApiGatewayV2::Route",
        {"RouteKey": "$default", "AuthorizationType": "JWT", "AuthorizerId": {"Ref": authorizer_id}},
    )
    assert jwt.api.authorization is EdgeAuthorization.JWT


@pytest.mark.xdist_group("private_http_api_jwt")
def test_jwt_access_logs_name_the_token_subject(jwt: Case) -> None:
    fields = jwt.access_log_fields()
    assert fields["principal"] == "$context.authorizer.claims.sub"
    assert "userArn" not in fields


@pytest.mark.xdist_group("private_http_api_jwt")
def test_jwt_template_is_cfn_lint_clean(jwt: Case) -> None:
    assert_cfn_lint_clean(jwt.template, name="jwt")


# ------------------------------------------------------------------------------------------------
# Custom domain with a hosted zone


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
def domain() -> Case:
    return build(_domain_props)


@pytest.mark.xdist_group("private_http_api_domain")
def test_domain_is_regional_tls12_and_mapped_to_the_stage(domain: Case) -> None:
    api_id, _ = domain.one("AWS::ApiGatewayV2::Api")
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
    domain.assertions.has_resource_properties("AWS::ApiGatewayV2::Api", {"DisableExecuteApiEndpoint": True})


@pytest.mark.xdist_group("private_http_api_domain")
def test_domain_gets_an_alias_record(domain: Case) -> None:
    domain_id, _ = domain.one("AWS::ApiGatewayV2::DomainName")
    domain.assertions.has_resource_properties(
        "AWS::Route53::RecordSet",
        {
            "Name": "mlflow.example.com.",
            "Type": "A",
            "HostedZoneId": "Z0123456789ABCDEFGHIJ",
            "AliasTarget": {
                "DNSName": {"Fn::GetAtt": [domain_id, "RegionalDomainName"]},
                "HostedZoneId": {"Fn::GetAtt": [domain_id, "RegionalHostedZoneId"]},
            },
        },
    )
    assert domain.api.alias_record is not None


@pytest.mark.xdist_group("private_http_api_domain")
def test_domain_is_the_url_and_the_host_header(domain: Case) -> None:
    assert domain.api.url == "https://mlflow.example.com/"
    assert domain.api.host_header == "mlflow.example.com"
    assert domain.api.domain is not None
    domain.assertions.has_resource_properties(
        "AWS::ApiGatewayV2::Integration",
        {"RequestParameters": {"overwrite:header.host": "mlflow.example.com"}},
    )


@pytest.mark.xdist_group("private_http_api_domain")
def test_domain_template_is_cfn_lint_clean(domain: Case) -> None:
    assert_cfn_lint_clean(domain.template, name="domain")


# ------------------------------------------------------------------------------------------------
# CORS, throttling, logs and timeout options


def _option_props(_: cdk.Stack) -> dict[str, Any]:
    return {
        "cors_allowed_origins": ["https://studio.example.com", "http://localhost:5000"],
        "throttle_rate_limit": 25,
        "throttle_burst_limit": 50,
        "log_retention": logs.RetentionDays.ONE_YEAR,
        "log_removal_policy": cdk.RemovalPolicy.DESTROY,
        "integration_timeout": cdk.Duration.seconds(10),
        "description": "team MLflow",
    }


@pytest.fixture(scope="module")
def options() -> Case:
    return build(_option_props)


@pytest.mark.xdist_group("private_http_api_options")
def test_cors_lists_the_allowed_origins(options: Case) -> None:
    options.assertions.has_resource_properties(
        "AWS::ApiGatewayV2::Api",
        {
            "Description": "team MLflow",
            "CorsConfiguration": {
                "AllowOrigins": ["https://studio.example.com", "http://localhost:5000"],
                "AllowMethods": ["*"],
                "AllowHeaders": Match.array_with(["Authorization", "Content-Type", "X-Amz-Date"]),
                "MaxAge": 3600,
            },
        },
    )
    _, api = options.one("AWS::ApiGatewayV2::Api")
    assert "AllowCredentials" not in api["Properties"]["CorsConfiguration"]


@pytest.mark.xdist_group("private_http_api_options")
def test_throttling_is_applied_to_the_stage(options: Case) -> None:
    options.assertions.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {"DefaultRouteSettings": {"ThrottlingRateLimit": 25, "ThrottlingBurstLimit": 50}},
    )


@pytest.mark.xdist_group("private_http_api_options")
def test_log_retention_and_removal_policy_are_applied(options: Case) -> None:
    _, log_group = options.one("AWS::Logs::LogGroup")
    assert log_group["Properties"] == {"RetentionInDays": 365}
    assert log_group["DeletionPolicy"] == "Delete"


@pytest.mark.xdist_group("private_http_api_options")
def test_integration_timeout_is_applied(options: Case) -> None:
    options.assertions.has_resource_properties("AWS::ApiGatewayV2::Integration", {"TimeoutInMillis": 10000})


@pytest.mark.xdist_group("private_http_api_options")
def test_options_template_is_cfn_lint_clean(options: Case) -> None:
    assert_cfn_lint_clean(options.template, name="options")


# ------------------------------------------------------------------------------------------------
# HTTPS listener and an explicit Host header


def _https_props(stack: cdk.Stack) -> dict[str, Any]:
    vpc = new_vpc(stack)
    return {
        "vpc": vpc,
        "listener": new_listener(stack, vpc, https=True),
        "secure_server_name": "mlflow.internal.example.com",
        "host_header": "mlflow.internal.example.com",
    }


@pytest.fixture(scope="module")
def https() -> Case:
    return build(_https_props)


@pytest.mark.xdist_group("private_http_api_https")
def test_https_listener_gets_tls_verification_and_port_443(https: Case) -> None:
    https.assertions.has_resource_properties(
        "AWS::ApiGatewayV2::Integration",
        {
            "TlsConfig": {"ServerNameToVerify": "mlflow.internal.example.com"},
            "RequestParameters": {"overwrite:header.host": "mlflow.internal.example.com"},
        },
    )
    https.assertions.has_resource_properties("AWS::EC2::SecurityGroupIngress", {"FromPort": 443, "ToPort": 443})
    https.assertions.has_resource_properties("AWS::EC2::SecurityGroupEgress", {"FromPort": 443, "ToPort": 443})
    assert https.api.host_header == "mlflow.internal.example.com"


@pytest.mark.xdist_group("private_http_api_https")
def test_https_template_is_cfn_lint_clean(https: Case) -> None:
    assert_cfn_lint_clean(https.template, name="https")


# ------------------------------------------------------------------------------------------------
# Imported VPC (3 AZs) and imported listener


def _imported_props(stack: cdk.Stack) -> dict[str, Any]:
    return {"vpc": imported_vpc(stack), "listener": imported_listener(stack)}


@pytest.fixture(scope="module")
def imported() -> Case:
    return build(_imported_props)


@pytest.mark.xdist_group("private_http_api_imported")
def test_imported_vpc_link_uses_the_three_private_subnets(imported: Case) -> None:
    imported.assertions.has_resource_properties("AWS::ApiGatewayV2::VpcLink", {"SubnetIds": PRIVATE_SUBNETS})
    imported.assertions.has_resource_properties("AWS::EC2::SecurityGroup", {"VpcId": "vpc-0123456789abcdef0"})
    imported.assertions.has_resource_properties("AWS::ApiGatewayV2::Integration", {"IntegrationUri": LISTENER_ARN})


@pytest.mark.xdist_group("private_http_api_imported")
def test_imported_listener_security_group_admits_only_the_vpc_link(imported: Case) -> None:
    sg_id = imported.resolve(imported.api.security_group.security_group_id)
    ingress = [i["Properties"] for i in imported.of_type("AWS::EC2::SecurityGroupIngress").values()]
    assert ingress == [
        {
            "Description": "API Gateway VPC link to the MLflow load balancer",
            "FromPort": 80,
            "GroupId": "sg-0123456789abcdef0",
            "IpProtocol": "tcp",
            "SourceSecurityGroupId": sg_id,
            "ToPort": 80,
        }
    ]
    imported.assertions.has_resource_properties(
        "AWS::EC2::SecurityGroupEgress",
        {"GroupId": sg_id, "DestinationSecurityGroupId": "sg-0123456789abcdef0", "FromPort": 80},
    )


@pytest.mark.xdist_group("private_http_api_imported")
def test_imported_template_is_cfn_lint_clean(imported: Case) -> None:
    assert_cfn_lint_clean(imported.template, name="imported")


@pytest.fixture(scope="module")
def isolated_only() -> Case:
    return build(lambda stack: {"vpc": imported_vpc(stack, private=False), "listener": imported_listener(stack)})


@pytest.mark.xdist_group("private_http_api_isolated")
def test_vpc_without_private_subnets_falls_back_to_isolated(isolated_only: Case) -> None:
    isolated_only.assertions.has_resource_properties("AWS::ApiGatewayV2::VpcLink", {"SubnetIds": ISOLATED_SUBNETS})
    assert_cfn_lint_clean(isolated_only.template, name="isolated-only")


# ------------------------------------------------------------------------------------------------
# Two APIs sharing one VPC link (10 per account and region)


def _second_api(stack: cdk.Stack, first: PrivateHttpApi) -> None:
    PrivateHttpApi(
        stack,
        "SecondApi",
        vpc=first.vpc_link.vpc,
        listener=cast(elbv2.IApplicationListener, stack.node.find_child("Alb").node.find_child("Http")),
        existing_vpc_link=first.vpc_link,
        existing_vpc_link_security_group=first.security_group,
    )


@pytest.fixture(scope="module")
def shared_link() -> Case:
    return build(after=_second_api)


@pytest.mark.xdist_group("private_http_api_shared")
def test_second_api_reuses_the_vpc_link(shared_link: Case) -> None:
    shared_link.assertions.resource_count_is("AWS::ApiGatewayV2::Api", 2)
    shared_link.assertions.resource_count_is("AWS::ApiGatewayV2::VpcLink", 1)
    link_id, _ = shared_link.one("AWS::ApiGatewayV2::VpcLink")
    for integration in shared_link.of_type("AWS::ApiGatewayV2::Integration").values():
        assert integration["Properties"]["ConnectionId"] == {"Ref": link_id}
    assert_cfn_lint_clean(shared_link.template, name="shared-link")


# ------------------------------------------------------------------------------------------------
# Rejected combinations: each raises ValueError naming the prop and the fix


@dataclass
class Network:
    stack: cdk.Stack
    vpc: ec2.Vpc
    listener: elbv2.ApplicationListener
    counter: list[int]

    def api(self, **props: Any) -> PrivateHttpApi:
        self.counter[0] += 1
        kwargs: dict[str, Any] = {"vpc": self.vpc, "listener": self.listener, **props}
        return PrivateHttpApi(self.stack, f"Api{self.counter[0]}", **kwargs)


@pytest.fixture(scope="module")
def network() -> Network:
    stack = new_stack()
    vpc = new_vpc(stack)
    return Network(stack=stack, vpc=vpc, listener=new_listener(stack, vpc), counter=[0])


REJECTED: list[tuple[str, Callable[[cdk.Stack], dict[str, Any]], str]] = [
    (
        "none_without_server_authenticates",
        lambda _: {"authorization": EdgeAuthorization.NONE},
        r"authorization=EdgeAuthorization.NONE .* set server_authenticates=True",
    ),
    (
        "authorization_not_an_enum",
        lambda _: {"authorization": "IAM"},
        r"authorization \('IAM'\) is not an EdgeAuthorization",
    ),
    (
        "jwt_without_issuer",
        lambda _: {"authorization": EdgeAuthorization.JWT, "jwt_audience": ["client"]},
        r"jwt_issuer is required with authorization=EdgeAuthorization.JWT",
    ),
    (
        "jwt_without_audience",
        lambda _: {"authorization": EdgeAuthorization.JWT, "jwt_issuer": ISSUER},
        r"jwt_audience is required with authorization=EdgeAuthorization.JWT",
    ),
    (
        "jwt_with_empty_audience",
        lambda _: {"authorization": EdgeAuthorization.JWT, "jwt_issuer": ISSUER, "jwt_audience": []},
        r"jwt_audience is required",
    ),
    (
        "jwt_issuer_not_https",
        lambda _: {"authorization": EdgeAuthorization.JWT, "jwt_issuer": "http://idp", "jwt_audience": ["c"]},
        r"jwt_issuer \(http://idp\) is not an https:// URL",
    ),
    (
        "issuer_without_jwt",
        lambda _: {"jwt_issuer": ISSUER},
        r"jwt_issuer only apply to authorization=EdgeAuthorization.JWT, but authorization is IAM",
    ),
    (
        "audience_without_jwt",
        lambda _: {
            "authorization": EdgeAuthorization.NONE,
            "server_authenticates": True,
            "jwt_audience": ["c"],
        },
        r"jwt_audience only apply to authorization=EdgeAuthorization.JWT, but authorization is NONE",
    ),
    (
        "domain_without_certificate",
        lambda _: {"domain_name": "mlflow.example.com"},
        r"domain_name \(mlflow.example.com\) needs a certificate",
    ),
    (
        "certificate_without_domain",
        lambda stack: {"certificate": acm.Certificate.from_certificate_arn(stack, "CertNoDomain", CERT_ARN)},
        r"certificate is only used with a custom domain: set domain_name",
    ),
    (
        "hosted_zone_without_domain",
        lambda stack: {
            "hosted_zone": route53.HostedZone.from_hosted_zone_attributes(
                stack, "ZoneNoDomain", hosted_zone_id="Z1", zone_name="example.com"
            )
        },
        r"hosted_zone is only used for the alias record of a custom domain",
    ),
    (
        "domain_outside_hosted_zone",
        lambda stack: {
            "domain_name": "mlflow.example.org",
            "certificate": acm.Certificate.from_certificate_arn(stack, "CertOtherZone", CERT_ARN),
            "hosted_zone": route53.HostedZone.from_hosted_zone_attributes(
                stack, "OtherZone", hosted_zone_id="Z1", zone_name="example.com"
            ),
        },
        r"domain_name \(mlflow.example.org\) is not in hosted_zone \(example.com\)",
    ),
    (
        "domain_with_scheme",
        lambda stack: {
            "domain_name": "https://mlflow.example.com",
            "certificate": acm.Certificate.from_certificate_arn(stack, "CertScheme", CERT_ARN),
        },
        r"domain_name \(https://mlflow.example.com\) is not a lower-case host name",
    ),
    (
        "certificate_in_another_region",
        lambda stack: {
            "domain_name": "mlflow.example.com",
            "certificate": acm.Certificate.from_certificate_arn(stack, "CertEu", OTHER_REGION_CERT_ARN),
        },
        r"certificate is in eu-west-1 but the API is in us-east-1",
    ),
    (
        "disable_execute_api_endpoint_without_domain",
        lambda _: {"disable_execute_api_endpoint": True},
        r"disable_execute_api_endpoint=True without domain_name leaves the API unreachable",
    ),
    ("zero_rate_limit", lambda _: {"throttle_rate_limit": 0}, r"throttle_rate_limit \(0\) must be .* > 0"),
    ("negative_rate_limit", lambda _: {"throttle_rate_limit": -5.0}, r"throttle_rate_limit \(-5.0\) must be"),
    ("zero_burst_limit", lambda _: {"throttle_burst_limit": 0}, r"throttle_burst_limit \(0\) must be .* > 0"),
    (
        "fractional_burst_limit",
        lambda _: {"throttle_burst_limit": 2.5},
        r"throttle_burst_limit \(2.5\) must be a whole number",
    ),
    (
        "timeout_too_long",
        lambda _: {"integration_timeout": cdk.Duration.seconds(30)},
        r"integration_timeout \(30000 ms\) is out of range",
    ),
    (
        "empty_subnet_group",
        lambda _: {"vpc_link_subnets": ec2.SubnetSelection(subnet_group_name="nonexistent")},
        r"vpc_link_subnets selects no subnets",
    ),
    (
        "empty_subnet_list",
        lambda _: {"vpc_link_subnets": ec2.SubnetSelection(subnets=[])},
        r"vpc_link_subnets selects no subnets",
    ),
    (
        "existing_vpc_link_without_security_group",
        lambda stack: {
            "existing_vpc_link": apigwv2.VpcLink.from_vpc_link_attributes(
                stack, "LinkNoSg", vpc_link_id="abc123", vpc=cast(ec2.IVpc, stack.node.find_child("Vpc"))
            )
        },
        r"existing_vpc_link needs existing_vpc_link_security_group",
    ),
    (
        "existing_vpc_link_with_subnets",
        lambda stack: {
            "existing_vpc_link": apigwv2.VpcLink.from_vpc_link_attributes(
                stack, "LinkSubnets", vpc_link_id="abc123", vpc=cast(ec2.IVpc, stack.node.find_child("Vpc"))
            ),
            "existing_vpc_link_security_group": ec2.SecurityGroup.from_security_group_id(
                stack, "LinkSubnetsSg", "sg-0bbbbbbbbbbbbbbbb"
            ),
            "vpc_link_subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        },
        r"vpc_link_subnets cannot be applied to existing_vpc_link",
    ),
    (
        "security_group_without_existing_vpc_link",
        lambda stack: {
            "existing_vpc_link_security_group": ec2.SecurityGroup.from_security_group_id(
                stack, "SgNoLink", "sg-0aaaaaaaaaaaaaaaa"
            )
        },
        r"existing_vpc_link_security_group is only used with existing_vpc_link",
    ),
    (
        "cors_empty",
        lambda _: {"cors_allowed_origins": []},
        r"cors_allowed_origins is empty",
    ),
    (
        "cors_origin_with_path",
        lambda _: {"cors_allowed_origins": ["https://studio.example.com/"]},
        r"cors_allowed_origins contains 'https://studio.example.com/', which is not an origin",
    ),
    (
        "host_header_with_scheme",
        lambda _: {"host_header": "https://mlflow.example.com"},
        r"host_header \('https://mlflow.example.com'\) is not a host",
    ),
    (
        "existing_log_group_with_retention",
        lambda stack: {
            "existing_log_group": logs.LogGroup.from_log_group_name(stack, "Logs", "mlflow-access"),
            "log_retention": logs.RetentionDays.ONE_WEEK,
        },
        r"log_retention only apply to the log group the construct creates",
    ),
    (
        "secure_server_name_on_http_listener",
        lambda _: {"secure_server_name": "mlflow.internal.example.com"},
        r"secure_server_name \(mlflow.internal.example.com\) is set but listener is a HTTP listener",
    ),
]


@pytest.mark.xdist_group("private_http_api_rejected")
@pytest.mark.parametrize(("props", "message"), [(p, m) for _, p, m in REJECTED], ids=[n for n, _, _ in REJECTED])
def test_rejected_combination(network: Network, props: Callable[[cdk.Stack], dict[str, Any]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        network.api(**props(network.stack))


# Rejections that need a network of their own


@pytest.mark.xdist_group("private_http_api_rejected_own")
def test_internet_facing_load_balancer_is_rejected() -> None:
    stack = new_stack()
    vpc = new_vpc(stack)
    listener = new_listener(stack, vpc, internet_facing=True)
    with pytest.raises(ValueError, match=r"listener belongs to the internet-facing load balancer TestStack/Alb"):
        PrivateHttpApi(stack, "Api", vpc=vpc, listener=listener)


@pytest.mark.xdist_group("private_http_api_rejected_own")
def test_https_listener_without_secure_server_name_is_rejected() -> None:
    stack = new_stack()
    vpc = new_vpc(stack)
    listener = new_listener(stack, vpc, https=True)
    with pytest.raises(ValueError, match=r"listener is an HTTPS listener: set secure_server_name"):
        PrivateHttpApi(stack, "Api", vpc=vpc, listener=listener)


@pytest.mark.xdist_group("private_http_api_rejected_own")
def test_imported_listener_without_default_port_is_rejected() -> None:
    stack = new_stack()
    with pytest.raises(ValueError, match=r"listener has no default port.*default_port=<listener port>"):
        PrivateHttpApi(stack, "Api", vpc=imported_vpc(stack), listener=imported_listener(stack, default_port=None))


@pytest.mark.xdist_group("private_http_api_rejected_own")
def test_subnets_of_another_vpc_are_rejected() -> None:
    stack = new_stack()
    foreign = ec2.Subnet.from_subnet_attributes(
        stack, "Foreign", subnet_id="subnet-0f000000000000001", availability_zone="us-east-1a"
    )
    with pytest.raises(ValueError, match=r"vpc_link_subnets selects subnets that are not in vpc \(subnet-0f0"):
        PrivateHttpApi(
            stack,
            "Api",
            vpc=imported_vpc(stack),
            listener=imported_listener(stack),
            vpc_link_subnets=ec2.SubnetSelection(subnets=[foreign]),
        )


@pytest.mark.xdist_group("private_http_api_rejected_own")
def test_vpc_with_only_public_subnets_needs_vpc_link_subnets() -> None:
    stack = new_stack()
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "PublicOnly",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=IMPORTED_AZS,
        public_subnet_ids=PRIVATE_SUBNETS,
    )
    with pytest.raises(ValueError, match=r"vpc has neither private-with-egress nor isolated .* vpc_link_subnets"):
        PrivateHttpApi(stack, "Api", vpc=vpc, listener=imported_listener(stack))
