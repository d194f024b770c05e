"""One MLflow version and one package version across both distributions built from this repository."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from typing import Any

import mlflow_sagemaker_client
from mlflow_sagemaker_constructs import __version__
from mlflow_sagemaker_constructs.versions import MLFLOW_VERSION
from tests.harness.app import REPO_ROOT

CLIENT = "mlflow-sagemaker-client"


def _pyproject(relative: str) -> dict[str, Any]:
    return tomllib.loads((REPO_ROOT / relative).read_text())


def test_mlflow_version_matches_the_client_distribution_and_dev_pin() -> None:
    constructs, client = _pyproject("pyproject.toml"), _pyproject("client/pyproject.toml")
    pins = [*client["project"]["dependencies"], *constructs["dependency-groups"]["dev"]]
    mlflow_pins = [p for p in pins if re.match(r"mlflow(-skinny)?(\[.*\])?==", p)]
    assert any(p.startswith("mlflow-skinny==") for p in client["project"]["dependencies"])
    assert {p.split("==")[1] for p in mlflow_pins} == {MLFLOW_VERSION}


def test_both_distributions_have_one_version_and_the_extra_pins_it() -> None:
    constructs, client = _pyproject("pyproject.toml"), _pyproject("client/pyproject.toml")
    version = constructs["project"]["version"]
    assert client["project"]["version"] == version
    assert constructs["project"]["optional-dependencies"]["client"] == [f"{CLIENT}=={version}"]
    assert constructs["tool"]["uv"]["sources"][CLIENT] == {"workspace": True}


def test_package_versions_come_from_the_distribution_metadata() -> None:
    version = _pyproject("pyproject.toml")["project"]["version"]
    assert __version__ == version == metadata.version("mlflow-sagemaker-constructs")
    assert mlflow_sagemaker_client.__version__ == version == metadata.version(CLIENT)
