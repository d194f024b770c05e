"""Start a SageMaker training job that runs ``train.py`` in the MLflow VPC and logs to MLflow.

Reads the ``MlflowTraining`` stack's outputs (subnets, security groups, environment, role), uploads
``train.py`` to S3 and calls ``CreateTrainingJob`` with the SageMaker scikit-learn container.

    python launch.py --bucket my-training-bucket --image-uri <sklearn image URI for your region>

The scikit-learn image URI differs per region; find yours in the SageMaker documentation ("Docker
Registry Paths and Example Code", framework "scikit-learn"). Requires boto3 and AWS credentials.
"""

from __future__ import annotations

import argparse
import io
import json
import tarfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def stack_outputs(stack_name: str) -> dict[str, str]:
    import boto3

    (stack,) = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def source_archive() -> bytes:
    """``sourcedir.tar.gz`` with train.py and the requirements the framework container installs first."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name in ("train.py", "requirements.txt"):
            archive.add(HERE / name, arcname=name)
    return buffer.getvalue()


def training_job_request(
    outputs: dict[str, str], *, job_name: str, image_uri: str, source_s3_uri: str, output_s3_uri: str
) -> dict[str, Any]:
    """The ``CreateTrainingJob`` request for ``train.py`` with the MLflow VPC and environment."""
    return {
        "TrainingJobName": job_name,
        "RoleArn": outputs["TrainingRoleArn"],
        "AlgorithmSpecification": {"TrainingImage": image_uri, "TrainingInputMode": "File"},
        "HyperParameters": {
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(source_s3_uri),
            "alpha": "0.05",
            "l1-ratio": "0.5",
        },
        "Environment": json.loads(outputs["TrainingEnvironment"]),
        "VpcConfig": {
            "Subnets": outputs["TrainingSubnets"].split(","),
            "SecurityGroupIds": outputs["TrainingSecurityGroups"].split(","),
        },
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "OutputDataConfig": {"S3OutputPath": output_s3_uri},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack-name", default="MlflowTraining")
    parser.add_argument("--bucket", required=True, help="bucket for the script and job output (role must read it)")
    parser.add_argument("--image-uri", required=True, help="SageMaker scikit-learn training image of your region")
    args = parser.parse_args()

    import boto3

    job_name = f"mlflow-diabetes-{time.strftime('%Y%m%d-%H%M%S')}"
    key = f"training/{job_name}/sourcedir.tar.gz"
    boto3.client("s3").put_object(Bucket=args.bucket, Key=key, Body=source_archive())
    request = training_job_request(
        stack_outputs(args.stack_name),
        job_name=job_name,
        image_uri=args.image_uri,
        source_s3_uri=f"s3://{args.bucket}/{key}",
        output_s3_uri=f"s3://{args.bucket}/training/output",
    )
    boto3.client("sagemaker").create_training_job(**request)
    print(f"started {job_name}; follow it in SageMaker and the run in MLflow")


if __name__ == "__main__":
    main()
