"""What a team that ran one of the AWS samples has in its MLflow, and a comparable view of it.

Runs in two places with different MLflow versions, so it imports nothing but MLflow and the standard
library, and uses only client calls that MLflow 2.6, 2.14 and 3.x all have:

* as a script in a throwaway venv with the old MLflow (``python sample_data.py TRACKING_URI BUCKET OUT``):
  seeds a server that runs like the samples' (``mlflow server --default-artifact-root s3://BUCKET``, so
  clients write artifacts to S3 themselves), checks that the server returns what was written, and writes
  :func:`snapshot` of it to OUT as JSON: the expected values of the upgrade tests;
* imported by the upgrade tests with the current MLflow: :func:`snapshot` of the upgraded server must
  equal the one the old MLflow recorded.

The data: a training experiment (default artifact location ``s3://BUCKET/<id>``) with finished, failed
and deleted runs, an experiment with a custom artifact location on the bucket, a deleted experiment, a run
in the Default experiment; params, tags, notes, metrics with several steps and a NaN, a dataset input,
artifacts on S3; a registered model with descriptions, tags, three versions in stages, aliases, version tags
and a deleted fourth version, and a second registered model.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag, ViewType

TRAINING_EXPERIMENT = "churn-training"
CUSTOM_LOCATION_EXPERIMENT = "churn-custom-location"
DELETED_EXPERIMENT = "abandoned-experiment"
MODEL = "churn-classifier"
SECOND_MODEL = "churn-features"
#: The roles of the runs :func:`seed` creates (keys of the ids it returns).
RUNS = ("baseline", "tuned", "failed", "deleted", "custom_run", "default_run", "abandoned_run")
#: Metric timestamps are fixed so that the histories are exact values, not "about now".
T0 = 1_700_000_000_000

BASELINE_PARAMS = {"n_estimators": "100", "max_depth": "5", "criterion": "gini"}
BASELINE_LOSS = [0.69, 0.52, 0.41, 0.35, 0.33]
BASELINE_ACCURACY = [0.61, 0.72, 0.80, 0.84, 0.85]
TUNED_PARAMS = {"n_estimators": "300", "max_depth": "8", "criterion": "entropy"}
TUNED_LOSS = [0.66, 0.45, 0.31, 0.27, 0.25, 0.24]
ARTIFACTS = {
    "model/MLmodel": "artifact_path: model\nflavors:\n  python_function:\n    loader_module: sample\n",
    "model/weights.txt": "0.12 0.55 -0.31\n",
    "reports/summary.txt": "baseline random forest, 5 epochs\n",
}


def _write_files(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _log_metrics(client: MlflowClient, run_id: str, key: str, values: list[float], offset: int = 0) -> None:
    metrics = [Metric(key, value, T0 + offset + step * 1000, step) for step, value in enumerate(values)]
    client.log_batch(run_id, metrics=metrics)


def seed(client: MlflowClient, bucket: str) -> dict[str, str]:
    """Write the sample data through ``client``; return the ids the server assigned, by role."""
    ids: dict[str, str] = {}
    training = client.create_experiment(TRAINING_EXPERIMENT, tags={"team": "data-science", "project": "churn"})
    custom = client.create_experiment(
        CUSTOM_LOCATION_EXPERIMENT, artifact_location=f"s3://{bucket}/custom/team-a", tags={"team": "team-a"}
    )
    abandoned = client.create_experiment(DELETED_EXPERIMENT)
    ids.update(training=training, custom=custom, abandoned=abandoned)

    with tempfile.TemporaryDirectory() as tmp:
        files = Path(tmp)
        _write_files(files, ARTIFACTS)

        baseline = client.create_run(training, run_name="baseline", tags={"team": "data-science"}).info.run_id
        client.log_batch(
            baseline,
            params=[Param(k, v) for k, v in BASELINE_PARAMS.items()],
            tags=[RunTag("mlflow.note.content", "Baseline model for the churn project."), RunTag("stage", "dev")],
        )
        _log_metrics(client, baseline, "loss", BASELINE_LOSS)
        _log_metrics(client, baseline, "accuracy", BASELINE_ACCURACY)
        client.log_metric(baseline, "nan_metric", math.nan, timestamp=T0, step=0)
        client.log_inputs(
            baseline,
            [
                DatasetInput(
                    Dataset(
                        name="churn-train",
                        digest="5f1a2b3c",
                        source_type="s3",
                        source=json.dumps({"uri": f"s3://{bucket}/data/churn-train.csv"}),
                        schema=json.dumps({"mlflow_colspec": [{"name": "tenure", "type": "long"}]}),
                        profile=json.dumps({"num_rows": 7043}),
                    ),
                    tags=[InputTag("mlflow.data.context", "training")],
                )
            ],
        )
        client.log_artifacts(baseline, str(files / "model"), "model")
        client.log_artifact(baseline, str(files / "reports" / "summary.txt"), "reports")
        client.set_terminated(baseline, "FINISHED", end_time=T0 + 60_000)

        tuned = client.create_run(training, run_name="tuned").info.run_id
        client.log_batch(tuned, params=[Param(k, v) for k, v in TUNED_PARAMS.items()])
        _log_metrics(client, tuned, "loss", TUNED_LOSS, offset=100_000)
        client.log_metric(tuned, "accuracy", 0.88, timestamp=T0 + 200_000, step=5)
        client.log_artifacts(tuned, str(files / "model"), "model")
        client.set_terminated(tuned, "FINISHED", end_time=T0 + 300_000)

        failed = client.create_run(training, run_name="out-of-memory").info.run_id
        client.log_param(failed, "n_estimators", "5000")
        client.set_terminated(failed, "FAILED", end_time=T0 + 400_000)

        deleted = client.create_run(training, run_name="typo-in-params").info.run_id
        client.log_param(deleted, "n_estimaters", "100")
        client.set_terminated(deleted, "KILLED", end_time=T0 + 500_000)
        client.delete_run(deleted)

        custom_run = client.create_run(custom, run_name="team-a-run").info.run_id
        client.log_param(custom_run, "features", "tenure,charges")
        _log_metrics(client, custom_run, "rmse", [3.2, 2.9, 2.7])
        client.log_artifact(custom_run, str(files / "reports" / "summary.txt"), "reports")
        client.set_terminated(custom_run, "FINISHED", end_time=T0 + 600_000)

        default_run = client.create_run("0", run_name="quick-check").info.run_id
        client.log_metric(default_run, "score", 1.5, timestamp=T0, step=0)
        client.set_terminated(default_run, "FINISHED", end_time=T0 + 700_000)

        abandoned_run = client.create_run(abandoned, run_name="never-mind").info.run_id
        client.set_terminated(abandoned_run, "FINISHED", end_time=T0 + 800_000)
        client.delete_experiment(abandoned)
        ids.update(
            baseline=baseline,
            tuned=tuned,
            failed=failed,
            deleted=deleted,
            custom_run=custom_run,
            default_run=default_run,
            abandoned_run=abandoned_run,
        )

    baseline_uri = client.get_run(baseline).info.artifact_uri
    tuned_uri = client.get_run(tuned).info.artifact_uri
    client.create_registered_model(MODEL, tags={"owner": "data-science"}, description="Predicts customer churn.")
    v1 = client.create_model_version(MODEL, f"{baseline_uri}/model", run_id=baseline, description="baseline")
    v2 = client.create_model_version(MODEL, f"{tuned_uri}/model", run_id=tuned, tags={"validated": "true"})
    v3 = client.create_model_version(MODEL, f"{tuned_uri}/model", run_id=tuned, description="retrained")
    v4 = client.create_model_version(MODEL, f"{baseline_uri}/model", run_id=baseline)
    client.transition_model_version_stage(MODEL, v1.version, "Archived")
    client.transition_model_version_stage(MODEL, v2.version, "Production")
    client.transition_model_version_stage(MODEL, v3.version, "Staging")
    client.set_model_version_tag(MODEL, v3.version, "reviewer", "alice")
    client.set_registered_model_alias(MODEL, "champion", v2.version)
    client.set_registered_model_alias(MODEL, "challenger", v3.version)
    client.delete_model_version(MODEL, v4.version)
    client.create_registered_model(SECOND_MODEL)
    client.create_model_version(SECOND_MODEL, f"{baseline_uri}/model", run_id=baseline)
    return ids


def _value(value: float) -> float | str:
    return "NaN" if math.isnan(value) else value


def _artifact_files(client: MlflowClient, run_id: str, download_dir: Path, path: str | None = None) -> dict[str, str]:
    files: dict[str, str] = {}
    for info in client.list_artifacts(run_id, path):
        if info.is_dir:
            files.update(_artifact_files(client, run_id, download_dir, info.path))
        else:
            local = client.download_artifacts(run_id, info.path, str(download_dir))
            files[info.path] = Path(local).read_text(encoding="utf-8")
    return files


def snapshot(client: MlflowClient, *, with_artifacts: bool = True) -> dict[str, Any]:
    """Everything the sample data consists of, as the server returns it, in JSON-comparable form.

    Artifacts are listed and downloaded through ``client`` (for ``s3://`` run artifact URIs the client goes
    to S3 itself). NaN values become the string ``"NaN"``.
    """
    experiments: dict[str, Any] = {}
    runs: dict[str, Any] = {}
    for experiment in client.search_experiments(view_type=ViewType.ALL):
        experiments[experiment.name] = {
            "experiment_id": experiment.experiment_id,
            "artifact_location": experiment.artifact_location,
            "lifecycle_stage": experiment.lifecycle_stage,
            "tags": dict(experiment.tags),
            "creation_time": experiment.creation_time,
        }
        for run in client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL, max_results=1000):
            run_id = run.info.run_id
            with tempfile.TemporaryDirectory() as tmp:
                artifacts = _artifact_files(client, run_id, Path(tmp)) if with_artifacts else {}
            runs[run_id] = {
                "experiment_id": run.info.experiment_id,
                "run_name": run.info.run_name,
                "status": run.info.status,
                "start_time": run.info.start_time,
                "end_time": run.info.end_time,
                "lifecycle_stage": run.info.lifecycle_stage,
                "artifact_uri": run.info.artifact_uri,
                "params": dict(run.data.params),
                "tags": dict(run.data.tags),
                "latest_metrics": {key: _value(value) for key, value in run.data.metrics.items()},
                "metric_history": {
                    key: sorted(
                        [metric.step, metric.timestamp, _value(metric.value)]
                        for metric in client.get_metric_history(run_id, key)
                    )
                    for key in run.data.metrics
                },
                "inputs": sorted(
                    (
                        {
                            "name": item.dataset.name,
                            "digest": item.dataset.digest,
                            "source_type": item.dataset.source_type,
                            "source": item.dataset.source,
                            "schema": item.dataset.schema,
                            "profile": item.dataset.profile,
                            "tags": {tag.key: tag.value for tag in item.tags},
                        }
                        for item in (run.inputs.dataset_inputs if run.inputs else [])
                    ),
                    key=lambda entry: str(entry["name"]),
                ),
                "artifacts": artifacts,
            }
    models: dict[str, Any] = {}
    for model in client.search_registered_models():
        full = client.get_registered_model(model.name)
        versions: dict[str, Any] = {}
        for found in client.search_model_versions(f"name='{model.name}'"):
            version = client.get_model_version(model.name, found.version)
            versions[str(version.version)] = {
                "source": version.source,
                "run_id": version.run_id,
                "current_stage": version.current_stage,
                "status": version.status,
                "description": version.description or "",
                "tags": dict(version.tags),
                "aliases": sorted(version.aliases),
                "creation_timestamp": version.creation_timestamp,
            }
        models[model.name] = {
            "description": full.description or "",
            "tags": dict(full.tags),
            "aliases": {alias: str(version) for alias, version in full.aliases.items()},
            "creation_timestamp": full.creation_timestamp,
            "versions": versions,
        }
    return {"experiments": experiments, "runs": runs, "registered_models": models}


def check_seeded(view: dict[str, Any], ids: dict[str, str], bucket: str) -> None:
    """What the old server returns is what :func:`seed` wrote (so the recorded snapshot is the truth)."""
    experiments = view["experiments"]
    assert experiments[TRAINING_EXPERIMENT]["artifact_location"] == f"s3://{bucket}/{ids['training']}"
    assert experiments[CUSTOM_LOCATION_EXPERIMENT]["artifact_location"] == f"s3://{bucket}/custom/team-a"
    assert experiments[DELETED_EXPERIMENT]["lifecycle_stage"] == "deleted"
    baseline = view["runs"][ids["baseline"]]
    assert baseline["params"] == BASELINE_PARAMS
    assert [value for _, _, value in baseline["metric_history"]["loss"]] == BASELINE_LOSS
    assert baseline["latest_metrics"]["nan_metric"] == "NaN"
    assert baseline["artifacts"] == ARTIFACTS
    assert view["runs"][ids["deleted"]]["lifecycle_stage"] == "deleted"
    model = view["registered_models"][MODEL]
    assert sorted(model["versions"]) == ["1", "2", "3"], model["versions"]
    assert model["aliases"] == {"champion": "2", "challenger": "3"}
    assert [model["versions"][v]["current_stage"] for v in ("1", "2", "3")] == ["Archived", "Production", "Staging"]


def main(argv: list[str]) -> int:
    tracking_uri, bucket, out = argv
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    ids = seed(client, bucket)
    view = snapshot(client)
    check_seeded(view, ids, bucket)
    Path(out).write_text(
        json.dumps({"mlflow_version": mlflow.__version__, "ids": ids, "view": view}, indent=1, sort_keys=True),
        encoding="utf-8",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
