"""Client side of mlflow-sagemaker-constructs: what notebooks, training jobs and CI install.

* :mod:`mlflow_sagemaker_client.auth` holds MLflow request-auth plugins, registered in the
  ``mlflow.request_auth_provider`` entry point group (``aws-sigv4``: :mod:`.auth.sigv4`).
* :mod:`mlflow_sagemaker_client.packaging` is the ``mlflow-sagemaker-package`` command, which turns
  a model of an MLflow tracking server into the ``model.tar.gz`` SageMaker hosting expects.

The distribution depends on ``mlflow-skinny`` and what these need, never on aws-cdk-lib or jsii: it
goes into notebooks, training images and CI jobs. The constructs live in ``mlflow-sagemaker-constructs``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mlflow-sagemaker-client")
except PackageNotFoundError:  # pragma: no cover - only when imported from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
