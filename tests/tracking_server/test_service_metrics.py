"""SecureMlflowService's metric_* methods and the metric filters on its log group.

Each method returns a ``cloudwatch.Metric`` of this service's own resources and takes ``cloudwatch.MetricOptions``
overrides as CDK's methods do. The filter patterns themselves are run against real server lines in
tests/monitoring/integration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Match, Template

from mlflow_sagemaker_constructs import DatabaseEngine, ExistingDatabase, SecureMlflowService, TrackingDatabase
from mlflow_sagemaker_constructs.monitoring import server_logs
from tests.harness import new_stack
from tests.harness.vpc import imported_vpc


@dataclass
class Built:
    stack: cdk.Stack
    service: SecureMlflowService
    template: Template

    def ref(self, value: Any) -> Any:
        return self.stack.resolve(value)

    def logical_id(self, resource_type: str) -> str:
        (logical_id,) = self.template.find_resources(resource_type)
        return str(logical_id)


@pytest.fixture(scope="module")
def built() -> Built:
    stack = new_stack()
    service = SecureMlflowService(stack, "Mlflow", vpc=imported_vpc(stack))
    return Built(stack, service, Template.from_stack(stack))


Method = Callable[..., cloudwatch.Metric]

#: (method, namespace, metric name, default statistic, default period in minutes, dimension names)
METRICS: list[tuple[str, str, str, str, int, set[str]]] = [
    ("metric_cpu_utilization", "AWS/ECS", "CPUUtilization", "Average", 5, {"ClusterName", "ServiceName"}),
    ("metric_memory_utilization", "AWS/ECS", "MemoryUtilization", "Average", 5, {"ClusterName", "ServiceName"}),
    ("metric_running_tasks", "ECS/ContainerInsights", "RunningTaskCount", "Average", 5, {"ClusterName", "ServiceName"}),
    ("metric_request_count", "AWS/ApplicationELB", "RequestCount", "Sum", 5, {"LoadBalancer", "TargetGroup"}),
    ("metric_load_balancer_5xx", "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum", 5, {"LoadBalancer"}),
    ("metric_target_5xx", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", 5, {"LoadBalancer", "TargetGroup"}),
    (
        "metric_target_response_time",
        "AWS/ApplicationELB",
        "TargetResponseTime",
        "Average",
        5,
        {"LoadBalancer", "TargetGroup"},
    ),
    (
        "metric_unhealthy_hosts",
        "AWS/ApplicationELB",
        "UnHealthyHostCount",
        "Average",
        5,
        {"LoadBalancer", "TargetGroup"},
    ),
    ("metric_healthy_hosts", "AWS/ApplicationELB", "HealthyHostCount", "Average", 5, {"LoadBalancer", "TargetGroup"}),
    ("metric_database_capacity", "AWS/RDS", "ServerlessDatabaseCapacity", "Average", 5, {"DBClusterIdentifier"}),
    ("metric_database_acu_utilization", "AWS/RDS", "ACUUtilization", "Average", 5, {"DBClusterIdentifier"}),
    ("metric_database_connections", "AWS/RDS", "DatabaseConnections", "Average", 5, {"DBClusterIdentifier"}),
    ("metric_database_cpu_utilization", "AWS/RDS", "CPUUtilization", "Average", 5, {"DBClusterIdentifier"}),
    ("metric_artifact_bucket_size", "AWS/S3", "BucketSizeBytes", "Average", 1440, {"BucketName", "StorageType"}),
    ("metric_artifact_objects", "AWS/S3", "NumberOfObjects", "Average", 1440, {"BucketName", "StorageType"}),
    ("metric_auth_failures", "MLflow/TestStack/Mlflow", "AuthFailures", "Sum", 5, set()),
    ("metric_server_errors", "MLflow/TestStack/Mlflow", "ServerErrors", "Sum", 5, set()),
    ("metric_entrypoint_failures", "MLflow/TestStack/Mlflow", "EntrypointFailures", "Sum", 5, set()),
]


@pytest.mark.parametrize(
    ("method", "namespace", "metric_name", "statistic", "minutes", "dimensions"), METRICS, ids=[m[0] for m in METRICS]
)
def test_metric_defaults(
    built: Built, method: str, namespace: str, metric_name: str, statistic: str, minutes: int, dimensions: set[str]
) -> None:
    metric = getattr(built.service, method)()
    assert isinstance(metric, cloudwatch.Metric)
    assert (metric.namespace, metric.metric_name, metric.statistic) == (namespace, metric_name, statistic)
    assert metric.period.to_minutes() == minutes
    assert set(metric.dimensions or {}) == dimensions


@pytest.mark.parametrize("method", [m[0] for m in METRICS])
def test_metric_options_override_the_defaults(built: Built, method: str) -> None:
    metric = getattr(built.service, method)(statistic="p99", period=cdk.Duration.minutes(1), label="mine")
    assert (metric.statistic, metric.period.to_minutes(), metric.label) == ("p99", 1, "mine")


def test_dimensions_name_this_services_own_resources(built: Built) -> None:
    service = built.service
    cluster, ecs_service = built.logical_id("AWS::ECS::Cluster"), built.logical_id("AWS::ECS::Service")
    assert built.ref(service.metric_running_tasks().dimensions) == {
        "ClusterName": {"Ref": cluster},
        "ServiceName": {"Fn::GetAtt": [ecs_service, "Name"]},
    }
    db = built.logical_id("AWS::RDS::DBCluster")
    assert built.ref(service.metric_database_capacity().dimensions) == {"DBClusterIdentifier": {"Ref": db}}
    bucket = [
        logical_id
        for logical_id, resource in built.template.find_resources("AWS::S3::Bucket").items()
        if "VersioningConfiguration" in resource["Properties"]
    ]
    assert built.ref(service.metric_artifact_bucket_size().dimensions) == {
        "BucketName": {"Ref": bucket[0]},
        "StorageType": "StandardStorage",
    }
    target_group = built.logical_id("AWS::ElasticLoadBalancingV2::TargetGroup")
    dimensions = built.ref(service.metric_target_5xx().dimensions)
    assert target_group in str(dimensions["TargetGroup"])


def test_the_cpu_metric_of_the_service_is_the_ecs_services_own(built: Built) -> None:
    mine, theirs = built.service.metric_cpu_utilization(), built.service.service.metric_cpu_utilization()
    assert built.ref(mine.dimensions) == built.ref(theirs.dimensions)


def test_metric_filters_count_401_403_5xx_and_entrypoint_failures(built: Built) -> None:
    filters = built.template.find_resources("AWS::Logs::MetricFilter")
    by_metric = {f["Properties"]["MetricTransformations"][0]["MetricName"]: f["Properties"] for f in filters.values()}
    assert by_metric.keys() == {"AuthFailures", "ServerErrors", "EntrypointFailures"}
    assert by_metric["AuthFailures"]["FilterPattern"] == server_logs.AUTH_FAILURES_PATTERN
    assert by_metric["ServerErrors"]["FilterPattern"] == server_logs.SERVER_ERRORS_PATTERN
    assert by_metric["EntrypointFailures"]["FilterPattern"] == '"[mlflow-entrypoint] ERROR:"'
    log_group = built.logical_id("AWS::Logs::LogGroup")
    for props in by_metric.values():
        assert props["LogGroupName"] == {"Ref": log_group}
        (transformation,) = props["MetricTransformations"]
        assert transformation["MetricNamespace"] == "MLflow/TestStack/Mlflow"
        assert transformation["MetricValue"] == "1"
        assert transformation["Unit"] == "Count"
        # Without a default value nothing is published, or billed, while no line matches.
        assert "DefaultValue" not in transformation


def test_log_metrics_are_the_ones_the_filters_publish(built: Built) -> None:
    service = built.service
    for method, name in (
        (service.metric_auth_failures, "AuthFailures"),
        (service.metric_server_errors, "ServerErrors"),
        (service.metric_entrypoint_failures, "EntrypointFailures"),
    ):
        metric = method()
        assert (metric.namespace, metric.metric_name) == (service.log_metrics_namespace, name)
        assert not metric.dimensions


def test_two_deployments_publish_to_different_namespaces() -> None:
    first, second = new_stack(stack_id="TeamA"), new_stack(stack_id="TeamB", stack_name="team-b-mlflow")
    services = [
        SecureMlflowService(first, "Mlflow", vpc=imported_vpc(first)),
        SecureMlflowService(first, "Other Mlflow", vpc=imported_vpc(first, "Vpc2")),
        SecureMlflowService(second, "Mlflow", vpc=imported_vpc(second)),
    ]
    namespaces = [s.log_metrics_namespace for s in services]
    assert namespaces == ["MLflow/TeamA/Mlflow", "MLflow/TeamA/Other Mlflow", "MLflow/team-b-mlflow/Mlflow"]
    Template.from_stack(first).has_resource_properties(
        "AWS::Logs::MetricFilter",
        {"MetricTransformations": [Match.object_like({"MetricNamespace": "MLflow/TeamA/Other Mlflow"})]},
    )


def test_characters_cloudwatch_refuses_in_a_namespace_are_replaced() -> None:
    stack = new_stack()
    service = SecureMlflowService(stack, "Mlflow (prod)!", vpc=imported_vpc(stack))
    assert service.log_metrics_namespace == "MLflow/TestStack/Mlflow _prod__"


def _existing_database(stack: cdk.Stack) -> TrackingDatabase:
    secret = secretsmanager.Secret.from_secret_name_v2(stack, "DbSecret", "db")
    return TrackingDatabase.existing(
        ExistingDatabase(endpoint="db.example.internal", secret=secret, engine=DatabaseEngine.POSTGRESQL)
    )


@pytest.mark.parametrize(
    "method",
    [
        "metric_database_capacity",
        "metric_database_acu_utilization",
        "metric_database_connections",
        "metric_database_cpu_utilization",
    ],
)
def test_database_metrics_of_an_existing_database_say_what_to_use(method: str) -> None:
    stack = new_stack()
    service = SecureMlflowService(stack, "Mlflow", vpc=imported_vpc(stack), database=_existing_database(stack))
    with pytest.raises(ValueError, match=rf"{method}: .*TrackingDatabase.from_cluster"):
        getattr(service, method)()


def test_database_metrics_of_a_cluster_from_another_stack_name_that_cluster() -> None:
    stack = new_stack()
    cluster = rds.DatabaseCluster.from_database_cluster_attributes(
        stack, "Cluster", cluster_identifier="team-db", cluster_endpoint_address="team-db.example.internal", port=5432
    )
    secret = secretsmanager.Secret.from_secret_name_v2(stack, "DbSecret", "db")
    service = SecureMlflowService(
        stack, "Mlflow", vpc=imported_vpc(stack), database=TrackingDatabase.from_cluster(cluster, secret=secret)
    )
    metric = service.metric_database_acu_utilization()
    assert (metric.metric_name, stack.resolve(metric.dimensions)) == (
        "ACUUtilization",
        {"DBClusterIdentifier": "team-db"},
    )


def test_metrics_render_in_an_alarm() -> None:
    stack = new_stack()
    service = SecureMlflowService(stack, "Mlflow", vpc=imported_vpc(stack))
    service.metric_target_response_time(statistic="p90").create_alarm(stack, "Slow", threshold=5, evaluation_periods=3)
    Template.from_stack(stack).has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "TargetResponseTime", "ExtendedStatistic": "p90", "Period": 300, "Threshold": 5},
    )
