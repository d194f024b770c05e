"""cdk-nag acknowledgements, written next to the code they excuse, with the finding ids cdk-nag uses."""

from __future__ import annotations

import json

import aws_cdk as cdk
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge ``rule`` (e.g. ``AwsSolutions-SMG4``) on ``scope`` and everything below it."""
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))


def acknowledge_wildcard_resource(scope: IConstruct, resource: str, reason: str) -> None:
    """Acknowledge cdk-nag's IAM5 finding for one wildcard ``resource`` (an ARN, tokens allowed)."""
    flattened = finding_name(cdk.Stack.of(scope).resolve(resource))
    acknowledge(scope, f"AwsSolutions-IAM5[Resource::{flattened}]", reason)


def finding_name(node: object) -> str:
    """A resolved CloudFormation value written the way cdk-nag names it in finding ids.

    ``{"Ref": X}`` becomes ``<X>``, ``Fn::GetAtt`` becomes ``<Id.Attribute>``, ``Fn::Join`` is joined and
    ``${...}`` placeholders become ``<...>``; anything else is compact JSON. So the ARN of an
    environment-agnostic stack reads ``arn:<AWS::Partition>:logs:<AWS::Region>:...``.
    """
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return str(delimiter).join(finding_name(item) for item in items)
        if "Fn::Sub" in node:
            return finding_name(node["Fn::Sub"])
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{finding_name(resource)}.{finding_name(attribute)}>"
        if "Fn::ImportValue" in node:
            return finding_name(node["Fn::ImportValue"])
        if "Ref" in node:
            return f"<{finding_name(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))
