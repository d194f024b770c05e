"""Idle: the proof of concept, deployed and unused, raises no alarm, and here is why, alarm by alarm.

The proof of concept (with its serverless endpoint) is synthesized as ``cdk synth`` would. Each of its alarms
is evaluated the way CloudWatch evaluates an alarm (the last ``EvaluationPeriods`` periods, ``DatapointsToAlarm``
of them breaching, ``TreatMissingData`` for periods without data) against what its metric publishes while
nothing runs: the Aurora cluster paused, no request, no invocation, one task passing its health checks.
Where the idle value is uncertain (a paused cluster reports 0 or nothing; an idle load balancer may or may
not publish its host counts), every possibility is evaluated.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from typing import Any

import pytest
from examples.proof_of_concept import app as proof_of_concept

from tests.harness import new_app

MODEL = "s3://example-models/diabetes-elasticnet/v1/0123456789abcdef/model.tar.gz"
SERVER_STACK = "MlflowPocServer"
LOGS = f"MLflow/{SERVER_STACK}/Mlflow"


@dataclasses.dataclass(frozen=True)
class Idle:
    """What a metric publishes per period while nothing runs (None: no datapoint at all), and why."""

    observations: tuple[float | None, ...]
    why: str


#: Every metric the proof of concept alarms on, idle. A new alarm on another metric fails the coverage test
#: until its idle behaviour is written down here.
IDLE: dict[tuple[str, str], Idle] = {
    ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count"): Idle(
        (None,), "no request, so the load balancer publishes nothing"
    ),
    ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"): Idle((None,), "no request, so no task answers 5xx"),
    ("AWS/ApplicationELB", "TargetResponseTime"): Idle((None,), "no request, so no response time"),
    ("AWS/ApplicationELB", "UnHealthyHostCount"): Idle(
        (0, None), "health checks go on; the idle task passes them (0), or the load balancer publishes nothing"
    ),
    ("ECS/ContainerInsights", "RunningTaskCount"): Idle(
        (1,), "the service keeps its minimum of one task running, and Container Insights reports it each minute"
    ),
    ("AWS/ECS", "CPUUtilization"): Idle((10,), "health checks only: a few milliseconds of CPU a minute, under 10 %"),
    ("AWS/ECS", "MemoryUtilization"): Idle((45,), "two idle workers hold at most about 920 MiB of 2048 MiB (45 %)"),
    (LOGS, "AuthFailures"): Idle((None,), "no request, no 401/403 line; the filter has no default value"),
    (LOGS, "EntrypointFailures"): Idle((None,), "no task starts, no entrypoint line"),
    ("AWS/RDS", "ACUUtilization"): Idle((0, None), "the paused cluster reports 0 ACU, or nothing"),
    ("AWS/ApiGateway", "5xx"): Idle((None,), "no request reaches the HTTP API"),
    ("AWS/SageMaker", "Invocation5XXErrors"): Idle((None,), "nobody invokes the serverless endpoint"),
    ("AWS/SageMaker", "ModelLatency"): Idle((None,), "nobody invokes the serverless endpoint"),
}

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": operator.ge,
    "GreaterThanThreshold": operator.gt,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


def alarm_state(alarm: dict[str, Any], observation: float | None) -> str:
    """CloudWatch's state for ``alarm`` when every evaluated period has ``observation`` (None: no datapoint)."""
    periods, needed = alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]
    if observation is None:
        missing = alarm.get("TreatMissingData", "missing")
        if missing in ("missing", "ignore"):
            return "INSUFFICIENT_DATA"  # no datapoint: 'missing' and 'ignore' do not decide, nothing is OK
        breaching = periods if missing == "breaching" else 0
    else:
        breaching = periods if _COMPARE[alarm["ComparisonOperator"]](observation, alarm["Threshold"]) else 0
    return "ALARM" if breaching >= needed else "OK"


@pytest.fixture(scope="module")
def alarms() -> dict[str, dict[str, Any]]:
    """The proof of concept's alarms, by logical id (with the serverless endpoint)."""
    app = new_app(context={"model_data_url": MODEL})
    proof_of_concept.build(app)
    template = app.synth().get_stack_by_name(SERVER_STACK).template
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


def _key(alarm: dict[str, Any]) -> tuple[str, str]:
    return alarm["Namespace"], alarm["MetricName"]


def test_idle_model_covers_every_alarm_of_the_proof_of_concept(alarms: dict[str, dict[str, Any]]) -> None:
    assert len(alarms) == 13  # 11 for the service and its HTTP API, 2 for the endpoint
    assert {_key(alarm) for alarm in alarms.values()} == set(IDLE)


@pytest.mark.parametrize("metric", list(IDLE), ids=[name for _, name in IDLE])
def test_idle_alarm_stays_ok(alarms: dict[str, dict[str, Any]], metric: tuple[str, str]) -> None:
    idle = IDLE[metric]
    on_metric = {logical_id: alarm for logical_id, alarm in alarms.items() if _key(alarm) == metric}
    assert on_metric
    for logical_id, alarm in on_metric.items():
        for observation in idle.observations:
            statistic = alarm.get("ExtendedStatistic") or alarm["Statistic"]
            seen = "no datapoint" if observation is None else f"{statistic} {observation:g}"
            why = (
                f"{logical_id}: {idle.why}; each {alarm['Period'] // 60}-minute period has {seen}, "
                f"missing data is {alarm['TreatMissingData']}, threshold {alarm['ComparisonOperator']} "
                f"{alarm['Threshold']:g}"
            )
            assert alarm_state(alarm, observation) == "OK", why
            print(why)


def test_the_evaluation_would_fire_when_something_is_wrong(alarms: dict[str, dict[str, Any]]) -> None:
    """The same evaluation fires on failures: the idle test is not OK by construction."""
    by_metric = {_key(alarm): alarm for alarm in alarms.values()}
    assert alarm_state(by_metric[("ECS/ContainerInsights", "RunningTaskCount")], None) == "ALARM"  # no task
    assert alarm_state(by_metric[("ECS/ContainerInsights", "RunningTaskCount")], 0) == "ALARM"
    assert alarm_state(by_metric[("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count")], 50) == "ALARM"
    assert alarm_state(by_metric[("AWS/ApplicationELB", "UnHealthyHostCount")], 1) == "ALARM"
    assert alarm_state(by_metric[("AWS/ECS", "CPUUtilization")], 95) == "ALARM"
    assert alarm_state(by_metric[(LOGS, "EntrypointFailures")], 1) == "ALARM"
    assert alarm_state(by_metric[("AWS/RDS", "ACUUtilization")], 100) == "ALARM"
    assert alarm_state({**by_metric[("AWS/ApiGateway", "5xx")], "TreatMissingData": "missing"}, None) != "OK"
