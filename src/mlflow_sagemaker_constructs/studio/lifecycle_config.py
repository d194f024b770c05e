"""The JupyterLab lifecycle configuration: the bundled script with its settings filled in."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from importlib import resources

import aws_cdk as cdk
import jsii
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

#: The script template shipped in this package.
TEMPLATE = "lifecycle.sh"
# StudioLifecycleConfigContent is base64 of at most 16384 characters.
CONTENT_LIMIT = 16384
# Upper bound assumed for one deploy-time value (URL, ARN, ID) in the script.
_TOKEN_LENGTH_ESTIMATE = 256


def _shell_literal(name: str, value: str) -> str:
    """``NAME='value'`` for the settings block of the script."""
    if "'" in value or "\n" in value or "\r" in value:
        raise ValueError(f"{name} ({value!r}) contains a quote or line break, which the lifecycle script cannot hold")
    return f"{name}='{value}'"


def render_script(
    *,
    tracking_uri: str,
    auth: str,
    secret_id: str = "",
    region: str = "",
    sdk_config: str = "",
    pip_packages: Sequence[str] = (),
    iam_sts_endpoint: str = "",
) -> str:
    """The lifecycle script with its settings filled in (values may be CDK tokens)."""
    template = resources.files(__package__).joinpath(TEMPLATE).read_text()
    settings = "\n".join(
        _shell_literal(name, value)
        for name, value in (
            ("MLFLOW_LCC_TRACKING_URI", tracking_uri),
            ("MLFLOW_LCC_AUTH", auth),
            ("MLFLOW_LCC_SECRET_ID", secret_id),
            ("MLFLOW_LCC_REGION", region),
            ("MLFLOW_LCC_SDK_CONFIG", sdk_config),
            ("MLFLOW_LCC_PIP_PACKAGES", " ".join(pip_packages)),
            ("MLFLOW_LCC_IAM_STS_ENDPOINT", iam_sts_endpoint),
        )
    )
    return template.replace("#@SETTINGS@", settings, 1)


def estimated_length(resolved: object) -> int:
    """Characters of a resolved value once deployed, counting each deploy-time value generously."""
    if isinstance(resolved, str):
        return len(resolved)
    if isinstance(resolved, dict) and "Fn::Join" in resolved:
        separator, parts = resolved["Fn::Join"]
        return sum(estimated_length(p) for p in parts) + len(separator) * max(len(parts) - 1, 0)
    return _TOKEN_LENGTH_ESTIMATE


@jsii.implements(cdk.IStableStringProducer)
class _ContentHashedName:
    """``<base>-<hash of the resolved content>``: a lifecycle configuration's content can only change by
    replacement, and CloudFormation creates the replacement before deleting the old one, so the name must
    change with the content."""

    def __init__(self, scope: Construct, base: str, content: str) -> None:
        self._scope = scope
        self._base = base
        self._content = content

    def produce(self) -> str:
        resolved = cdk.Stack.of(self._scope).resolve(self._content)
        digest = hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest()[:8]
        return f"{self._base}-{digest}"


def create_lifecycle_config(scope: Construct, construct_id: str, script: str) -> sagemaker.CfnStudioLifecycleConfig:
    """A JupyterLab lifecycle configuration running ``script``, named after its content."""
    stack = cdk.Stack.of(scope)
    length = estimated_length(stack.resolve(script))
    if (length + 2) // 3 * 4 > CONTENT_LIMIT:
        raise ValueError(
            f"the lifecycle script would be about {length} characters, more than SageMaker's limit of "
            f"{CONTENT_LIMIT} base64 characters: shorten client_packages or use fewer data_buckets"
        )
    content = cdk.Fn.base64(script)
    config = sagemaker.CfnStudioLifecycleConfig(
        scope,
        construct_id,
        studio_lifecycle_config_app_type="JupyterLab",
        studio_lifecycle_config_content=content,
        studio_lifecycle_config_name="pending",
    )
    base = cdk.Names.unique_resource_name(config, max_length=54, separator="-")
    config.studio_lifecycle_config_name = cdk.Lazy.string(_ContentHashedName(config, base, content))
    return config
