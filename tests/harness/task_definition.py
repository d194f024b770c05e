"""The container definition ``SecureMlflowService`` synthesizes, turned into something a test can run.

The names (entry point, environment variables, secrets, port, health check, read-only root filesystem,
mount points) come from the synthesized template; only the values CloudFormation would resolve at
deployment (hosts, ports, bucket, secret values) are given by the test, pointed at local services.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk.assertions import Template

from mlflow_sagemaker_constructs.tracking_server.server import contract


def synthesized_container_definition() -> dict[str, Any]:
    """The MLflow container of a default ``SecureMlflowService`` in an imported VPC."""
    from mlflow_sagemaker_constructs import SecureMlflowService
    from tests.harness import new_stack
    from tests.harness.vpc import imported_vpc

    stack = new_stack()
    SecureMlflowService(stack, "Mlflow", vpc=imported_vpc(stack))
    (definition,) = Template.from_stack(stack).find_resources("AWS::ECS::TaskDefinition").values()
    (container,) = definition["Properties"]["ContainerDefinitions"]
    return dict(container)


def task_environment(
    container: Mapping[str, Any], local_values: Mapping[str, str], secret_values: Mapping[str, str]
) -> dict[str, str]:
    """The container's environment as ECS would give it: plain values from the template, ``local_values``
    for those CloudFormation resolves, ``secret_values`` for every secret the template injects.

    Fails when the template has a resolved value or a secret the test has no local value for.
    """
    env: dict[str, str] = {}
    for variable in container.get("Environment", []):
        name, value = variable["Name"], variable["Value"]
        if isinstance(value, str):
            env[name] = value
        else:
            assert name in local_values, f"{name} is resolved by CloudFormation but the test has no local value"
            env[name] = local_values[name]
    for secret in container.get("Secrets", []):
        assert secret["Name"] in secret_values, f"the template injects the secret {secret['Name']}; give it a value"
        env[secret["Name"]] = secret_values[secret["Name"]]
    return env


def health_check_command(container: Mapping[str, Any]) -> list[str]:
    """The health check's command without its ``CMD`` marker (ECS runs it inside the container)."""
    command = list(container["HealthCheck"]["Command"])
    assert command[0] == "CMD", command
    return command[1:]


def container_port(container: Mapping[str, Any]) -> int:
    return int(container["PortMappings"][0]["ContainerPort"])


def read_only_root(container: Mapping[str, Any]) -> bool:
    return bool(container.get("ReadonlyRootFilesystem", False))


def known_contract_names() -> set[str]:
    return {v for k, v in vars(contract).items() if k.isupper() and isinstance(v, str) and v.startswith("MLFLOW_")}
