"""checkov on synthesized templates, run from its own tool environment.

checkov pins versions of packages this project also uses (boto3, networkx, ...), so it runs through
``uv tool run`` in an environment of its own, installed from PyPI on first use and cached by uv. The
version is pinned: a new checkov adds checks, which should be a deliberate upgrade.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHECKOV_VERSION = "3.3.30"
#: A skip's comment must say why, not just that (the same rule as for cdk-nag acknowledgements).
MIN_REASON_WORDS = 8


@dataclass(frozen=True)
class CheckovFinding:
    check_id: str
    resource: str
    file: str
    name: str

    def __str__(self) -> str:
        return f"{self.check_id} {self.resource} in {self.file}: {self.name}"


@dataclass(frozen=True)
class CheckovReport:
    failed: list[CheckovFinding]
    skipped: list[tuple[str, str, str]]  # (check id, resource, comment)
    passed: int


def run_checkov(directory: Path) -> CheckovReport:
    """Run checkov's CloudFormation checks on every template in ``directory`` (a cloud assembly)."""
    command = [
        "uv", "tool", "run", "--from", f"checkov=={CHECKOV_VERSION}", "checkov",
        "--directory", str(directory), "--framework", "cloudformation",
        "--compact", "--skip-download", "--output", "json",
    ]  # fmt: skip
    # --skip-download and no API key: checkov works offline and sends nothing anywhere.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC_", "PRISMA_"))}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    if result.returncode not in (0, 1) or not result.stdout.strip():
        raise AssertionError(f"checkov did not run ({result.returncode}): {result.stderr[-2000:]}")
    reports: Any = json.loads(result.stdout)
    if isinstance(reports, dict):
        reports = [reports]
    failed: list[CheckovFinding] = []
    skipped: list[tuple[str, str, str]] = []
    passed = 0
    for report in reports:
        if "results" not in report:  # an empty summary: no template found
            continue
        if report["summary"]["parsing_errors"]:
            raise AssertionError(f"checkov could not parse templates in {directory}")
        passed += report["summary"]["passed"]
        for check in report["results"].get("failed_checks", []):
            failed.append(
                CheckovFinding(check["check_id"], check["resource"], Path(check["file_path"]).name, check["check_name"])
            )
        for check in report["results"].get("skipped_checks", []):
            comment = check.get("check_result", {}).get("suppress_comment", "")
            skipped.append((check["check_id"], check["resource"], comment))
    return CheckovReport(failed=failed, skipped=skipped, passed=passed)
