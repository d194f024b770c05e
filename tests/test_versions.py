"""The library has one MLflow version and one package version."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata

from mlflow_sagemaker_constructs import __version__
from mlflow_sagemaker_constructs.versions import MLFLOW_VERSION
from tests.harness.app import REPO_ROOT


def test_mlflow_version_matches_the_client_extra_and_dev_pin() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    pins = [
        *pyproject["project"]["optional-dependencies"]["client"],
        *pyproject["dependency-groups"]["dev"],
    ]
    mlflow_pins = [p for p in pins if re.match(r"mlflow(-skinny)?(\[.*\])?==", p)]
    assert mlflow_pins
    assert {p.split("==")[1] for p in mlflow_pins} == {MLFLOW_VERSION}


def test_package_version_comes_from_the_distribution_metadata() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert __version__ == pyproject["project"]["version"] == metadata.version("mlflow-sagemaker-constructs")
