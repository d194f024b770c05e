"""Host header validation (DNS-rebinding protection) with the load balancer's names allowed."""

from __future__ import annotations

import pytest
import requests

from tests.harness.services import ApiGateway
from tests.tracking_server.integration.conftest import ALB_DNS_NAME, CUSTOM_DOMAIN, MlflowServer

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]

SEARCH = "/api/2.0/mlflow/experiments/search?max_results=1"


@pytest.mark.parametrize("host", [ALB_DNS_NAME, CUSTOM_DOMAIN])
def test_configured_hosts_are_accepted(main_server: MlflowServer, host: str) -> None:
    response = requests.get(main_server.url + SEARCH, headers={"Host": host}, auth=main_server.admin_auth, timeout=10)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("host", ["evil.example.com", "10.0.12.34", f"{ALB_DNS_NAME}.evil.example.com"])
def test_unknown_hosts_are_refused(main_server: MlflowServer, host: str) -> None:
    response = requests.get(main_server.url + SEARCH, headers={"Host": host}, auth=main_server.admin_auth, timeout=10)
    assert response.status_code == 403
    assert "Invalid Host header" in response.text
    # Load balancer and container health checks use whatever Host they like.
    assert requests.get(main_server.url + "/health", headers={"Host": host}, timeout=10).status_code == 200


def test_requests_through_the_api_gateway_carry_an_allowed_host(
    main_server: MlflowServer, api_gateway: ApiGateway
) -> None:
    response = requests.get(api_gateway.url + SEARCH, auth=main_server.admin_auth, timeout=10)
    assert response.status_code == 200, response.text
