"""MLflow request-auth plugins (entry point group ``mlflow.request_auth_provider``).

One module per plugin: :mod:`.iam_token` authenticates to the MLflow server as the caller's IAM principal,
and signs for an IAM-authorized HTTP API in front of it (``MLFLOW_TRACKING_AUTH=aws-iam``); :mod:`.sigv4`
only signs requests with AWS Signature Version 4 for an IAM-authorized API Gateway HTTP API
(``MLFLOW_TRACKING_AUTH=aws-sigv4``), for servers that authenticate otherwise. A plugin module imports
only what MLflow and its own requests need: MLflow imports every installed plugin at its first request.
"""
