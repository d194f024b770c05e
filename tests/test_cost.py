"""scripts/cost.py: counting billable idle resources in templates, and docs/cost.md kept up to date."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs

from tests.harness.app import REPO_ROOT, new_stack, synth_template

pytestmark = pytest.mark.xdist_group("cost")


def _load_cost() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cost_script", REPO_ROOT / "scripts" / "cost.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


cost = _load_cost()
HOURS = cost.HOURS_PER_MONTH
PRICES: dict[str, float] = cost.PRICES


@pytest.fixture(scope="module")
def nat_and_task_template() -> dict[str, Any]:
    """One NAT gateway and one Fargate service with one 1 vCPU / 2 GB x86 task, as L1 resources."""
    stack = new_stack()
    ec2.CfnNatGateway(stack, "Nat", subnet_id="subnet-0123456789abcdef0", connectivity_type="private")
    task = ecs.CfnTaskDefinition(
        stack,
        "Task",
        cpu="1024",
        memory="2048",
        requires_compatibilities=["FARGATE"],
        network_mode="awsvpc",
        container_definitions=[ecs.CfnTaskDefinition.ContainerDefinitionProperty(name="c", image="busybox")],
    )
    ecs.CfnService(
        stack,
        "Service",
        launch_type="FARGATE",
        desired_count=1,
        task_definition=task.ref,
        network_configuration=ecs.CfnService.NetworkConfigurationProperty(
            awsvpc_configuration=ecs.CfnService.AwsVpcConfigurationProperty(subnets=["subnet-0123456789abcdef0"])
        ),
    )
    return synth_template(stack)


def test_nat_plus_one_task_sums_to_list_prices(nat_and_task_template: dict[str, Any]) -> None:
    items = cost.idle_cost([nat_and_task_template])
    expected = (
        PRICES["nat_gateway_hour"] + PRICES["fargate_x86_vcpu_hour"] + 2 * PRICES["fargate_x86_gb_hour"]
    ) * HOURS
    assert cost.total(items) == pytest.approx(expected)
    assert cost.total(items) == pytest.approx(32.85 + 36.04, abs=0.01)
    assert items[0].resource == "NAT gateway"


def _fargate(arch: str | None, desired: int, cpu: str = "512", memory: str = "1024") -> dict[str, Any]:
    task_props: dict[str, Any] = {"Cpu": cpu, "Memory": memory, "RequiresCompatibilities": ["FARGATE"]}
    if arch:
        task_props["RuntimePlatform"] = {"CpuArchitecture": arch, "OperatingSystemFamily": "LINUX"}
    return {
        "Resources": {
            "Td": {"Type": "AWS::ECS::TaskDefinition", "Properties": task_props},
            "Svc": {
                "Type": "AWS::ECS::Service",
                "Properties": {"DesiredCount": desired, "TaskDefinition": {"Ref": "Td"}},
            },
        }
    }


def test_arm_tasks_use_arm_prices_times_desired_count() -> None:
    items = cost.idle_cost([_fargate("ARM64", 3)])
    hourly = 0.5 * PRICES["fargate_arm_vcpu_hour"] + 1 * PRICES["fargate_arm_gb_hour"]
    assert cost.total(items) == pytest.approx(3 * hourly * HOURS)


def test_autoscaling_minimum_above_desired_count_counts() -> None:
    template = _fargate(None, 1)
    template["Resources"]["Target"] = {
        "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
        "Properties": {
            "ScalableDimension": "ecs:service:DesiredCount",
            "MinCapacity": 2,
            "ResourceId": {"Fn::Join": ["", ["service/", {"Ref": "Cluster"}, "/", {"Fn::GetAtt": ["Svc", "Name"]}]]},
        },
    }
    hourly = 0.5 * PRICES["fargate_x86_vcpu_hour"] + 1 * PRICES["fargate_x86_gb_hour"]
    assert cost.total(cost.idle_cost([template])) == pytest.approx(2 * hourly * HOURS)


@pytest.mark.parametrize(("min_acu", "expected_acu"), [(0, 0.0), (0.5, 0.5), (2, 2.0)])
def test_aurora_serverless_bills_minimum_acu_per_instance(min_acu: float, expected_acu: float) -> None:
    template = {
        "Resources": {
            "Cluster": {
                "Type": "AWS::RDS::DBCluster",
                "Properties": {"ServerlessV2ScalingConfiguration": {"MinCapacity": min_acu, "MaxCapacity": 4}},
            },
            **{
                f"Writer{i}": {
                    "Type": "AWS::RDS::DBInstance",
                    "Properties": {"DBInstanceClass": "db.serverless", "DBClusterIdentifier": {"Ref": "Cluster"}},
                }
                for i in range(2)
            },
        }
    }
    total = cost.total(cost.idle_cost([template]))
    assert total == pytest.approx(2 * expected_acu * PRICES["aurora_serverless_v2_acu_hour"] * HOURS)


def test_secrets_keys_endpoints_eips_and_zero_idle_resources() -> None:
    resources: dict[str, Any] = {
        "S1": {"Type": "AWS::SecretsManager::Secret"},
        "S2": {"Type": "AWS::SecretsManager::Secret"},
        "K": {"Type": "AWS::KMS::Key"},
        "Eip": {"Type": "AWS::EC2::EIP"},
        "Ep": {
            "Type": "AWS::EC2::VPCEndpoint",
            "Properties": {"VpcEndpointType": "Interface", "SubnetIds": ["a", "b"]},
        },
        "Gw": {"Type": "AWS::EC2::VPCEndpoint", "Properties": {"VpcEndpointType": "Gateway"}},
        "Alb": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {"Scheme": "internal"}},
        "Logs": {"Type": "AWS::Logs::LogGroup"},
        "Api": {"Type": "AWS::ApiGatewayV2::Api"},
        "Domain": {"Type": "AWS::SageMaker::Domain"},
        "Bucket": {"Type": "AWS::S3::Bucket"},
    }
    expected = (
        2 * PRICES["secrets_manager_secret_month"]
        + PRICES["kms_key_month"]
        + (PRICES["public_ipv4_hour"] + 2 * PRICES["vpc_interface_endpoint_az_hour"] + PRICES["alb_hour"]) * HOURS
    )
    items = cost.idle_cost([{"Resources": resources}])
    assert cost.total(items) == pytest.approx(expected)
    zero = {item.resource for item in items if item.unit_price == 0 and item.count}
    assert len(zero) == 4


def test_provisioned_databases_are_refused_not_silently_priced() -> None:
    template = {
        "Resources": {
            "Cluster": {"Type": "AWS::RDS::DBCluster", "Properties": {}},
            "I": {
                "Type": "AWS::RDS::DBInstance",
                "Properties": {"DBInstanceClass": "db.r6g.large", "DBClusterIdentifier": {"Ref": "Cluster"}},
            },
        }
    }
    with pytest.raises(ValueError, match="Serverless v2"):
        cost.idle_cost([template])


def test_docs_cost_page_is_up_to_date(example_costs: dict[str, list[Any]]) -> None:
    """docs/cost.md is what the script renders now.

    Regenerate: ``./dev shell python scripts/cost.py --write docs/cost.md``.
    """
    page = cost.render_markdown(example_costs, cost.load_task_size_results())
    assert (Path(REPO_ROOT) / "docs" / "cost.md").read_text(encoding="utf-8") == page, (
        "docs/cost.md is stale: run ./dev shell python scripts/cost.py --write docs/cost.md"
    )


def _alarm(period: int = 300) -> dict[str, Any]:
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Period": period, "MetricName": "M", "Namespace": "N"}}


def test_alarms_and_dashboards_bill_after_the_accounts_free_tier() -> None:
    """15 standard alarm metrics (13 alarms and a math alarm of 2), 1 high-resolution, 4 dashboards."""
    math = {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "Metrics": [
                {"Id": "a", "MetricStat": {"Metric": {"MetricName": "A"}, "Period": 300, "Stat": "Sum"}},
                {"Id": "b", "MetricStat": {"Metric": {"MetricName": "B"}, "Period": 300, "Stat": "Sum"}},
                {"Id": "ratio", "Expression": "a / b"},
            ]
        },
    }
    resources: dict[str, Any] = {f"Alarm{i}": _alarm() for i in range(13)}
    resources |= {"Math": math, "Fast": _alarm(period=10)}
    resources |= {f"Dashboard{i}": {"Type": "AWS::CloudWatch::Dashboard"} for i in range(4)}
    items = cost.idle_cost([{"Resources": resources}])
    billed = (
        (15 - cost.FREE_ALARM_METRICS) * PRICES["cloudwatch_alarm_metric_month"]
        + 1 * PRICES["cloudwatch_high_resolution_alarm_metric_month"]  # high resolution: never in the free tier
        + (4 - cost.FREE_DASHBOARDS) * PRICES["cloudwatch_dashboard_month"]
    )
    assert cost.total(items) == pytest.approx(billed)
    assert cost.total(items) == pytest.approx(0.50 + 0.30 + 3.00)
    without_free_tier = sum(item.monthly_without_free_tier for item in items)
    assert without_free_tier == pytest.approx(1.50 + 0.30 + 12.00)


def test_high_resolution_alarms_are_not_in_the_free_tier() -> None:
    items = cost.idle_cost([{"Resources": {"Fast": _alarm(period=10)}}])
    assert cost.total(items) == pytest.approx(PRICES["cloudwatch_high_resolution_alarm_metric_month"])


def test_a_deployment_within_the_free_tier_costs_nothing_for_monitoring() -> None:
    resources: dict[str, Any] = {f"Alarm{i}": _alarm() for i in range(10)}
    resources["Dashboard"] = {"Type": "AWS::CloudWatch::Dashboard"}
    resources["Filter"] = {"Type": "AWS::Logs::MetricFilter"}
    resources["Query"] = {"Type": "AWS::Logs::QueryDefinition"}
    items = cost.idle_cost([{"Resources": resources}])
    assert cost.total(items) == 0
    assert {item.resource for item in items if item.unit == "idle"} == {
        cost.ZERO_IDLE["AWS::Logs::MetricFilter"],
        cost.ZERO_IDLE["AWS::Logs::QueryDefinition"],
    }
    assert sum(item.monthly_without_free_tier for item in items) == pytest.approx(1.00 + 3.00)


# ---------------------------------------------------------------------------------------------- issue 18


@pytest.fixture(scope="module")
def example_costs() -> dict[str, list[Any]]:
    costs: dict[str, list[Any]] = cost.example_costs()
    return costs


@pytest.mark.parametrize(("example", "budget"), sorted(cost.BUDGETS.items()))
def test_idle_budgets_hold_with_the_price_table(
    example_costs: dict[str, list[Any]], example: str, budget: float
) -> None:
    """The secure default in an existing VPC stays at or under $35 a month idle, the lean topology under $18.

    Same price table as the page: a price change that breaks a budget is a reviewed diff of this test's input.
    """
    idle = cost.total(example_costs[example])
    assert idle <= budget, f"examples/{example} costs ${idle:.2f} a month idle, over its ${budget:.2f} budget"


def test_budgets_are_the_issues() -> None:
    assert cost.BUDGETS == {"custom_networking": 35.0, "lean": 18.0}


def test_every_price_has_a_source_and_a_status() -> None:
    assert set(cost.PRICES) == set(cost.PRICE_TABLE)
    for key, price in cost.PRICE_TABLE.items():
        assert price.value >= 0, key
        assert price.source.startswith("https://"), key
        assert price.status.split(":")[0] in {"corroborated", "unverified"}, key
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", cost.PRICES_CHECKED)


def test_the_page_shows_every_price_with_its_source(example_costs: dict[str, list[Any]]) -> None:
    page = cost.render_markdown(example_costs, cost.load_task_size_results())
    for key, price in cost.PRICE_TABLE.items():
        row = next(line for line in page.splitlines() if line.startswith(f"| `{key}` |"))
        assert price.source in row
        assert price.status in row


def test_lean_pays_for_its_namespace_and_registered_tasks_but_no_load_balancer(
    example_costs: dict[str, list[Any]],
) -> None:
    items = {item.resource.split(" (")[0]: item for item in example_costs["lean"]}
    assert "Application Load Balancer" not in items
    assert items["Route 53 hosted zone"].count == 1
    assert items["Cloud Map registered instance"].count == 1


def test_spot_tasks_use_spot_prices_after_the_on_demand_base() -> None:
    template = _fargate("ARM64", 3)
    template["Resources"]["Svc"]["Properties"]["CapacityProviderStrategy"] = [
        {"CapacityProvider": "FARGATE", "Base": 1, "Weight": 0},
        {"CapacityProvider": "FARGATE_SPOT", "Weight": 1},
    ]
    on_demand = 0.5 * PRICES["fargate_arm_vcpu_hour"] + PRICES["fargate_arm_gb_hour"]
    spot = 0.5 * PRICES["fargate_spot_arm_vcpu_hour"] + PRICES["fargate_spot_arm_gb_hour"]
    assert cost.total(cost.idle_cost([template])) == pytest.approx((on_demand + 2 * spot) * HOURS)


def test_saturation_cost_adds_task_load_balancer_database_and_api() -> None:
    results = {
        "date": "2026-12-01",
        "configs": [
            {
                "vcpu": 0.5,
                "workers": 1,
                "bytes_per_request": 1000.0,
                "cells": [
                    {"operation": "mix", "clients": 8, "server_cpu_ms": 10.0, "db_cpu_ms": 2.0},
                    {"operation": "mix", "clients": 1, "server_cpu_ms": 99.0, "db_cpu_ms": 99.0},
                ],
            }
        ],
    }
    alb, lean = cost.saturation_costs(results)
    assert alb.capacity_rps == pytest.approx(50.0)  # 0.5 vCPU / 10 ms
    task_hours = 1_000_000 / (50.0 * 3600)
    assert alb.task == pytest.approx(
        (0.5 * PRICES["fargate_arm_vcpu_hour"] + PRICES["fargate_arm_gb_hour"]) * task_hours
    )
    assert alb.alb_hour == pytest.approx(PRICES["alb_hour"] * task_hours)
    assert alb.alb_lcu == pytest.approx(1000 / 1e9 * PRICES["alb_lcu_hour"] * 1e6)
    assert alb.db_acu_seconds == pytest.approx(0.002 / cost.VCPU_PER_ACU)
    assert alb.db == pytest.approx(0.008 / 3600 * PRICES["aurora_serverless_v2_acu_hour"] * 1e6)
    assert lean.alb_hour == lean.alb_lcu == 0
    assert lean.total < alb.total
    assert alb.http_api == PRICES["http_api_million"]
