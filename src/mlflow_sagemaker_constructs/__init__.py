"""AWS CDK constructs for a secure, private MLflow tracking server on AWS Fargate.

The constructs are imported lazily, so that importing the package (for ``MLFLOW_VERSION`` or
``__version__``) does not start aws-cdk-lib's Node.js runtime. The client side (the ``aws-iam`` and
``aws-sigv4`` request-auth plugins and ``mlflow-sagemaker-package``) is the separate distribution
``mlflow-sagemaker-client``.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from mlflow_sagemaker_constructs.versions import MLFLOW_VERSION

if TYPE_CHECKING:
    from mlflow_sagemaker_constructs.http_api.private_http_api import EdgeAuthorization as EdgeAuthorization
    from mlflow_sagemaker_constructs.http_api.private_http_api import PrivateHttpApi as PrivateHttpApi
    from mlflow_sagemaker_constructs.monitoring.alarms import AlarmSettings as AlarmSettings
    from mlflow_sagemaker_constructs.monitoring.alarms import MlflowAlarms as MlflowAlarms
    from mlflow_sagemaker_constructs.monitoring.metrics import MetricOverrides as MetricOverrides
    from mlflow_sagemaker_constructs.monitoring.monitoring import MlflowMonitoring as MlflowMonitoring
    from mlflow_sagemaker_constructs.serving.endpoint import MlflowModelEndpoint as MlflowModelEndpoint
    from mlflow_sagemaker_constructs.serving.serving_image import ServingImage as ServingImage
    from mlflow_sagemaker_constructs.serving.variant import Autoscaling as Autoscaling
    from mlflow_sagemaker_constructs.serving.variant import DataCapture as DataCapture
    from mlflow_sagemaker_constructs.serving.variant import EndpointVariant as EndpointVariant
    from mlflow_sagemaker_constructs.studio.domain import AppNetworkAccess as AppNetworkAccess
    from mlflow_sagemaker_constructs.studio.domain import StudioDomainOrUser as StudioDomainOrUser
    from mlflow_sagemaker_constructs.studio.training import MlflowTrainingConfig as MlflowTrainingConfig
    from mlflow_sagemaker_constructs.tracking_server.access import ServerAccess as ServerAccess
    from mlflow_sagemaker_constructs.tracking_server.access_logs import AccessLogs as AccessLogs
    from mlflow_sagemaker_constructs.tracking_server.artifacts import ArtifactAccess as ArtifactAccess
    from mlflow_sagemaker_constructs.tracking_server.artifacts import ArtifactStore as ArtifactStore
    from mlflow_sagemaker_constructs.tracking_server.authentication import DefaultPermission as DefaultPermission
    from mlflow_sagemaker_constructs.tracking_server.authentication import MlflowAuthentication as MlflowAuthentication
    from mlflow_sagemaker_constructs.tracking_server.capacity import FargateCapacity as FargateCapacity
    from mlflow_sagemaker_constructs.tracking_server.database import (
        DEFAULT_AURORA_POSTGRES_VERSION as DEFAULT_AURORA_POSTGRES_VERSION,
    )
    from mlflow_sagemaker_constructs.tracking_server.database import DatabaseEngine as DatabaseEngine
    from mlflow_sagemaker_constructs.tracking_server.database import ExistingDatabase as ExistingDatabase
    from mlflow_sagemaker_constructs.tracking_server.database import TrackingDatabase as TrackingDatabase
    from mlflow_sagemaker_constructs.tracking_server.interface import IMlflowTrackingServer as IMlflowTrackingServer
    from mlflow_sagemaker_constructs.tracking_server.listener import Listener as Listener
    from mlflow_sagemaker_constructs.tracking_server.principal_mapping import PrincipalMapping as PrincipalMapping
    from mlflow_sagemaker_constructs.tracking_server.server_image import ServerImage as ServerImage
    from mlflow_sagemaker_constructs.tracking_server.service import SecureMlflowService as SecureMlflowService
    from mlflow_sagemaker_constructs.tracking_server.sts_access import StsAccess as StsAccess

try:
    __version__ = version("mlflow-sagemaker-constructs")
except PackageNotFoundError:  # pragma: no cover - only when imported from a source tree that is not installed
    __version__ = "0.0.0"

# Public name -> module that defines it.
_EXPORTS = {
    "DEFAULT_AURORA_POSTGRES_VERSION": "tracking_server.database",
    "SecureMlflowService": "tracking_server.service",
    "IMlflowTrackingServer": "tracking_server.interface",
    "TrackingDatabase": "tracking_server.database",
    "DatabaseEngine": "tracking_server.database",
    "ExistingDatabase": "tracking_server.database",
    "ArtifactAccess": "tracking_server.artifacts",
    "ArtifactStore": "tracking_server.artifacts",
    "AccessLogs": "tracking_server.access_logs",
    "ServerAccess": "tracking_server.access",
    "FargateCapacity": "tracking_server.capacity",
    "Listener": "tracking_server.listener",
    "DefaultPermission": "tracking_server.authentication",
    "MlflowAuthentication": "tracking_server.authentication",
    "PrincipalMapping": "tracking_server.principal_mapping",
    "StsAccess": "tracking_server.sts_access",
    "ServerImage": "tracking_server.server_image",
    "EdgeAuthorization": "http_api.private_http_api",
    "PrivateHttpApi": "http_api.private_http_api",
    "AppNetworkAccess": "studio.domain",
    "StudioDomainOrUser": "studio.domain",
    "MlflowTrainingConfig": "studio.training",
    "MlflowModelEndpoint": "serving.endpoint",
    "ServingImage": "serving.serving_image",
    "DataCapture": "serving.variant",
    "Autoscaling": "serving.variant",
    "EndpointVariant": "serving.variant",
    "MetricOverrides": "monitoring.metrics",
    "MlflowMonitoring": "monitoring.monitoring",
    "MlflowAlarms": "monitoring.alarms",
    "AlarmSettings": "monitoring.alarms",
}

__all__ = ["MLFLOW_VERSION", "__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
