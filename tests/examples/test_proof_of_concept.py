"""The proof of concept holds every construct, the model endpoint once a packaged model is given."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.harness import assert_cfn_lint_clean, read_nag_report
from tests.harness.app import REPO_ROOT

EXAMPLE = REPO_ROOT / "examples" / "proof_of_concept"
MODEL = "s3://example-models/diabetes-elasticnet/v1/0123456789abcdef/model.tar.gz"


def test_with_a_packaged_model_it_adds_a_serverless_endpoint(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["CDK_OUTDIR"] = str(tmp_path)
    env["CDK_CONTEXT_JSON"] = json.dumps({"model_data_url": MODEL})
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=EXAMPLE, env=env, capture_output=True, text=True, check=False
    )
    assert not read_nag_report(tmp_path).findings
    assert result.returncode == 0, result.stderr[-3000:]
    template = json.loads((tmp_path / "MlflowPocServer.template.json").read_text())
    types = {r["Type"] for r in template["Resources"].values()}
    assert {
        "AWS::ECS::Service",
        "AWS::ApiGatewayV2::Api",
        "AWS::SageMaker::Domain",
        "AWS::SageMaker::Endpoint",
        "AWS::SageMaker::Model",
    } <= types
    (model,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Model"]
    assert model["Properties"]["PrimaryContainer"]["ModelDataUrl"] == MODEL
    assert {"InVpcUrl", "ApiUrl", "AdminSecretName", "StudioDomainId", "EndpointName"} <= set(template["Outputs"])
    assert_cfn_lint_clean(template, name="MlflowPocServer")
