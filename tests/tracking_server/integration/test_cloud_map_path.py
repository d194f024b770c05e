"""The lean topology (``ServerAccess.cloud_map()``): the server from the image, reached the way Cloud Map clients do.

Everything the test needs to know comes from the synthesized template: the Cloud Map service's name, namespace,
record type and TTL, the ECS service's registration (container and port), the container's environment and health
check, and the HTTP API integration's ``Host`` mapping. A small emulator plays Cloud Map's part: ECS registers the
task with ``AWS_INSTANCE_IPV4`` and ``AWS_INSTANCE_PORT`` and reports the container health check as the instance's
custom health status; ``DiscoverInstances`` (what API Gateway's Cloud Map integration calls) and the private DNS
namespace (what clients in the VPC resolve) answer with healthy instances only.

What this cannot emulate (docs/constructs/secure-mlflow-service.md, "Lean topology"): ECS's own health reporting
to Cloud Map, the Route 53 Resolver of a VPC, API Gateway's VPC link ENIs and how it picks among instances and
keeps connections, and security groups.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import socket
import struct
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from aws_cdk.assertions import Template

from mlflow_sagemaker_constructs import EdgeAuthorization, PrivateHttpApi, SecureMlflowService, ServerAccess
from mlflow_sagemaker_constructs.tracking_server.server import contract
from tests.harness import new_stack
from tests.harness.services import LOCALHOST, ApiGateway, PostgresServer, S3Server, run_entrypoint
from tests.harness.vpc import imported_vpc

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]

SEARCH = "/api/2.0/mlflow/experiments/search?max_results=1"
_A, _IN = 1, 1


# ------------------------------------------------------------------------------------------ what the template says


@dataclasses.dataclass(frozen=True)
class LeanTemplate:
    dns_name: str
    dns_ttl: int
    registered_port: int
    container: dict[str, Any]
    integration_host: str
    url: str


@pytest.fixture(scope="module")
def lean() -> LeanTemplate:
    stack = new_stack()
    service = SecureMlflowService(stack, "Mlflow", vpc=imported_vpc(stack), access=ServerAccess.cloud_map())
    PrivateHttpApi(stack, "Api", server=service, authorization=EdgeAuthorization.NONE)
    template = Template.from_stack(stack)
    (namespace,) = template.find_resources("AWS::ServiceDiscovery::PrivateDnsNamespace").values()
    (discovery,) = template.find_resources("AWS::ServiceDiscovery::Service").values()
    (ecs_service,) = template.find_resources("AWS::ECS::Service").values()
    (definition,) = template.find_resources("AWS::ECS::TaskDefinition").values()
    (integration,) = template.find_resources("AWS::ApiGatewayV2::Integration").values()
    (record,) = discovery["Properties"]["DnsConfig"]["DnsRecords"]
    assert record["Type"] == "A"
    assert discovery["Properties"]["HealthCheckCustomConfig"] == {"FailureThreshold": 1}
    (registry,) = ecs_service["Properties"]["ServiceRegistries"]
    (container,) = definition["Properties"]["ContainerDefinitions"]
    assert registry["ContainerName"] == container["Name"]
    assert integration["Properties"]["IntegrationType"] == "HTTP_PROXY"
    return LeanTemplate(
        dns_name=f"{discovery['Properties']['Name']}.{namespace['Properties']['Name']}",
        dns_ttl=int(record["TTL"]),
        registered_port=int(registry["ContainerPort"]),
        container=dict(container),
        integration_host=integration["Properties"]["RequestParameters"]["overwrite:header.host"],
        url=service.url,
    )


# ------------------------------------------------------------------------------------------ Cloud Map, emulated


@dataclasses.dataclass
class Instance:
    ipv4: str
    port: int
    healthy: bool = False  # ECS registers a task before its first health check passes


class CloudMap:
    """One Cloud Map service with custom health checks, and its private DNS name answering A queries over UDP."""

    def __init__(self, dns_name: str, ttl: int) -> None:
        self.dns_name = dns_name
        self.ttl = ttl
        self.instances: dict[str, Instance] = {}
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind((LOCALHOST, 0))
        self.dns_address: tuple[str, int] = self._socket.getsockname()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def register(self, instance_id: str, attributes: dict[str, str]) -> None:
        """``RegisterInstance`` as ECS calls it for a task of a service with ``ServiceRegistries``."""
        self.instances[instance_id] = Instance(attributes["AWS_INSTANCE_IPV4"], int(attributes["AWS_INSTANCE_PORT"]))

    def update_instance_custom_health_status(self, instance_id: str, status: str) -> None:
        self.instances[instance_id].healthy = status == "HEALTHY"

    def discover_instances(self) -> list[dict[str, str]]:
        """``DiscoverInstances`` with ``HealthStatus=HEALTHY``: what API Gateway's integration connects to."""
        return [
            {"AWS_INSTANCE_IPV4": i.ipv4, "AWS_INSTANCE_PORT": str(i.port)}
            for i in self.instances.values()
            if i.healthy
        ]

    def _serve(self) -> None:
        while True:
            try:
                query, client = self._socket.recvfrom(512)
            except OSError:
                return
            self._socket.sendto(self._answer(query), client)

    def _answer(self, query: bytes) -> bytes:
        (query_id,) = struct.unpack("!H", query[:2])
        name, end = _read_name(query, 12)
        qtype, _ = struct.unpack("!HH", query[end : end + 4])
        question = query[12 : end + 4]
        if name.lower() != self.dns_name:
            return struct.pack("!HHHHHH", query_id, 0x8183, 1, 0, 0, 0) + question  # NXDOMAIN
        # MULTIVALUE routing: every healthy instance's address (Route 53 returns up to eight).
        addresses = [i.ipv4 for i in self.instances.values() if i.healthy] if qtype == _A else []
        answers = b"".join(
            struct.pack("!HHHIH", 0xC00C, _A, _IN, self.ttl, 4) + socket.inet_aton(address) for address in addresses
        )
        return struct.pack("!HHHHHH", query_id, 0x8580, 1, len(addresses), 0, 0) + question + answers

    def close(self) -> None:
        self._socket.close()


def _read_name(message: bytes, offset: int) -> tuple[str, int]:
    labels = []
    while message[offset]:
        length = message[offset]
        labels.append(message[offset + 1 : offset + 1 + length].decode())
        offset += 1 + length
    return ".".join(labels), offset + 1


def resolve(name: str, server: tuple[str, int]) -> tuple[list[str], int]:
    """A records of ``name`` from ``server`` and their TTL (a stub resolver, as a client in the VPC has)."""
    query_id = secrets.randbits(16)
    question = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
    query = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0) + question + struct.pack("!HH", _A, _IN)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(query, server)
        response, _ = sock.recvfrom(512)
    answer_id, flags, _, count, _, _ = struct.unpack("!HHHHHH", response[:12])
    assert answer_id == query_id
    if flags & 0xF:
        raise LookupError(f"{name}: rcode {flags & 0xF}")
    offset = 12 + len(question) + 4
    addresses, ttl = [], 0
    for _ in range(count):
        _, rtype, _, ttl, length = struct.unpack("!HHHIH", response[offset : offset + 12])
        if rtype == _A:
            addresses.append(socket.inet_ntoa(response[offset + 12 : offset + 12 + length]))
        offset += 12 + length
    return addresses, ttl


@pytest.fixture
def cloud_map(lean: LeanTemplate) -> Iterator[CloudMap]:
    emulator = CloudMap(lean.dns_name, lean.dns_ttl)
    yield emulator
    emulator.close()


# ------------------------------------------------------------------------------------------ the task


def _task_env(lean: LeanTemplate, postgres: PostgresServer, s3: S3Server) -> tuple[dict[str, str], str]:
    """The container's environment from the template; what CloudFormation resolves points at local services."""
    account = postgres.new_account("mlflow_lean")
    bucket = s3.create_bucket("lean-artifacts")
    local_values = {
        contract.DB_HOST: account.host,
        contract.DB_PORT: str(account.port),
        contract.ARTIFACTS_URI: f"s3://{bucket}/mlflow-artifacts",
        # IAM authentication (the default) is configured but not exercised here: the admin's basic auth is.
        contract.AUTH_IAM_STS_ENDPOINT: "https://sts.us-east-1.amazonaws.com",
        contract.AUTH_IAM_AUDIENCES: f"{lean.dns_name},abc123.execute-api.us-east-1.amazonaws.com",
    }
    admin_password = f"Adm1n%{secrets.token_urlsafe(12)}"
    secret_values = {
        contract.DB_USERNAME: account.username,
        contract.DB_PASSWORD: account.password,
        contract.AUTH_ADMIN_PASSWORD: admin_password,
        contract.FLASK_SECRET_KEY: secrets.token_hex(32),
    }
    env: dict[str, str] = {}
    for variable in lean.container["Environment"]:
        name, value = variable["Name"], variable["Value"]
        if not isinstance(value, str):
            assert name in local_values, f"{name} is resolved by CloudFormation but the test has no local value"
            value = local_values[name]
        env[name] = value
    for secret in lean.container["Secrets"]:
        env[secret["Name"]] = secret_values[secret["Name"]]
    env[contract.DB_NAME] = account.database
    env[contract.AUTH_DB_NAME] = f"{account.database}_auth"  # the session's PostgreSQL is shared
    env.pop(contract.PORT)  # a free local port stands in for the container's 5000
    env.update(s3.client_env())
    return env, admin_password


def _health_check(lean: LeanTemplate, port: int) -> str:
    """Run the container health check of the task definition; ECS reports its result to Cloud Map."""
    command = lean.container["HealthCheck"]["Command"]
    assert command[0] == "CMD"
    check = subprocess.run(
        command[1:],
        env={**os.environ, contract.PORT: str(port)},
        capture_output=True,
        timeout=lean.container["HealthCheck"].get("Timeout", 30) + 5,
        check=False,
    )
    return "HEALTHY" if check.returncode == 0 else "UNHEALTHY"


def test_the_server_is_reached_through_the_cloud_map_service_and_its_dns_name(
    lean: LeanTemplate, cloud_map: CloudMap, postgres: PostgresServer, s3: S3Server, log_dir: Path
) -> None:
    assert lean.url == f"http://{lean.dns_name}:{lean.registered_port}"
    env, admin_password = _task_env(lean, postgres, s3)
    # The keep-alive outlasts what a gateway in front keeps idle connections for (no load balancer's 120 s here).
    assert int(env[contract.KEEP_ALIVE_SECONDS]) > 120
    auth = (env.get(contract.AUTH_ADMIN_USERNAME, contract.DEFAULT_AUTH_ADMIN_USERNAME), admin_password)
    handle = run_entrypoint(env, log_dir, name="lean")
    try:
        # ECS registers the task's address and the registration's container port, unhealthy until it is checked.
        cloud_map.register("task-1", {"AWS_INSTANCE_IPV4": LOCALHOST, "AWS_INSTANCE_PORT": str(handle.port)})
        assert cloud_map.discover_instances() == []
        assert resolve(lean.dns_name, cloud_map.dns_address)[0] == []
        handle.wait_healthy(180)
        cloud_map.update_instance_custom_health_status("task-1", _health_check(lean, handle.port))

        # API Gateway's Cloud Map integration: a healthy instance's IPv4 and port, Host from the parameter mapping.
        (instance,) = cloud_map.discover_instances()
        assert instance["AWS_INSTANCE_IPV4"] == LOCALHOST
        with ApiGateway.start(int(instance["AWS_INSTANCE_PORT"]), lean.integration_host) as gateway:
            response = requests.get(gateway.url + SEARCH, auth=auth, timeout=30)
            assert response.status_code == 200, response.text
            assert requests.get(gateway.url + SEARCH, timeout=30).status_code == 401  # MLflow's auth stays on

        # A client in the VPC (Studio, a training job): the DNS name resolves to the task, Host is the URL's.
        addresses, ttl = resolve(lean.dns_name, cloud_map.dns_address)
        assert addresses == [LOCALHOST]
        assert ttl == lean.dns_ttl
        host = lean.url.removeprefix("http://")
        response = requests.post(
            f"http://{addresses[0]}:{handle.port}/api/2.0/mlflow/experiments/create",
            json={"name": f"lean-{secrets.token_hex(4)}"},
            headers={"Host": host},
            auth=auth,
            timeout=30,
        )
        assert response.status_code == 200, response.text
        with pytest.raises(LookupError):
            resolve(f"other.{lean.dns_name.split('.', 1)[1]}", cloud_map.dns_address)
    finally:
        handle.stop()

    # The task stops answering: its health check fails, and it leaves both DNS answers and API Gateway's targets.
    cloud_map.update_instance_custom_health_status("task-1", _health_check(lean, handle.port))
    assert cloud_map.discover_instances() == []
    assert resolve(lean.dns_name, cloud_map.dns_address)[0] == []
