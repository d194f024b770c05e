"""Synth-time checks shared by the constructs. Every error names the prop and how to fix it.

One check per kind of value: :func:`is_token` (is this only known at deploy time?), :func:`check_host`
(every host name, pattern and origin), :func:`only_with` (a prop that cannot apply), and the subnet, size
and range checks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

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

# A DNS name: lower-case labels of letters, digits and hyphens, at least two labels, 253 characters at most.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$)(?:{_LABEL}\.)+[a-z0-9-]{{2,63}}$")
_IPV4 = re.compile(r"^(?:\d{1,3}\.){3}\d{1,3}$")
_PORT = re.compile(r"^(?:\*|\d{1,5})$")


def is_token(value: object) -> bool:
    """True when ``value`` is (or contains) a CloudFormation token, known only at deployment."""
    return isinstance(value, str | int | float) and not isinstance(value, bool) and Token.is_unresolved(value)


def check_host(
    value: str,
    prop: str,
    *,
    port: bool = False,
    wildcard: bool = False,
    example: str = "mlflow.example.com",
) -> None:
    """Reject anything that is not a lower-case DNS name (or IPv4 address).

    :param port: also accept ``host:port`` and ``host:*`` (MLflow's allowed-hosts syntax).
    :param wildcard: also accept a leading ``*.`` (any subdomain).
    Tokens are accepted unchecked.
    """
    if is_token(value):
        return
    host = value
    not_a_host = ValueError(
        f"{prop} ({value!r}) is not a host name: give a bare lower-case name such as {example!r}, without "
        "scheme, path, commas or trailing dot"
    )
    if "/" in host or "," in host or " " in host or not host:
        raise not_a_host
    if port and ":" in host:
        host, _, port_part = host.rpartition(":")
        if not _PORT.match(port_part) or (port_part != "*" and not 0 < int(port_part) < 65536):
            raise ValueError(f"{prop} ({value!r}) has an invalid port: use host:port with 1-65535 or host:*")
    if wildcard and host.startswith("*."):
        host = host[2:]
    if not (_HOST_NAME.match(host) or _IPV4.match(host) or host == "localhost"):
        raise not_a_host


def check_origin(value: str, prop: str) -> None:
    """Reject anything that is not ``scheme://host[:port]`` (a browser origin) or ``*``."""
    if is_token(value) or value == "*":
        return
    scheme, sep, rest = value.partition("://")
    if scheme not in ("http", "https") or not sep:
        raise ValueError(
            f"{prop} ({value!r}) is not an origin: give scheme://host[:port], e.g. https://studio.example.com"
        )
    check_host(rest.lower(), prop, port=True, example="studio.example.com")


def only_with(given: dict[str, Any], condition: bool, requirement: str) -> None:
    """Refuse props that only apply when ``condition`` holds: ``given`` maps prop names to values (None = unset).

    ``requirement`` says what makes them apply, e.g. ``"authorization=EdgeAuthorization.JWT"``.
    """
    if condition:
        return
    named = [name for name, value in given.items() if value is not None]
    if named:
        props = " and ".join(named)
        verb = "applies" if len(named) == 1 else "apply"
        raise ValueError(f"{props} only {verb} with {requirement}: remove {props}, or use {requirement}")


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
    if min_azs > 1 and not any(is_token(z) for z in zones) and len(set(zones)) < min_azs:
        raise ValueError(
            f"{prop} selects subnets in {len(set(zones))} availability zone(s); at least {min_azs} are required: "
            "select subnets in more availability zones"
        )
    return selected


def all_isolated(vpc: ec2.IVpc, selected: ec2.SelectedSubnets) -> bool:
    """True when every selected subnet is one of the VPC's isolated subnets (no route out).

    A subnet listed as private too is not isolated: ``Vpc.from_lookup`` returns such a stand-in VPC until
    its lookup has run, and refusing it would stop the synthesis that performs the lookup.
    """
    private = {subnet.subnet_id for subnet in vpc.private_subnets}
    isolated = {subnet.subnet_id for subnet in vpc.isolated_subnets} - private
    return bool(selected.subnet_ids) and all(subnet_id in isolated for subnet_id in selected.subnet_ids)


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


def same_vpc(vpc: ec2.IVpc, other: ec2.IVpc | None, prop: str) -> None:
    """Reject ``other`` when both VPC ids are known and differ."""
    if other is None or other is vpc or is_token(vpc.vpc_id) or is_token(other.vpc_id):
        return
    if other.vpc_id != vpc.vpc_id:
        raise ValueError(f"{prop} is in VPC {other.vpc_id}, not in vpc ({vpc.vpc_id}): pass one of the same VPC")


def positive(value: float, prop: str) -> None:
    """Reject zero and negative numbers."""
    if value <= 0:
        raise ValueError(f"{prop} ({value}) must be greater than 0")


def default_fargate_memory(cpu: int, preferred: int) -> int:
    """``preferred`` MiB, or the least Fargate allows for ``cpu`` when that is more (unknown ``cpu``: ``preferred``,
    and :func:`fargate_task_size` names the problem)."""
    allowed = FARGATE_MEMORY_BY_CPU.get(cpu)
    return max(preferred, allowed[0]) if allowed else preferred


def in_range(value: float, low: float, high: float, prop: str, unit: str = "") -> None:
    """Reject values outside ``low..high`` (inclusive)."""
    if not low <= value <= high:
        suffix = f" {unit}" if unit else ""
        raise ValueError(f"{prop} ({value}{suffix}) must be between {low:g} and {high:g}{suffix}")


def ordered(low: float, high: float, low_prop: str, high_prop: str) -> None:
    """Reject ``low > high``."""
    if low > high:
        raise ValueError(f"{low_prop} ({low}) is greater than {high_prop} ({high}): set {low_prop} <= {high_prop}")


def unique(values: Iterable[str], prop: str) -> None:
    """Reject duplicate entries."""
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{prop} lists {value!r} twice: list each once")
        seen.add(value)
