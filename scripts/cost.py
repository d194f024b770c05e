"""Monthly IDLE cost, at list prices, of each example app, counted from its synthesized templates.

Idle means deployed and unused: no requests, no training, artifacts and database at (about) 0 GB.
What is counted is what bills by the hour or by the month whether or not anyone uses it: NAT gateways,
public IPv4 addresses, load balancers, Fargate tasks (desired count), Aurora Serverless v2 minimum
capacity, interface VPC endpoints, Secrets Manager secrets, KMS keys, CloudWatch alarms (per alarm metric)
and dashboards, the last two after the free tier of each account (10 alarm metrics, 3 dashboards). Resources
that bill only by use (log groups, metric filters, saved queries, HTTP APIs, SageMaker domains, S3 buckets,
Lambda functions) are listed at $0.

Usage::

    ./dev shell python scripts/cost.py                      # print the markdown page
    ./dev shell python scripts/cost.py --write docs/cost.md # write it
    ./dev shell python scripts/cost.py --json               # totals per example as JSON
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = REPO_ROOT / "examples"
#: The example apps, in the order the page lists them.
EXAMPLES = ("proof_of_concept", "existing_vpc", "custom_networking", "training_job", "lean")
#: Idle budgets (USD/month) of issue 18: the secure default in an existing VPC (``custom_networking``: internal
#: ALB with HTTPS, one task) and the lean topology without a load balancer (``lean``). tests/test_cost.py holds
#: the examples to them with this same price table.
BUDGETS: dict[str, float] = {"custom_networking": 35.0, "lean": 18.0}
#: The task-size benchmark (benchmarks/task_size.py) whose CPU figures price a million requests.
TASK_SIZE_RESULTS = REPO_ROOT / "benchmarks" / "results" / "task_size.json"

HOURS_PER_MONTH = 730
#: When the prices below were last compared with anything outside this repository.
PRICES_CHECKED = "2026-12-01"
PRICE_SOURCE = (
    f"us-east-1 list prices, on-demand, no free tier; each price's source and status in the table below "
    f"({PRICES_CHECKED})"
)


@dataclasses.dataclass(frozen=True)
class Price:
    """One list price (USD, us-east-1) and where it comes from."""

    value: float
    unit: str
    source: str
    #: How far the value is confirmed: ``corroborated`` (matches independent copies of the pricing page, dated),
    #: or ``unverified`` (recalled; the official page could not be reached from the build machine).
    status: str


_VPC = "https://aws.amazon.com/vpc/pricing/"
_ELB = "https://aws.amazon.com/elasticloadbalancing/pricing/"
_FARGATE = "https://aws.amazon.com/fargate/pricing/"
_FARGATE_SEEN = "corroborated: third-party copies of the page dated 2026-03 and 2026-06 give the same value"
_AURORA = "https://aws.amazon.com/rds/aurora/pricing/"
_RECALLED = "unverified: recalled, not re-checked against the live page"
#: USD list prices in us-east-1 (on-demand, no free tier, no savings plans), with their source.
PRICE_TABLE: dict[str, Price] = {
    "nat_gateway_hour": Price(0.045, "NAT gateway-hour (data processing extra, $0.045/GB)", _VPC, _RECALLED),
    "public_ipv4_hour": Price(0.005, "public IPv4 address-hour (EIPs, in use or not)", _VPC, _RECALLED),
    "alb_hour": Price(0.0225, "Application Load Balancer-hour", _ELB, _RECALLED),
    "alb_lcu_hour": Price(0.008, "ALB LCU-hour", _ELB, _RECALLED),
    "fargate_x86_vcpu_hour": Price(0.04048, "Fargate Linux/x86 vCPU-hour", _FARGATE, _FARGATE_SEEN),
    "fargate_x86_gb_hour": Price(0.004445, "Fargate Linux/x86 GB-hour", _FARGATE, _FARGATE_SEEN),
    "fargate_arm_vcpu_hour": Price(0.03238, "Fargate Linux/ARM (Graviton) vCPU-hour", _FARGATE, _FARGATE_SEEN),
    "fargate_arm_gb_hour": Price(0.00356, "Fargate Linux/ARM (Graviton) GB-hour", _FARGATE, _FARGATE_SEEN),
    # Fargate Spot prices move with spare capacity; this is the often-quoted "up to 70 % off" applied to the
    # on-demand price, a planning figure only.
    "fargate_spot_x86_vcpu_hour": Price(
        0.01214, "Fargate Spot Linux/x86 vCPU-hour (varies)", _FARGATE, "unverified: 70 % off on-demand, varies"
    ),
    "fargate_spot_x86_gb_hour": Price(
        0.00133, "Fargate Spot Linux/x86 GB-hour (varies)", _FARGATE, "unverified: 70 % off on-demand, varies"
    ),
    "fargate_spot_arm_vcpu_hour": Price(
        0.00971, "Fargate Spot Linux/ARM vCPU-hour (varies)", _FARGATE, "unverified: 70 % off on-demand, varies"
    ),
    "fargate_spot_arm_gb_hour": Price(
        0.00107, "Fargate Spot Linux/ARM GB-hour (varies)", _FARGATE, "unverified: 70 % off on-demand, varies"
    ),
    "aurora_serverless_v2_acu_hour": Price(0.12, "Aurora Serverless v2 ACU-hour (Aurora Standard)", _AURORA, _RECALLED),
    "aurora_storage_gb_month": Price(0.10, "Aurora Standard storage GB-month (I/O extra)", _AURORA, _RECALLED),
    "vpc_interface_endpoint_az_hour": Price(0.01, "interface VPC endpoint ENI-hour (per AZ)", _VPC, _RECALLED),
    "secrets_manager_secret_month": Price(
        0.40, "Secrets Manager secret-month", "https://aws.amazon.com/secrets-manager/pricing/", _RECALLED
    ),
    "kms_key_month": Price(
        1.00, "KMS customer managed key-month (20k requests free)", "https://aws.amazon.com/kms/pricing/", _RECALLED
    ),
    "route53_hosted_zone_month": Price(
        0.50,
        "Route 53 hosted zone-month (a Cloud Map private DNS namespace is one)",
        "https://aws.amazon.com/route53/pricing/",
        _RECALLED,
    ),
    "cloud_map_instance_month": Price(
        0.10, "Cloud Map registered instance-month", "https://aws.amazon.com/cloud-map/pricing/", _RECALLED
    ),
    "cloud_map_discovery_million": Price(
        1.00,
        "Cloud Map DiscoverInstances calls, per million",
        "https://aws.amazon.com/cloud-map/pricing/",
        _RECALLED,
    ),
    "http_api_million": Price(
        1.00,
        "API Gateway HTTP API requests, per million (first 300 million a month)",
        "https://aws.amazon.com/api-gateway/pricing/",
        _RECALLED,
    ),
    "cloudwatch_alarm_metric_month": Price(
        0.10,
        "CloudWatch standard-resolution alarm metric-month",
        "https://aws.amazon.com/cloudwatch/pricing/",
        _RECALLED,
    ),
    "cloudwatch_high_resolution_alarm_metric_month": Price(
        0.30,
        "CloudWatch high-resolution alarm metric-month (periods under 60 s)",
        "https://aws.amazon.com/cloudwatch/pricing/",
        _RECALLED,
    ),
    "cloudwatch_dashboard_month": Price(
        3.00, "CloudWatch dashboard-month", "https://aws.amazon.com/cloudwatch/pricing/", _RECALLED
    ),
    # Managed MLflow on SageMaker AI, tracking server size Small, per hour.
    "sagemaker_mlflow_small_hour": Price(
        0.642,
        "SageMaker AI managed MLflow tracking server, Small, hour",
        "https://aws.amazon.com/sagemaker/pricing/",
        _RECALLED,
    ),
}
#: The values alone, by key (what the computations use).
PRICES: dict[str, float] = {key: price.value for key, price in PRICE_TABLE.items()}
#: SageMaker AI's serverless MLflow Apps (launched December 2025): reported at no charge for the MLflow App
#: itself (you pay S3 and the services around it). Unverified: the launch coverage said so
#: (https://cloudobjectivity.co.uk/index.php/2025/12/03/accelerate-ai-development-using-amazon-sagemaker-ai-with-serverless-mlflow/,
#: 2025-12-03); the pricing page could not be checked. MLflow 3.10, IAM-only permissions.
MLFLOW_APPS_MONTHLY = 0.0
MLFLOW_APPS_SOURCE = (
    "reported at no additional charge at launch (third-party launch coverage, 2025-12-03); unverified against "
    "https://aws.amazon.com/sagemaker/pricing/"
)

#: LCUs an idle ALB consumes: health checks only, far below 1 LCU in every dimension. ALBs have no
#: minimum LCU charge unless LCU reservation is configured (none of the examples does).
ALB_IDLE_LCU = 0.0
#: Aurora storage of an idle, almost empty cluster (GB); billed per GB-month actually used.
AURORA_IDLE_STORAGE_GB = 0.0

#: CloudWatch's free tier, per account and region and shared with everything else in it: the first alarm
#: metrics and dashboards cost nothing.
FREE_ALARM_METRICS = 10
FREE_DASHBOARDS = 3

#: Resources that cost nothing while idle; listed so the page shows they were considered.
ZERO_IDLE = {
    "AWS::Logs::LogGroup": "CloudWatch log group (pay per GB ingested/stored)",
    "AWS::Logs::MetricFilter": "CloudWatch metric filter (its metric bills only in hours it publishes; idle: none)",
    "AWS::Logs::QueryDefinition": "Saved Logs Insights query (pay per GB scanned when run)",
    "AWS::ApiGatewayV2::Api": "API Gateway HTTP API (pay per request)",
    "AWS::ApiGatewayV2::VpcLink": "API Gateway VPC link (no charge)",
    "AWS::SageMaker::Domain": "SageMaker domain (apps bill while running)",
    "AWS::S3::Bucket": "S3 bucket (pay per GB and request; 0 GB idle)",
    "AWS::Lambda::Function": "Lambda function (pay per invocation)",
}


@dataclasses.dataclass(frozen=True)
class LineItem:
    resource: str
    count: float
    unit: str
    unit_price: float  # USD per unit per month
    free: float = 0.0  # units a free tier covers (not in count)

    @property
    def monthly(self) -> float:
        return self.count * self.unit_price

    @property
    def monthly_without_free_tier(self) -> float:
        return (self.count + self.free) * self.unit_price


Template = Mapping[str, Any]


def _resources(templates: Iterable[Template]) -> list[tuple[str, Mapping[str, Any]]]:
    """(logical id, resource) of every resource of every template."""
    return [(lid, res) for t in templates for lid, res in (t.get("Resources") or {}).items()]


def _of_type(resources: Sequence[tuple[str, Mapping[str, Any]]], type_: str) -> list[tuple[str, Mapping[str, Any]]]:
    return [(lid, res) for lid, res in resources if res.get("Type") == type_]


def _ref(value: Any) -> str | None:
    """The logical id in ``{"Ref": id}`` or ``{"Fn::GetAtt": [id, ...]}``; else None."""
    if isinstance(value, Mapping):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    return None


def _fargate_tasks(resources: Sequence[tuple[str, Mapping[str, Any]]]) -> list[LineItem]:
    task_defs = dict(_of_type(resources, "AWS::ECS::TaskDefinition"))
    min_capacity: dict[str, int] = {}
    for _, target in _of_type(resources, "AWS::ApplicationAutoScaling::ScalableTarget"):
        props = target.get("Properties", {})
        if props.get("ScalableDimension") == "ecs:service:DesiredCount":
            resource_id = json.dumps(props.get("ResourceId"))
            for lid, _ in _of_type(resources, "AWS::ECS::Service"):
                if lid in resource_id:
                    min_capacity[lid] = int(props.get("MinCapacity", 0))
    items: list[LineItem] = []
    for lid, service in _of_type(resources, "AWS::ECS::Service"):
        props = service.get("Properties", {})
        task_def = task_defs.get(_ref(props.get("TaskDefinition")) or "")
        if task_def is None:
            raise ValueError(f"ECS service {lid}: task definition not in the template")
        td = task_def.get("Properties", {})
        if "FARGATE" not in td.get("RequiresCompatibilities", ["FARGATE"]):
            raise ValueError(f"ECS service {lid}: only Fargate tasks are priced")
        desired = int(props.get("DesiredCount", 1))
        count = max(desired, min_capacity.get(lid, 0))
        vcpu = int(td["Cpu"]) / 1024
        memory_gb = int(td["Memory"]) / 1024
        arch = (td.get("RuntimePlatform") or {}).get("CpuArchitecture", "X86_64")
        key = "arm" if arch == "ARM64" else "x86"
        for capacity, tasks in _tasks_by_capacity(props.get("CapacityProviderStrategy"), count):
            prefix = "fargate_spot" if capacity == "FARGATE_SPOT" else "fargate"
            hourly = vcpu * PRICES[f"{prefix}_{key}_vcpu_hour"] + memory_gb * PRICES[f"{prefix}_{key}_gb_hour"]
            spot = ", Spot" if capacity == "FARGATE_SPOT" else ""
            items.append(
                LineItem(
                    f"Fargate task {lid} ({vcpu:g} vCPU, {memory_gb:g} GB, {key}{spot})",
                    tasks,
                    "task-month",
                    hourly * HOURS_PER_MONTH,
                )
            )
    return items


def _tasks_by_capacity(strategy: Any, count: int) -> list[tuple[str, float]]:
    """How ``count`` tasks spread over a capacity provider strategy: bases first, the rest by weight."""
    if not strategy:
        return [("FARGATE", count)]
    placed: dict[str, float] = {}
    remaining = float(count)
    for item in strategy:
        base = min(float(item.get("Base", 0)), remaining)
        if base:
            placed[item["CapacityProvider"]] = placed.get(item["CapacityProvider"], 0.0) + base
            remaining -= base
    weights = {item["CapacityProvider"]: float(item.get("Weight", 0)) for item in strategy}
    total_weight = sum(weights.values())
    for provider, weight in weights.items():
        if remaining and total_weight:
            placed[provider] = placed.get(provider, 0.0) + remaining * weight / total_weight
    unknown = set(placed) - {"FARGATE", "FARGATE_SPOT"}
    if unknown:
        raise ValueError(f"only the FARGATE and FARGATE_SPOT capacity providers are priced, not {sorted(unknown)}")
    return [(provider, tasks) for provider, tasks in placed.items() if tasks]


def _cloud_map(resources: Sequence[tuple[str, Mapping[str, Any]]]) -> list[LineItem]:
    """Private DNS namespaces (a Route 53 hosted zone each) and the instances ECS registers into Cloud Map."""
    items: list[LineItem] = []
    zones = len(_of_type(resources, "AWS::ServiceDiscovery::PrivateDnsNamespace")) + len(
        _of_type(resources, "AWS::Route53::HostedZone")
    )
    if zones:
        items.append(
            LineItem(
                "Route 53 hosted zone (Cloud Map private DNS namespace)",
                zones,
                "zone-month",
                PRICES["route53_hosted_zone_month"],
            )
        )
    registered = 0
    services = {lid for lid, _ in _of_type(resources, "AWS::ServiceDiscovery::Service")}
    for _, service in _of_type(resources, "AWS::ECS::Service"):
        props = service.get("Properties", {})
        for registry in props.get("ServiceRegistries") or []:
            if _ref(registry.get("RegistryArn")) in services:
                registered += int(props.get("DesiredCount", 1))
    if registered:
        items.append(
            LineItem(
                "Cloud Map registered instance (one per task)",
                registered,
                "instance-month",
                PRICES["cloud_map_instance_month"],
            )
        )
    return items


def _aurora(resources: Sequence[tuple[str, Mapping[str, Any]]]) -> list[LineItem]:
    items: list[LineItem] = []
    instances = _of_type(resources, "AWS::RDS::DBInstance")
    for lid, cluster in _of_type(resources, "AWS::RDS::DBCluster"):
        scaling = cluster.get("Properties", {}).get("ServerlessV2ScalingConfiguration")
        members = [res for _, res in instances if _ref(res.get("Properties", {}).get("DBClusterIdentifier")) == lid]
        classes = {res.get("Properties", {}).get("DBInstanceClass") for res in members}
        if scaling is None or classes - {"db.serverless"}:
            raise ValueError(f"DB cluster {lid}: only Aurora Serverless v2 instances are priced")
        min_acu = float(scaling.get("MinCapacity", 0.5))
        state = "paused at 0 ACU" if min_acu == 0 else f"at least {min_acu:g} ACU"
        items.append(
            LineItem(
                f"Aurora Serverless v2 instance ({state})",
                len(members),
                "instance-month",
                min_acu * PRICES["aurora_serverless_v2_acu_hour"] * HOURS_PER_MONTH,
            )
        )
        items.append(
            LineItem(
                f"Aurora storage ({AURORA_IDLE_STORAGE_GB:g} GB assumed)",
                AURORA_IDLE_STORAGE_GB,
                "GB-month",
                PRICES["aurora_storage_gb_month"],
            )
        )
    return items


def _alarm_metrics(resources: Sequence[tuple[str, Mapping[str, Any]]]) -> tuple[int, int]:
    """(standard, high-resolution) alarm metrics: one per single-metric alarm, one per metric in a math alarm."""
    standard = high_resolution = 0
    for _, alarm in _of_type(resources, "AWS::CloudWatch::Alarm"):
        props = alarm.get("Properties", {})
        queries = props.get("Metrics")
        stats = [q["MetricStat"] for q in queries if "MetricStat" in q] if queries else [props]
        for stat in stats:
            if int(stat.get("Period", 60)) < 60:
                high_resolution += 1
            else:
                standard += 1
    return standard, high_resolution


def _after_free_tier(label: str, n: int, free: int, unit: str, price: str) -> LineItem:
    """``n`` units of which the account's free tier covers the first ``free``."""
    return LineItem(label, max(0, n - free), unit, PRICES[price], free=min(n, free))


def _cloudwatch(resources: Sequence[tuple[str, Mapping[str, Any]]]) -> list[LineItem]:
    """Alarms and dashboards, after the free tier (standard-resolution alarm metrics only: high-resolution
    alarms are not in it)."""
    items: list[LineItem] = []
    standard, high_resolution = _alarm_metrics(resources)
    if standard:
        label = f"CloudWatch alarm metrics, standard ({standard}; first {FREE_ALARM_METRICS} per account free)"
        items.append(
            _after_free_tier(label, standard, FREE_ALARM_METRICS, "alarm metric-month", "cloudwatch_alarm_metric_month")
        )
    if high_resolution:
        label = f"CloudWatch alarm metrics, high resolution ({high_resolution}; no free tier)"
        price = "cloudwatch_high_resolution_alarm_metric_month"
        items.append(_after_free_tier(label, high_resolution, 0, "alarm metric-month", price))
    if dashboards := len(_of_type(resources, "AWS::CloudWatch::Dashboard")):
        label = f"CloudWatch dashboard ({dashboards}; first {FREE_DASHBOARDS} per account free)"
        items.append(
            _after_free_tier(label, dashboards, FREE_DASHBOARDS, "dashboard-month", "cloudwatch_dashboard_month")
        )
    return items


def idle_cost(templates: Iterable[Template]) -> list[LineItem]:
    """The idle-cost line items of an app made of ``templates`` (CloudFormation templates as dicts)."""
    resources = _resources(templates)
    items: list[LineItem] = []
    per_hour = HOURS_PER_MONTH

    def count(type_: str) -> int:
        return len(_of_type(resources, type_))

    if n := count("AWS::EC2::NatGateway"):
        items.append(LineItem("NAT gateway", n, "gateway-month", PRICES["nat_gateway_hour"] * per_hour))
    if n := count("AWS::EC2::EIP"):
        items.append(LineItem("Elastic IP (public IPv4)", n, "address-month", PRICES["public_ipv4_hour"] * per_hour))
    albs = [
        res
        for _, res in _of_type(resources, "AWS::ElasticLoadBalancingV2::LoadBalancer")
        if res.get("Properties", {}).get("Type", "application") == "application"
    ]
    if albs:
        schemes = sorted({str(r.get("Properties", {}).get("Scheme", "internet-facing")) for r in albs})
        items.append(
            LineItem(
                f"Application Load Balancer ({', '.join(schemes)})",
                len(albs),
                "ALB-month",
                PRICES["alb_hour"] * per_hour,
            )
        )
        items.append(
            LineItem(
                f"ALB LCUs ({ALB_IDLE_LCU:g} LCU idle per ALB)",
                len(albs) * ALB_IDLE_LCU,
                "LCU-month",
                PRICES["alb_lcu_hour"] * per_hour,
            )
        )
    if any(
        res.get("Properties", {}).get("Type") not in (None, "application")
        for _, res in _of_type(resources, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    ):
        raise ValueError("only Application Load Balancers are priced")
    items.extend(_fargate_tasks(resources))
    items.extend(_cloud_map(resources))
    items.extend(_aurora(resources))
    endpoint_azs = sum(
        len(res.get("Properties", {}).get("SubnetIds") or [])
        for _, res in _of_type(resources, "AWS::EC2::VPCEndpoint")
        if res.get("Properties", {}).get("VpcEndpointType") == "Interface"
    )
    if endpoint_azs:
        items.append(
            LineItem(
                "Interface VPC endpoint ENIs (endpoint x AZ)",
                endpoint_azs,
                "ENI-month",
                PRICES["vpc_interface_endpoint_az_hour"] * per_hour,
            )
        )
    if n := count("AWS::SecretsManager::Secret"):
        items.append(LineItem("Secrets Manager secret", n, "secret-month", PRICES["secrets_manager_secret_month"]))
    if n := count("AWS::KMS::Key"):
        items.append(LineItem("KMS customer managed key", n, "key-month", PRICES["kms_key_month"]))
    items.extend(_cloudwatch(resources))
    for type_, label in ZERO_IDLE.items():
        if n := count(type_):
            items.append(LineItem(label, n, "idle", 0.0))
    return items


def total(items: Iterable[LineItem]) -> float:
    return sum(item.monthly for item in items)


def managed_small_monthly() -> float:
    return PRICES["sagemaker_mlflow_small_hour"] * HOURS_PER_MONTH


# --------------------------------------------------------------------------------------------------
# Cost per million tracked requests at saturation
# --------------------------------------------------------------------------------------------------

#: Database vCPU per Aurora Capacity Unit. AWS defines an ACU as about 2 GiB of memory "with corresponding CPU";
#: 0.25 vCPU is the CPU a provisioned db.r6g.large gives per 2 GiB (2 vCPU, 16 GiB = 8 ACU of memory). An
#: assumption, not a published figure.
VCPU_PER_ACU = 0.25
#: The least an awake Aurora Serverless v2 writer bills (ACU): with min capacity 0 it pauses when idle, and runs
#: at 0.5 ACU or more while anything is connected.
AURORA_AWAKE_MIN_ACU = 0.5
#: Bytes on the wire per request when the benchmark did not measure them (request + response, headers included).
FALLBACK_BYTES_PER_REQUEST = 2048.0
#: The managed Small size's throughput quoted in issue 13 ("about 25 TPS"); unverified.
MANAGED_SMALL_TPS = 25.0


@dataclasses.dataclass(frozen=True)
class SaturationCost:
    """USD per million requests of the benchmark's mix when one task runs at its CPU quota."""

    label: str
    vcpu: float
    memory_gb: float
    workers: int
    capacity_rps: float  # requests per second one task serves at its quota
    task: float
    alb_hour: float  # the load balancer's hourly charge, carried by one saturated task; 0 without one
    alb_lcu: float
    db_acu_seconds: float  # per request, marginal
    db: float  # marginal ACU-seconds
    db_awake_floor: float  # the 0.5 ACU an awake cluster bills at least, carried by one saturated task
    http_api: float

    @property
    def total(self) -> float:
        """Task, load balancer, database (the larger of marginal and floor) and HTTP API."""
        return self.task + self.alb_hour + self.alb_lcu + max(self.db, self.db_awake_floor) + self.http_api


def load_task_size_results(path: Path = TASK_SIZE_RESULTS) -> dict[str, Any] | None:
    """benchmarks/task_size.py's results (committed next to it), or None when it never ran."""
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def saturation_costs(results: Mapping[str, Any], *, architecture: str = "arm") -> list[SaturationCost]:
    """Per million requests of the mix, for every measured task size, behind a load balancer and without one.

    Server CPU and database CPU per request are the medians of the benchmark's ``mix`` cells (8 clients); the
    task's capacity is its vCPU quota divided by that CPU time. Memory: the construct's default for the vCPU.
    """
    costs: list[SaturationCost] = []
    for config in results["configs"]:
        cells = [c for c in config["cells"] if c["operation"] == "mix" and c["clients"] > 1]
        if not cells:
            continue
        server_ms = _median([c["server_cpu_ms"] for c in cells])
        db_ms = _median([c["db_cpu_ms"] for c in cells])
        vcpu = float(config["vcpu"])
        # SecureMlflowService's default memory for that CPU: 1 GB, or Fargate's least for the CPU when more.
        memory_gb = max(1.0, 2.0 * vcpu)
        capacity = vcpu * 1000 / server_ms
        per_million = 1_000_000 / (capacity * 3600)  # task-hours per million requests
        hourly = (
            vcpu * PRICES[f"fargate_{architecture}_vcpu_hour"] + memory_gb * PRICES[f"fargate_{architecture}_gb_hour"]
        )
        bytes_per_request = float(config.get("bytes_per_request") or FALLBACK_BYTES_PER_REQUEST)
        # An ALB bills the largest of four LCU dimensions; with keep-alive connections and one rule, that is
        # processed bytes: 1 LCU per GB per hour for IP targets.
        lcu = bytes_per_request / 1e9 * PRICES["alb_lcu_hour"] * 1_000_000
        acu_seconds = db_ms / 1000 / VCPU_PER_ACU
        db = acu_seconds / 3600 * PRICES["aurora_serverless_v2_acu_hour"] * 1_000_000
        floor = AURORA_AWAKE_MIN_ACU * PRICES["aurora_serverless_v2_acu_hour"] * per_million
        for lean in (False, True):
            costs.append(
                SaturationCost(
                    label=(
                        f"{vcpu:g} vCPU / {memory_gb:g} GB, {config['workers']} worker"
                        f"{'s' if config['workers'] > 1 else ''}, {architecture}, "
                        + ("Cloud Map (no load balancer)" if lean else "internal ALB")
                    ),
                    vcpu=vcpu,
                    memory_gb=memory_gb,
                    workers=int(config["workers"]),
                    capacity_rps=capacity,
                    task=hourly * per_million,
                    alb_hour=0.0 if lean else PRICES["alb_hour"] * per_million,
                    alb_lcu=0.0 if lean else lcu,
                    db_acu_seconds=acu_seconds,
                    db=db,
                    db_awake_floor=floor,
                    http_api=PRICES["http_api_million"],
                )
            )
    return costs


# --------------------------------------------------------------------------------------------------
# Synthesis of the examples
# --------------------------------------------------------------------------------------------------


def example_context(name: str) -> dict[str, Any]:
    """The pinned feature flags plus the example's ``cdk.json`` context."""
    flags = json.loads((EXAMPLES_DIR / "cdk_feature_flags.json").read_text(encoding="utf-8"))
    cdk_json = json.loads((EXAMPLES_DIR / name / "cdk.json").read_text(encoding="utf-8"))
    return {**flags, **cdk_json.get("context", {})}


def synthesize_example(name: str) -> list[dict[str, Any]]:
    """Synthesize ``examples/<name>/app.py``'s ``build(app)`` in-process; return its stacks' templates."""
    import aws_cdk as cdk

    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    module = importlib.import_module(f"examples.{name}.app")
    with tempfile.TemporaryDirectory(prefix=f"cost-{name}-") as outdir:
        app = cdk.App(context=example_context(name), outdir=outdir, analytics_reporting=False)
        module.build(app)
        assembly = app.synth()
        return [dict(stack.template) for stack in assembly.stacks]


def example_costs(names: Sequence[str] = EXAMPLES) -> dict[str, list[LineItem]]:
    return {name: idle_cost(synthesize_example(name)) for name in names}


# --------------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------------


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _usd_per_million(value: float) -> str:
    return f"${value:,.3f}"


def render_markdown(costs: Mapping[str, Sequence[LineItem]], results: Mapping[str, Any] | None = None) -> str:
    managed = managed_small_monthly()
    lines = [
        "# Idle cost",
        "",
        "<!-- Generated by scripts/cost.py; regenerate with "
        "`./dev shell python scripts/cost.py --write docs/cost.md`. -->",
        "",
        "What each example app costs per month when it is deployed and nobody uses it, counted from its",
        "synthesized CloudFormation templates, and what a million tracked requests cost at saturation. Prices:",
        f"{PRICE_SOURCE}. A month is {HOURS_PER_MONTH} hours.",
        "",
        "Idle means: no requests, no training jobs, no running Studio apps, artifacts and database at about",
        "0 GB. The Aurora cluster pauses at 0 ACU after its idle timeout (`SecondsUntilAutoPause`) and then",
        "bills storage only. An idle ALB consumes a small fraction of an LCU (health checks); ALBs have no",
        "minimum LCU charge unless LCU reservation is configured, so idle LCUs are counted as 0.",
        "Not counted: data transfer, NAT data processing, CloudWatch ingestion (flow logs, access logs), the",
        "ECR image (about $0.10 per GB-month), DNS queries, and taxes. Existing VPCs' NAT gateways are not part of",
        "these apps' templates and so are not counted for the examples in an existing VPC.",
        "",
        f"CloudWatch alarms and dashboards (`MlflowMonitoring`) are counted at list prices, "
        f"{_usd(PRICES['cloudwatch_alarm_metric_month'])} per standard alarm metric and "
        f"{_usd(PRICES['cloudwatch_dashboard_month'])} per dashboard a month, after CloudWatch's free tier: the "
        f"first {FREE_ALARM_METRICS} alarm metrics and {FREE_DASHBOARDS} dashboards of each account cost nothing. "
        "The free tier is shared with every other alarm and dashboard of the account and region, so each "
        "example also says what it costs once the free tier is used up. The metric filters on the server's "
        "log publish (and bill, as custom metrics) only in hours with a matching line: nothing while idle.",
        "",
        "## Budgets",
        "",
        "The secure default in an existing VPC (`custom_networking`: internal ALB with HTTPS, one 0.5 vCPU Graviton",
        "task, Aurora paused) and the lean topology without a load balancer (`lean`: `ServerAccess.cloud_map()`).",
        "`tests/test_cost.py` holds them to these budgets with the price table at the end of this page.",
        "",
        "| example | idle USD/month | budget | within |",
        "| --- | ---: | ---: | --- |",
    ]
    for name, budget in BUDGETS.items():
        if name in costs:
            idle = total(costs[name])
            lines.append(f"| `{name}` | {_usd(idle)} | {_usd(budget)} | {'yes' if idle <= budget else '**no**'} |")
    lines.append("")
    for name, items in costs.items():
        lines += [
            f"## `examples/{name}`",
            "",
            "| resource | count | unit price (USD/month) | monthly (USD) |",
            "| --- | ---: | ---: | ---: |",
        ]
        for item in items:
            lines.append(
                f"| {item.resource} | {item.count:g} | {_usd(item.unit_price)} / {item.unit} | {_usd(item.monthly)} |"
            )
        lines += [f"| **total** | | | **{_usd(total(items))}** |", ""]
        extra = sum(item.monthly_without_free_tier - item.monthly for item in items)
        if extra:
            lines += [
                f"Without CloudWatch's free tier (used up by other alarms and dashboards of the account): "
                f"{_usd(total(items) + extra)}.",
                "",
            ]
    lines += _render_saturation(results)
    lines += [
        "## Compared with managed MLflow on SageMaker AI",
        "",
        "- **Managed MLflow tracking server, size Small**: "
        f"${PRICES['sagemaker_mlflow_small_hour']:.3f} per hour ({PRICE_TABLE['sagemaker_mlflow_small_hour'].status};",
        f"  {PRICE_TABLE['sagemaker_mlflow_small_hour'].source}), that is {_usd(managed)} per month whether or not it",
        '  is used, plus S3 storage. At the "about 25 TPS" quoted for Small (unverified) a million requests cost '
        f"{_usd(PRICES['sagemaker_mlflow_small_hour'] / (MANAGED_SMALL_TPS * 3600) * 1_000_000)}.",
        "- **MLflow Apps** (serverless MLflow on SageMaker AI, since December 2025): "
        f"{_usd(MLFLOW_APPS_MONTHLY)} idle,",
        f"  {MLFLOW_APPS_SOURCE}. It runs MLflow 3.10 with IAM-only permissions; this library is chosen",
        "  for current MLflow, MLflow's own permissions, and data in your VPC and database.",
        "",
        "| example | idle USD/month | ratio to managed Small |",
        "| --- | ---: | ---: |",
    ]
    for name, items in costs.items():
        lines.append(f"| `{name}` | {_usd(total(items))} | {total(items) / managed:.2f} |")
    lines += [
        f"| managed SageMaker MLflow, Small | {_usd(managed)} | 1.00 |",
        f"| MLflow Apps (unverified) | {_usd(MLFLOW_APPS_MONTHLY)} | {MLFLOW_APPS_MONTHLY / managed:.2f} |",
        "",
        "The Fargate task (running around the clock) and the internal ALB are most of the idle cost; the lean",
        "topology drops the ALB, the proof of concept adds the NAT gateway and public IPv4 address of its own VPC.",
        "",
        "## Prices",
        "",
        f"Every price this page uses, us-east-1, as of {PRICES_CHECKED}. *Corroborated*: independent, dated copies",
        "of the pricing page agree. *Unverified*: recalled; the official pages could not be reached from the",
        "machine that generated this page. A price change is a change to `PRICE_TABLE` in `scripts/cost.py`.",
        "",
        "| key | USD | per | source | status |",
        "| --- | ---: | --- | --- | --- |",
    ]
    for key, price in PRICE_TABLE.items():
        lines.append(f"| `{key}` | {price.value:g} | {price.unit} | <{price.source}> | {price.status} |")
    lines.append("")
    return "\n".join(lines)


def _render_saturation(results: Mapping[str, Any] | None) -> list[str]:
    lines = ["## Cost per million tracked requests at saturation", ""]
    if results is None:
        return [*lines, "Not computed: run `benchmarks/task_size.py` first.", ""]
    lines += [
        f"From the task-size benchmark of {results['date']} ([Benchmarks](benchmarks.md#task-size);",
        "`benchmarks/results/task_size.json`): one task serving the benchmark's mix at its CPU quota.",
        "",
        "- *task*: the task's hourly price divided by the requests it serves in an hour at its quota (*capacity*:",
        "  quota / median server CPU per request).",
        "- *ALB hour*: the load balancer's hourly charge carried by that one task (it falls with every task added).",
        "- *ALB LCU*: processed bytes, the dimension that counts with keep-alive connections and one rule (1 LCU =",
        "  1 GB an hour for IP targets): the benchmark's measured bytes per request (request and response,",
        "  headers included)"
        + (
            "."
            if all(config.get("bytes_per_request") for config in results["configs"])
            else f", or {FALLBACK_BYTES_PER_REQUEST:g} bytes where this run did not measure them (an estimate)."
        ),
        "- *DB ACU-s/req*: the PostgreSQL backends' median CPU per request in the benchmark, at "
        f"{VCPU_PER_ACU:g} vCPU per ACU",
        "  (an assumption: AWS defines an ACU by its 2 GiB of memory; a db.r6g.large has 0.25 vCPU per 2 GiB).",
        "  Local PostgreSQL 15 with `fsync=off`: Aurora's storage layer costs more per write; I/O is not counted.",
        f"- *DB awake floor*: an awake Serverless v2 writer bills at least {AURORA_AWAKE_MIN_ACU:g} ACU; carried by",
        "  one saturated task it can be larger than the marginal ACU-seconds; the total counts the larger of the two.",
        "- *HTTP API*: requests through the `PrivateHttpApi` (clients in the VPC calling the server directly do not "
        "pay it).",
        "  With Cloud Map, API Gateway looks the instances up in Cloud Map; whether and how often that is a billed",
        "  `DiscoverInstances` call ($1.00 per million) is not documented, so it is not counted.",
        "",
        "| task | capacity req/s | task | ALB hour | ALB LCU | DB ACU-s/req | DB marginal | DB awake floor | "
        "HTTP API | total per million |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for cost in saturation_costs(results):
        lines.append(
            f"| {cost.label} | {cost.capacity_rps:.0f} | {_usd_per_million(cost.task)} | "
            f"{_usd_per_million(cost.alb_hour)} | {_usd_per_million(cost.alb_lcu)} | {cost.db_acu_seconds:.4f} | "
            f"{_usd_per_million(cost.db)} | {_usd_per_million(cost.db_awake_floor)} | "
            f"{_usd_per_million(cost.http_api)} | **{_usd_per_million(cost.total)}** |"
        )
    lines += [
        "",
        "The benchmark ran on a shared, busy machine: CPU per request there is higher than on a quiet core, so the",
        "capacities are low and the per-million figures high (conservative). Graviton's vCPU is a whole core, an",
        "x86 vCPU a hyperthread; the ARM figures assume the same CPU time per request (not measured on ARM).",
        "",
    ]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", type=Path, help="write the markdown page to this file")
    parser.add_argument("--json", action="store_true", help="print totals per example as JSON")
    parser.add_argument("examples", nargs="*", default=list(EXAMPLES), help="examples to price (default: all)")
    args = parser.parse_args(argv)
    costs = example_costs(args.examples)
    if args.json:
        print(json.dumps({name: round(total(items), 2) for name, items in costs.items()}, indent=2))
        return 0
    page = render_markdown(costs, load_task_size_results())
    if args.write:
        args.write.write_text(page, encoding="utf-8")
        print(f"wrote {args.write}", file=sys.stderr)
    else:
        print(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
