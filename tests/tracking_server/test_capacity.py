"""FargateCapacity: on-demand by default, Fargate Spot as a capacity provider strategy."""

from __future__ import annotations

import pytest
from aws_cdk import aws_ecs as ecs
from aws_cdk.assertions import Match, Template

from mlflow_sagemaker_constructs import SecureMlflowService
from mlflow_sagemaker_constructs.tracking_server.capacity import FargateCapacity
from tests.harness import new_stack
from tests.harness.vpc import imported_vpc

pytestmark = pytest.mark.xdist_group("capacity")


def _template(capacity: FargateCapacity | None = None, cluster: bool = False) -> Template:
    stack = new_stack()
    vpc = imported_vpc(stack)
    existing = ecs.Cluster(stack, "Shared", vpc=vpc) if cluster else None
    SecureMlflowService(stack, "Mlflow", vpc=vpc, capacity=capacity, cluster=existing)
    return Template.from_stack(stack)


def test_on_demand_is_the_default_launch_type() -> None:
    template = _template()
    template.has_resource_properties(
        "AWS::ECS::Service", {"LaunchType": "FARGATE", "CapacityProviderStrategy": Match.absent()}
    )
    template.resource_count_is("AWS::ECS::ClusterCapacityProviderAssociations", 0)


def test_spot_runs_every_task_on_fargate_spot() -> None:
    template = _template(FargateCapacity.spot())
    template.has_resource_properties(
        "AWS::ECS::Service",
        {
            "LaunchType": Match.absent(),
            "CapacityProviderStrategy": [{"CapacityProvider": "FARGATE_SPOT", "Weight": 1}],
        },
    )
    # The new cluster gets both Fargate capacity providers associated.
    template.has_resource_properties(
        "AWS::ECS::ClusterCapacityProviderAssociations",
        {"CapacityProviders": Match.array_with(["FARGATE", "FARGATE_SPOT"])},
    )


def test_spot_with_an_on_demand_base_keeps_the_first_tasks_on_demand() -> None:
    template = _template(FargateCapacity.spot(on_demand_base=1), cluster=True)
    template.has_resource_properties(
        "AWS::ECS::Service",
        {
            "CapacityProviderStrategy": [
                {"CapacityProvider": "FARGATE", "Base": 1, "Weight": 0},
                {"CapacityProvider": "FARGATE_SPOT", "Weight": 1},
            ]
        },
    )
    # A cluster of the same app (ecs.Cluster) gets the providers too.
    template.resource_count_is("AWS::ECS::ClusterCapacityProviderAssociations", 1)


def test_on_demand_base_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="on_demand_base"):
        FargateCapacity.spot(on_demand_base=-1)
