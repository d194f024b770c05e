"""The shared test harness: apps with pinned settings, snapshot normalization, cfn-lint and cdk-nag runners.

Every construct test builds its stacks through :func:`new_app` and :func:`new_stack` so that the
account, region and feature flags never depend on the machine running the tests.
"""

from tests.harness.app import ENV, FEATURE_FLAGS, new_app, new_stack, synth_template
from tests.harness.cfn_lint import CfnLintFinding, assert_cfn_lint_clean, cfn_lint_findings
from tests.harness.nag import NagFinding, NagReport, assert_nag_clean, nag_findings, read_nag_report
from tests.harness.snapshot import normalize_template

__all__ = [
    "ENV",
    "FEATURE_FLAGS",
    "CfnLintFinding",
    "NagFinding",
    "NagReport",
    "assert_cfn_lint_clean",
    "assert_nag_clean",
    "cfn_lint_findings",
    "nag_findings",
    "new_app",
    "new_stack",
    "normalize_template",
    "read_nag_report",
    "synth_template",
]
