"""Client-side helpers for MLflow users of the constructs (install with the ``client`` extra).

:class:`SigV4RequestAuthProvider` is registered as the MLflow request auth plugin ``aws-sigv4``:
set ``MLFLOW_TRACKING_AUTH=aws-sigv4`` to sign every MLflow request with the caller's AWS credentials.
"""

from mlflow_sagemaker_constructs.client.sigv4_auth import (
    AwsSigV4Auth,
    SigV4AuthError,
    SigV4RequestAuthProvider,
)

__all__ = ["AwsSigV4Auth", "SigV4AuthError", "SigV4RequestAuthProvider"]
