"""The artifact store: a new S3 bucket, or a prefix in a bucket that already exists."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlflow_sagemaker_constructs._internal.nag import acknowledge_wildcard_resource

DEFAULT_PREFIX = "mlflow-artifacts"


class ArtifactAccess(enum.Enum):
    """How clients read and write artifacts."""

    PROXIED = "proxied"
    """Through the MLflow server (``--artifacts-destination``): clients need no S3 permissions; uploads use
    multipart requests small enough for the HTTP API's 10 MB limit."""

    DIRECT = "direct"
    """Clients read and write S3 themselves (``--no-serve-artifacts``); grant them access with
    ``grant_artifact_access``. Fastest for large artifacts from inside AWS."""


@dataclass(frozen=True, kw_only=True)
class NewBucketSettings:
    """Settings of an artifact bucket the service creates (see :meth:`ArtifactStore.new_bucket`)."""

    encryption_key: kms.IKey | None
    noncurrent_version_expiration: cdk.Duration
    removal_policy: cdk.RemovalPolicy


@dataclass(frozen=True, kw_only=True)
class ArtifactStore:
    """Where MLflow stores artifacts, and how clients reach them.

    - :meth:`new_bucket` (default): a private, versioned, TLS-only bucket retained on ``cdk destroy``;
    - :meth:`existing_bucket`: a prefix in a bucket you already have (for example the old samples' bucket).
    """

    prefix: str
    access: ArtifactAccess
    bucket: s3.IBucket | None = None
    new_bucket_settings: NewBucketSettings | None = None
    legacy_prefixes: tuple[str, ...] = ()

    @staticmethod
    def new_bucket(
        *,
        prefix: str = DEFAULT_PREFIX,
        access: ArtifactAccess = ArtifactAccess.PROXIED,
        encryption_key: kms.IKey | None = None,
        noncurrent_version_expiration: cdk.Duration | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> ArtifactStore:
        """A new bucket: block public access, TLS 1.2+ only, versioned, access-logged, retained.

        :param prefix: key prefix of the artifacts. Default: ``"mlflow-artifacts"``.
        :param access: :class:`ArtifactAccess`. Default: ``PROXIED``.
        :param encryption_key: KMS key (SSE-KMS with a bucket key). Default: SSE-S3.
        :param noncurrent_version_expiration: delete overwritten or deleted versions after this long.
            Default: 90 days.
        :param removal_policy: what ``cdk destroy`` does to the bucket. Default: ``RETAIN``.
        """
        store = ArtifactStore(
            prefix=prefix,
            access=access,
            new_bucket_settings=NewBucketSettings(
                encryption_key=encryption_key,
                noncurrent_version_expiration=noncurrent_version_expiration or cdk.Duration.days(90),
                removal_policy=removal_policy,
            ),
        )
        store.validate()
        return store

    @staticmethod
    def existing_bucket(
        bucket: s3.IBucket,
        *,
        prefix: str = DEFAULT_PREFIX,
        access: ArtifactAccess = ArtifactAccess.PROXIED,
        legacy_prefixes: Sequence[str] = (),
    ) -> ArtifactStore:
        """A prefix in a bucket that already exists. Import a KMS-encrypted bucket with its
        ``encryption_key`` so that the grants cover the key.

        :param bucket: the bucket.
        :param prefix: key prefix of the artifacts. Default: ``"mlflow-artifacts"``.
        :param access: :class:`ArtifactAccess`. Default: ``PROXIED``.
        :param legacy_prefixes: key prefixes holding the artifacts of experiments an earlier MLflow server
            created: their runs keep ``s3://`` artifact URIs outside ``prefix``. The server, and grantees of
            ``grant_artifact_access``/``grant_artifact_read``, get the same access there as under ``prefix``.
            ``"*"`` is the whole bucket: the AWS samples used the bucket root (see "Coming from the AWS
            samples"). Default: none.
        """
        store = ArtifactStore(prefix=prefix, access=access, bucket=bucket, legacy_prefixes=tuple(legacy_prefixes))
        store.validate()
        return store

    @property
    def prefixes(self) -> list[str]:
        """The artifact prefix, then each distinct legacy prefix."""
        return list(dict.fromkeys([self.prefix, *self.legacy_prefixes]))

    def validate(self) -> None:
        cleaned = self.prefix.strip("/")
        if not cleaned or cleaned != self.prefix or "//" in cleaned or ".." in cleaned.split("/"):
            raise ValueError(
                f"prefix ({self.prefix!r}) must be a non-empty key prefix without leading or trailing '/', '//' "
                "or '..', such as 'mlflow-artifacts'"
            )
        for legacy in self.legacy_prefixes:
            if legacy == "*":
                continue
            cleaned = legacy.strip("/")
            if not cleaned or cleaned != legacy or "*" in legacy or "//" in legacy or ".." in legacy.split("/"):
                raise ValueError(
                    f"legacy_prefixes entry {legacy!r} is not a key prefix: pass prefixes such as '0' or "
                    "'custom/team-a' (no leading or trailing '/', no wildcard), or '*' for the whole bucket"
                )


def grant_prefix(
    bucket: s3.IBucket,
    prefixes: str | Sequence[str],
    grantee: iam.IGrantable,
    *,
    write: bool,
    delete: bool | None = None,
) -> iam.Grant:
    """Grant object access under ``prefixes`` with explicit actions (no ``s3:*Object*`` wildcards).

    Read: get objects and versions, and list keys under the prefixes. ``delete`` (default: as ``write``)
    adds deletion, ``write`` adds put and the multipart actions. A prefix ``"*"`` is the whole bucket. The
    bucket's KMS key, when the bucket knows it, is granted as well.
    """
    prefixes = [prefixes] if isinstance(prefixes, str) else list(dict.fromkeys(prefixes))
    actions = ["s3:GetObject", "s3:GetObjectVersion"]
    if write if delete is None else delete:
        actions.append("s3:DeleteObject")
    if write:
        actions += ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    object_arns = [bucket.arn_for_objects("*" if prefix == "*" else f"{prefix}/*") for prefix in prefixes]
    grant = iam.Grant.add_to_principal(grantee=grantee, actions=actions, resource_arns=object_arns)
    iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["s3:ListBucket"],
        resource_arns=[bucket.bucket_arn],
        conditions=None
        if "*" in prefixes
        else {"StringLike": {"s3:prefix": [key for prefix in prefixes for key in (prefix, f"{prefix}/*")]}},
    )
    if bucket.encryption_key is not None:
        if write:
            bucket.encryption_key.grant_encrypt_decrypt(grantee)
        else:
            bucket.encryption_key.grant_decrypt(grantee)
    principal = grantee.grant_principal
    if isinstance(principal, Construct):
        for arn in object_arns:
            acknowledge_wildcard_resource(
                principal,
                arn,
                "MLflow stores one object per artifact under the artifact prefix (and, for experiments an "
                "earlier server created, under their legacy prefixes); the grant covers those prefixes only.",
            )
    return grant
