"""The model's files: how big they are, downloading them, and checking they are an MLflow pyfunc model."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow_sagemaker_client.packaging.errors import EXIT_MODEL, PackagingError
from mlflow_sagemaker_client.packaging.model_uri import ModelIdentity
from mlflow_sagemaker_client.packaging.progress import progress_bar, watch_directory

MLMODEL_FILE = "MLmodel"
PYFUNC_FLAVOR = "python_function"
REGISTERED_MODEL_META_FILE = "registered_model_meta"


@dataclass(frozen=True)
class ArtifactListing:
    """How many files the model has and their total size (None when the store does not report sizes)."""

    files: int
    total_bytes: int | None


def list_model_files(model_uri: str) -> ArtifactListing:
    """Walk the model's artifacts through MLflow's artifact repository for ``model_uri``."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    repository = get_artifact_repository(model_uri)
    files = 0
    total: int | None = 0
    pending = [""]
    while pending:
        for info in repository.list_artifacts(pending.pop() or None):
            if info.is_dir:
                pending.append(info.path)
                continue
            files += 1
            total = None if total is None or info.file_size is None else total + int(info.file_size)
    return ArtifactListing(files, total)


def download_model(model_uri: str, destination: Path, listing: ArtifactListing | None, show_progress: bool) -> Path:
    """Download the model's directory into ``destination`` with a byte progress bar; return the directory."""
    import mlflow.artifacts

    destination.mkdir(parents=True, exist_ok=True)
    total = listing.total_bytes if listing is not None else None
    with (
        progress_bar("download", total, show_progress) as progress,
        watch_directory(destination, progress),
    ):
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(destination)))
    if not local.is_dir():
        raise PackagingError(
            f"MODEL_URI ({model_uri!r}) names a single file, not an MLflow model directory", EXIT_MODEL
        )
    return local


def load_pyfunc_metadata(model_dir: Path) -> dict[str, Any]:
    """The model's ``MLmodel`` metadata; fails unless it is at the root and has the pyfunc flavour.

    ``MLmodel`` is read as the YAML file it is, not with ``mlflow.models.Model.load``: that imports numpy
    (and pyfunc paths pandas), about 100 MB a client would install only for this check. The model itself is
    never loaded, so its flavour's libraries (scikit-learn, ...) are not needed either.
    """
    import yaml

    if not (model_dir / MLMODEL_FILE).is_file():
        found = sorted(p.name for p in model_dir.iterdir())[:10]
        raise PackagingError(
            f"the artifacts at the model URI have no {MLMODEL_FILE} file at their root (found {found}): "
            "point MODEL_URI at the model itself, e.g. runs:/<run_id>/model rather than the run's root",
            EXIT_MODEL,
        )
    try:
        metadata = yaml.safe_load((model_dir / MLMODEL_FILE).read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise PackagingError(f"the model's {MLMODEL_FILE} file is not valid YAML: {error}", EXIT_MODEL) from error
    flavors = metadata.get("flavors") if isinstance(metadata, dict) else None
    if not isinstance(flavors, dict):
        raise PackagingError(
            f"the model's {MLMODEL_FILE} file lists no flavours: it is not an MLflow model", EXIT_MODEL
        )
    if PYFUNC_FLAVOR not in flavors:
        raise PackagingError(
            f"the model has no {PYFUNC_FLAVOR} flavour (flavours: {sorted(flavors)}): SageMaker "
            "serving through MLflow's scoring server needs a pyfunc-compatible model",
            EXIT_MODEL,
        )
    return dict(metadata)


def normalise_registry_metadata(model_dir: Path, identity: ModelIdentity) -> None:
    """Rewrite the ``registered_model_meta`` file MLflow's client adds on download.

    MLflow writes the version as a string for ``models:/name/1`` and as a number for an alias; writing
    it one way makes the archive of one model version the same bytes whichever URI named it.
    """
    if identity.registered_name is None or identity.registered_version is None:
        return
    meta = model_dir / REGISTERED_MODEL_META_FILE
    if meta.is_file():
        # JSON strings are YAML strings: the file stays what MLflow reads, with the version quoted.
        meta.write_text(
            f"model_name: {json.dumps(identity.registered_name)}\n"
            f"model_version: {json.dumps(identity.registered_version)}\n",
            encoding="utf-8",
        )


__all__ = [
    "MLMODEL_FILE",
    "PYFUNC_FLAVOR",
    "ArtifactListing",
    "download_model",
    "list_model_files",
    "load_pyfunc_metadata",
    "normalise_registry_metadata",
]
