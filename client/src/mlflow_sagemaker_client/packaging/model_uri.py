"""The model URIs the command accepts, and what each one names (looked up on the tracking server)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlflow_sagemaker_client.packaging.errors import EXIT_USAGE, PackagingError

_MODELS_VERSION = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)/?$")
_MODELS_ALIAS = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/]+)/?$")
_MODELS_STAGE = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<stage>[^/]+)/?$")
_MODELS_ID = re.compile(r"^models:/(?P<model_id>m-[0-9a-f]+)/?$")
_RUNS = re.compile(r"^runs:/(?P<run_id>[^/]+)/(?P<path>.+?)/?$")
_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9._/-]+")

#: For messages and ``--help``.
MODEL_URI_FORMS = "models:/<name>/<version>, models:/<name>@<alias> or runs:/<run_id>/<artifact_path>"


def check_model_uri(model_uri: str) -> None:
    """Accept the model URI forms this command documents; anything else is a usage error."""
    if not any(
        pattern.match(model_uri) for pattern in (_MODELS_VERSION, _MODELS_ALIAS, _MODELS_STAGE, _MODELS_ID, _RUNS)
    ):
        raise PackagingError(
            f"MODEL_URI ({model_uri!r}) is not a registered or logged model: use {MODEL_URI_FORMS}", EXIT_USAGE
        )


def _slug(text: str) -> str:
    return _UNSAFE_KEY_CHARS.sub("-", text).strip("-/") or "model"


@dataclass(frozen=True)
class ModelIdentity:
    """What a model URI names: a description for people, a key-safe slug, and the registry version if any."""

    description: str
    slug: str
    registered_name: str | None = None
    registered_version: str | None = None


def describe_model(model_uri: str) -> ModelIdentity:
    """Identify ``model_uri`` and check with the tracking server or registry that it exists.

    This is the command's first request to the server: an alias resolves to its current version, a
    version, logged model or run is fetched. MLflow's exceptions propagate (see ``tracking.py``).
    """
    from mlflow import MlflowClient

    client = MlflowClient()
    if match := _MODELS_VERSION.match(model_uri):
        name, version = match.group("name"), match.group("version")
        client.get_model_version(name, version)
        return ModelIdentity(f"registered model {name!r} version {version}", _slug(f"{name}/v{version}"), name, version)
    if match := _MODELS_ALIAS.match(model_uri):
        name, alias = match.group("name"), match.group("alias")
        version = str(client.get_model_version_by_alias(name, alias).version)
        return ModelIdentity(
            f"registered model {name!r} version {version} (alias {alias!r})",
            _slug(f"{name}/v{version}"),
            name,
            version,
        )
    if match := _MODELS_ID.match(model_uri):
        model_id = match.group("model_id")
        client.get_logged_model(model_id)
        return ModelIdentity(f"logged model {model_id}", _slug(f"logged-models/{model_id}"))
    if match := _MODELS_STAGE.match(model_uri):
        name, stage = match.group("name"), match.group("stage")
        client.get_registered_model(name)
        return ModelIdentity(f"registered model {name!r} at {stage!r}", _slug(f"{name}/{stage}"))
    if match := _RUNS.match(model_uri):
        run_id, path = match.group("run_id"), match.group("path")
        client.get_run(run_id)
        return ModelIdentity(f"model {path!r} of run {run_id}", _slug(f"runs/{run_id}/{path}"))
    raise PackagingError(f"MODEL_URI ({model_uri!r}) is not supported", EXIT_USAGE)  # pragma: no cover


__all__ = ["MODEL_URI_FORMS", "ModelIdentity", "check_model_uri", "describe_model"]
