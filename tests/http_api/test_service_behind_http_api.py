"""SecureMlflowService behind PrivateHttpApi: the Host the integration sends is one the server accepts.

The template values are resolved with made-up physical ids and checked with MLflow's own Host validation
(``mlflow.server.security_utils``), the function its security middleware calls for every request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from aws_cdk.assertions import Template
from mlflow.server.security_utils import is_allowed_host_header

from mlflow_sagemaker_constructs import EdgeAuthorization, PrivateHttpApi, SecureMlflowService
from mlflow_sagemaker_constructs.tracking_server.server import contract
from tests.harness import new_stack
from tests.harness.vpc import imported_vpc

API_ID = "a1b2c3d4e5"
LB_DNS = "internal-mlflow-1234567890.us-east-1.elb.amazonaws.com"


def _resolve(value: Any, template: Mapping[str, Any]) -> str:
    """Evaluate the few intrinsics these values use, with made-up physical ids."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_resolve(p, template) for p in parts)
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
    raise AssertionError(f"cannot resolve {value}")


def _hosts(add_api_host: bool) -> tuple[str, list[str]]:
    stack = new_stack()
    vpc = imported_vpc(stack)
    mlflow = SecureMlflowService(stack, "Mlflow", vpc=vpc)
    api = PrivateHttpApi(
        stack,
        "Api",
        vpc=vpc,
        listener=mlflow.listener,
        authorization=EdgeAuthorization.NONE,
        server_authenticates=True,
    )
    if add_api_host:
        mlflow.add_allowed_host(api.host_header)
    template = Template.from_stack(stack).to_json()
    (integration,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Integration"]
    host = _resolve(integration["Properties"]["RequestParameters"]["overwrite:header.host"], template)
    (definition,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::ECS::TaskDefinition"]
    environment = {e["Name"]: e["Value"] for e in definition["Properties"]["ContainerDefinitions"][0]["Environment"]}
    allowed = [h.strip() for h in _resolve(environment[contract.ALLOWED_HOSTS], template).split(",")]
    return host, allowed


@pytest.fixture(scope="module")
def wired() -> tuple[str, list[str]]:
    return _hosts(add_api_host=True)


def test_the_integration_sends_the_execute_api_host(wired: tuple[str, list[str]]) -> None:
    host, _ = wired
    assert host == f"{API_ID}.execute-api.us-east-1.amazonaws.com"


def test_the_server_accepts_the_api_host_and_the_load_balancer_name(wired: tuple[str, list[str]]) -> None:
    host, allowed = wired
    assert is_allowed_host_header(allowed, host)
    assert is_allowed_host_header(allowed, LB_DNS)
    assert not is_allowed_host_header(allowed, "evil.example.com")
    assert not is_allowed_host_header(allowed, f"{API_ID}.execute-api.us-east-1.amazonaws.com.evil.example.com")


def test_without_the_wiring_the_server_would_refuse_api_traffic() -> None:
    host, allowed = _hosts(add_api_host=False)
    assert not is_allowed_host_header(allowed, host)
