"""SageMaker training script: trains a model, logs it to MLflow and registers it.

Runs inside a SageMaker scikit-learn container (or anywhere: ``python train.py`` with ``MLFLOW_TRACKING_URI``
set). Follows the seeds' lab with a dataset that ships with scikit-learn (diabetes progression, regression).

Authentication: none in this script. The job's environment (``MlflowTrainingConfig``) sets
``MLFLOW_TRACKING_AUTH=aws-iam``, and ``requirements.txt`` installs the plugin that signs a token with the
job's role: the role is the MLflow user. (With a basic-auth server, ``MlflowTrainingConfig`` passes
``MLFLOW_CREDENTIALS_SECRET_ARN`` instead, and the script would have to fetch the password itself.)
"""

from __future__ import annotations

import argparse
import os

import mlflow
import numpy as np
from mlflow.models import infer_signature
from sklearn.datasets import load_diabetes  # type: ignore[import-untyped]
from sklearn.linear_model import ElasticNet  # type: ignore[import-untyped]
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score  # type: ignore[import-untyped]
from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]
from sklearn.pipeline import make_pipeline  # type: ignore[import-untyped]
from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    # SageMaker passes hyperparameters as command-line arguments.
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--l1-ratio", type=float, default=0.5)
    parser.add_argument("--random-state", type=int, default=42)
    parser.add_argument("--experiment-name", default="diabetes-elasticnet")
    parser.add_argument("--registered-model-name", default="diabetes-elasticnet")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> str:
    """Train, log and register; return the run id."""
    args = parse_args(argv)
    features, target = load_diabetes(return_X_y=True, as_frame=True)
    x_train, x_test, y_train, y_test = train_test_split(features, target, test_size=0.2, random_state=args.random_state)
    mlflow.set_experiment(args.experiment_name)
    with mlflow.start_run(run_name=os.environ.get("TRAINING_JOB_NAME")) as run:
        params = {"alpha": args.alpha, "l1_ratio": args.l1_ratio, "random_state": args.random_state}
        mlflow.log_params(params)
        # A linear model: MLflow's default skops serialization trusts it (tree models need extra opt-ins).
        model = make_pipeline(StandardScaler(), ElasticNet(**params)).fit(x_train, y_train)
        predictions = model.predict(x_test)
        mlflow.log_metrics(
            {
                "rmse": float(np.sqrt(mean_squared_error(y_test, predictions))),
                "mae": float(mean_absolute_error(y_test, predictions)),
                "r2": float(r2_score(y_test, predictions)),
            }
        )
        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(x_test, predictions),
            input_example=x_test.head(3),
            registered_model_name=args.registered_model_name,
        )
        return str(run.info.run_id)


if __name__ == "__main__":
    print(main())
