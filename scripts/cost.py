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
EXAMPLES = ("proof_of_concept", "existing_vpc", "custom_networking", "training_job")

HOURS_PER_MONTH = 730
PRICE_SOURCE = "list prices as of 2026-11, us-east-1; check the AWS pricing pages"
#: USD list prices in us-east-1 (on-demand, no free tier, no savings plans).
PRICES: dict[str, float] = {
    "nat_gateway_hour": 0.045,  # per NAT gateway-hour (data processing extra, $0.045/GB)
    "public_ipv4_hour": 0.005,  # per public IPv4 address-hour (EIPs, in use or not)
    "alb_hour": 0.0225,  # per Application Load Balancer-hour
    "alb_lcu_hour": 0.008,  # per LCU-hour
    "fargate_x86_vcpu_hour": 0.04048,  # Linux/x86
    "fargate_x86_gb_hour": 0.004445,
    "fargate_arm_vcpu_hour": 0.03238,  # Linux/ARM (Graviton)
    "fargate_arm_gb_hour": 0.00356,
    "aurora_serverless_v2_acu_hour": 0.12,  # Aurora Standard
    "aurora_storage_gb_month": 0.10,  # Aurora Standard; I/O extra
    "vpc_interface_endpoint_az_hour": 0.01,  # per interface endpoint per AZ (ENI)-hour
    "secrets_manager_secret_month": 0.40,
    "kms_key_month": 1.00,  # customer managed key; first 20k requests/month free
    "cloudwatch_alarm_metric_month": 0.10,  # standard resolution, per metric an alarm evaluates
    "cloudwatch_high_resolution_alarm_metric_month": 0.30,  # periods under 60 s
    "cloudwatch_dashboard_month": 3.00,
    # Managed MLflow on SageMaker AI, tracking server size Small, per hour (value recalled from the
    # SageMaker pricing page, not re-checked offline: verify before quoting it).
    "sagemaker_mlflow_small_hour": 0.642,
}
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
        hourly = vcpu * PRICES[f"fargate_{key}_vcpu_hour"] + memory_gb * PRICES[f"fargate_{key}_gb_hour"]
        items.append(
            LineItem(
                f"Fargate task {lid} ({vcpu:g} vCPU, {memory_gb:g} GB, {key})",
                count,
                "task-month",
                hourly * HOURS_PER_MONTH,
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


def render_markdown(costs: Mapping[str, Sequence[LineItem]]) -> str:
    managed = managed_small_monthly()
    lines = [
        "# Idle cost",
        "",
        "<!-- Generated by scripts/cost.py; regenerate with "
        "`./dev shell python scripts/cost.py --write docs/cost.md`. -->",
        "",
        "What each example app costs per month when it is deployed and nobody uses it, counted from its",
        f"synthesized CloudFormation templates. Prices: {PRICE_SOURCE}. A month is {HOURS_PER_MONTH} hours.",
        "",
        "Idle means: no requests, no training jobs, no running Studio apps, artifacts and database at about",
        "0 GB. The Aurora cluster pauses at 0 ACU after its idle timeout (`SecondsUntilAutoPause`) and then",
        "bills storage only. An idle ALB consumes a small fraction of an LCU (health checks); ALBs have no",
        "minimum LCU charge unless LCU reservation is configured, so idle LCUs are counted as 0.",
        "Not counted: data transfer, NAT data processing, CloudWatch ingestion (flow logs, access logs), the",
        "ECR image (about $0.10 per GB-month), and taxes. Existing VPCs' NAT gateways are not part of these",
        "apps' templates and so are not counted for `existing_vpc`, `custom_networking` and `training_job`.",
        "",
        f"CloudWatch alarms and dashboards (`MlflowMonitoring`) are counted at list prices, "
        f"{_usd(PRICES['cloudwatch_alarm_metric_month'])} per standard alarm metric and "
        f"{_usd(PRICES['cloudwatch_dashboard_month'])} per dashboard a month, after CloudWatch's free tier: the "
        f"first {FREE_ALARM_METRICS} alarm metrics and {FREE_DASHBOARDS} dashboards of each account cost nothing. "
        "The free tier is shared with every other alarm and dashboard of the account and region, so each "
        "example also says what it costs once the free tier is used up. The metric filters on the server's "
        "log publish (and bill, as custom metrics) only in hours with a matching line: nothing while idle.",
        "",
    ]
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
    lines += [
        "## Compared with managed MLflow on SageMaker AI",
        "",
        "The managed SageMaker MLflow tracking server, size Small, costs "
        f"${PRICES['sagemaker_mlflow_small_hour']:.3f} per hour ({PRICE_SOURCE}; the hourly price was "
        f"recalled, not re-checked offline), that is {_usd(managed)} per month ({HOURS_PER_MONTH} h) "
        "whether or not it is used, plus S3 storage.",
        "",
        "| example | idle USD/month | ratio to managed Small |",
        "| --- | ---: | ---: |",
    ]
    for name, items in costs.items():
        lines.append(f"| `{name}` | {_usd(total(items))} | {total(items) / managed:.2f} |")
    lines += [
        f"| managed SageMaker MLflow, Small | {_usd(managed)} | 1.00 |",
        "",
        "The Fargate task (1 vCPU, 2 GB, running around the clock) and the internal ALB dominate the idle",
        "cost of every example; the proof of concept adds the NAT gateway and its public IPv4 address of",
        "its own VPC.",
        "",
    ]
    return "\n".join(lines)


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
    page = render_markdown(costs)
    if args.write:
        args.write.write_text(page, encoding="utf-8")
        print(f"wrote {args.write}", file=sys.stderr)
    else:
        print(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
