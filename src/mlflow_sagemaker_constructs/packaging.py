"""``mlflow-sagemaker-package``: turn a model of an MLflow tracking server into SageMaker model data.

SageMaker hosting downloads one gzip-compressed tar archive (``ModelDataUrl``) and extracts it into
``/opt/ml/model``. MLflow's pyfunc scoring server (and the bundled serving image of
:class:`~mlflow_sagemaker_constructs.MlflowModelEndpoint`) expects the MLflow model directory there,
with ``MLmodel`` at its root. This command:

1. downloads the model with MLflow's own client (``mlflow.artifacts.download_artifacts``), from the
   tracking server named by ``--tracking-uri`` or ``MLFLOW_TRACKING_URI`` (authentication plugins
   such as this library's ``aws-sigv4`` apply as usual);
2. checks it is an MLflow model with the ``python_function`` flavour, and warns (on stderr) about
   requirements of the model that the bundled serving image does not satisfy;
3. writes ``model.tar.gz`` reproducibly (sorted entries, zero timestamps and owners, normalised
   modes), so the same model always gives the same bytes;
4. uploads it to S3 under a content-addressed key and prints the ``s3://`` URI, the only line on
   stdout, to pass as ``model_data_url``. A new model therefore always gets a new URI, which is what
   makes CloudFormation roll the endpoint to it.

Usage::

    mlflow-sagemaker-package models:/churn/3 --s3-uri s3://my-bucket/sagemaker-models/
    mlflow-sagemaker-package models:/churn@champion --s3-uri s3://my-bucket/models/churn.tar.gz
    mlflow-sagemaker-package runs:/<run_id>/model --output ./model.tar.gz

Needs the ``client`` extra (``pip install "mlflow-sagemaker-constructs[client]"``) for MLflow and boto3.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.models import Model

PROG = "mlflow-sagemaker-package"
ARCHIVE_NAME = "model.tar.gz"
MLMODEL_FILE = "MLmodel"
PYFUNC_FLAVOR = "python_function"
REGISTERED_MODEL_META_FILE = "registered_model_meta"

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2

_S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<key>.*))?$")
_MODELS_VERSION = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)/?$")
_MODELS_ALIAS = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/]+)/?$")
_MODELS_STAGE = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<stage>[^/]+)/?$")
_MODELS_ID = re.compile(r"^models:/(?P<model_id>m-[0-9a-f]+)/?$")
_RUNS = re.compile(r"^runs:/(?P<run_id>[^/]+)/(?P<path>.+?)/?$")
_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9._/-]+")
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class PackagingError(Exception):
    """A failure whose message is meant for the person running the command."""


@dataclass(frozen=True)
class S3Location:
    """Where the archive goes: a bucket and either an exact key or a prefix ending in ``/``."""

    bucket: str
    key_or_prefix: str

    @property
    def is_prefix(self) -> bool:
        return not self.key_or_prefix.endswith(".tar.gz")

    def key_for(self, slug: str, digest: str) -> str:
        """The object key: the given key, or ``<prefix><slug>/<digest[:16]>/model.tar.gz``."""
        if not self.is_prefix:
            return self.key_or_prefix
        return f"{self.key_or_prefix}{slug}/{digest[:16]}/{ARCHIVE_NAME}"


@dataclass(frozen=True)
class PackagedModel:
    """The result of :func:`package_model`."""

    model_uri: str
    description: str
    model_dir: Path
    archive: Path
    sha256: str
    slug: str


def parse_s3_uri(value: str) -> S3Location:
    """Parse ``--s3-uri``: ``s3://bucket/prefix/`` (a prefix) or ``s3://bucket/key.tar.gz`` (exact key)."""
    match = _S3_URI.match(value)
    if match is None:
        raise PackagingError(
            f"--s3-uri ({value!r}) is not an S3 URI: use s3://bucket/prefix/ or s3://bucket/path/model.tar.gz"
        )
    key = match.group("key") or ""
    if key.startswith("/") or "//" in key:
        raise PackagingError(f"--s3-uri ({value!r}) has an empty path segment: remove the doubled '/'")
    if key and not key.endswith((".tar.gz", "/")):
        key += "/"
    return S3Location(bucket=match.group("bucket"), key_or_prefix=key)


def check_model_uri(model_uri: str) -> None:
    """Accept the model URI forms this command documents; anything else is a usage error."""
    if not any(
        pattern.match(model_uri) for pattern in (_MODELS_VERSION, _MODELS_ALIAS, _MODELS_STAGE, _MODELS_ID, _RUNS)
    ):
        raise PackagingError(
            f"MODEL_URI ({model_uri!r}) is not a registered or logged model: use models:/<name>/<version>, "
            "models:/<name>@<alias> or runs:/<run_id>/<artifact_path>"
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
    """Identify ``model_uri``; an alias is resolved to its current version through the registry."""
    if match := _MODELS_VERSION.match(model_uri):
        name, version = match.group("name"), match.group("version")
        return ModelIdentity(f"registered model {name!r} version {version}", _slug(f"{name}/v{version}"), name, version)
    if match := _MODELS_ALIAS.match(model_uri):
        from mlflow import MlflowClient

        name, alias = match.group("name"), match.group("alias")
        version = str(MlflowClient().get_model_version_by_alias(name, alias).version)
        return ModelIdentity(
            f"registered model {name!r} version {version} (alias {alias!r})",
            _slug(f"{name}/v{version}"),
            name,
            version,
        )
    if match := _MODELS_ID.match(model_uri):
        model_id = match.group("model_id")
        return ModelIdentity(f"logged model {model_id}", _slug(f"logged-models/{model_id}"))
    if match := _MODELS_STAGE.match(model_uri):
        name, stage = match.group("name"), match.group("stage")
        return ModelIdentity(f"registered model {name!r} at {stage!r}", _slug(f"{name}/{stage}"))
    if match := _RUNS.match(model_uri):
        run_id, path = match.group("run_id"), match.group("path")
        return ModelIdentity(f"model {path!r} of run {run_id}", _slug(f"runs/{run_id}/{path}"))
    raise PackagingError(f"MODEL_URI ({model_uri!r}) is not supported")  # pragma: no cover - checked before


def _normalise_registry_metadata(model_dir: Path, identity: ModelIdentity) -> None:
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


def load_pyfunc_metadata(model_dir: Path) -> Model:
    """The model's ``MLmodel`` metadata; fails unless it is at the root and has the pyfunc flavour."""
    from mlflow.models import Model

    if not (model_dir / MLMODEL_FILE).is_file():
        found = sorted(p.name for p in model_dir.iterdir())[:10]
        raise PackagingError(
            f"the artifacts at the model URI have no {MLMODEL_FILE} file at their root (found {found}): "
            "point MODEL_URI at the model itself, e.g. runs:/<run_id>/model rather than the run's root"
        )
    metadata = Model.load(str(model_dir / MLMODEL_FILE))
    if PYFUNC_FLAVOR not in metadata.flavors:
        raise PackagingError(
            f"the model has no {PYFUNC_FLAVOR} flavour (flavours: {sorted(metadata.flavors)}): SageMaker "
            "serving through MLflow's scoring server needs a pyfunc-compatible model"
        )
    return metadata


def _iter_entries(model_dir: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(model_dir, followlinks=False):
        dirs.sort()
        for name in [*dirs, *sorted(files)]:
            yield Path(root) / name


def write_archive(model_dir: Path, archive: Path) -> str:
    """Write the contents of ``model_dir`` (not the directory itself) to ``archive``; return its sha256.

    The archive is reproducible: entries sorted, timestamps, owners and the gzip header zeroed, and
    modes normalised to 0644 (0755 for directories and executables), so SageMaker's extraction gives any
    user of the serving container read access. Symbolic links are refused.
    """
    with (
        archive.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in _iter_entries(model_dir):
            relative = path.relative_to(model_dir).as_posix()
            if path.is_symlink():
                raise PackagingError(f"the model contains a symbolic link ({relative}): copy the file instead")
            info = tarfile.TarInfo(relative)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if path.is_dir():
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
                continue
            info.size = path.stat().st_size
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            with path.open("rb") as handle:
                tar.addfile(info, handle)
    digest = hashlib.sha256()
    with archive.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _image_requirements() -> dict[str, str]:
    """Package name (normalised) -> pinned version of the bundled serving image."""
    from mlflow_sagemaker_constructs.serving.image import SERVING_REQUIREMENTS

    pins: dict[str, str] = {}
    for line in SERVING_REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, _, rest = line.partition("==")
            pins[_normalise(name)] = rest.split()[0].rstrip("\\").strip()
    return pins


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def image_requirement_warnings(model_dir: Path) -> list[str]:
    """What the model's ``requirements.txt`` asks for that the bundled serving image does not provide."""
    requirements_file = model_dir / "requirements.txt"
    if not requirements_file.is_file():
        return []
    from packaging.requirements import InvalidRequirement, Requirement

    pins = _image_requirements()
    warnings: list[str] = []
    for raw in requirements_file.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            warnings.append(f"cannot check requirement {line!r} against the bundled serving image")
            continue
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        name = _normalise(requirement.name)
        if name == "mlflow":
            name = "mlflow-skinny"
        pinned = pins.get(name)
        if pinned is None:
            warnings.append(
                f"the model requires {line!r}, which the bundled serving image does not ship: "
                "serve it with a custom image (image_asset or image_repository)"
            )
        elif requirement.specifier and not requirement.specifier.contains(pinned, prereleases=True):
            warnings.append(f"the model requires {line!r}; the bundled serving image has {name}=={pinned}")
    return warnings


def package_model(model_uri: str, work_dir: Path) -> PackagedModel:
    """Download ``model_uri`` into ``work_dir``, check it and write ``work_dir/model.tar.gz``.

    The tracking server and model registry are MLflow's current ones (``mlflow.set_tracking_uri``,
    ``MLFLOW_TRACKING_URI``, ``MLFLOW_REGISTRY_URI``).
    """
    import mlflow.artifacts

    check_model_uri(model_uri)
    identity = describe_model(model_uri)
    download_dir = work_dir / "download"
    download_dir.mkdir()
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(download_dir)))
    if not local.is_dir():
        raise PackagingError(f"MODEL_URI ({model_uri!r}) names a single file, not an MLflow model directory")
    load_pyfunc_metadata(local)
    _normalise_registry_metadata(local, identity)
    archive = work_dir / ARCHIVE_NAME
    digest = write_archive(local, archive)
    return PackagedModel(
        model_uri=model_uri,
        description=identity.description,
        model_dir=local,
        archive=archive,
        sha256=digest,
        slug=identity.slug,
    )


def upload(packaged: PackagedModel, location: S3Location, sse_kms_key_id: str | None = None) -> str:
    """Upload the archive to ``location``; return its ``s3://`` URI."""
    import boto3

    key = location.key_for(packaged.slug, packaged.sha256)
    extra_args: dict[str, str] = {"ContentType": "application/gzip"}
    if sse_kms_key_id:
        extra_args.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=sse_kms_key_id)
    boto3.client("s3").upload_file(str(packaged.archive), location.bucket, key, ExtraArgs=extra_args)
    return f"s3://{location.bucket}/{key}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Package an MLflow model (registered version, alias or run artifact) as the model.tar.gz "
            "SageMaker hosting expects, upload it to S3 and print its s3:// URI for MlflowModelEndpoint's "
            "model_data_url."
        ),
    )
    parser.add_argument(
        "model_uri",
        metavar="MODEL_URI",
        help="models:/<name>/<version>, models:/<name>@<alias> or runs:/<run_id>/<artifact_path>",
    )
    parser.add_argument(
        "--s3-uri",
        help=(
            "destination: a prefix (s3://bucket/prefix/; the key then ends in "
            "<name>/v<version>/<sha256>/model.tar.gz) or an exact key ending in .tar.gz"
        ),
    )
    parser.add_argument("--output", type=Path, help="also (or only) write the archive to this local file")
    parser.add_argument("--tracking-uri", help="MLflow tracking server (default: MLFLOW_TRACKING_URI)")
    parser.add_argument(
        "--registry-uri", help="MLflow model registry (default: MLFLOW_REGISTRY_URI or the tracking URI)"
    )
    parser.add_argument("--sse-kms-key-id", help="encrypt the uploaded object with this KMS key (SSE-KMS)")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail instead of warning when the model needs packages the bundled serving image does not have",
    )
    return parser


def _log(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the process exit status (0 on success)."""
    args = build_parser().parse_args(argv)
    if not args.s3_uri and not args.output:
        _log("error: give --s3-uri (upload) or --output (local file), or both")
        return EXIT_USAGE
    try:
        check_model_uri(args.model_uri)
        location = parse_s3_uri(args.s3_uri) if args.s3_uri else None
    except PackagingError as error:
        _log(f"error: {error}")
        return EXIT_USAGE
    try:
        import boto3  # noqa: F401 - fail early, before downloading, when the client extra is missing
        import mlflow
    except ImportError as error:
        _log(f'error: {error.name} is not installed: pip install "mlflow-sagemaker-constructs[client]"')
        return EXIT_ERROR
    # Like MLflow's own CLI: the options set MLflow's current URIs; the registry follows the tracking
    # server unless MLFLOW_REGISTRY_URI or --registry-uri says otherwise.
    if args.tracking_uri:
        mlflow.set_tracking_uri(args.tracking_uri)
    registry_uri = args.registry_uri or os.environ.get("MLFLOW_REGISTRY_URI") or args.tracking_uri
    if registry_uri:
        mlflow.set_registry_uri(registry_uri)
    with tempfile.TemporaryDirectory(prefix="mlflow-sagemaker-package-") as tmp:
        try:
            packaged = package_model(args.model_uri, Path(tmp))
            size = packaged.archive.stat().st_size
            _log(f"packaged {packaged.description}: {size} bytes, sha256 {packaged.sha256}")
            warnings = image_requirement_warnings(packaged.model_dir)
            for warning in warnings:
                _log(f"warning: {warning}")
            if warnings and args.strict:
                raise PackagingError("--strict: the bundled serving image lacks some of the model's requirements")
            if args.output:
                args.output.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(packaged.archive, args.output)
                _log(f"wrote {args.output}")
            if location is not None:
                uri = upload(packaged, location, args.sse_kms_key_id)
                _log(f"uploaded to {uri}")
                print(uri, flush=True)
        except PackagingError as error:
            _log(f"error: {error}")
            return EXIT_ERROR
        except Exception as error:  # MLflow and boto3 errors: one line, not a traceback
            _log(f"error: {type(error).__name__}: {error}")
            return EXIT_ERROR
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())


__all__ = [
    "ModelIdentity",
    "PackagedModel",
    "PackagingError",
    "S3Location",
    "build_parser",
    "describe_model",
    "image_requirement_warnings",
    "main",
    "package_model",
    "parse_s3_uri",
    "upload",
    "write_archive",
]
