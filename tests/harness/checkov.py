"""checkov on synthesized templates, run from its own tool environment.

checkov pins versions of packages this project also uses (boto3, networkx, ...), so it runs through
``uv tool run`` in an environment of its own, installed from PyPI on first use and cached by uv. The
version is pinned: a new checkov adds checks, which should be a deliberate upgrade.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import defaultdict
from collections.abc import Iterable
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


def run_checkov_per_subdirectory(directory: Path) -> dict[str, CheckovReport]:
    """One checkov run over the cloud assemblies in ``directory``'s subdirectories, split by subdirectory.

    checkov spends most of its time starting (about 17 CPU-s, measured; a second assembly adds little), so
    the examples are checked in one run rather than one each.
    """
    by_subdirectory: dict[str, list[CheckovReport]] = {}
    for path, report in _run(directory).items():
        parts = Path(path).parts
        by_subdirectory.setdefault(parts[1] if parts[0] == "/" else parts[0], []).append(report)
    return {name: _merge(reports) for name, reports in by_subdirectory.items()}


def _merge(reports: Iterable[CheckovReport]) -> CheckovReport:
    reports = list(reports)
    return CheckovReport(
        failed=[finding for report in reports for finding in report.failed],
        skipped=[skip for report in reports for skip in report.skipped],
        passed=sum(report.passed for report in reports),
    )


def _run(directory: Path) -> dict[str, CheckovReport]:
    """checkov over ``directory``: a report per template, keyed by its path as checkov prints it."""
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
    failed: dict[str, list[CheckovFinding]] = defaultdict(list)
    skipped: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    passed: dict[str, int] = defaultdict(int)
    for report in reports:
        if "results" not in report:  # an empty summary: no template found
            continue
        if report["summary"]["parsing_errors"]:
            raise AssertionError(f"checkov could not parse templates in {directory}")
        for check in report["results"].get("passed_checks", []):
            passed[check["file_path"]] += 1
        for check in report["results"].get("failed_checks", []):
            failed[check["file_path"]].append(
                CheckovFinding(check["check_id"], check["resource"], Path(check["file_path"]).name, check["check_name"])
            )
        for check in report["results"].get("skipped_checks", []):
            comment = check.get("check_result", {}).get("suppress_comment", "")
            skipped[check["file_path"]].append((check["check_id"], check["resource"], comment))
    return {
        path: CheckovReport(failed=failed[path], skipped=skipped[path], passed=passed[path])
        for path in {*failed, *skipped, *passed}
    }
