"""Runs the cdk-nag AwsSolutions pack (v3, a CDK validation plugin) and lists unacknowledged findings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

NAG_PLUGIN = "AwsSolutions"


@dataclass(frozen=True)
class NagFinding:
    """One unacknowledged cdk-nag finding: the rule and the construct path it was found at."""

    rule: str
    path: str
    severity: str
    description: str

    def __str__(self) -> str:
        return f"{self.rule} ({self.severity}) at {self.path}: {self.description}"


def nag_findings(app: cdk.App) -> list[NagFinding]:
    """Add the AwsSolutions pack to ``app``, synthesize it and return what was not acknowledged.

    cdk-nag v3 makes ``app.synth()`` raise when a rule fails; the findings themselves are read
    from the validation report CDK writes into the cloud assembly.
    """
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    try:
        # force: Template.from_stack() may already have synthesized the app, and a cached assembly would
        # skip the plugin silently.
        app.synth(force=True)
    except RuntimeError as error:
        if "ValidationFailed" not in str(error) and "Validation failed" not in str(error):
            raise
    return read_nag_report(Path(app.outdir)).findings


@dataclass(frozen=True)
class NagReport:
    """What the AwsSolutions pack found in one cloud assembly."""

    findings: list[NagFinding]
    acknowledged: int


def read_nag_report(assembly_dir: Path) -> NagReport:
    """Read the AwsSolutions results from ``validation-report.json`` in a cloud assembly directory.

    No report file means no validation plugin failed and nothing was acknowledged.
    """
    report_path = assembly_dir / "validation-report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    findings = []
    for plugin in report.get("pluginReports", []):
        if plugin.get("pluginName") != NAG_PLUGIN:
            continue
        for violation in plugin.get("violations", []):
            for construct in violation.get("violatingConstructs", []):
                findings.append(
                    NagFinding(
                        rule=violation["ruleName"],
                        path=construct["constructPath"],
                        severity=violation.get("severity", "error"),
                        description=violation.get("description", ""),
                    )
                )
    return NagReport(
        findings=sorted(findings, key=lambda f: (f.path, f.rule)), acknowledged=len(acknowledgements(assembly_dir))
    )


def acknowledgements(assembly_dir: Path) -> dict[tuple[str, str], str]:
    """Every AwsSolutions acknowledgement in the assembly: (construct path, rule id) -> reason.

    CDK records ``Validations.of(...).acknowledge(...)`` as ``aws:cdk:acknowledged-rules`` metadata.
    """
    found: dict[tuple[str, str], str] = {}
    for metadata_file in assembly_dir.glob("*.metadata.json"):
        for path, entries in json.loads(metadata_file.read_text()).items():
            for entry in entries:
                if entry.get("type") != "aws:cdk:acknowledged-rules":
                    continue
                for rule, reason in entry.get("data", {}).items():
                    if "AwsSolutions-" in rule:
                        found[(path, rule.split("::", 1)[-1])] = reason
    return found


def assert_nag_clean(app: cdk.App) -> None:
    """Fail, listing each finding's rule and path, when any AwsSolutions finding is unacknowledged."""
    findings = nag_findings(app)
    if findings:
        lines = "\n".join(f"  {f}" for f in findings)
        raise AssertionError(f"cdk-nag AwsSolutions: {len(findings)} unacknowledged finding(s):\n{lines}")
