"""The training_job example: train.py logs and registers a model; launch.py builds the job request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from io import BytesIO
from pathlib import Path

import pytest

from mlflow_sagemaker_constructs import MLFLOW_VERSION, __version__
from tests.harness.app import REPO_ROOT

EXAMPLE = REPO_ROOT / "examples" / "training_job"


@pytest.mark.xdist_group("training-example")
def test_train_script_logs_params_metrics_and_registers_the_model(tmp_path: Path) -> None:
    import mlflow
    from mlflow import MlflowClient

    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "TRAINING_JOB_NAME": "local-job"}
    env.pop("MLFLOW_CREDENTIALS_SECRET_ARN", None)
    result = subprocess.run(
        [sys.executable, str(EXAMPLE / "train.py"), "--alpha", "0.1", "--l1-ratio", "0.3"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run_id = result.stdout.strip().splitlines()[-1]

    client = MlflowClient(tracking_uri=tracking_uri)
    run = client.get_run(run_id)
    assert run.info.run_name == "local-job"
    assert run.data.params["alpha"] == "0.1"
    assert run.data.params["l1_ratio"] == "0.3"
    assert {"rmse", "mae", "r2"} <= set(run.data.metrics)
    assert run.data.metrics["r2"] > 0.2  # a real fit on the diabetes data, not a constant
    (version,) = client.search_model_versions("name='diabetes-elasticnet'")
    assert version.run_id == run_id

    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    with _use_tracking_uri(tracking_uri):  # not mlflow.set_tracking_uri: it would outlive this test
        model = mlflow.pyfunc.load_model(f"models:/diabetes-elasticnet/{version.version}")
    from sklearn.datasets import load_diabetes  # type: ignore[import-untyped]

    features, _ = load_diabetes(return_X_y=True, as_frame=True)
    assert model.predict(features.head(5)).shape == (5,)


def test_launcher_builds_a_vpc_training_job_request_from_the_stack_outputs() -> None:
    from examples.training_job import launch

    outputs = {
        "TrainingRoleArn": "arn:aws:iam::123456789012:role/training",
        "TrainingSubnets": "subnet-0a00000000000001a,subnet-0a00000000000002a",
        "TrainingSecurityGroups": "sg-0123456789abcdef0",
        "TrainingEnvironment": json.dumps(
            {
                "MLFLOW_TRACKING_URI": "http://internal-mlflow.us-east-1.elb.amazonaws.com",
                "MLFLOW_TRACKING_AUTH": "aws-iam",
            }
        ),
    }
    request = launch.training_job_request(
        outputs, job_name="j", image_uri="img", source_s3_uri="s3://b/k.tar.gz", output_s3_uri="s3://b/out"
    )
    assert request["VpcConfig"] == {
        "Subnets": ["subnet-0a00000000000001a", "subnet-0a00000000000002a"],
        "SecurityGroupIds": ["sg-0123456789abcdef0"],
    }
    assert request["Environment"]["MLFLOW_TRACKING_URI"].startswith("http://internal-")
    assert "MLFLOW_TRACKING_PASSWORD" not in request["Environment"]
    assert json.loads(request["HyperParameters"]["sagemaker_program"]) == "train.py"
    with tarfile.open(fileobj=BytesIO(launch.source_archive()), mode="r:gz") as archive:
        assert archive.getnames() == ["train.py", "requirements.txt"]
        requirements = archive.extractfile("requirements.txt")
        assert requirements is not None
        pins = [line for line in requirements.read().decode().splitlines() if line and not line.startswith("#")]
    # The container installs the MLflow the server runs and the client plugin of the same release.
    assert pins == [f"mlflow=={MLFLOW_VERSION}", f"mlflow-sagemaker-client=={__version__}"]
