"""``MetricOverrides``: the keyword arguments every ``metric_*`` method of the library accepts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict, Unpack

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch

#: The period of the library's metrics unless overridden (CDK's own default).
DEFAULT_PERIOD = cdk.Duration.minutes(5)


class MetricOverrides(TypedDict, total=False):
    """``cloudwatch.MetricOptions`` as keyword arguments, as CDK's own ``metric_*`` methods take them.

    Example: ``mlflow.metric_target_response_time(statistic="p99", period=cdk.Duration.minutes(1))``.
    """

    account: str
    color: str
    dimensions_map: Mapping[str, str]
    id: str
    label: str
    period: cdk.Duration
    region: str
    stack_account: str
    stack_region: str
    statistic: str
    unit: cloudwatch.Unit
    visible: bool


def metric(
    namespace: str,
    metric_name: str,
    dimensions: Mapping[str, str],
    *,
    statistic: str,
    overrides: MetricOverrides,
) -> cloudwatch.Metric:
    """A metric with the library's defaults (``statistic``, 5 minutes), then ``overrides`` on top."""
    options: MetricOverrides = {"dimensions_map": dict(dimensions), "statistic": statistic, "period": DEFAULT_PERIOD}
    options.update(overrides)
    return cloudwatch.Metric(namespace=namespace, metric_name=metric_name, **options)


def with_defaults(overrides: MetricOverrides, **defaults: Unpack[MetricOverrides]) -> MetricOverrides:
    """``defaults`` for a CDK ``metric_*`` call, with what the caller passed on top."""
    merged: MetricOverrides = {**defaults}
    merged.update(overrides)
    return merged
