"""Synthesize the proof-of-concept example app into ./cdk.out and report on it.

Prints the stacks, resource counts by type, the cfn-lint result per template and the cdk-nag
AwsSolutions result. Exits non-zero when synthesis fails or either check has a finding.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.harness.cfn_lint import cfn_lint_findings  # noqa: E402
from tests.harness.nag import read_nag_report  # noqa: E402

EXAMPLE = REPO_ROOT / "examples" / "proof_of_concept"
OUTDIR = REPO_ROOT / "cdk.out"


def synthesize() -> tuple[int, str, float]:
    """Run the CDK CLI's synth on the example; return exit code, output and seconds taken."""
    shutil.rmtree(OUTDIR, ignore_errors=True)
    started = time.monotonic()
    result = subprocess.run(
        ["cdk", "synth", "--quiet", "--output", str(OUTDIR), "--app", f"{sys.executable} app.py"],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        env={**os.environ, "CDK_DISABLE_VERSION_CHECK": "1"},
        check=False,
    )
    return result.returncode, result.stdout + result.stderr, time.monotonic() - started


def main() -> int:
    print(f"Synthesizing {EXAMPLE.relative_to(REPO_ROOT)} into {OUTDIR.relative_to(REPO_ROOT)}/ ...")
    code, output, seconds = synthesize()
    manifest_path = OUTDIR / "manifest.json"
    if not manifest_path.exists():
        print(output)
        print(f"FAILED: cdk synth exited {code} without a cloud assembly")
        return 1
    manifest = json.loads(manifest_path.read_text())
    stacks = {
        name: artifact
        for name, artifact in manifest.get("artifacts", {}).items()
        if artifact.get("type") == "aws:cloudformation:stack"
    }
    print(f"cdk synth: exit {code} in {seconds:.1f} s, {len(stacks)} stack(s)\n")

    lint_total = 0
    for name, artifact in sorted(stacks.items()):
        template = json.loads((OUTDIR / artifact["properties"]["templateFile"]).read_text())
        counts = collections.Counter(r["Type"] for r in template.get("Resources", {}).values())
        print(f"Stack {name} ({artifact.get('environment', '')}): {sum(counts.values())} resources")
        for resource_type, count in sorted(counts.items()):
            print(f"  {count:4d}  {resource_type}")
        findings = cfn_lint_findings(template, region=artifact.get("environment", "").rsplit("/", 1)[-1])
        lint_total += len(findings)
        print(f"  cfn-lint: {len(findings)} finding(s)")
        for finding in findings:
            print(f"    {finding}")
        print()

    nag = read_nag_report(OUTDIR)
    print(f"cfn-lint: {lint_total} finding(s) in {len(stacks)} template(s)")
    print(
        f"cdk-nag AwsSolutions: {len(nag.findings)} unacknowledged finding(s),",
        f"{nag.acknowledged} acknowledged",
    )
    for nag_finding in nag.findings:
        print(f"  {nag_finding}")
    if code != 0 and not nag.findings:
        print(output)
    ok = code == 0 and lint_total == 0 and not nag.findings
    print("RESULT:", "OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
