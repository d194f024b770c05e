"""Which alarms ``MlflowMonitoring`` creates and when each fires: ``MlflowAlarms`` and ``AlarmSettings``.

Every default is chosen so that an idle platform (Aurora paused, no requests, a serverless endpoint nobody
invokes) stays in OK: the metrics of traffic publish no data without traffic, and missing data counts as
not breaching; the metrics that do publish while idle (task CPU and memory, running tasks) sit far from
their thresholds then. ``docs/monitoring.md`` justifies each threshold and says what to do when it fires.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch

_FIVE_MINUTES = cdk.Duration.minutes(5)
#: CloudWatch evaluates at most one day of periods of a minute or more.
_MAX_EVALUATION_SECONDS = 86_400


@dataclass(frozen=True, kw_only=True)
class AlarmSettings:
    """When one alarm fires: its statistic over each ``period`` crosses ``threshold`` in ``datapoints`` of the
    last ``periods`` periods.

    :param threshold: the value compared with the statistic (the alarm's own comparison: above, or for
        running tasks below).
    :param periods: how many periods are evaluated. Default: 1.
    :param datapoints: how many of them must breach. Default: all ``periods``.
    :param period: the length of one period, a whole number of minutes (standard resolution, $0.10 per
        alarm metric-month). Default: 5 minutes.
    :param statistic: the statistic, e.g. ``"Sum"``, ``"Average"``, ``"Maximum"``, ``"p90"``. Default: the
        alarm's own (see ``docs/monitoring.md``).
    :param treat_missing_data: what a period without data counts as. Default: the alarm's own (not breaching,
        except running tasks in a cluster with Container Insights).
    """

    threshold: float
    periods: int = 1
    datapoints: int | None = None
    period: cdk.Duration = _FIVE_MINUTES
    statistic: str | None = None
    treat_missing_data: cloudwatch.TreatMissingData | None = None

    @property
    def datapoints_to_alarm(self) -> int:
        return self.datapoints if self.datapoints is not None else self.periods

    def validate(self, prop: str) -> None:
        """Refuse settings CloudWatch would refuse, naming ``prop`` and the fix."""
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int | float):
            raise ValueError(f"{prop}.threshold ({self.threshold!r}) must be a number")
        if not math.isfinite(self.threshold):
            raise ValueError(f"{prop}.threshold ({self.threshold}) must be a finite number")
        if isinstance(self.periods, bool) or not isinstance(self.periods, int) or self.periods < 1:
            raise ValueError(f"{prop}.periods ({self.periods!r}) must be a whole number of periods, 1 or more")
        if not 1 <= self.datapoints_to_alarm <= self.periods:
            raise ValueError(
                f"{prop}.datapoints ({self.datapoints}) must be between 1 and periods ({self.periods}): an alarm "
                "cannot need more breaching periods than it evaluates"
            )
        seconds = self.period.to_seconds()
        if seconds < 60 or seconds % 60:
            raise ValueError(
                f"{prop}.period ({seconds:g} s) must be a whole number of minutes: shorter periods make a "
                "high-resolution alarm ($0.30 instead of $0.10 a month) on metrics published once a minute"
            )
        if seconds * self.periods > _MAX_EVALUATION_SECONDS:
            raise ValueError(
                f"{prop}: periods x period is {seconds * self.periods / 3600:g} hours; CloudWatch evaluates at "
                "most one day: lower periods or period"
            )


@dataclass(frozen=True, kw_only=True)
class MlflowAlarms:
    """The alarms of ``MlflowMonitoring``, each on by default; ``None`` turns one off.

    Tune one: ``MlflowAlarms(target_response_time=AlarmSettings(threshold=10, periods=3))``; turn one off:
    ``MlflowAlarms(auth_failures=None)``; turn them all off: ``MlflowAlarms.disabled()``.

    :param load_balancer_5xx: the load balancer answered 5xx itself (no healthy task, task timeouts).
        Default: sum >= 10 in 2 consecutive 5-minute periods.
    :param server_5xx: the tasks answered 5xx (load balancer ``HTTPCode_Target_5XX_Count``). Default: sum >= 10
        in 2 consecutive 5-minute periods.
    :param target_response_time: slow answers. Default: p90 >= 5 seconds in 3 consecutive 5-minute periods.
    :param unhealthy_hosts: tasks failing the health check. Default: maximum >= 1 for 5 consecutive minutes.
    :param running_tasks: no task running (threshold: fires below it). Default: maximum < 1 in 2 consecutive
        5-minute periods; missing data breaches in a cluster with Container Insights.
    :param cpu: task CPU. Default: average >= 90 % in 3 consecutive 5-minute periods.
    :param memory: task memory. Default: average >= 90 % in 3 consecutive 5-minute periods.
    :param auth_failures: 401/403 answers from the server's log. Default: sum >= 100 in a 5-minute period.
    :param entrypoint_failures: tasks that stopped before starting the server. Default: sum >= 1 in a 5-minute
        period.
    :param database_acu_utilization: the Aurora cluster at its maximum capacity. Default: average >= 90 % in 3
        consecutive 5-minute periods. Only for a database the service can measure (a new cluster, or
        ``TrackingDatabase.from_cluster``).
    :param api_5xx: the HTTP API answered 5xx (including 504 after 30 s). Default: sum >= 10 in 2 consecutive
        5-minute periods. Only with ``http_api``.
    :param endpoint_5xx: a model endpoint answered 5xx. Default: sum >= 5 in 2 consecutive 5-minute periods.
    :param endpoint_model_latency: a model endpoint's model is slow. Default: p90 >= 1 second (1,000,000
        microseconds) in 3 consecutive 5-minute periods.
    """

    load_balancer_5xx: AlarmSettings | None = AlarmSettings(threshold=10, periods=2)
    server_5xx: AlarmSettings | None = AlarmSettings(threshold=10, periods=2)
    target_response_time: AlarmSettings | None = AlarmSettings(threshold=5, periods=3)
    unhealthy_hosts: AlarmSettings | None = AlarmSettings(threshold=1, periods=5, period=cdk.Duration.minutes(1))
    running_tasks: AlarmSettings | None = AlarmSettings(threshold=1, periods=2)
    cpu: AlarmSettings | None = AlarmSettings(threshold=90, periods=3)
    memory: AlarmSettings | None = AlarmSettings(threshold=90, periods=3)
    auth_failures: AlarmSettings | None = AlarmSettings(threshold=100)
    entrypoint_failures: AlarmSettings | None = AlarmSettings(threshold=1)
    database_acu_utilization: AlarmSettings | None = AlarmSettings(threshold=90, periods=3)
    api_5xx: AlarmSettings | None = AlarmSettings(threshold=10, periods=2)
    endpoint_5xx: AlarmSettings | None = AlarmSettings(threshold=5, periods=2)
    endpoint_model_latency: AlarmSettings | None = AlarmSettings(threshold=1_000_000, periods=3)

    @staticmethod
    def disabled() -> MlflowAlarms:
        """No alarm at all (the dashboard and saved queries stay)."""
        return MlflowAlarms(**{field.name: None for field in dataclasses.fields(MlflowAlarms)})

    def validate(self, prop: str = "alarms") -> None:
        for field in dataclasses.fields(self):
            settings = getattr(self, field.name)
            if settings is not None and not isinstance(settings, AlarmSettings):
                raise ValueError(
                    f"{prop}.{field.name} ({settings!r}) is not an AlarmSettings: pass AlarmSettings(threshold=...) "
                    "or None to turn the alarm off"
                )
            if settings is not None:
                settings.validate(f"{prop}.{field.name}")
