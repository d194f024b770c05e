"""``mlflow-sagemaker-package``: the command line, its messages and its exit statuses."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from mlflow_sagemaker_client.packaging.archive import ARCHIVE_NAME, write_archive
from mlflow_sagemaker_client.packaging.errors import (
    EXIT_ERROR,
    EXIT_MODEL,
    EXIT_OK,
    EXIT_STATUS_HELP,
    EXIT_USAGE,
    PackagingError,
)
from mlflow_sagemaker_client.packaging.model_files import (
    ArtifactListing,
    download_model,
    list_model_files,
    load_pyfunc_metadata,
    normalise_registry_metadata,
)
from mlflow_sagemaker_client.packaging.model_uri import MODEL_URI_FORMS, check_model_uri, describe_model
from mlflow_sagemaker_client.packaging.output_file import check_writable, write_output
from mlflow_sagemaker_client.packaging.progress import shows_progress
from mlflow_sagemaker_client.packaging.s3 import S3Location, check_write_access, parse_s3_uri, upload
from mlflow_sagemaker_client.packaging.serving_image import image_requirement_warnings
from mlflow_sagemaker_client.packaging.tracking import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT_SECONDS,
    TrackingTarget,
    explain,
    http_settings,
    resolve_target,
    worst_case_seconds,
)

PROG = "mlflow-sagemaker-package"
INSTALL_HINT = "pip install mlflow-sagemaker-client"


class _Messages:
    """Progress and warnings on stderr (one line each, prefixed with the command); stdout stays for the URI."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def info(self, message: str) -> None:
        if not self.quiet:
            print(f"{PROG}: {message}", file=sys.stderr, flush=True)

    def warning(self, message: str) -> None:
        print(f"{PROG}: warning: {message}", file=sys.stderr, flush=True)

    def error(self, message: str) -> None:
        print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value!r} is negative")
    return number


def _epilog() -> str:
    worst = worst_case_seconds(DEFAULT_TIMEOUT_SECONDS, DEFAULT_RETRIES)
    statuses = "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_STATUS_HELP.items())
    return (
        "Before downloading, the command checks that the tracking server answers and has the model, that the "
        "--output file can be written and (with --s3-uri) that the AWS credentials may write to the S3 "
        "destination. Every request to the tracking server gives up after --retries retries of at most "
        f"--timeout seconds each (with the defaults: {worst:.0f} s). Progress bars are drawn on a terminal "
        "only; --quiet keeps stderr to warnings and errors.\n\n"
        f"exit status:\n{statuses}\n\n"
        "examples:\n"
        f"  {PROG} models:/churn/3 --s3-uri s3://my-bucket/sagemaker-models/\n"
        f"  {PROG} models:/churn@champion --s3-uri s3://my-bucket/models/churn.tar.gz\n"
        f"  {PROG} runs:/<run_id>/model --output ./model.tar.gz"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Package an MLflow model (registered version, alias or run artifact) as the model.tar.gz "
            "SageMaker hosting expects, upload it to S3 and print its s3:// URI (the only line on stdout) "
            "for MlflowModelEndpoint's model_data_url."
        ),
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model_uri", metavar="MODEL_URI", help=MODEL_URI_FORMS)
    parser.add_argument(
        "--s3-uri",
        help=(
            "destination: a prefix (s3://bucket/prefix/; the key then ends in "
            "<name>/v<version>/<sha256>/model.tar.gz) or an exact key ending in .tar.gz"
        ),
    )
    parser.add_argument("--output", type=Path, help="also (or only) write the archive to this local file")
    parser.add_argument("--tracking-uri", help="MLflow tracking server URL (default: MLFLOW_TRACKING_URI)")
    parser.add_argument(
        "--registry-uri", help="MLflow model registry (default: MLFLOW_REGISTRY_URI or the tracking URI)"
    )
    parser.add_argument("--sse-kms-key-id", help="encrypt the uploaded object with this KMS key (SSE-KMS)")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail instead of warning when the model needs packages the bundled serving image does not have",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_int,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"wait at most this long for each answer of the tracking server (default: {DEFAULT_TIMEOUT_SECONDS})",
    )
    parser.add_argument(
        "--retries",
        type=_positive_int,
        default=DEFAULT_RETRIES,
        metavar="N",
        help=f"retry a failed request to the tracking server this many times (default: {DEFAULT_RETRIES})",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars or progress messages")
    return parser


@contextmanager
def _scoped_environment(values: dict[str, str]) -> Iterator[None]:
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _size(total: int | None) -> str:
    if total is None:
        return "size unknown"
    value = float(total)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{total} bytes"  # pragma: no cover


def _require_client_libraries() -> None:
    try:
        import boto3  # noqa: F401
        import mlflow  # noqa: F401
        import tqdm  # noqa: F401
    except ImportError as error:
        raise PackagingError(f"{error.name} is not installed: {INSTALL_HINT}") from error


def _package(args: argparse.Namespace, messages: _Messages) -> int:
    if not args.s3_uri and not args.output:
        raise PackagingError("give --s3-uri (upload) or --output (local file), or both", EXIT_USAGE)
    if args.timeout == 0:
        raise PackagingError("--timeout must be at least 1 second", EXIT_USAGE)
    check_model_uri(args.model_uri)
    location: S3Location | None = parse_s3_uri(args.s3_uri) if args.s3_uri else None
    target = resolve_target(args.tracking_uri, args.registry_uri)
    _require_client_libraries()
    if args.output:
        check_writable(args.output)
    show_progress = shows_progress(args.quiet)
    if args.quiet:
        logging.getLogger("mlflow").setLevel(logging.ERROR)
    # MLflow's own artifact progress bars are replaced by this command's byte progress bar.
    environment = {**http_settings(args.timeout, args.retries), "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    with _scoped_environment(environment):
        return _package_with_mlflow(args, messages, location, target, show_progress)


def _package_with_mlflow(
    args: argparse.Namespace,
    messages: _Messages,
    location: S3Location | None,
    target: TrackingTarget,
    show_progress: bool,
) -> int:
    import mlflow

    # Like MLflow's own CLI: the command sets MLflow's current tracking and registry URIs.
    mlflow.set_tracking_uri(target.tracking_uri)
    mlflow.set_registry_uri(target.registry_uri)
    model_uri: str = args.model_uri
    worst = worst_case_seconds(args.timeout, args.retries)
    messages.info(f"looking up {model_uri} on {target.tracking_uri} (gives up after {worst:.0f} s)")
    try:
        identity = describe_model(model_uri)
    except PackagingError:
        raise
    except Exception as error:
        raise explain(error, target, f"looking up {model_uri}") from error
    messages.info(f"found {identity.description}")

    if location is not None:
        messages.info(f"checking that s3://{location.bucket}/{location.key_or_prefix} can be written")
        check_write_access(location, identity.slug, args.sse_kms_key_id)

    try:
        listing: ArtifactListing | None = list_model_files(model_uri)
    except Exception as error:
        raise explain(error, target, f"listing the files of {model_uri}") from error
    if listing is not None:
        messages.info(f"downloading {listing.files} files ({_size(listing.total_bytes)})")
    with tempfile.TemporaryDirectory(prefix=f"{PROG}-") as scratch:
        work = Path(scratch)
        try:
            model_dir = download_model(model_uri, work / "download", listing, show_progress)
        except PackagingError:
            raise
        except Exception as error:
            raise explain(error, target, f"downloading {model_uri}") from error
        load_pyfunc_metadata(model_dir)
        normalise_registry_metadata(model_dir, identity)
        archive = work / ARCHIVE_NAME
        digest = write_archive(model_dir, archive)
        messages.info(f"packaged {identity.description}: {archive.stat().st_size} bytes, sha256 {digest}")
        warnings = image_requirement_warnings(model_dir)
        for warning in warnings:
            messages.warning(warning)
        if warnings and args.strict:
            raise PackagingError(
                "--strict: the bundled serving image lacks some of the model's requirements", EXIT_MODEL
            )
        if args.output:
            write_output(archive, args.output)
            messages.info(f"wrote {args.output}")
        if location is not None:
            uri = upload(archive, location, location.key_for(identity.slug, digest), args.sse_kms_key_id, show_progress)
            messages.info(f"uploaded to {uri}")
            print(uri, flush=True)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the process exit status (see ``--help``)."""
    args = build_parser().parse_args(argv)
    messages = _Messages(args.quiet)
    try:
        return _package(args, messages)
    except PackagingError as error:
        messages.error(str(error))
        return error.exit_code
    except KeyboardInterrupt:
        messages.error("interrupted")
        return 130
    except Exception as error:  # MLflow and boto3 errors: one line, not a traceback
        messages.error(f"{type(error).__name__}: {error}")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["PROG", "build_parser", "main"]
