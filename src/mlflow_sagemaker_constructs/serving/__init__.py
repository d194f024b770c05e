"""MLflow models served by SageMaker endpoints: the endpoint construct and the serving image (``image/``)."""
