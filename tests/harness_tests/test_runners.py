"""The harness's runners must be able to fail: broken templates and unacknowledged findings are caught."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs

from tests.harness import (
    assert_cfn_lint_clean,
    assert_nag_clean,
    cfn_lint_findings,
    nag_findings,
    new_app,
    new_stack,
    normalize_template,
    synth_template,
)


def _retired_engine_template() -> dict[str, object]:
    stack = new_stack()
    # Aurora PostgreSQL 16.4 is a retired minor version: exactly what broke the seed samples.
    rds.CfnDBCluster(
        stack,
        "Retired",
        engine="aurora-postgresql",
        engine_version="16.4",
        master_username="mlflow",
        manage_master_user_password=True,
        storage_encrypted=True,
    )
    return synth_template(stack)


def test_cfn_lint_reports_a_retired_engine_version() -> None:
    findings = cfn_lint_findings(_retired_engine_template())
    assert any(f.rule == "W3690" for f in findings), findings
    assert any(f.path.startswith("Resources/Retired/") for f in findings), findings


def test_cfn_lint_runner_fails_on_a_finding() -> None:
    with pytest.raises(AssertionError, match=r"(?s)cfn-lint reported \d+ finding\(s\).*W3690"):
        assert_cfn_lint_clean(_retired_engine_template())


def test_cfn_lint_runner_passes_a_clean_template() -> None:
    stack = new_stack()
    sqs.Queue(stack, "Queue", enforce_ssl=True)
    assert_cfn_lint_clean(synth_template(stack))


def _unencrypted_bucket_app(acknowledge: bool) -> cdk.App:
    app = new_app()
    stack = new_stack(app)
    bucket = s3.Bucket(stack, "Bucket", enforce_ssl=True)
    if acknowledge:
        cdk.Validations.of(bucket).acknowledge(
            cdk.Acknowledgment(id="AwsSolutions-S1", reason="Test bucket: access logs are not needed.")
        )
    return app


def test_nag_runner_reports_rule_and_path_of_an_unacknowledged_finding() -> None:
    findings = nag_findings(_unencrypted_bucket_app(acknowledge=False))
    assert [(f.rule, f.path) for f in findings] == [("AwsSolutions-S1", "TestStack/Bucket/Resource")]


def test_nag_runner_fails_on_an_unacknowledged_finding() -> None:
    with pytest.raises(AssertionError, match=r"AwsSolutions-S1 \(error\) at TestStack/Bucket/Resource"):
        assert_nag_clean(_unencrypted_bucket_app(acknowledge=False))


def test_nag_runner_passes_when_the_finding_is_acknowledged() -> None:
    assert_nag_clean(_unencrypted_bucket_app(acknowledge=True))


def test_snapshot_normalization_replaces_asset_hashes_and_drops_bookkeeping() -> None:
    digest = "a" * 64
    template = {
        "Parameters": {"BootstrapVersion": {"Type": "AWS::SSM::Parameter::Value<String>"}},
        "Resources": {
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Code": {"S3Key": f"{digest}.zip"}},
                "Metadata": {"aws:asset:path": f"asset.{digest}", "aws:cdk:path": "S/Fn/Resource"},
            },
            "CDKMetadata": {"Type": "AWS::CDK::Metadata", "Properties": {}},
        },
        "Rules": {"CheckBootstrapVersion": {}},
    }
    assert normalize_template(template) == {
        "Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Code": {"S3Key": "<asset-hash>.zip"}}}}
    }


def test_acknowledgements_are_counted_with_their_reasons() -> None:
    app = _unencrypted_bucket_app(acknowledge=True)
    report = nag_findings(app)
    assert report == []
    from pathlib import Path

    from tests.harness.nag import acknowledgements

    found = acknowledgements(Path(app.outdir))
    assert found == {("/TestStack/Bucket", "AwsSolutions-S1"): "Test bucket: access logs are not needed."}
