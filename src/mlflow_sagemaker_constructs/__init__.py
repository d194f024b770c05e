"""AWS CDK constructs for a secure, private MLflow tracking server on AWS Fargate.

The constructs are imported lazily: ``mlflow_sagemaker_constructs.client`` (the SigV4 request-auth plugin
that MLflow loads on notebooks and training jobs) must not start aws-cdk-lib's Node.js runtime.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from mlflow_sagemaker_constructs.versions import MLFLOW_VERSION

if TYPE_CHECKING:
    from mlflow_sagemaker_constructs.authentication import DefaultPermission as DefaultPermission
    from mlflow_sagemaker_constructs.authentication import MlflowAuthentication as MlflowAuthentication
    from mlflow_sagemaker_constructs.database import DatabaseEngine as DatabaseEngine
    from mlflow_sagemaker_constructs.database import ExistingDatabase as ExistingDatabase
    from mlflow_sagemaker_constructs.model_endpoint import MlflowModelEndpoint as MlflowModelEndpoint
    from mlflow_sagemaker_constructs.private_http_api import EdgeAuthorization as EdgeAuthorization
    from mlflow_sagemaker_constructs.private_http_api import PrivateHttpApi as PrivateHttpApi
    from mlflow_sagemaker_constructs.secure_mlflow_service import (
        DEFAULT_AURORA_POSTGRES_VERSION as DEFAULT_AURORA_POSTGRES_VERSION,
    )
    from mlflow_sagemaker_constructs.secure_mlflow_service import ArtifactAccess as ArtifactAccess
    from mlflow_sagemaker_constructs.secure_mlflow_service import SecureMlflowService as SecureMlflowService
    from mlflow_sagemaker_constructs.server_image import ServerImage as ServerImage
    from mlflow_sagemaker_constructs.studio import AppNetworkAccess as AppNetworkAccess
    from mlflow_sagemaker_constructs.studio import StudioDomainOrUser as StudioDomainOrUser
    from mlflow_sagemaker_constructs.training import MlflowTrainingConfig as MlflowTrainingConfig

try:
    __version__ = version("mlflow-sagemaker-constructs")
except PackageNotFoundError:  # pragma: no cover - only when imported from a source tree that is not installed
    __version__ = "0.0.0"

# Public name -> module that defines it.
_EXPORTS = {
    "DEFAULT_AURORA_POSTGRES_VERSION": "secure_mlflow_service",
    "ArtifactAccess": "secure_mlflow_service",
    "SecureMlflowService": "secure_mlflow_service",
    "DatabaseEngine": "database",
    "ExistingDatabase": "database",
    "DefaultPermission": "authentication",
    "MlflowAuthentication": "authentication",
    "ServerImage": "server_image",
    "EdgeAuthorization": "private_http_api",
    "PrivateHttpApi": "private_http_api",
    "AppNetworkAccess": "studio",
    "StudioDomainOrUser": "studio",
    "MlflowTrainingConfig": "training",
    "MlflowModelEndpoint": "model_endpoint",
}

__all__ = ["MLFLOW_VERSION", "__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
