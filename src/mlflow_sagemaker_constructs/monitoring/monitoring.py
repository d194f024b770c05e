"""``MlflowMonitoring``: alarms, a dashboard and saved Logs Insights queries for one MLflow deployment."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from constructs import Construct

from mlflow_sagemaker_constructs.http_api.private_http_api import PrivateHttpApi
from mlflow_sagemaker_constructs.monitoring import server_logs
from mlflow_sagemaker_constructs.monitoring.alarms import AlarmSettings, MlflowAlarms
from mlflow_sagemaker_constructs.serving.endpoint import MlflowModelEndpoint
from mlflow_sagemaker_constructs.tracking_server.service import SecureMlflowService

__all__ = ["MlflowMonitoring"]

_ABOVE = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
_BELOW = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
_NOT_BREACHING = cloudwatch.TreatMissingData.NOT_BREACHING
_GRAPH_HEIGHT = 6
_FULL_WIDTH = 24
#: Where each alarm's runbook is.
RUNBOOK = "docs/monitoring.md, section Alarms"

MetricFactory = Callable[..., cloudwatch.Metric]


#: The alarms on the load balancer's metrics, which a server without one (``ServerAccess.cloud_map()``) lacks.
_LOAD_BALANCER_ALARMS = frozenset({"load_balancer_5xx", "server_5xx", "target_response_time", "unhealthy_hosts"})


@dataclasses.dataclass(frozen=True)
class _AlarmSpec:
    """One alarm: which ``MlflowAlarms`` field, on which metric, compared how, and what it means."""

    key: str
    construct_id: str
    metric: MetricFactory
    statistic: str
    meaning: str
    comparison: cloudwatch.ComparisonOperator = _ABOVE
    missing: cloudwatch.TreatMissingData = _NOT_BREACHING


class MlflowMonitoring(Construct):
    """Alarms, a dashboard and saved Logs Insights queries for a ``SecureMlflowService``, its
    ``PrivateHttpApi`` and its ``MlflowModelEndpoint`` s.

    Minimal use: ``MlflowMonitoring(self, "Monitoring", server=mlflow, http_api=api)``. What it creates:

    - CloudWatch alarms (:class:`MlflowAlarms`, each on by default and quiet while the platform is idle),
      with ``alarm_actions`` such as ``cloudwatch_actions.SnsAction(topic)``;
    - a dashboard grouped by tier: edge (HTTP API), load balancer, tasks, database, artifacts, endpoints;
      CloudFormation names it, so deployments sit side by side;
    - saved Logs Insights queries on the server's log group: slowest requests, 5xx by route, auth failures by
      user or principal, who did what, migrations and start-ups (and slowest requests at the HTTP API).

    The metrics come from the constructs' own ``metric_*`` methods (and the server's log metric filters), so
    a ``cdk-monitoring-constructs`` ``MonitoringFacade`` or your own alarms can use the same ones.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        server: SecureMlflowService,
        http_api: PrivateHttpApi | None = None,
        endpoints: Sequence[MlflowModelEndpoint] = (),
        alarms: MlflowAlarms | None = None,
        alarm_actions: Sequence[cloudwatch.IAlarmAction] = (),
        ok_actions: Sequence[cloudwatch.IAlarmAction] = (),
        dashboard: bool = True,
        saved_queries: bool = True,
    ) -> None:
        """Create the alarms, the dashboard and the saved queries.

        :param server: the ``SecureMlflowService`` to monitor (an imported server has no metrics here:
            monitor it where it is defined).
        :param http_api: the ``PrivateHttpApi`` in front of ``server``. Default: none, no edge tier.
        :param endpoints: model endpoints to monitor. Default: none.
        :param alarms: which alarms, and when each fires (:class:`MlflowAlarms`). Default: ``MlflowAlarms()``,
            every alarm with its default settings; ``MlflowAlarms.disabled()`` for none.
        :param alarm_actions: what an alarm does when it fires, e.g. ``[cloudwatch_actions.SnsAction(topic)]``.
            Default: nothing (the alarms show in the console and on the dashboard).
        :param ok_actions: what an alarm does when it returns to OK. Default: nothing.
        :param dashboard: create the dashboard (free for the first 3 per account, then $3 a month). Default: True.
        :param saved_queries: create the saved Logs Insights queries (free). Default: True.
        """
        super().__init__(scope, construct_id)
        self.server = server
        self.http_api = http_api
        self.endpoints = list(endpoints)
        self.alarm_settings = alarms if alarms is not None else MlflowAlarms()
        self.alarm_actions = list(alarm_actions)
        self.ok_actions = list(ok_actions)
        self._validate()
        #: The deployment's label in descriptions and on the dashboard: ``<stack name>/<path of server>``.
        self.label = server_logs.log_metrics_namespace(server).removeprefix("MLflow/")
        #: Every alarm, by ``MlflowAlarms`` field (endpoint alarms: ``<field>/<endpoint id>``).
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        for spec, settings in self._alarm_specs():
            self.alarms[spec.key] = self._create_alarm(spec, settings)
        self.dashboard: cloudwatch.Dashboard | None = self._create_dashboard() if dashboard else None
        #: Saved Logs Insights queries, by key (``server_logs.SavedQuery.key``).
        self.query_definitions: dict[str, logs.CfnQueryDefinition] = (
            self._create_query_definitions() if saved_queries else {}
        )

    # ------------------------------------------------------------------ validation

    def _validate(self) -> None:
        if not isinstance(self.server, SecureMlflowService):
            raise ValueError(
                f"server ({type(self.server).__name__}) must be a SecureMlflowService of this app: an imported "
                "server (SecureMlflowService.from_attributes) has no metrics or logs here; create MlflowMonitoring "
                "where the service is defined"
            )
        if self.http_api is not None and self.http_api.server is not self.server:
            raise ValueError(
                f"http_api ({self.http_api.node.path}) fronts another server than server ({self.server.node.path}): "
                "pass the PrivateHttpApi created with server=<this service>, or one MlflowMonitoring per deployment"
            )
        ids = [endpoint.node.id for endpoint in self.endpoints]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(
                f"endpoints has several endpoints with the construct id {', '.join(duplicates)}: alarms and widgets "
                "are named after it, so give the endpoints distinct ids"
            )
        if not isinstance(self.alarm_settings, MlflowAlarms):
            raise ValueError(
                f"alarms ({self.alarm_settings!r}) is not an MlflowAlarms: pass MlflowAlarms(...) to tune the "
                "alarms, or MlflowAlarms.disabled() for none"
            )
        self.alarm_settings.validate("alarms")
        for prop, actions in (("alarm_actions", self.alarm_actions), ("ok_actions", self.ok_actions)):
            for action in actions:
                if not callable(getattr(action, "bind", None)):
                    raise ValueError(
                        f"{prop} holds {action!r}, which is not a cloudwatch.IAlarmAction: wrap an SNS topic as "
                        "aws_cloudwatch_actions.SnsAction(topic)"
                    )

    # ------------------------------------------------------------------ alarms

    def _alarm_specs(self) -> list[tuple[_AlarmSpec, AlarmSettings]]:
        server = self.server
        balanced = self._load_balanced()
        specs = [
            _AlarmSpec(
                "load_balancer_5xx",
                "LoadBalancer5xxAlarm",
                server.metric_load_balancer_5xx,
                "Sum",
                "the load balancer answered 5xx itself (no healthy task, or a task did not answer)",
            ),
            _AlarmSpec(
                "server_5xx", "Server5xxAlarm", server.metric_target_5xx, "Sum", "the MLflow tasks answered 5xx"
            ),
            _AlarmSpec(
                "target_response_time",
                "TargetResponseTimeAlarm",
                server.metric_target_response_time,
                "p90",
                "the MLflow tasks answered slowly (seconds)",
            ),
            _AlarmSpec(
                "unhealthy_hosts",
                "UnhealthyHostsAlarm",
                server.metric_unhealthy_hosts,
                "Maximum",
                "tasks failed the load balancer's health check",
            ),
            _AlarmSpec(
                "running_tasks",
                "RunningTasksAlarm",
                server.metric_running_tasks,
                "Maximum",
                "no MLflow task was running",
                comparison=_BELOW,
                missing=(cloudwatch.TreatMissingData.BREACHING if self._has_container_insights() else _NOT_BREACHING),
            ),
            _AlarmSpec("cpu", "CpuAlarm", server.metric_cpu_utilization, "Average", "task CPU was high (percent)"),
            _AlarmSpec(
                "memory", "MemoryAlarm", server.metric_memory_utilization, "Average", "task memory was high (percent)"
            ),
            _AlarmSpec(
                "auth_failures",
                "AuthFailuresAlarm",
                server.metric_auth_failures,
                "Sum",
                "the server refused many requests with 401 or 403 (guessing, or a client with wrong credentials)",
            ),
            _AlarmSpec(
                "entrypoint_failures",
                "EntrypointFailuresAlarm",
                server.metric_entrypoint_failures,
                "Sum",
                "a task stopped before starting the server",
            ),
        ]
        if not balanced:  # ServerAccess.cloud_map(): the HTTP API's alarms watch the front door instead
            specs = [spec for spec in specs if spec.key not in _LOAD_BALANCER_ALARMS]
        if server.database_cluster is not None or server.database.cluster is not None:
            specs.append(
                _AlarmSpec(
                    "database_acu_utilization",
                    "DatabaseAcuUtilizationAlarm",
                    server.metric_database_acu_utilization,
                    "Average",
                    "the database ran at its maximum capacity (percent of max ACUs)",
                )
            )
        if self.http_api is not None:
            specs.append(
                _AlarmSpec(
                    "api_5xx",
                    "Api5xxAlarm",
                    self.http_api.metric_server_error,
                    "Sum",
                    "the HTTP API answered 5xx (504: the server took longer than 30 s)",
                )
            )
        for endpoint in self.endpoints:
            name = endpoint.node.id
            specs.append(
                _AlarmSpec(
                    f"endpoint_5xx/{name}",
                    f"{name}5xxAlarm",
                    endpoint.metric_invocation_errors,
                    "Sum",
                    f"model endpoint {name} answered 5xx",
                )
            )
            specs.append(
                _AlarmSpec(
                    f"endpoint_model_latency/{name}",
                    f"{name}ModelLatencyAlarm",
                    endpoint.metric_model_latency,
                    "p90",
                    f"the model of endpoint {name} answered slowly (microseconds)",
                )
            )
        chosen = []
        for spec in specs:
            settings: AlarmSettings | None = getattr(self.alarm_settings, spec.key.split("/")[0])
            if settings is not None:
                chosen.append((spec, settings))
        return chosen

    def _has_container_insights(self) -> bool:
        """True when the service's cluster is defined in this app with Container Insights on; an imported
        cluster's setting is unknown, so its running-task alarm does not count missing data as breaching."""
        cfn = self.server.cluster.node.default_child
        settings = cfn.cluster_settings if isinstance(cfn, ecs.CfnCluster) else None
        if not isinstance(settings, list):
            return False
        return any(
            isinstance(setting, ecs.CfnCluster.ClusterSettingsProperty)
            and setting.name == "containerInsights"
            and setting.value in ("enabled", "enhanced")
            for setting in settings
        )

    def _create_alarm(self, spec: _AlarmSpec, settings: AlarmSettings) -> cloudwatch.Alarm:
        statistic = settings.statistic or spec.statistic
        metric = spec.metric(statistic=statistic, period=settings.period)
        direction = "below" if spec.comparison is _BELOW else "at or above"
        minutes = settings.period.to_minutes()
        alarm = cloudwatch.Alarm(
            self,
            spec.construct_id,
            metric=metric,
            threshold=settings.threshold,
            evaluation_periods=settings.periods,
            datapoints_to_alarm=settings.datapoints_to_alarm,
            comparison_operator=spec.comparison,
            treat_missing_data=settings.treat_missing_data or spec.missing,
            alarm_description=(
                f"MLflow {self.label}: {spec.meaning}. Fires when the {statistic} of a {minutes:g}-minute period "
                f"is {direction} {settings.threshold:g} in {settings.datapoints_to_alarm} of {settings.periods} "
                f"periods. Runbook: {RUNBOOK}, {spec.key.split('/')[0]}."
            ),
        )
        for action in self.alarm_actions:
            alarm.add_alarm_action(action)
        for action in self.ok_actions:
            alarm.add_ok_action(action)
        return alarm

    # ------------------------------------------------------------------ dashboard

    def _create_dashboard(self) -> cloudwatch.Dashboard:
        """A dashboard without a physical name (CloudFormation generates one), grouped by tier."""
        dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=cdk.Duration.hours(3))
        dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown=(
                    f"# MLflow {self.label}\nTiers top to bottom: edge (HTTP API), load balancer, tasks, database, "
                    f"artifacts, model endpoints. Saved queries: Logs Insights, folder `MLflow/{self.label}`."
                ),
                width=_FULL_WIDTH,
                height=2,
            )
        )
        if self.alarms:
            dashboard.add_widgets(
                cloudwatch.AlarmStatusWidget(
                    title="Alarms", alarms=list(self.alarms.values()), width=_FULL_WIDTH, height=3
                )
            )
        for title, widgets in self._tiers():
            dashboard.add_widgets(cloudwatch.TextWidget(markdown=f"## {title}", width=_FULL_WIDTH, height=1))
            dashboard.add_widgets(*widgets)
        return dashboard

    def _load_balanced(self) -> bool:
        """Whether the server has a load balancer (not ``ServerAccess.cloud_map()``)."""
        return bool(self.server.access.load_balanced)

    def _load_balancer_widgets(self) -> list[cloudwatch.IWidget]:
        server, graph = self.server, self._graph
        return [
            graph("Requests", [server.metric_request_count(label="requests")], 6),
            graph(
                "5xx",
                [
                    server.metric_load_balancer_5xx(label="load balancer 5xx"),
                    server.metric_target_5xx(label="task 5xx"),
                ],
                6,
            ),
            graph(
                "Response time (s)",
                [server.metric_target_response_time(statistic=stat, label=stat) for stat in ("p50", "p90", "p99")],
                6,
            ),
            graph(
                "Health checks",
                [
                    server.metric_healthy_hosts(statistic="Minimum", label="healthy (min)"),
                    server.metric_unhealthy_hosts(statistic="Maximum", label="unhealthy (max)"),
                ],
                6,
            ),
        ]

    @staticmethod
    def _graph(title: str, left: Sequence[cloudwatch.IMetric], width: int, **kwargs: Any) -> cloudwatch.GraphWidget:
        return cloudwatch.GraphWidget(title=title, left=list(left), width=width, height=_GRAPH_HEIGHT, **kwargs)

    def _tiers(self) -> list[tuple[str, list[cloudwatch.IWidget]]]:
        server, graph = self.server, self._graph
        tiers: list[tuple[str, list[cloudwatch.IWidget]]] = []
        api = self.http_api
        if api is not None:
            tiers.append(
                (
                    "Edge: HTTP API",
                    [
                        graph("Requests", [api.metric_count(label="requests")], 8),
                        graph(
                            "Errors",
                            [api.metric_client_error(label="4xx"), api.metric_server_error(label="5xx")],
                            8,
                        ),
                        graph(
                            "Latency (ms)",
                            [
                                api.metric_latency(statistic="p50", label="latency p50"),
                                api.metric_latency(statistic="p90", label="latency p90"),
                                api.metric_integration_latency(statistic="p90", label="integration p90"),
                            ],
                            8,
                        ),
                    ],
                )
            )
        if self._load_balanced():
            tiers.append(("Load balancer", self._load_balancer_widgets()))
        tiers.append(
            (
                "Tasks",
                [
                    graph(
                        "CPU and memory (%)",
                        [server.metric_cpu_utilization(label="CPU"), server.metric_memory_utilization(label="memory")],
                        8,
                    ),
                    graph("Running tasks", [server.metric_running_tasks(statistic="Maximum", label="running")], 8),
                    graph(
                        "From the server's log",
                        [
                            server.metric_auth_failures(label="401/403"),
                            server.metric_server_errors(label="5xx"),
                            server.metric_entrypoint_failures(label="entrypoint failures"),
                        ],
                        8,
                    ),
                ],
            )
        )
        if server.database_cluster is not None or server.database.cluster is not None:
            tiers.append(
                (
                    "Database",
                    [
                        graph(
                            "Capacity (ACU; 0 or gaps: paused)",
                            [server.metric_database_capacity(statistic="Maximum", label="ACU (max)")],
                            8,
                            right=[server.metric_database_acu_utilization(label="% of max ACU")],
                        ),
                        graph("Connections", [server.metric_database_connections(statistic="Maximum")], 8),
                        graph("CPU (%)", [server.metric_database_cpu_utilization()], 8),
                    ],
                )
            )
        tiers.append(
            (
                "Artifacts (S3, reported daily)",
                [
                    graph("Bucket size (bytes)", [server.metric_artifact_bucket_size()], 12),
                    graph("Objects", [server.metric_artifact_objects()], 12),
                ],
            )
        )
        for endpoint in self.endpoints:
            widgets: list[cloudwatch.IWidget] = [
                graph(
                    "Invocations and errors",
                    [
                        endpoint.metric_invocations(label="invocations"),
                        endpoint.metric_invocation_errors("4XX", label="4xx"),
                        endpoint.metric_invocation_errors("5XX", label="5xx"),
                    ],
                    8,
                ),
                graph(
                    "Latency (microseconds)",
                    [
                        endpoint.metric_model_latency(statistic="p50", label="model p50"),
                        endpoint.metric_model_latency(label="model p90"),
                        endpoint.metric_overhead_latency(label="overhead p90"),
                    ],
                    8,
                ),
            ]
            if endpoint.serverless:
                widgets.append(
                    graph(
                        "Cold starts",
                        [endpoint.metric_cold_starts(label="cold starts")],
                        8,
                        right=[endpoint.metric_model_setup_time(label="setup time (max, microseconds)")],
                    )
                )
            tiers.append((f"Model endpoint {endpoint.node.id}", widgets))
        return tiers

    # ------------------------------------------------------------------ saved queries

    def _create_query_definitions(self) -> dict[str, logs.CfnQueryDefinition]:
        """Saved queries in the console folder ``MLflow/<label>``; L1 because the L2 ``QueryString`` puts
        ``fields`` before ``parse``, and these queries need the other order."""
        folder = f"MLflow/{self.label}"
        queries: list[tuple[server_logs.SavedQuery, logs.ILogGroup]] = [
            (query, self.server.log_group) for query in server_logs.SERVER_QUERIES
        ]
        if self.http_api is not None:
            queries.append((server_logs.SLOWEST_API_REQUESTS, self.http_api.log_group))
        return {
            query.key: logs.CfnQueryDefinition(
                self,
                f"{query.key}Query",
                name=f"{folder}/{query.title}",
                query_string=query.query,
                log_group_names=[log_group.log_group_name],
            )
            for query, log_group in queries
        }
