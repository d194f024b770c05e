"""AWS CDK constructs for a secure, private MLflow tracking server on AWS Fargate.

The constructs are imported lazily, so that importing the package (for ``MLFLOW_VERSION`` or
``__version__``) does not start aws-cdk-lib's Node.js runtime. The client side (the SigV4 request-auth
plugin and ``mlflow-sagemaker-package``) is the separate distribution ``mlflow-sagemaker-client``.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from mlflow_sagemaker_constructs.versions import MLFLOW_VERSION

if TYPE_CHECKING:
    from mlflow_sagemaker_constructs.http_api.private_http_api import EdgeAuthorization as EdgeAuthorization
    from mlflow_sagemaker_constructs.http_api.private_http_api import PrivateHttpApi as PrivateHttpApi
    from mlflow_sagemaker_constructs.serving.endpoint import MlflowModelEndpoint as MlflowModelEndpoint
    from mlflow_sagemaker_constructs.studio.domain import AppNetworkAccess as AppNetworkAccess
    from mlflow_sagemaker_constructs.studio.domain import StudioDomainOrUser as StudioDomainOrUser
    from mlflow_sagemaker_constructs.studio.training import MlflowTrainingConfig as MlflowTrainingConfig
    from mlflow_sagemaker_constructs.tracking_server.authentication import DefaultPermission as DefaultPermission
    from mlflow_sagemaker_constructs.tracking_server.authentication import MlflowAuthentication as MlflowAuthentication
    from mlflow_sagemaker_constructs.tracking_server.database import DatabaseEngine as DatabaseEngine
    from mlflow_sagemaker_constructs.tracking_server.database import ExistingDatabase as ExistingDatabase
    from mlflow_sagemaker_constructs.tracking_server.image import ServerImage as ServerImage
    from mlflow_sagemaker_constructs.tracking_server.service import (
        DEFAULT_AURORA_POSTGRES_VERSION as DEFAULT_AURORA_POSTGRES_VERSION,
    )
    from mlflow_sagemaker_constructs.tracking_server.service import ArtifactAccess as ArtifactAccess
    from mlflow_sagemaker_constructs.tracking_server.service import SecureMlflowService as SecureMlflowService

try:
    __version__ = version("mlflow-sagemaker-constructs")
except PackageNotFoundError:  # pragma: no cover - only when imported from a source tree that is not installed
    __version__ = "0.0.0"

# Public name -> module that defines it.
_EXPORTS = {
    "DEFAULT_AURORA_POSTGRES_VERSION": "tracking_server.service",
    "ArtifactAccess": "tracking_server.service",
    "SecureMlflowService": "tracking_server.service",
    "DatabaseEngine": "tracking_server.database",
    "ExistingDatabase": "tracking_server.database",
    "DefaultPermission": "tracking_server.authentication",
    "MlflowAuthentication": "tracking_server.authentication",
    "ServerImage": "tracking_server.image",
    "EdgeAuthorization": "http_api.private_http_api",
    "PrivateHttpApi": "http_api.private_http_api",
    "AppNetworkAccess": "studio.domain",
    "StudioDomainOrUser": "studio.domain",
    "MlflowTrainingConfig": "studio.training",
    "MlflowModelEndpoint": "serving.endpoint",
}

__all__ = ["MLFLOW_VERSION", "__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
