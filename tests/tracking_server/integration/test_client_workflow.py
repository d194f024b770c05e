"""A data scientist's workflow against the production-like server: runs, params, metrics, artifacts,
a scikit-learn model logged, registered, loaded back and predicting the same values."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pytest

from tests.harness.services import S3Server
from tests.tracking_server.integration.conftest import MlflowServer

if TYPE_CHECKING:
    from mlflow import MlflowClient

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]


def test_experiment_run_model_registry_round_trip(
    main_server: MlflowServer,
    s3: S3Server,
    use_server: Callable[[str, tuple[str, str] | None], MlflowClient],
) -> None:
    import mlflow
    import mlflow.sklearn
    from sklearn.datasets import load_diabetes  # type: ignore[import-untyped]
    from sklearn.linear_model import Ridge  # type: ignore[import-untyped]

    client = use_server(main_server.url, main_server.admin_auth)
    features, target = load_diabetes(return_X_y=True)
    model = Ridge(alpha=0.5).fit(features, target)
    expected = model.predict(features[:10])
    suffix = secrets.token_hex(3)

    experiment_id = mlflow.create_experiment(f"diabetes-{suffix}")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_params({"alpha": 0.5, "dataset": "diabetes"})
        for step in range(5):
            mlflow.log_metric("mse", float(100 - step), step=step)
        mlflow.log_text("trained on the diabetes dataset\n", "notes/readme.txt")
        logged = mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=f"diabetes-ridge-{suffix}",
            input_example=features[:2],
            pip_requirements=["scikit-learn"],  # no dependency inference subprocess
        )

    fetched = client.get_run(run.info.run_id)
    assert fetched.data.params == {"alpha": "0.5", "dataset": "diabetes"}
    assert [m.value for m in client.get_metric_history(run.info.run_id, "mse")] == [100, 99, 98, 97, 96]
    assert mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/notes/readme.txt").startswith("trained")

    version = client.get_model_version(f"diabetes-ridge-{suffix}", "1")
    assert version.run_id == run.info.run_id
    loaded = mlflow.sklearn.load_model(f"models:/diabetes-ridge-{suffix}/1")
    np.testing.assert_allclose(loaded.predict(features[:10]), expected)
    pyfunc = mlflow.pyfunc.load_model(logged.model_uri)
    np.testing.assert_allclose(np.asarray(pyfunc.predict(features[:10])), expected)

    # Proxied artifacts: the files are in the server's bucket, under the experiment's prefix.
    listing = s3.boto3_client().list_objects_v2(Bucket=main_server.bucket, Prefix=f"mlflow/{experiment_id}/")
    keys = [item["Key"] for item in listing.get("Contents", [])]
    assert any(key.endswith("notes/readme.txt") for key in keys), keys
    assert any(key.endswith("MLmodel") for key in keys), keys
