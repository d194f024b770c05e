"""The proof of concept holds every construct, the model endpoint once a packaged model is given."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Template

from mlflow_sagemaker_constructs import __version__
from mlflow_sagemaker_constructs.tracking_server.server import contract
from tests.harness import assert_cfn_lint_clean, read_nag_report
from tests.harness.app import REPO_ROOT
from tests.harness.task_environment import mlflow_environment, principal_rules

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
    assert {"InVpcUrl", "ApiUrl", "AdminSecretName", "StudioDomainId", "EndpointName", "UsersRoleArn"} <= set(
        template["Outputs"]
    )
    assert_cfn_lint_clean(template, name="MlflowPocServer")
    _assert_iam_end_to_end(template)


def _assert_iam_end_to_end(template: dict[str, Any]) -> None:
    """IAM at the edge and IAM principals as users on the server; no user password anywhere."""
    resources = template["Resources"].values()
    routes = [r["Properties"] for r in resources if r["Type"] == "AWS::ApiGatewayV2::Route"]
    assert routes
    assert {route["AuthorizationType"] for route in routes} == {"AWS_IAM"}
    assert mlflow_environment(Template.from_json(template))[contract.AUTH_IAM_ENABLED] == "true"
    rules = principal_rules(Template.from_json(template))
    # The users role's sessions first, then the Studio roles (references), each its own MLflow user.
    assert rules[0] == {"kind": "role_session", "admin": False, "account": "123456789012", "name": "MlflowPocUsers"}
    assert [(rule["kind"], rule.get("username")) for rule in rules[1:]] == [
        ("role", "data-scientist"),
        ("role", "studio-shared"),
    ]
    secrets = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::SecretsManager::Secret"]
    assert not [k for k in secrets if k.startswith("Studio")], secrets
    lifecycle = json.dumps([r for r in resources if r["Type"] == "AWS::SageMaker::StudioLifecycleConfig"])
    assert "MLFLOW_LCC_AUTH='iam'" in lifecycle
    assert f"MLFLOW_LCC_PIP_PACKAGES='mlflow-sagemaker-client=={__version__}'" in lifecycle
