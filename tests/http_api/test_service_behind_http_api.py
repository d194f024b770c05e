"""SecureMlflowService behind PrivateHttpApi: the Host the integration sends is one the server accepts.

The synthesized values are resolved with made-up physical ids and checked the way the server checks every
request: MLflow reads ``MLFLOW_SERVER_ALLOWED_HOSTS`` (``get_allowed_hosts``) and its security middleware
calls ``is_allowed_host_header`` with the request's ``Host``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from mlflow.server.security import get_allowed_hosts
from mlflow.server.security_utils import is_allowed_host_header

from mlflow_sagemaker_constructs import (
    EdgeAuthorization,
    Listener,
    MlflowAuthentication,
    PrivateHttpApi,
    SecureMlflowService,
    ServerAccess,
)
from mlflow_sagemaker_constructs.tracking_server.server import contract
from tests.harness import new_app, new_stack, synth_template
from tests.harness.vpc import imported_vpc

API_ID = "a1b2c3d4e5"
LB_DNS = "internal-mlflow-1234567890.us-east-1.elb.amazonaws.com"
EXECUTE_API_HOST = f"{API_ID}.execute-api.us-east-1.amazonaws.com"
SERVER_DOMAIN = "mlflow.internal.example.com"
API_DOMAIN = "mlflow.example.com"
CERT_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
TRUSTS_THE_EDGE = MlflowAuthentication.disabled(authenticated_by="IAM (SigV4) at the PrivateHttpApi")

# One worker builds each composition once.
pytestmark = pytest.mark.xdist_group("service_behind_http_api")

Templates = Mapping[str, Mapping[str, Any]]


def _resolve(value: Any, stack_name: str, templates: Templates) -> str:
    """Evaluate the few intrinsics these values use, with made-up physical ids.

    ``templates`` maps stack names to templates, for references to another stack's outputs.
    """
    template = templates[stack_name]
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_resolve(p, stack_name, templates) for p in parts)
    if "Ref" in value:
        ref = value["Ref"]
        pseudo = {"AWS::Region": "us-east-1", "AWS::URLSuffix": "amazonaws.com", "AWS::Partition": "aws"}
        if ref in pseudo:
            return pseudo[ref]
        if template["Resources"][ref]["Type"] == "AWS::ApiGatewayV2::Api":
            return API_ID
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        if template["Resources"][logical_id]["Type"] == "AWS::ElasticLoadBalancingV2::LoadBalancer":
            assert attribute == "DNSName"
            return LB_DNS
    if "Fn::GetStackOutput" in value:
        output = value["Fn::GetStackOutput"]
        other = output["StackName"]
        return _resolve(templates[other]["Outputs"][output["OutputName"]]["Value"], other, templates)
    raise AssertionError(f"cannot resolve {value}")


@dataclass(frozen=True)
class Wired:
    """What one composition synthesizes: the Host the API sends and the hosts the server accepts."""

    host: str
    allowed_hosts_setting: str
    tls_name: str | None
    client_hosts: list[str]  # the hosts clients address the API by: what API Gateway receives as Host


def _one(template: Mapping[str, Any], resource_type: str) -> dict[str, Any]:
    (resource,) = [r for r in template["Resources"].values() if r["Type"] == resource_type]
    return dict(resource)


def _wired(api_stack: cdk.Stack, server_stack: cdk.Stack, client_hosts: list[str] | None = None) -> Wired:
    templates = {s.stack_name: synth_template(s) for s in (api_stack, server_stack)}
    api_template = templates[api_stack.stack_name]
    integration = _one(api_template, "AWS::ApiGatewayV2::Integration")["Properties"]
    host = _resolve(integration["RequestParameters"]["overwrite:header.host"], api_stack.stack_name, templates)
    definition = _one(templates[server_stack.stack_name], "AWS::ECS::TaskDefinition")
    (container,) = definition["Properties"]["ContainerDefinitions"]
    environment = {e["Name"]: e["Value"] for e in container["Environment"]}
    allowed = _resolve(environment[contract.ALLOWED_HOSTS], server_stack.stack_name, templates)
    tls = integration.get("TlsConfig", {}).get("ServerNameToVerify")
    return Wired(host, allowed, tls, client_hosts if client_hosts is not None else [EXECUTE_API_HOST])


def _iam_default() -> Wired:
    stack = new_stack()
    mlflow = SecureMlflowService(stack, "Mlflow", vpc=imported_vpc(stack), authentication=TRUSTS_THE_EDGE)
    PrivateHttpApi(stack, "Api", server=mlflow)
    return _wired(stack, stack)


def _none_with_basic_auth_and_a_custom_domain() -> Wired:
    stack = new_stack()
    mlflow = SecureMlflowService(stack, "Mlflow", vpc=imported_vpc(stack))
    PrivateHttpApi(
        stack,
        "Api",
        server=mlflow,
        authorization=EdgeAuthorization.NONE,
        domain_name=API_DOMAIN,
        certificate=acm.Certificate.from_certificate_arn(stack, "Certificate", CERT_ARN),
    )
    return _wired(stack, stack, [EXECUTE_API_HOST, API_DOMAIN])


def _https_listener() -> Wired:
    stack = new_stack()
    certificate = acm.Certificate.from_certificate_arn(stack, "Certificate", CERT_ARN)
    mlflow = SecureMlflowService(
        stack,
        "Mlflow",
        vpc=imported_vpc(stack),
        authentication=TRUSTS_THE_EDGE,
        access=ServerAccess.load_balancer(listener=Listener.https(certificate=certificate, domain_name=SERVER_DOMAIN)),
    )
    PrivateHttpApi(stack, "Api", server=mlflow)
    return _wired(stack, stack)


def _other_stack_on_port_8080() -> Wired:
    app = new_app()
    server_stack = new_stack(app, "Server")
    mlflow = SecureMlflowService(
        server_stack,
        "Mlflow",
        vpc=imported_vpc(server_stack),
        authentication=TRUSTS_THE_EDGE,
        access=ServerAccess.load_balancer(listener=Listener.http(port=8080)),
    )
    api_stack = new_stack(app, "Api")
    (group,) = mlflow.connections.security_groups
    server = SecureMlflowService.from_attributes(
        api_stack,
        "Mlflow",
        vpc=imported_vpc(api_stack),
        url=mlflow.url,
        security_group=ec2.SecurityGroup.from_security_group_id(api_stack, "MlflowSg", group.security_group_id),
        port=mlflow.port,
        authentication=mlflow.authentication,
        listener_arn=mlflow.listener.listener_arn if mlflow.listener is not None else None,
    )
    PrivateHttpApi(api_stack, "Api", server=server)
    return _wired(api_stack, server_stack)


COMPOSITIONS: dict[str, tuple[Callable[[], Wired], str]] = {
    "iam-default": (_iam_default, LB_DNS),
    "none-basic-auth-custom-domain": (_none_with_basic_auth_and_a_custom_domain, LB_DNS),
    "https-listener": (_https_listener, SERVER_DOMAIN),
    "other-stack-port-8080": (_other_stack_on_port_8080, LB_DNS),
}


@pytest.fixture(scope="module", params=list(COMPOSITIONS))
def composition(request: pytest.FixtureRequest) -> tuple[Wired, str]:
    build, server_host = COMPOSITIONS[request.param]
    return build(), server_host


@pytest.fixture
def allowed(composition: tuple[Wired, str], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The allowed hosts as MLflow reads them from the container's environment."""
    wired, _ = composition
    monkeypatch.setenv(contract.ALLOWED_HOSTS, wired.allowed_hosts_setting)
    return get_allowed_hosts()


def test_the_integration_sends_the_servers_own_host(composition: tuple[Wired, str]) -> None:
    wired, server_host = composition
    assert wired.host == server_host


def test_the_server_accepts_the_host_the_api_sends(composition: tuple[Wired, str], allowed: list[str]) -> None:
    wired, _ = composition
    assert is_allowed_host_header(allowed, wired.host)


def test_the_server_refuses_an_unknown_host(composition: tuple[Wired, str], allowed: list[str]) -> None:
    wired, _ = composition
    assert "*" not in allowed
    for unknown in ("evil.example.com", f"{wired.host}.evil.example.com", f"evil.{wired.host}", "localhost"):
        assert not is_allowed_host_header(allowed, unknown), unknown


def test_the_hosts_clients_use_would_be_refused_without_the_overwrite(
    composition: tuple[Wired, str], allowed: list[str]
) -> None:
    wired, _ = composition
    for client_host in wired.client_hosts:
        assert not is_allowed_host_header(allowed, client_host), client_host


def test_tls_is_verified_against_a_host_the_server_accepts(composition: tuple[Wired, str], allowed: list[str]) -> None:
    wired, server_host = composition
    if server_host == SERVER_DOMAIN:
        assert wired.tls_name == SERVER_DOMAIN
        assert is_allowed_host_header(allowed, wired.tls_name)
    else:
        assert wired.tls_name is None
