"""MLflow request-auth plugins (entry point group ``mlflow.request_auth_provider``).

One module per plugin: :mod:`.sigv4` signs requests with AWS Signature Version 4 for an
IAM-authorized API Gateway HTTP API (``MLFLOW_TRACKING_AUTH=aws-sigv4``). A plugin module imports
only what MLflow and its own requests need: MLflow imports every installed plugin at its first request.
"""
