"""Synth-time checks shared by the constructs. Every error names the prop and how to fix it."""

from __future__ import annotations

from aws_cdk import Token
from aws_cdk import aws_ec2 as ec2

# Fargate's allowed task sizes: CPU units -> allowed memory (MiB).
FARGATE_MEMORY_BY_CPU: dict[int, range] = {
    256: range(512, 2048 + 1, 512),
    512: range(1024, 4096 + 1, 1024),
    1024: range(2048, 8192 + 1, 1024),
    2048: range(4096, 16384 + 1, 1024),
    4096: range(8192, 30720 + 1, 1024),
    8192: range(16384, 61440 + 1, 4096),
    16384: range(32768, 122880 + 1, 8192),
}


def fargate_task_size(cpu: int, memory_limit_mib: int) -> None:
    """Reject CPU/memory pairs that Fargate does not run."""
    if cpu not in FARGATE_MEMORY_BY_CPU:
        raise ValueError(f"cpu ({cpu}) is not a Fargate task size: use one of {sorted(FARGATE_MEMORY_BY_CPU)}")
    allowed = FARGATE_MEMORY_BY_CPU[cpu]
    if memory_limit_mib not in allowed:
        raise ValueError(
            f"memory_limit_mib ({memory_limit_mib}) is not allowed with cpu {cpu} on Fargate: use "
            f"{allowed.start} to {allowed.stop - 1} MiB in steps of {allowed.step}"
        )


def selected_subnets(vpc: ec2.IVpc, selection: ec2.SubnetSelection, prop: str, min_azs: int = 1) -> ec2.SelectedSubnets:
    """Select subnets, failing with ``prop`` in the message when nothing (or too few AZs) is selected."""
    try:
        selected = vpc.select_subnets(
            subnet_type=selection.subnet_type,
            subnet_group_name=selection.subnet_group_name,
            subnets=selection.subnets,
            availability_zones=selection.availability_zones,
            one_per_az=selection.one_per_az,
            subnet_filters=selection.subnet_filters,
        )
    except RuntimeError as error:  # jsii surfaces CDK's own selection errors as RuntimeError
        raise ValueError(
            f"{prop} selects no subnets in the given VPC ({error}): choose a subnet type or group "
            "that exists in the VPC"
        ) from error
    if not selected.subnet_ids:
        raise ValueError(f"{prop} selects no subnets in the given VPC: choose a subnet type or group that exists in it")
    zones = selected.availability_zones
    if min_azs > 1 and not any(Token.is_unresolved(z) for z in zones) and len(set(zones)) < min_azs:
        raise ValueError(
            f"{prop} selects subnets in {len(set(zones))} availability zone(s); at least {min_azs} are required: "
            "select subnets in more availability zones"
        )
    return selected


def default_private_selection(
    vpc: ec2.IVpc, why: str = "MLflow never runs in public subnets; pass a VPC with private subnets"
) -> ec2.SubnetSelection:
    """Private subnets with egress when the VPC has them, otherwise isolated subnets.

    ``why`` completes the error for a VPC with neither: what the caller needs them for and how to fix it.
    """
    if vpc.private_subnets:
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
    if vpc.isolated_subnets:
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
    raise ValueError(f"vpc has neither private-with-egress nor isolated subnets: {why}")


def default_isolated_selection(vpc: ec2.IVpc) -> ec2.SubnetSelection:
    """Isolated subnets when the VPC has them (databases need no egress), otherwise private ones."""
    if vpc.isolated_subnets:
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
    return default_private_selection(vpc)


def positive(value: float, prop: str) -> None:
    """Reject zero and negative numbers."""
    if value <= 0:
        raise ValueError(f"{prop} ({value}) must be greater than 0")


def ordered(low: float, high: float, low_prop: str, high_prop: str) -> None:
    """Reject ``low > high``."""
    if low > high:
        raise ValueError(f"{low_prop} ({low}) is greater than {high_prop} ({high}): set {low_prop} <= {high_prop}")
