"""Every app under examples/ synthesizes as ``cdk synth`` runs it, with cdk-nag on and cfn-lint silent."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import assert_cfn_lint_clean, read_nag_report
from tests.harness.app import REPO_ROOT
from tests.harness.checkov import MIN_REASON_WORDS, CheckovReport, run_checkov_per_subdirectory
from tests.harness.nag import acknowledgements

# One worker synthesizes every example and runs checkov once over all of them (module fixtures).
pytestmark = pytest.mark.xdist_group("examples")

EXAMPLES = sorted(p.parent for p in (REPO_ROOT / "examples").glob("*/app.py"))


def test_there_are_examples() -> None:
    assert EXAMPLES, "no example apps found under examples/"


@dataclasses.dataclass(frozen=True)
class Synthesized:
    out_dir: Path
    result: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    """Every example synthesized as the CDK CLI runs it: CDK_OUTDIR set, no AWS credentials, no lookups."""
    root = tmp_path_factory.mktemp("examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    apps = {}
    for example in EXAMPLES:
        out_dir = root / example.name
        result = subprocess.run(
            [sys.executable, "app.py"],
            cwd=example,
            env={**env, "CDK_OUTDIR": str(out_dir)},
            capture_output=True,
            text=True,
            check=False,
        )
        apps[example.name] = Synthesized(out_dir, result)
    return apps


@pytest.fixture(scope="module")
def checkov_reports(synthesized: dict[str, Synthesized]) -> dict[str, CheckovReport]:
    """checkov (security review finding "Also") over every example's templates, in one run."""
    roots = {app.out_dir.parent for app in synthesized.values()}
    assert len(roots) == 1
    return run_checkov_per_subdirectory(roots.pop())


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_synthesizes_clean(
    example: Path, synthesized: dict[str, Synthesized], checkov_reports: dict[str, CheckovReport]
) -> None:
    cdk_json = json.loads((example / "cdk.json").read_text())
    assert cdk_json["app"] == "python3 app.py"
    out_dir, result = synthesized[example.name].out_dir, synthesized[example.name].result
    nag = read_nag_report(out_dir)
    assert not nag.findings, "\n".join(str(f) for f in nag.findings)
    assert result.returncode == 0, result.stdout + result.stderr

    for (path, rule), reason in acknowledgements(out_dir).items():
        assert len(reason.split()) >= 8, f"acknowledgement of {rule} at {path} needs a specific reason: {reason!r}"

    # checkov: nothing unsuppressed, every skip with a specific reason.
    checkov = checkov_reports[example.name]
    assert checkov.passed > 0
    assert not checkov.failed, "\n".join(str(f) for f in checkov.failed)
    for check_id, resource, comment in checkov.skipped:
        assert len(comment.split()) >= MIN_REASON_WORDS, f"checkov skip of {check_id} on {resource}: {comment!r}"

    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert not manifest.get("missing"), f"synthesis needs lookups: {manifest['missing']}"
    stacks = [a for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"]
    assert stacks
    for artifact in stacks:
        template = json.loads((out_dir / artifact["properties"]["templateFile"]).read_text())
        assert_cfn_lint_clean(template, name=artifact["properties"]["templateFile"])
