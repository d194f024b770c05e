"""Read the MLflow container's environment out of a synthesized template."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template

from mlflow_sagemaker_constructs.tracking_server.server import contract


def mlflow_container(template: Template) -> dict[str, Any]:
    """The definition of the only container of the template's only task definition."""
    (definition,) = template.find_resources("AWS::ECS::TaskDefinition").values()
    (container,) = definition["Properties"]["ContainerDefinitions"]
    return dict(container)


def mlflow_environment(template: Template) -> dict[str, Any]:
    return {e["Name"]: e["Value"] for e in mlflow_container(template)["Environment"]}


def principal_rules(template: Template) -> list[Any]:
    """The principal mapping rules given to the server, with references kept as {"Ref"/"Fn::GetAtt": ...}."""
    value = mlflow_environment(template)[contract.AUTH_IAM_PRINCIPALS]
    if isinstance(value, str):
        return list(json.loads(value))
    parts = value["Fn::Join"][1]
    references = [p for p in parts if not isinstance(p, str)]
    # Replace each reference by a placeholder string, parse the JSON, then put the references back.
    text = "".join(p if isinstance(p, str) else f"@@{references.index(p)}@@" for p in parts)
    rules = json.loads(text)
    for rule in rules:
        for key, item in rule.items():
            if isinstance(item, str) and item.startswith("@@"):
                rule[key] = references[int(item.strip("@"))]
    return list(rules)
