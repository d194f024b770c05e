"""Runs cfn-lint on synthesized templates; any error or warning is a finding."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cfnlint.api import ManualArgs, lint


@dataclass(frozen=True)
class CfnLintFinding:
    """One cfn-lint match: rule id, where in the template, and what it says."""

    rule: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule} at {self.path}: {self.message}"


def cfn_lint_findings(template: Mapping[str, Any], region: str = "us-east-1") -> list[CfnLintFinding]:
    """Every error and warning cfn-lint reports for ``template`` in ``region``."""
    matches = lint(json.dumps(template), config=ManualArgs(regions=[region]))
    return [
        CfnLintFinding(
            rule=m.rule.id,
            path="/".join(str(p) for p in (m.path or [])),
            message=m.message,
        )
        for m in matches
    ]


def assert_cfn_lint_clean(template: Mapping[str, Any], name: str = "template", region: str = "us-east-1") -> None:
    """Fail with every finding listed when cfn-lint reports anything for ``template``."""
    findings = cfn_lint_findings(template, region)
    if findings:
        lines = "\n".join(f"  {f}" for f in findings)
        raise AssertionError(f"cfn-lint reported {len(findings)} finding(s) in {name}:\n{lines}")
