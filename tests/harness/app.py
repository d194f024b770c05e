"""Apps and stacks with a fixed environment and pinned feature flags, so templates do not drift."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template

REPO_ROOT = Path(__file__).resolve().parents[2]

#: The account and region every test stack is synthesized for.
ENV = cdk.Environment(account="123456789012", region="us-east-1")

#: The feature flags of ``cdk init`` for the pinned CLI, shared with the example apps. Pinning them
#: means a newer aws-cdk-lib cannot silently change a default and with it every snapshot.
FEATURE_FLAGS: dict[str, Any] = json.loads((REPO_ROOT / "examples" / "cdk_feature_flags.json").read_text())


def new_app(context: dict[str, Any] | None = None, outdir: str | None = None) -> cdk.App:
    """An app with the pinned feature flags, no version reporting and a private output directory."""
    return cdk.App(
        context={**FEATURE_FLAGS, **(context or {})},
        outdir=outdir or tempfile.mkdtemp(prefix="cdk-test-"),
        analytics_reporting=False,
    )


def new_stack(app: cdk.App | None = None, stack_id: str = "TestStack", **kwargs: Any) -> cdk.Stack:
    """A stack in :data:`ENV` inside ``app`` (a new pinned app when omitted)."""
    return cdk.Stack(app or new_app(), stack_id, env=ENV, **kwargs)


def synth_template(stack: cdk.Stack) -> dict[str, Any]:
    """The stack's CloudFormation template as a dict."""
    return dict(Template.from_stack(stack).to_json())
