"""MlflowMonitoring: every alarm as synthesized (metric, statistic, period, threshold, missing data), the
dashboard's tiers and widgets, the saved queries, each option, refused values, lint, nag and a snapshot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from syrupy.assertion import SnapshotAssertion

from mlflow_sagemaker_constructs import (
    AlarmSettings,
    DatabaseEngine,
    EdgeAuthorization,
    EndpointVariant,
    ExistingDatabase,
    MlflowAlarms,
    MlflowModelEndpoint,
    MlflowMonitoring,
    PrivateHttpApi,
    SecureMlflowService,
    ServerAccess,
    TrackingDatabase,
)
from mlflow_sagemaker_constructs.monitoring import server_logs
from tests.conftest import normalized
from tests.harness import assert_cfn_lint_clean, assert_nag_clean, new_app, new_stack, synth_template
from tests.harness.vpc import imported_vpc
from tests.monitoring.dashboards import AlarmShape, alarm_properties, dashboard_widgets, metric_names, tiers

MODEL = "s3://example-models/diabetes/model.tar.gz"
ABOVE = "GreaterThanOrEqualToThreshold"
BELOW = "LessThanThreshold"
NOT_BREACHING = "notBreaching"
LOGS = "MLflow/TestStack/Mlflow"

#: Every default alarm as it must be synthesized, independently of the implementation's tables.
EXPECTED: dict[str, AlarmShape] = {
    "load_balancer_5xx": AlarmShape(
        "HTTPCode_ELB_5XX_Count", "AWS/ApplicationELB", "Sum", 300, 10, 2, 2, ABOVE, NOT_BREACHING
    ),
    "server_5xx": AlarmShape(
        "HTTPCode_Target_5XX_Count", "AWS/ApplicationELB", "Sum", 300, 10, 2, 2, ABOVE, NOT_BREACHING
    ),
    "target_response_time": AlarmShape(
        "TargetResponseTime", "AWS/ApplicationELB", "p90", 300, 5, 3, 3, ABOVE, NOT_BREACHING
    ),
    "unhealthy_hosts": AlarmShape(
        "UnHealthyHostCount", "AWS/ApplicationELB", "Maximum", 60, 1, 5, 5, ABOVE, NOT_BREACHING
    ),
    "running_tasks": AlarmShape(
        "RunningTaskCount", "ECS/ContainerInsights", "Maximum", 300, 1, 2, 2, BELOW, "breaching"
    ),
    "cpu": AlarmShape("CPUUtilization", "AWS/ECS", "Average", 300, 90, 3, 3, ABOVE, NOT_BREACHING),
    "memory": AlarmShape("MemoryUtilization", "AWS/ECS", "Average", 300, 90, 3, 3, ABOVE, NOT_BREACHING),
    "auth_failures": AlarmShape("AuthFailures", LOGS, "Sum", 300, 100, 1, 1, ABOVE, NOT_BREACHING),
    "entrypoint_failures": AlarmShape("EntrypointFailures", LOGS, "Sum", 300, 1, 1, 1, ABOVE, NOT_BREACHING),
    "database_acu_utilization": AlarmShape("ACUUtilization", "AWS/RDS", "Average", 300, 90, 3, 3, ABOVE, NOT_BREACHING),
    "api_5xx": AlarmShape("5xx", "AWS/ApiGateway", "Sum", 300, 10, 2, 2, ABOVE, NOT_BREACHING),
}
ENDPOINT_EXPECTED = {
    "endpoint_5xx": AlarmShape("Invocation5XXErrors", "AWS/SageMaker", "Sum", 300, 5, 2, 2, ABOVE, NOT_BREACHING),
    "endpoint_model_latency": AlarmShape(
        "ModelLatency", "AWS/SageMaker", "p90", 300, 1_000_000, 3, 3, ABOVE, NOT_BREACHING
    ),
}


@dataclass
class Built:
    stack: cdk.Stack
    service: SecureMlflowService
    api: PrivateHttpApi | None
    monitoring: MlflowMonitoring
    template: dict[str, Any]

    @property
    def alarms(self) -> dict[str, dict[str, Any]]:
        return alarm_properties(self.template, self.monitoring.alarms)

    def logical_id(self, construct: Any) -> str:
        element = construct if isinstance(construct, cdk.CfnElement) else construct.node.default_child
        return str(self.stack.get_logical_id(element))


def build(
    *,
    http_api: bool = True,
    endpoints: Callable[[cdk.Stack], list[MlflowModelEndpoint]] = lambda stack: [],
    service_props: Callable[[cdk.Stack], dict[str, Any]] = lambda stack: {},
    stack: cdk.Stack | None = None,
    **props: Any,
) -> Built:
    stack = stack or new_stack()
    service = SecureMlflowService(stack, "Mlflow", vpc=imported_vpc(stack), **service_props(stack))
    api = PrivateHttpApi(stack, "Api", server=service, authorization=EdgeAuthorization.NONE) if http_api else None
    monitoring = MlflowMonitoring(
        stack, "Monitoring", server=service, http_api=api, endpoints=endpoints(stack), **props
    )
    return Built(stack, service, api, monitoring, synth_template(stack))


def _endpoints(stack: cdk.Stack) -> list[MlflowModelEndpoint]:
    return [
        MlflowModelEndpoint(stack, "Serverless", model_data_url=MODEL, variant=EndpointVariant.serverless(2048)),
        MlflowModelEndpoint(stack, "RealTime", model_data_url=MODEL, variant=EndpointVariant.real_time("ml.m5.large")),
    ]


@pytest.fixture(scope="module")
def default() -> Built:
    return build()


@pytest.fixture(scope="module")
def with_endpoints() -> Built:
    return build(endpoints=_endpoints)


# ---------------------------------------------------------------------------------------------- alarms


def test_default_alarms_are_exactly_the_documented_ones(default: Built) -> None:
    assert {key: AlarmShape.of(props) for key, props in default.alarms.items()} == EXPECTED
    alarms = [r for r in default.template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert len(alarms) == len(EXPECTED)


def test_alarms_measure_this_deployments_resources(default: Built) -> None:
    alarms = default.alarms
    service = default.service
    dimensions = {key: {d["Name"]: d["Value"] for d in props.get("Dimensions", [])} for key, props in alarms.items()}
    cluster, ecs_service = default.logical_id(service.cluster), default.logical_id(service.service)
    assert dimensions["running_tasks"] == {
        "ClusterName": {"Ref": cluster},
        "ServiceName": {"Fn::GetAtt": [ecs_service, "Name"]},
    }
    assert dimensions["cpu"] == dimensions["running_tasks"]
    assert service.database_cluster is not None
    assert dimensions["database_acu_utilization"] == {
        "DBClusterIdentifier": {"Ref": default.logical_id(service.database_cluster)}
    }
    assert default.api is not None
    assert dimensions["api_5xx"] == {"ApiId": {"Ref": default.logical_id(default.api.http_api)}}
    target_group = default.logical_id(service.target_group)
    for key in ("server_5xx", "target_response_time", "unhealthy_hosts"):
        assert target_group in str(dimensions[key]["TargetGroup"]), key
    assert set(dimensions["load_balancer_5xx"]) == {"LoadBalancer"}
    for key in ("auth_failures", "entrypoint_failures"):
        assert dimensions[key] == {}


def test_alarms_say_what_happened_and_where_the_runbook_is(default: Built) -> None:
    for key, props in default.alarms.items():
        description = props["AlarmDescription"]
        assert description.startswith("MLflow TestStack/Mlflow: "), key
        assert f"Runbook: docs/monitoring.md, section Alarms, {key}." in description
    assert "is below 1 in 2 of 2 periods" in default.alarms["running_tasks"]["AlarmDescription"]


def test_alarms_have_no_action_unless_given(default: Built) -> None:
    for props in default.alarms.values():
        assert "AlarmActions" not in props
        assert "OKActions" not in props
        assert "AlarmName" not in props  # CloudFormation names them: deployments sit side by side


def test_each_endpoint_gets_its_own_alarms(with_endpoints: Built) -> None:
    alarms = with_endpoints.alarms
    endpoint_alarms = {key: AlarmShape.of(props) for key, props in alarms.items() if key.startswith("endpoint_")}
    assert endpoint_alarms == {
        f"{key}/{name}": shape for name in ("Serverless", "RealTime") for key, shape in ENDPOINT_EXPECTED.items()
    }
    serverless = with_endpoints.stack.node.find_child("Serverless")
    assert isinstance(serverless, MlflowModelEndpoint)
    dimensions = {d["Name"]: d["Value"] for d in alarms["endpoint_5xx/Serverless"]["Dimensions"]}
    assert dimensions == {
        "EndpointName": {"Fn::GetAtt": [with_endpoints.logical_id(serverless.endpoint), "EndpointName"]},
        "VariantName": "AllTraffic",
    }


def test_alarm_actions_and_ok_actions_reach_every_alarm() -> None:
    stack = new_stack()
    topic = sns.Topic.from_topic_arn(stack, "Topic", "arn:aws:sns:us-east-1:123456789012:platform-alerts")
    built = build(
        stack=stack,
        alarm_actions=[cloudwatch_actions.SnsAction(topic)],
        ok_actions=[cloudwatch_actions.SnsAction(topic)],
    )
    for props in built.alarms.values():
        assert props["AlarmActions"] == [topic.topic_arn]
        assert props["OKActions"] == [topic.topic_arn]


def test_one_alarm_tuned_and_one_turned_off() -> None:
    alarms = MlflowAlarms(
        target_response_time=AlarmSettings(
            threshold=10,
            periods=4,
            datapoints=3,
            period=cdk.Duration.minutes(1),
            statistic="p99",
            treat_missing_data=cloudwatch.TreatMissingData.IGNORE,
        ),
        auth_failures=None,
    )
    built = build(alarms=alarms)
    shapes = {key: AlarmShape.of(props) for key, props in built.alarms.items()}
    assert "auth_failures" not in shapes
    assert shapes["target_response_time"] == replace(
        EXPECTED["target_response_time"],
        statistic="p99",
        period=60,
        threshold=10,
        evaluation_periods=4,
        datapoints_to_alarm=3,
        treat_missing_data="ignore",
    )
    assert {k: v for k, v in shapes.items() if k != "target_response_time"} == {
        k: v for k, v in EXPECTED.items() if k not in ("target_response_time", "auth_failures")
    }


def test_disabled_alarms_leave_the_dashboard_and_queries() -> None:
    built = build(alarms=MlflowAlarms.disabled())
    types = [r["Type"] for r in built.template["Resources"].values()]
    assert "AWS::CloudWatch::Alarm" not in types
    assert types.count("AWS::CloudWatch::Dashboard") == 1
    assert types.count("AWS::Logs::QueryDefinition") == 6
    assert not [w for w in dashboard_widgets(built.template) if w["type"] == "alarm"]


def test_without_a_measurable_database_or_http_api_their_alarms_and_tiers_are_left_out() -> None:
    def existing(stack: cdk.Stack) -> dict[str, Any]:
        secret = secretsmanager.Secret.from_secret_name_v2(stack, "DbSecret", "db")
        database = ExistingDatabase(endpoint="db.example.internal", secret=secret, engine=DatabaseEngine.POSTGRESQL)
        return {"database": TrackingDatabase.existing(database)}

    built = build(http_api=False, service_props=existing)
    assert set(built.alarms) == set(EXPECTED) - {"database_acu_utilization", "api_5xx"}
    assert list(tiers(dashboard_widgets(built.template))) == [
        "Load balancer",
        "Tasks",
        "Artifacts (S3, reported daily)",
    ]
    queries = [r for r in built.template["Resources"].values() if r["Type"] == "AWS::Logs::QueryDefinition"]
    assert len(queries) == len(server_logs.SERVER_QUERIES)


def test_a_server_without_a_load_balancer_is_watched_at_the_api_and_the_tasks() -> None:
    """``ServerAccess.cloud_map()`` (the lean topology): no load balancer alarms, no load balancer tier."""
    built = build(service_props=lambda _stack: {"access": ServerAccess.cloud_map()})
    assert set(built.alarms) == set(EXPECTED) - {
        "load_balancer_5xx",
        "server_5xx",
        "target_response_time",
        "unhealthy_hosts",
    }
    assert "Load balancer" not in list(tiers(dashboard_widgets(built.template)))
    assert "Edge: HTTP API" in list(tiers(dashboard_widgets(built.template)))
    with pytest.raises(ValueError, match=r"no load balancer \(ServerAccess.cloud_map\(\)\); use the PrivateHttpApi"):
        built.service.metric_request_count()


CLUSTERS: list[tuple[str, Callable[[cdk.Stack], ecs.ICluster], str]] = [
    (
        "own cluster with Container Insights",
        lambda s: ecs.Cluster(
            s, "Shared", vpc=imported_vpc(s, "V"), container_insights_v2=ecs.ContainerInsights.ENHANCED
        ),
        "breaching",
    ),
    (
        "own cluster without Container Insights",
        lambda s: ecs.Cluster(s, "Shared", vpc=imported_vpc(s, "V")),
        NOT_BREACHING,
    ),
    (
        "imported cluster",
        lambda s: ecs.Cluster.from_cluster_attributes(s, "Shared", cluster_name="platform", vpc=imported_vpc(s, "V")),
        NOT_BREACHING,
    ),
]


@pytest.mark.parametrize(("cluster", "missing"), [c[1:] for c in CLUSTERS], ids=[c[0] for c in CLUSTERS])
def test_missing_running_task_data_breaches_only_where_container_insights_is_known_on(
    cluster: Callable[[cdk.Stack], ecs.ICluster], missing: str
) -> None:
    """Without Container Insights there is never data: counting that as breaching would alarm forever."""
    built = build(http_api=False, service_props=lambda s: {"cluster": cluster(s)})
    assert built.alarms["running_tasks"]["TreatMissingData"] == missing


# ---------------------------------------------------------------------------------------------- dashboard


def test_dashboard_is_grouped_by_tier_edge_to_endpoint(with_endpoints: Built) -> None:
    widgets = dashboard_widgets(with_endpoints.template)
    assert widgets[0]["type"] == "text"
    assert widgets[0]["properties"]["markdown"].startswith("# MLflow TestStack/Mlflow")
    (status,) = [w for w in widgets if w["type"] == "alarm"]
    assert len(status["properties"]["alarms"]) == len(with_endpoints.monitoring.alarms)
    grouped = tiers(widgets)
    assert list(grouped) == [
        "Edge: HTTP API",
        "Load balancer",
        "Tasks",
        "Database",
        "Artifacts (S3, reported daily)",
        "Model endpoint Serverless",
        "Model endpoint RealTime",
    ]
    plotted = {tier: [metric_names(w) for w in ws] for tier, ws in grouped.items()}
    assert plotted["Edge: HTTP API"] == [["Count"], ["4xx", "5xx"], ["Latency", "Latency", "IntegrationLatency"]]
    assert plotted["Load balancer"] == [
        ["RequestCount"],
        ["HTTPCode_ELB_5XX_Count", "HTTPCode_Target_5XX_Count"],
        ["TargetResponseTime"] * 3,
        ["HealthyHostCount", "UnHealthyHostCount"],
    ]
    assert plotted["Tasks"] == [
        ["CPUUtilization", "MemoryUtilization"],
        ["RunningTaskCount"],
        ["AuthFailures", "ServerErrors", "EntrypointFailures"],
    ]
    assert plotted["Database"] == [
        ["ServerlessDatabaseCapacity", "ACUUtilization"],
        ["DatabaseConnections"],
        ["CPUUtilization"],
    ]
    assert plotted["Artifacts (S3, reported daily)"] == [["BucketSizeBytes"], ["NumberOfObjects"]]
    latency = ["ModelLatency", "ModelLatency", "OverheadLatency"]
    errors = ["Invocations", "Invocation4XXErrors", "Invocation5XXErrors"]
    # Cold starts exist only for the serverless endpoint.
    assert plotted["Model endpoint Serverless"] == [errors, latency, ["ModelSetupTime", "ModelSetupTime"]]
    assert plotted["Model endpoint RealTime"] == [errors, latency]


def test_dashboard_graphs_use_the_statistics_they_are_titled_with(default: Built) -> None:
    grouped = tiers(dashboard_widgets(default.template))
    response_time = grouped["Load balancer"][2]
    stats = [row[-1]["stat"] for row in response_time["properties"]["metrics"]]
    assert stats == ["p50", "p90", "p99"]
    (running,) = grouped["Tasks"][1]["properties"]["metrics"]
    assert running[-1]["stat"] == "Maximum"


def test_dashboard_has_no_physical_name_and_two_deployments_sit_side_by_side() -> None:
    # Two apps (two teams' deployments) in the same account and region.
    built = [build(stack=new_stack(stack_id="TeamA")), build(stack=new_stack(stack_id="TeamB"))]
    for one in built:
        (dashboard,) = [r for r in one.template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
        assert "DashboardName" not in dashboard["Properties"]
    names = [
        {
            r["Properties"]["Name"]
            for r in one.template["Resources"].values()
            if r["Type"] == "AWS::Logs::QueryDefinition"
        }
        for one in built
    ]
    assert not names[0] & names[1]
    assert built[0].service.log_metrics_namespace != built[1].service.log_metrics_namespace


def test_no_dashboard_and_no_queries_when_turned_off() -> None:
    built = build(dashboard=False, saved_queries=False)
    types = {r["Type"] for r in built.template["Resources"].values()}
    assert not types & {"AWS::CloudWatch::Dashboard", "AWS::Logs::QueryDefinition"}
    assert built.monitoring.dashboard is None
    assert built.monitoring.query_definitions == {}


# ---------------------------------------------------------------------------------------------- saved queries


def test_saved_queries_sit_in_one_console_folder_on_the_right_log_groups(default: Built) -> None:
    queries = {
        r["Properties"]["Name"]: r["Properties"]
        for r in default.template["Resources"].values()
        if r["Type"] == "AWS::Logs::QueryDefinition"
    }
    server_log_group = {"Ref": default.logical_id(default.service.log_group)}
    assert default.api is not None
    api_log_group = {"Ref": default.logical_id(default.api.log_group)}
    expected = {f"MLflow/TestStack/Mlflow/{q.title}": (q.query, server_log_group) for q in server_logs.SERVER_QUERIES}
    expected["MLflow/TestStack/Mlflow/Slowest requests at the HTTP API"] = (
        server_logs.SLOWEST_API_REQUESTS.query,
        api_log_group,
    )
    assert {name: (p["QueryString"], p["LogGroupNames"][0]) for name, p in queries.items()} == expected
    assert set(queries) == {
        "MLflow/TestStack/Mlflow/Slowest requests",
        "MLflow/TestStack/Mlflow/5xx by route",
        "MLflow/TestStack/Mlflow/Auth failures by user or principal",
        "MLflow/TestStack/Mlflow/Who did what",
        "MLflow/TestStack/Mlflow/Migrations and start-ups",
        "MLflow/TestStack/Mlflow/Slowest requests at the HTTP API",
    }


# ---------------------------------------------------------------------------------------------- refused values


def _other_service(stack: cdk.Stack) -> SecureMlflowService:
    return SecureMlflowService(stack, "Other", vpc=imported_vpc(stack, "OtherVpc"))


REFUSED: list[tuple[str, Callable[[cdk.Stack, SecureMlflowService], dict[str, Any]], str]] = [
    (
        "imported server",
        lambda stack, service: {
            "server": SecureMlflowService.from_attributes(
                stack,
                "Imported",
                vpc=service.vpc,
                url="http://mlflow.internal",
                security_group=service.connections.security_groups[0],
                port=80,
                authentication=service.authentication,
            )
        },
        r"server \(ImportedMlflowTrackingServer\) must be a SecureMlflowService",
    ),
    (
        "http api of another server",
        lambda stack, service: {
            "http_api": PrivateHttpApi(
                stack, "OtherApi", server=_other_service(stack), authorization=EdgeAuthorization.NONE
            )
        },
        r"http_api \(TestStack/OtherApi\) fronts another server",
    ),
    (
        "endpoints with one id",
        lambda stack, service: {
            "endpoints": [
                MlflowModelEndpoint(
                    cdk.Stack(stack, "A"), "Model", model_data_url=MODEL, variant=EndpointVariant.serverless(2048)
                ),
                MlflowModelEndpoint(
                    cdk.Stack(stack, "B"), "Model", model_data_url=MODEL, variant=EndpointVariant.serverless(2048)
                ),
            ]
        },
        "endpoints has several endpoints with the construct id Model",
    ),
    ("alarms not MlflowAlarms", lambda stack, service: {"alarms": {"cpu": 80}}, "alarms .* is not an MlflowAlarms"),
    (
        "alarm not AlarmSettings",
        lambda stack, service: {"alarms": MlflowAlarms(cpu=80)},  # type: ignore[arg-type]
        r"alarms.cpu \(80\) is not an AlarmSettings: pass AlarmSettings\(threshold=...\) or None",
    ),
    (
        "action not an IAlarmAction",
        lambda stack, service: {"alarm_actions": ["arn:aws:sns:us-east-1:123456789012:t"]},
        "alarm_actions holds .* not a cloudwatch.IAlarmAction: wrap an SNS topic as",
    ),
]


@pytest.mark.parametrize(("props", "message"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_refused(props: Callable[[cdk.Stack, SecureMlflowService], dict[str, Any]], message: str) -> None:
    stack = new_stack()
    service = SecureMlflowService(stack, "Mlflow", vpc=imported_vpc(stack))
    arguments = {"server": service, **props(stack, service)}
    with pytest.raises(ValueError, match=message):
        MlflowMonitoring(stack, "Monitoring", **arguments)


SETTINGS_REFUSED = [
    (AlarmSettings(threshold=float("nan")), r"alarms.cpu.threshold \(nan\) must be a finite number"),
    (AlarmSettings(threshold="90"), r"alarms.cpu.threshold \('90'\) must be a number"),  # type: ignore[arg-type]
    (AlarmSettings(threshold=90, periods=0), r"alarms.cpu.periods \(0\) must be a whole number of periods, 1 or more"),
    (
        AlarmSettings(threshold=90, periods=2, datapoints=3),
        r"alarms.cpu.datapoints \(3\) must be between 1 and periods",
    ),
    (
        AlarmSettings(threshold=90, period=cdk.Duration.seconds(30)),
        r"alarms.cpu.period \(30 s\) must be a whole number of minutes",
    ),
    (
        AlarmSettings(threshold=90, periods=25, period=cdk.Duration.hours(1)),
        r"alarms.cpu: periods x period is 25 hours; CloudWatch evaluates at most one day",
    ),
]


@pytest.mark.parametrize(("settings", "message"), SETTINGS_REFUSED, ids=[m for _, m in SETTINGS_REFUSED])
def test_refused_alarm_settings_name_the_prop(settings: AlarmSettings, message: str) -> None:
    stack = new_stack()
    service = SecureMlflowService(stack, "Mlflow", vpc=imported_vpc(stack))
    with pytest.raises(ValueError, match=message):
        MlflowMonitoring(stack, "Monitoring", server=service, alarms=MlflowAlarms(cpu=settings))


# ---------------------------------------------------------------------------------------------- lint, nag, snapshot


def test_cfn_lint_and_nag_are_clean() -> None:
    app = new_app()
    stack = new_stack(app)
    topic = sns.Topic.from_topic_arn(stack, "Topic", "arn:aws:sns:us-east-1:123456789012:platform-alerts")
    built = build(stack=stack, endpoints=_endpoints, alarm_actions=[cloudwatch_actions.SnsAction(topic)])
    assert_cfn_lint_clean(built.template)
    assert_nag_clean(app)


def test_snapshot(with_endpoints: Built, template_snapshot: SnapshotAssertion) -> None:
    resources = {
        logical_id: resource
        for logical_id, resource in with_endpoints.template["Resources"].items()
        if resource["Type"].startswith(("AWS::CloudWatch::", "AWS::Logs::MetricFilter", "AWS::Logs::QueryDefinition"))
    }
    assert normalized({"Resources": resources}) == template_snapshot
