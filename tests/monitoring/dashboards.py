"""Reading synthesized alarms and dashboards back out of a template, for assertions."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch


@dataclass(frozen=True)
class AlarmShape:
    """What decides when an alarm fires, as the template has it."""

    metric_name: str
    namespace: str
    statistic: str
    period: int
    threshold: float
    evaluation_periods: int
    datapoints_to_alarm: int
    comparison: str
    treat_missing_data: str

    @staticmethod
    def of(properties: Mapping[str, Any]) -> AlarmShape:
        return AlarmShape(
            metric_name=properties["MetricName"],
            namespace=properties["Namespace"],
            statistic=properties.get("ExtendedStatistic") or properties["Statistic"],
            period=properties["Period"],
            threshold=properties["Threshold"],
            evaluation_periods=properties["EvaluationPeriods"],
            datapoints_to_alarm=properties["DatapointsToAlarm"],
            comparison=properties["ComparisonOperator"],
            treat_missing_data=properties["TreatMissingData"],
        )


def alarm_properties(template: Mapping[str, Any], alarms: Mapping[str, cloudwatch.Alarm]) -> dict[str, dict[str, Any]]:
    """The template properties of each alarm, by the key ``MlflowMonitoring.alarms`` uses."""
    resources = template["Resources"]
    found = {}
    for key, alarm in alarms.items():
        cfn = alarm.node.default_child
        assert isinstance(cfn, cdk.CfnElement)
        logical_id = cdk.Stack.of(alarm).get_logical_id(cfn)
        found[key] = resources[logical_id]["Properties"]
    return found


def _flatten(value: Any) -> str:
    """A ``Fn::Join`` of the dashboard body as text, references written ``${LogicalId}`` or ``${LogicalId.Attr}``."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_flatten(part) for part in parts)
    if isinstance(value, Mapping) and "Ref" in value:
        return "${" + str(value["Ref"]) + "}"
    if isinstance(value, Mapping) and "Fn::GetAtt" in value:
        return "${" + ".".join(str(p) for p in value["Fn::GetAtt"]) + "}"
    return "${" + json.dumps(value, sort_keys=True).replace('"', "'") + "}"


def dashboard_widgets(template: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The widgets of the one dashboard in ``template``, in order."""
    (dashboard,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    body: dict[str, Any] = json.loads(_flatten(dashboard["Properties"]["DashboardBody"]))
    widgets: list[dict[str, Any]] = body["widgets"]
    return widgets


def tiers(widgets: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The widgets under each ``## tier`` text widget, by tier title."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    current = None
    for widget in widgets:
        markdown = widget.get("properties", {}).get("markdown", "")
        if widget["type"] == "text" and markdown.startswith("## "):
            current = markdown[3:]
            grouped[current] = []
        elif current is not None:
            grouped[current].append(widget)
    return grouped


def metric_names(widget: Mapping[str, Any]) -> list[str]:
    """The metric names a graph widget plots (left and right axes)."""
    return [row[1] for row in widget["properties"].get("metrics", [])]
