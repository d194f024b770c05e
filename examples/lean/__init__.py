"""Example CDK apps of mlflow-sagemaker-constructs."""
