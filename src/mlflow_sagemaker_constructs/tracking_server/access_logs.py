"""Where the load balancer and the artifact bucket write their access logs."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3


@dataclass(frozen=True, kw_only=True)
class AccessLogs:
    """:meth:`new_bucket` (the default), :meth:`existing_bucket` or :meth:`disabled`."""

    enabled: bool
    bucket: s3.IBucket | None = None
    expiration: cdk.Duration | None = None
    removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN

    @staticmethod
    def new_bucket(
        *, expiration: cdk.Duration | None = None, removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN
    ) -> AccessLogs:
        """A new bucket (SSE-S3, as load balancer logs require).

        :param expiration: delete logs after this long. Default: 365 days.
        :param removal_policy: what ``cdk destroy`` does to the bucket. Default: ``RETAIN``.
        """
        return AccessLogs(enabled=True, expiration=expiration or cdk.Duration.days(365), removal_policy=removal_policy)

    @staticmethod
    def existing_bucket(bucket: s3.IBucket) -> AccessLogs:
        """A bucket you have. It must use SSE-S3 and allow log delivery (the bucket policy is added when the
        bucket belongs to this app; for an imported bucket add the statements yourself, see the docs).

        :param bucket: the destination of the load balancer's and the artifact bucket's access logs.
        """
        return AccessLogs(enabled=True, bucket=bucket)

    @staticmethod
    def disabled() -> AccessLogs:
        """No access logs (cdk-nag's ELB2 and S1 findings are acknowledged with this reason)."""
        return AccessLogs(enabled=False)
