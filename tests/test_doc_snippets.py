"""Every Python code block in README.md and docs/ that uses the constructs runs, so snippets cannot drift.

The convention (also in CONTRIBUTING.md), for each fenced ``python`` block:

* A block that mentions ``mlflow_sagemaker_constructs`` or one of its public names runs inside a CDK stack,
  and then the app is synthesized; an error annotation fails the test. The block sees:

  - ``self``: a ``cdk.Stack`` with an account and region (us-east-1), and ``app``, its app;
  - ``vpc``: a new VPC in two AZs with public, private (NAT) and isolated subnets;
  - the modules ``cdk``, ``ec2``, ``ecs``, ``elbv2``, ``iam``, ``kms``, ``logs``, ``rds``, ``route53``,
    ``s3``, ``secretsmanager``, ``acm`` (``aws_cdk`` and its ``aws_*`` modules) and ``Construct``;
  - stand-ins for things a user already has (:data:`STAND_INS`): ``security_group``, ``role``,
    ``bucket``, ``key``, ``secret``, ``certificate`` (for ``mlflow.example.com``) and ``hosted_zone``
    (``example.com``).

* ``<!-- snippet: continue -->`` on the line before a block: it runs after the previous running block of
  the same page, in the same stack and namespace (a page's example told in steps).
* ``<!-- snippet: given CODE -->``: the block runs in a stack as above, after ``CODE``, which states what the
  text around the block assumes (for example ``mlflow = SecureMlflowService(self, "Mlflow", vpc=vpc)``).
* ``<!-- snippet: app -->``: the block is a whole CDK app (it makes its own ``cdk.App`` and synthesizes
  it); it runs as ``__main__`` with ``CDK_DEFAULT_ACCOUNT``/``CDK_DEFAULT_REGION`` set and the context
  ``vpc_id``.
* ``<!-- snippet: skip (reason) -->``: the block is not run (say why), for example client code that needs
  a running server.
* Every other block (client code: ``mlflow``, ``boto3``) is compiled, so at least its syntax is checked.
"""

from __future__ import annotations

import builtins
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import cx_api
from constructs import Construct

import mlflow_sagemaker_constructs
from tests.harness.app import ENV, REPO_ROOT, new_app, new_stack
from tests.harness.vpc import new_vpc

PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]

_FENCE = re.compile(r"^(?P<indent> *)```python\n(?P<body>.*?)^(?P=indent)```", re.MULTILINE | re.DOTALL)
_MARKER = re.compile(r"^\s*<!-- snippet: (?P<kind>continue|given|app|skip)\b(?P<note>.*?)-->\s*$")
_PUBLIC_NAMES = sorted(name for name in mlflow_sagemaker_constructs.__all__ if not name.startswith("__"))
_USES_CONSTRUCTS = re.compile(r"mlflow_sagemaker_constructs|\b(" + "|".join(_PUBLIC_NAMES) + r")\b")

MODULES: dict[str, Any] = {
    "cdk": cdk,
    "acm": acm,
    "ec2": ec2,
    "ecs": ecs,
    "elbv2": elbv2,
    "iam": iam,
    "kms": kms,
    "logs": logs,
    "rds": rds,
    "route53": route53,
    "s3": s3,
    "secretsmanager": secretsmanager,
    "Construct": Construct,
}

#: Names of the stand-ins every stack block sees, for the reader of the docs: what each stands for.
STAND_INS = {
    "security_group": "a security group of clients in the VPC (notebooks, a Lambda function, a CI runner)",
    "role": "an IAM role of a client (a SageMaker execution role, a Lambda function's role)",
    "bucket": "an S3 bucket you already have",
    "key": "a KMS key you already have",
    "secret": "a Secrets Manager secret with JSON username and password",
    "certificate": "an ACM certificate for mlflow.example.com",
    "hosted_zone": "the Route 53 hosted zone example.com",
}


def _stand_ins(stack: cdk.Stack, vpc: ec2.IVpc) -> dict[str, Any]:
    arn = f"arn:aws:{{}}:{ENV.region}:{ENV.account}:{{}}"
    resource_id = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    values = {
        "security_group": ec2.SecurityGroup(stack, "ClientSecurityGroup", vpc=vpc, allow_all_outbound=False),
        "role": iam.Role(stack, "ClientRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com")),
        "bucket": s3.Bucket.from_bucket_name(stack, "ExistingBucket", "my-datasets-123456789012"),
        "key": kms.Key.from_key_arn(stack, "ExistingKey", arn.format("kms", f"key/{resource_id}")),
        "secret": secretsmanager.Secret.from_secret_name_v2(stack, "ExistingSecret", "mlflow/database"),
        "certificate": acm.Certificate.from_certificate_arn(
            stack, "ExistingCertificate", arn.format("acm", f"certificate/{resource_id}")
        ),
        "hosted_zone": route53.HostedZone.from_hosted_zone_attributes(
            stack, "ExistingZone", hosted_zone_id="Z0123456789ABCDEFGHIJ", zone_name="example.com"
        ),
    }
    assert set(values) == set(STAND_INS)
    return values


@dataclass
class Block:
    page: Path
    line: int
    code: str
    kind: str  # "stack", "continue", "given", "app", "skip" or "compile"
    chain: list[Block] = field(default_factory=list)  # earlier blocks of a "continue" chain
    given: str = ""  # the code of a "given" marker

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(REPO_ROOT)}:{self.line}"


def _blocks(page: Path) -> Iterator[Block]:
    text = page.read_text(encoding="utf-8")
    chain: list[Block] = []
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = _MARKER.match(before)
        indent = match.group("indent")
        code = "\n".join(row.removeprefix(indent) for row in match.group("body").splitlines())
        if marker is not None:
            kind = marker.group("kind")
            if kind == "skip" and not marker.group("note").strip(" ()"):
                raise AssertionError(f"{page}:{line}: '<!-- snippet: skip -->' needs a reason: skip (why)")
        else:
            kind = "stack" if _USES_CONSTRUCTS.search(code) else "compile"
        block = Block(page, line, code, kind)
        if kind == "given":
            assert marker is not None
            block.given = marker.group("note").strip()
            chain = [block]
        elif kind == "continue":
            if not chain:
                raise AssertionError(f"{block.id}: '<!-- snippet: continue -->' without an earlier running block")
            block.chain = list(chain)
            chain.append(block)
        elif kind == "stack":
            chain = [block]
        yield block


BLOCKS = [block for page in PAGES for block in _blocks(page)]


def _synth_without_errors(app: cdk.App) -> None:
    assembly = app.synth()
    errors = [
        f"{stack.stack_name}: {message.id}: {message.entry.data}"
        for stack in assembly.stacks
        for message in stack.messages
        if message.level == cx_api.SynthesisMessageLevel.ERROR
    ]
    assert not errors, "\n".join(errors)


def _run(code: str, namespace: dict[str, Any], block: Block) -> None:
    exec(compile(code, block.id, "exec"), namespace)  # noqa: S102 - the documentation's own snippets


def _run_given(block: Block, namespace: dict[str, Any]) -> None:
    """Run a ``given`` marker's code with every public name at hand; keep only the names it defines, so that
    the block itself must still import what it uses."""
    public = {name: getattr(mlflow_sagemaker_constructs, name) for name in _PUBLIC_NAMES}
    scratch = {**namespace, **public}
    exec(compile(block.given, f"{block.id} (given)", "exec"), scratch)  # noqa: S102 - the docs' own assumption
    namespace.update({name: value for name, value in scratch.items() if name not in public or name in namespace})


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.kind in ("stack", "continue", "given")], ids=lambda b: b.id)
def test_stack_snippet_runs_and_synthesizes(block: Block) -> None:
    app = new_app()
    stack = new_stack(app)
    vpc = new_vpc(stack)
    namespace: dict[str, Any] = {
        "__name__": "snippet",
        "__builtins__": builtins,
        "self": stack,
        "app": app,
        "vpc": vpc,
        **MODULES,
        **_stand_ins(stack, vpc),
    }
    for step in [*block.chain, block]:
        if step.given:
            _run_given(step, namespace)
        _run(step.code, namespace, step)
    _synth_without_errors(app)


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.kind == "app"], ids=lambda b: b.id)
def test_app_snippet_synthesizes(block: Block, tmp_path: Path) -> None:
    """As ``cdk synth`` runs an app: its own process (and jsii runtime), account, region and context from
    the environment."""
    app_file = tmp_path / "app.py"
    app_file.write_text(block.code, encoding="utf-8")
    outdir = tmp_path / "cdk.out"
    env = {
        **os.environ,
        "CDK_DEFAULT_ACCOUNT": str(ENV.account),
        "CDK_DEFAULT_REGION": str(ENV.region),
        "CDK_OUTDIR": str(outdir),
        "CDK_CONTEXT_JSON": json.dumps({"vpc_id": "vpc-0123456789abcdef0"}),
    }
    result = subprocess.run(
        [sys.executable, str(app_file)], cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=300
    )
    assert result.returncode == 0, f"{block.id} failed:\n{result.stdout}\n{result.stderr}"
    manifest = json.loads((outdir / "manifest.json").read_text())
    stacks = [a for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"]
    assert stacks, f"{block.id} synthesized no stack"
    errors = [
        entry["data"]
        for stack in stacks
        for entries in stack.get("metadata", {}).values()
        for entry in entries
        if entry["type"] == "aws:cdk:error"
    ]
    assert not errors, errors


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.kind == "compile"], ids=lambda b: b.id)
def test_other_python_blocks_compile(block: Block) -> None:
    compile(block.code, block.id, "exec")


def test_the_convention_finds_the_snippets() -> None:
    kinds = {block.kind for block in BLOCKS}
    assert {"stack", "given", "app", "compile"} <= kinds, kinds
    readme = [block for block in BLOCKS if block.page.name == "README.md"]
    assert readme, "README.md has no Python block"
    assert readme[0].kind == "stack", "README's first code sample must run"
    for page in (REPO_ROOT / "docs" / "constructs").glob("*.md"):
        assert any(b.page == page and b.kind == "stack" for b in BLOCKS), f"{page.name} has no running example"


def test_markers_chain_blocks(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "\n".join(
            [
                "```python",
                "from mlflow_sagemaker_constructs import SecureMlflowService",
                "```",
                "<!-- snippet: continue -->",
                "```python",
                "mlflow.allow_from(security_group)",
                "```",
                "- a list item",
                "",
                "    <!-- snippet: given mlflow = SecureMlflowService(self, 'M', vpc=vpc) -->",
                "    ```python",
                "    mlflow.url",
                "    ```",
                "<!-- snippet: skip (needs a server) -->",
                "```python",
                "SecureMlflowService.nothing(...)",
                "```",
                "```python",
                "import mlflow",
                "```",
                "",
            ]
        )
    )
    first, second, third, fourth, fifth = _blocks(page)
    assert (first.kind, second.kind, third.kind, fourth.kind, fifth.kind) == (
        "stack",
        "continue",
        "given",
        "skip",
        "compile",
    )
    assert second.chain == [first]
    assert third.given == "mlflow = SecureMlflowService(self, 'M', vpc=vpc)"
    assert third.code == "mlflow.url"
    page.write_text("<!-- snippet: skip -->\n```python\nx\n```\n")
    with pytest.raises(AssertionError, match="needs a reason"):
        list(_blocks(page))
