"""The package root: lazy exports, and a client plugin import that never loads aws-cdk-lib."""

from __future__ import annotations

import subprocess
import sys

import pytest

import mlflow_sagemaker_constructs as package


@pytest.mark.parametrize("name", package.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(package, name) is not None


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        _ = package.Nope


def test_client_plugin_import_does_not_load_aws_cdk() -> None:
    code = (
        "import sys, mlflow_sagemaker_constructs.client.sigv4_auth\n"
        "loaded = [m for m in sys.modules if m == 'aws_cdk' or m.startswith(('aws_cdk.', 'jsii'))]\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
