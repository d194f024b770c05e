"""Snapshot normalization: hashes and other values that change without the template's meaning changing."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Asset hashes (sha256 hex) appear in S3 keys, ECR image tags and asset metadata.
_ASSET_HASH = re.compile(r"[0-9a-f]{64}")
# Lambda and custom-resource provider bundles carry a version-dependent hash in their logical ids.
_CURRENT_VERSION = re.compile(r"CurrentVersion[0-9A-F]{8}[0-9a-f]{32}")
# jsii's CDK library version in metadata strings.
_CDK_VERSION = re.compile(r"\b2\.\d{2,3}\.\d+\b")


def _normalize(value: Any) -> Any:
    if isinstance(value, dict):
        return {_normalize_str(k): _normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    if isinstance(value, str):
        return _normalize_str(value)
    return value


def _normalize_str(value: str) -> str:
    value = _ASSET_HASH.sub("<asset-hash>", value)
    value = _CURRENT_VERSION.sub("CurrentVersion<hash>", value)
    return value


def normalize_template(template: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``template`` with asset hashes replaced and CDK bookkeeping removed.

    Removed: ``Metadata`` entries that only record construct paths and asset locations, the CDK
    version-reporting resource, and the bootstrap-version parameter and rule.
    """
    result: dict[str, Any] = _normalize(template)
    resources = result.get("Resources", {})
    for logical_id in [k for k, v in resources.items() if v.get("Type") == "AWS::CDK::Metadata"]:
        del resources[logical_id]
    for resource in resources.values():
        metadata = resource.get("Metadata")
        if isinstance(metadata, dict):
            for key in [k for k in metadata if k.startswith("aws:cdk:") or k.startswith("aws:asset:")]:
                del metadata[key]
            if not metadata:
                del resource["Metadata"]
    result.get("Parameters", {}).pop("BootstrapVersion", None)
    result.get("Rules", {}).pop("CheckBootstrapVersion", None)
    for key in ("Parameters", "Rules", "Conditions"):
        if key in result and not result[key]:
            del result[key]
    return result
