"""The endpoint's production variant: real-time on instances (with optional autoscaling), or serverless."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2

from mlflow_sagemaker_constructs._internal import validation as check

#: The one production variant of the endpoint (SageMaker's conventional name).
VARIANT_NAME = "AllTraffic"
#: Memory sizes a serverless variant may have (MB).
SERVERLESS_MEMORY_SIZES_MB = (1024, 2048, 3072, 4096, 5120, 6144)
SERVERLESS_MAX_CONCURRENCY_LIMIT = 200
DEFAULT_SERVERLESS_MAX_CONCURRENCY = 5
DEFAULT_INITIAL_INSTANCE_COUNT = 1
DEFAULT_DATA_CAPTURE_SAMPLING_PERCENTAGE = 100

_MAX_SUBNETS = 16
_MAX_SECURITY_GROUPS = 5
_INSTANCE_TYPE = re.compile(
    r"^ml\.(?P<family>[a-z][a-z0-9]*(?:-[a-z0-9]+)?)\.(?P<size>medium|large|xlarge|[1-9][0-9]*xlarge)$"
)
_GRAVITON_FAMILY = re.compile(r"^[cmrt][0-9]+g[a-z]*$")
_S3_PREFIX_URL = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>\S*))?$")
# Instance families that exist under the ml. prefix but cannot host endpoints.
_NON_HOSTING_FAMILIES: Mapping[str, str] = {
    "t3": "notebook instances and Studio apps",
    "t3a": "notebook instances and Studio apps",
    "c5n": "training and processing jobs",
    "p3dn": "training jobs",
    "eia1": "Elastic Inference accelerators, not instances",
    "eia2": "Elastic Inference accelerators, not instances",
    "geospatial": "geospatial jobs",
}


@dataclass(frozen=True, kw_only=True)
class Autoscaling:
    """Target tracking on ``SageMakerVariantInvocationsPerInstance`` for a real-time variant.

    :param max_capacity: most instances.
    :param target_invocations_per_instance: invocations per instance per minute to keep the variant at.
    :param min_capacity: fewest instances, at least 1. Default: the variant's ``initial_instance_count``.
    """

    max_capacity: int
    target_invocations_per_instance: float
    min_capacity: int | None = None

    def __post_init__(self) -> None:
        """Check what the option needs no variant for; the instance count is checked by the variant."""
        target, low, high = self.target_invocations_per_instance, self.min_capacity, self.max_capacity
        if not check.is_token(target) and target <= 0:
            raise ValueError(f"autoscaling.target_invocations_per_instance ({target}) must be greater than 0")
        if low is not None and not check.is_token(low) and low < 1:
            raise ValueError(
                f"autoscaling.min_capacity ({low}) must be at least 1: a real-time variant keeps an instance"
            )
        if not check.is_token(high) and high < 1:
            raise ValueError(f"autoscaling.max_capacity ({high}) must be at least 1")
        if low is not None and not check.is_token(low) and not check.is_token(high):
            check.ordered(low, high, "autoscaling.min_capacity", "autoscaling.max_capacity")


@dataclass(frozen=True, kw_only=True)
class DataCapture:
    """Capture of requests and responses to S3 (real-time variants only).

    :param s3_uri: ``s3://bucket`` or ``s3://bucket/prefix``.
    :param sampling_percentage: percentage of requests captured, 0 to 100. Default: 100.
    """

    s3_uri: str
    sampling_percentage: int = DEFAULT_DATA_CAPTURE_SAMPLING_PERCENTAGE

    def __post_init__(self) -> None:
        self.validate()

    def s3_path(self) -> str:
        """``bucket/prefix`` for IAM resources (a token for a token URI)."""
        if check.is_token(self.s3_uri):
            return cdk.Fn.select(1, cdk.Fn.split("s3://", self.s3_uri))
        match = _S3_PREFIX_URL.match(self.s3_uri)
        if match is None:
            raise ValueError(
                f"data_capture.s3_uri ({self.s3_uri!r}) is not an S3 URL: pass s3://bucket or s3://bucket/prefix"
            )
        prefix = (match.group("prefix") or "").strip("/")
        return "/".join(p for p in (match.group("bucket"), prefix) if p)

    def validate(self) -> None:
        """Reject a URI that is not ``s3://bucket[/prefix]`` and a percentage outside 0..100."""
        self.s3_path()
        if not check.is_token(self.sampling_percentage):
            check.in_range(self.sampling_percentage, 0, 100, "data_capture.sampling_percentage", "%")


@dataclass(frozen=True, kw_only=True)
class RealTimeSettings:
    """Settings of a real-time variant (see :meth:`EndpointVariant.real_time`)."""

    instance_type: str
    initial_instance_count: int
    autoscaling: Autoscaling | None
    vpc: ec2.IVpc | None
    vpc_subnets: ec2.SubnetSelection | None
    security_groups: Sequence[ec2.ISecurityGroup] | None
    enable_network_isolation: bool
    data_capture: DataCapture | None

    @property
    def is_graviton(self) -> bool:
        return not check.is_token(self.instance_type) and bool(_GRAVITON_FAMILY.match(self.instance_type.split(".")[1]))


@dataclass(frozen=True, kw_only=True)
class ServerlessSettings:
    """Settings of a serverless variant (see :meth:`EndpointVariant.serverless`)."""

    memory_size_mb: int
    max_concurrency: int
    provisioned_concurrency: int | None


@dataclass(frozen=True)
class EndpointVariant:
    """:meth:`real_time` (instances, optional autoscaling, VPC and data capture) or :meth:`serverless`."""

    real_time_settings: RealTimeSettings | None = None
    serverless_settings: ServerlessSettings | None = None

    def __post_init__(self) -> None:
        """Exactly one kind of settings, validated however the variant was made."""
        real_time, serverless = self.real_time_settings, self.serverless_settings
        if (real_time is None) == (serverless is None):
            raise ValueError(
                "an endpoint variant is either real-time or serverless: make it with EndpointVariant.real_time(...) "
                "or EndpointVariant.serverless(...)"
            )
        if real_time is not None:
            _validate_real_time(real_time)
        if serverless is not None:
            _validate_serverless(serverless)

    @staticmethod
    def real_time(
        instance_type: str,
        *,
        initial_instance_count: int = DEFAULT_INITIAL_INSTANCE_COUNT,
        autoscaling: Autoscaling | None = None,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
        enable_network_isolation: bool = False,
        data_capture: DataCapture | None = None,
    ) -> EndpointVariant:
        """A real-time variant on instances.

        :param instance_type: a hosting instance type, ``ml.<family>.<size>`` (x86 with the bundled image).
        :param initial_instance_count: instances at creation, at least 1. Default: 1.
        :param autoscaling: :class:`Autoscaling`. Default: none (a fixed instance count).
        :param vpc: the VPC the model containers attach to. SageMaker then downloads the model through it:
            it needs an S3 gateway endpoint or a NAT route. Default: none (SageMaker's network).
        :param vpc_subnets: subnets of ``vpc``, in at least two AZs, never public. Default: private subnets
            with egress, else isolated subnets.
        :param security_groups: up to 5 groups. Default: one created group allowing HTTPS egress only.
        :param enable_network_isolation: no network access at all from the container; the bundled image needs
            none. Default: False.
        :param data_capture: :class:`DataCapture`. Default: none.
        """
        settings = RealTimeSettings(
            instance_type=instance_type,
            initial_instance_count=initial_instance_count,
            autoscaling=autoscaling,
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            security_groups=list(security_groups) if security_groups is not None else None,
            enable_network_isolation=enable_network_isolation,
            data_capture=data_capture,
        )
        return EndpointVariant(real_time_settings=settings)

    @staticmethod
    def serverless(
        memory_size_mb: int,
        *,
        max_concurrency: int = DEFAULT_SERVERLESS_MAX_CONCURRENCY,
        provisioned_concurrency: int | None = None,
    ) -> EndpointVariant:
        """A serverless variant: no instances, billed per invocation; cold starts when idle.

        :param memory_size_mb: 1024, 2048, 3072, 4096, 5120 or 6144.
        :param max_concurrency: concurrent invocations, 1 to 200. Default: 5.
        :param provisioned_concurrency: warm capacity, 1 to ``max_concurrency``. Default: none.
        """
        settings = ServerlessSettings(
            memory_size_mb=memory_size_mb,
            max_concurrency=max_concurrency,
            provisioned_concurrency=provisioned_concurrency,
        )
        return EndpointVariant(serverless_settings=settings)


def _validate_real_time(settings: RealTimeSettings) -> None:
    _validate_instance_type(settings.instance_type)
    count = settings.initial_instance_count
    if not check.is_token(count) and count < 1:
        raise ValueError(f"initial_instance_count ({count}) must be at least 1: set 1 or more instances")
    if settings.autoscaling is not None:
        _validate_autoscaling(count, settings.autoscaling)
    if settings.vpc is None:
        check.only_with(
            {"vpc_subnets": settings.vpc_subnets, "security_groups": settings.security_groups},
            False,
            "vpc (the VPC the subnets and groups belong to)",
        )
    else:
        selected_vpc_subnets(settings.vpc, settings.vpc_subnets)
        groups = settings.security_groups
        if groups is not None and not 1 <= len(groups) <= _MAX_SECURITY_GROUPS:
            raise ValueError(
                f"security_groups has {len(groups)} groups: pass 1 to {_MAX_SECURITY_GROUPS}, or omit it to have "
                "one created"
            )
    if settings.data_capture is not None:
        settings.data_capture.validate()


def _validate_instance_type(instance_type: str) -> None:
    if check.is_token(instance_type):
        return
    match = _INSTANCE_TYPE.match(instance_type)
    if match is None:
        raise ValueError(
            f"instance_type ({instance_type!r}) is not a SageMaker hosting instance type: use "
            "ml.<family>.<size>, e.g. 'ml.m5.large' or 'ml.c6i.xlarge'"
        )
    family = match.group("family")
    if family in _NON_HOSTING_FAMILIES:
        raise ValueError(
            f"instance_type ({instance_type!r}) cannot host endpoints (ml.{family} is for "
            f"{_NON_HOSTING_FAMILIES[family]}): choose a hosting type such as 'ml.m5.large' or 'ml.t2.medium'"
        )


def _validate_autoscaling(initial_instance_count: int, autoscaling: Autoscaling) -> None:
    """The initial instance count within autoscaling's range (the option checks its own values)."""
    low, high = autoscaling.min_capacity, autoscaling.max_capacity
    if any(check.is_token(v) for v in (low, high, initial_instance_count) if v is not None):
        return
    if low is None:
        if initial_instance_count > high:
            raise ValueError(
                f"initial_instance_count ({initial_instance_count}) is greater than autoscaling.max_capacity "
                f"({high}): lower initial_instance_count or raise max_capacity (min_capacity defaults to "
                "initial_instance_count)"
            )
        return
    if not low <= initial_instance_count <= high:
        raise ValueError(
            f"initial_instance_count ({initial_instance_count}) is outside autoscaling's min_capacity..max_capacity "
            f"({low}..{high}): set it within that range"
        )


def _validate_serverless(settings: ServerlessSettings) -> None:
    memory = settings.memory_size_mb
    if not check.is_token(memory) and memory not in SERVERLESS_MEMORY_SIZES_MB:
        raise ValueError(
            f"memory_size_mb ({memory}) is not a SageMaker serverless memory size: use one of "
            f"{', '.join(str(m) for m in SERVERLESS_MEMORY_SIZES_MB)}"
        )
    concurrency = settings.max_concurrency
    if not check.is_token(concurrency):
        check.in_range(concurrency, 1, SERVERLESS_MAX_CONCURRENCY_LIMIT, "max_concurrency")
    provisioned = settings.provisioned_concurrency
    if provisioned is not None and not check.is_token(provisioned) and not check.is_token(concurrency):
        check.in_range(provisioned, 1, concurrency, "provisioned_concurrency")


def selected_vpc_subnets(vpc: ec2.IVpc, selection: ec2.SubnetSelection | None) -> ec2.SelectedSubnets:
    """The model's subnets: private, in at least two AZs, at most 16."""
    selection = selection or check.default_private_selection(
        vpc,
        "SageMaker gives the containers' network interfaces no public IP; pass a VPC with private subnets, "
        "or set vpc_subnets",
    )
    selected = check.selected_subnets(vpc, selection, "vpc_subnets")
    count = len(selected.subnet_ids)
    if selected.has_public:
        raise ValueError(
            "vpc_subnets selects public subnets: SageMaker gives the containers' network interfaces no "
            "public IP; select private or isolated subnets"
        )
    zones = selected.availability_zones
    distinct_zones = len(set(zones)) if not any(check.is_token(z) for z in zones) else count
    if count < 2 or distinct_zones < 2:
        raise ValueError(
            f"vpc_subnets selects {count} subnet(s) in {distinct_zones} availability zone(s): SageMaker "
            "needs subnets in at least 2 availability zones; select more subnets"
        )
    if count > _MAX_SUBNETS:
        raise ValueError(
            f"vpc_subnets selects {count} subnets; SageMaker allows at most {_MAX_SUBNETS}: select fewer "
            "(e.g. one_per_az=True)"
        )
    return selected
