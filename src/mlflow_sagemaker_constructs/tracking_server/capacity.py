"""Which Fargate capacity the server's tasks run on: on-demand (the default) or Fargate Spot."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_ecs as ecs

from mlflow_sagemaker_constructs._internal import validation as check

FARGATE = "FARGATE"
FARGATE_SPOT = "FARGATE_SPOT"


@dataclass(frozen=True, kw_only=True)
class FargateCapacity:
    """:meth:`on_demand` (the default) or :meth:`spot`.

    Fargate Spot costs about 70 % less (the discount varies) and can be taken back with a two-minute warning.
    What an interruption does to the server: ECS sends the task SIGTERM (the server stops taking requests and
    finishes running ones within the task's 30 s stop timeout), deregisters it from the load balancer or Cloud
    Map, and starts a replacement on Spot when Spot has capacity; a task that cannot be placed waits (it does not
    fall back to on-demand by itself). Requests in between fail: MLflow's client retries with back-off (7 times by
    default), so a training job usually rides out the gap of a cold start (about a minute); a person sees errors.
    Nothing is lost: runs, metrics and artifacts live in the database and S3, not in the task.
    """

    on_spot: bool = False
    on_demand_base: int = 0

    @staticmethod
    def on_demand() -> FargateCapacity:
        """Every task on regular Fargate capacity (``LaunchType: FARGATE``)."""
        return FargateCapacity()

    @staticmethod
    def spot(*, on_demand_base: int = 0) -> FargateCapacity:
        """Tasks on Fargate Spot, the first ``on_demand_base`` on regular Fargate.

        :param on_demand_base: tasks that always run on-demand; with ``min_task_count`` at or below it, Spot only
            carries the tasks autoscaling adds for bursts, and an interruption never takes the server down.
            Default: 0 (every task on Spot: cheapest, for development and small teams that accept a minute of
            errors now and then).
        """
        check.in_range(on_demand_base, 0, 100_000, "on_demand_base")
        return FargateCapacity(on_spot=True, on_demand_base=on_demand_base)

    def strategies(self) -> list[ecs.CapacityProviderStrategy] | None:
        """The service's capacity provider strategy, or None for the launch type FARGATE."""
        if not self.on_spot:
            return None
        strategies = [ecs.CapacityProviderStrategy(capacity_provider=FARGATE_SPOT, weight=1)]
        if self.on_demand_base:
            strategies.insert(
                0, ecs.CapacityProviderStrategy(capacity_provider=FARGATE, base=self.on_demand_base, weight=0)
            )
        return strategies
