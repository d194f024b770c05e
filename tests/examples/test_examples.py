"""Every app under examples/ synthesizes as ``cdk synth`` runs it, with cdk-nag on and cfn-lint silent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import assert_cfn_lint_clean, read_nag_report
from tests.harness.app import REPO_ROOT
from tests.harness.checkov import MIN_REASON_WORDS, run_checkov
from tests.harness.nag import acknowledgements

EXAMPLES = sorted(p.parent for p in (REPO_ROOT / "examples").glob("*/app.py"))


def test_there_are_examples() -> None:
    assert EXAMPLES, "no example apps found under examples/"


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_synthesizes_clean(example: Path, tmp_path: Path) -> None:
    cdk_json = json.loads((example / "cdk.json").read_text())
    assert cdk_json["app"] == "python3 app.py"
    # The CDK CLI runs the app with CDK_OUTDIR set; no AWS credentials and no lookups are available.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["CDK_OUTDIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=example, env=env, capture_output=True, text=True, check=False
    )
    nag = read_nag_report(tmp_path)
    assert not nag.findings, "\n".join(str(f) for f in nag.findings)
    assert result.returncode == 0, result.stdout + result.stderr

    for (path, rule), reason in acknowledgements(tmp_path).items():
        assert len(reason.split()) >= 8, f"acknowledgement of {rule} at {path} needs a specific reason: {reason!r}"

    # checkov (security review finding "Also"): nothing unsuppressed, every skip with a specific reason.
    checkov = run_checkov(tmp_path)
    assert checkov.passed > 0
    assert not checkov.failed, "\n".join(str(f) for f in checkov.failed)
    for check_id, resource, comment in checkov.skipped:
        assert len(comment.split()) >= MIN_REASON_WORDS, f"checkov skip of {check_id} on {resource}: {comment!r}"

    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert not manifest.get("missing"), f"synthesis needs lookups: {manifest['missing']}"
    stacks = [a for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"]
    assert stacks
    for artifact in stacks:
        template = json.loads((tmp_path / artifact["properties"]["templateFile"]).read_text())
        assert_cfn_lint_clean(template, name=artifact["properties"]["templateFile"])
