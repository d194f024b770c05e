"""The S3 destination: parsing ``--s3-uri``, checking write access before the download, and the upload.

The access check starts a multipart upload under the destination and aborts it. S3 authorizes
``CreateMultipartUpload`` with ``s3:PutObject`` (and ``kms:GenerateDataKey`` for SSE-KMS), the same
permissions the upload needs, and an aborted upload leaves no object behind. So missing or invalid
credentials, a missing bucket, a denied prefix or an unusable KMS key fail in seconds, before a
possibly large model is downloaded.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow_sagemaker_client.packaging.archive import ARCHIVE_NAME
from mlflow_sagemaker_client.packaging.errors import EXIT_DESTINATION, EXIT_USAGE, PackagingError
from mlflow_sagemaker_client.packaging.progress import progress_bar, upload_callback

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<key>.*))?$")
_PROBE_NAME = ".mlflow-sagemaker-package-write-check"
# Bounded waits for S3 as for the tracking server: connect and read timeouts and a few retries.
_CONNECT_TIMEOUT = 10
_READ_TIMEOUT = 60
_MAX_ATTEMPTS = 3
_CREDENTIAL_ERRORS = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
}


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

    def probe_key(self, slug: str) -> str:
        """A key next to where the archive will go, for the write-access check."""
        if not self.is_prefix:
            return self.key_or_prefix
        return f"{self.key_or_prefix}{slug}/{_PROBE_NAME}"


def parse_s3_uri(value: str) -> S3Location:
    """Parse ``--s3-uri``: ``s3://bucket/prefix/`` (a prefix) or ``s3://bucket/key.tar.gz`` (exact key)."""
    match = _S3_URI.match(value)
    if match is None:
        raise PackagingError(
            f"--s3-uri ({value!r}) is not an S3 URI: use s3://bucket/prefix/ or s3://bucket/path/model.tar.gz",
            EXIT_USAGE,
        )
    key = match.group("key") or ""
    if key.startswith("/") or "//" in key:
        raise PackagingError(f"--s3-uri ({value!r}) has an empty path segment: remove the doubled '/'", EXIT_USAGE)
    if key and not key.endswith((".tar.gz", "/")):
        key += "/"
    return S3Location(bucket=match.group("bucket"), key_or_prefix=key)


def s3_client() -> S3Client:
    """An S3 client from boto3's default chain, with bounded timeouts and retries.

    A new session each time: credentials are resolved now, not taken from boto3's cached default session.
    """
    import boto3.session
    from botocore.config import Config

    config = Config(
        connect_timeout=_CONNECT_TIMEOUT,
        read_timeout=_READ_TIMEOUT,
        retries={"max_attempts": _MAX_ATTEMPTS, "mode": "standard"},
    )
    return boto3.session.Session().client("s3", config=config)


def _encryption(sse_kms_key_id: str | None) -> dict[str, Any]:
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": sse_kms_key_id} if sse_kms_key_id else {}


def _root_cause(error: BaseException) -> BaseException:
    """The botocore error behind ``error`` (boto3's transfer wraps it in ``S3UploadFailedError``)."""
    from botocore.exceptions import BotoCoreError, ClientError

    current: BaseException | None = error
    while current is not None:
        if isinstance(current, ClientError | BotoCoreError):
            return current
        current = current.__cause__ or current.__context__
    return error


def _explain(raised: Exception, uri: str) -> PackagingError:
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

    error = _root_cause(raised)
    if isinstance(error, NoCredentialsError):
        return PackagingError(
            f"no AWS credentials to write {uri}: configure them (AWS_PROFILE, AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY, SSO, or the execution role) before packaging",
            EXIT_DESTINATION,
        )
    if isinstance(error, EndpointConnectionError):
        return PackagingError(f"cannot reach S3 to write {uri}: {error}", EXIT_DESTINATION)
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        detail = str(error.response.get("Error", {}).get("Message", "")) or code
        if code in _CREDENTIAL_ERRORS:
            hint = "the AWS credentials are invalid or expired: refresh them"
        elif code == "NoSuchBucket":
            hint = "the bucket does not exist: check the bucket name"
        elif code.startswith("KMS") or "kms" in detail.lower():
            hint = "the KMS key cannot be used: check --sse-kms-key-id and kms:GenerateDataKey"
        elif code in ("AccessDenied", "AllAccessDisabled", "403"):
            hint = "access denied: the identity needs s3:PutObject on this key (and kms:GenerateDataKey for SSE-KMS)"
        else:
            hint = "S3 refused the request"
        return PackagingError(f"cannot write {uri}: {hint} ({code}: {detail})", EXIT_DESTINATION)
    if isinstance(error, BotoCoreError):
        return PackagingError(f"cannot write {uri}: {error}", EXIT_DESTINATION)
    return PackagingError(f"cannot write {uri}: {type(error).__name__}: {error}", EXIT_DESTINATION)


def check_write_access(location: S3Location, slug: str, sse_kms_key_id: str | None = None) -> None:
    """Fail now, with :data:`EXIT_DESTINATION`, unless the archive can be written under ``location``."""
    key = location.probe_key(slug)
    uri = f"s3://{location.bucket}/{key}"
    try:
        client = s3_client()
        upload_id = client.create_multipart_upload(
            Bucket=location.bucket, Key=key, ContentType="application/gzip", **_encryption(sse_kms_key_id)
        )["UploadId"]
    except Exception as error:
        raise _explain(error, uri) from error
    # s3:AbortMultipartUpload may be denied; an abandoned upload holds no object and lifecycle rules expire it.
    with contextlib.suppress(Exception):
        client.abort_multipart_upload(Bucket=location.bucket, Key=key, UploadId=upload_id)


def upload(archive: Path, location: S3Location, key: str, sse_kms_key_id: str | None, show_progress: bool) -> str:
    """Upload ``archive`` to ``key`` in the bucket with a progress bar; return the ``s3://`` URI."""
    uri = f"s3://{location.bucket}/{key}"
    extra_args: dict[str, Any] = {"ContentType": "application/gzip", **_encryption(sse_kms_key_id)}
    size = archive.stat().st_size
    try:
        with progress_bar("upload", size, show_progress) as progress:
            s3_client().upload_file(
                str(archive), location.bucket, key, ExtraArgs=extra_args, Callback=upload_callback(progress)
            )
    except Exception as error:
        raise _explain(error, uri) from error
    return uri


__all__ = ["S3Location", "check_write_access", "parse_s3_uri", "s3_client", "upload"]
