"""AWS CDK constructs for a secure, private MLflow tracking server on AWS Fargate."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mlflow-sagemaker-constructs")
except PackageNotFoundError:  # pragma: no cover - only when imported from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
