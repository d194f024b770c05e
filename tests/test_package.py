"""The package root: lazy exports that never load aws-cdk-lib on import, and no dependency on the client."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import mlflow_sagemaker_constructs as package

PACKAGE_DIR = Path(package.__file__).resolve().parent


@pytest.mark.parametrize("name", package.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(package, name) is not None


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        _ = package.Nope


def test_importing_the_package_does_not_load_aws_cdk() -> None:
    code = (
        "import sys, mlflow_sagemaker_constructs\n"
        "print(mlflow_sagemaker_constructs.MLFLOW_VERSION)\n"
        "loaded = [m for m in sys.modules if m == 'aws_cdk' or m.startswith(('aws_cdk.', 'jsii'))]\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[1:] == [""]


def test_the_constructs_never_import_the_client() -> None:
    """The client is a separate distribution: the constructs work without it installed."""
    offenders = [
        path.relative_to(PACKAGE_DIR).as_posix()
        for path in sorted(PACKAGE_DIR.rglob("*.py"))
        if re.search(r"^\s*(from|import)\s+mlflow_sagemaker_client\b", path.read_text(encoding="utf-8"), re.MULTILINE)
    ]
    assert offenders == []
