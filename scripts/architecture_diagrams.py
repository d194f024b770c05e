"""Architecture pictures of the example apps, drawn from the apps as they synthesize.

Each app under ``examples/`` is built in-process with its ``build(app)`` function and synthesized, the
way the tests do, so the picture cannot drift from the code. The picture shows:

* one box per stack and, inside it, one box per top-level construct (``Mlflow: SecureMlflowService``);
* the resources a reader cares about (load balancer, Fargate service, database, buckets, secrets, API,
  VPC link, SageMaker domain, users, model and endpoint, ...) with AWS icons (the ``diagrams`` package);
* network paths, read from the security-group ingress rules (solid, with the port);
* the API's route to the load balancer through its VPC link, read from the integration, and DNS aliases;
* IAM grants, read from the policies attached to each resource's role (dashed).

``python scripts/architecture_diagrams.py OUTDIR`` writes ``OUTDIR/<example>.png`` for every example; the
documentation build calls :func:`render_example` through ``scripts/mkdocs_hooks.py``.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = REPO_ROOT / "examples"

#: CloudFormation type -> (diagrams module, class, what the picture calls it when the construct id says little).
_ICONS: dict[str, tuple[str, str]] = {
    "AWS::EC2::VPC": ("diagrams.aws.network", "VPC"),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": ("diagrams.aws.network", "ALB"),
    "AWS::ECS::Service": ("diagrams.aws.compute", "Fargate"),
    "AWS::RDS::DBCluster": ("diagrams.aws.database", "Aurora"),
    "AWS::S3::Bucket": ("diagrams.aws.storage", "S3"),
    "AWS::SecretsManager::Secret": ("diagrams.aws.security", "SecretsManager"),
    "AWS::KMS::Key": ("diagrams.aws.security", "KMS"),
    "AWS::ApiGatewayV2::Api": ("diagrams.aws.network", "APIGateway"),
    "AWS::ApiGatewayV2::VpcLink": ("diagrams.aws.network", "Privatelink"),
    "AWS::Route53::RecordSet": ("diagrams.aws.network", "Route53"),
    "AWS::ServiceDiscovery::Service": ("diagrams.aws.network", "CloudMap"),
    "AWS::SageMaker::Domain": ("diagrams.aws.ml", "Sagemaker"),
    "AWS::SageMaker::UserProfile": ("diagrams.aws.general", "User"),
    "AWS::SageMaker::Model": ("diagrams.aws.ml", "SagemakerModel"),
    "AWS::SageMaker::Endpoint": ("diagrams.aws.ml", "Sagemaker"),
    "AWS::CodeBuild::Project": ("diagrams.aws.devtools", "Codebuild"),
    "AWS::ECR::Repository": ("diagrams.aws.compute", "ECR"),
}
# Construct ids that name the resource's role better than the bare id.
_GENERIC_IDS = {"Resource", "Default"}
_REF_KEYS = ("Ref", "Fn::GetAtt")


@dataclass
class Resource:
    logical_id: str
    type: str
    properties: dict[str, Any]
    path: tuple[str, ...]  # construct path below the stack
    stack: str

    @property
    def key(self) -> str:
        return f"{self.stack}/{self.logical_id}"


@dataclass
class Model:
    """The resources of an app and the relations the picture draws."""

    resources: dict[str, Resource] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)  # "stack/top-level id" -> cluster label
    network: set[tuple[str, str, str]] = field(default_factory=set)  # (source key, target key, label)
    routes: set[tuple[str, str, str]] = field(default_factory=set)  # (source key, target key, label)
    grants: set[tuple[str, str]] = field(default_factory=set)

    def shown(self, key: str) -> bool:
        return self.resources[key].type in _ICONS


def _references(value: Any) -> Iterator[str]:
    """Logical ids referenced by ``Ref``/``Fn::GetAtt`` anywhere in a template value."""
    if isinstance(value, dict):
        for name, inner in value.items():
            if name == "Ref" and isinstance(inner, str):
                yield inner
            elif name == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) else str(inner).split(".")[0]
                yield str(target)
            else:
                yield from _references(inner)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def _load_app(example: Path, outdir: Path) -> Any:
    """Build the example's app in-process, as its ``main()`` does but without cdk-nag, and synthesize it."""
    import aws_cdk as cdk

    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    module = importlib.import_module(f"examples.{example.name}.app")
    context: dict[str, Any] = dict(getattr(module, "FEATURE_FLAGS", {}))
    cdk_json = json.loads((example / "cdk.json").read_text(encoding="utf-8"))
    context.update(cdk_json.get("context", {}))
    app = cdk.App(context=context, outdir=str(outdir))
    module.build(app)
    return app, app.synth()


def build_model(app: Any, assembly: Any) -> Model:
    """Read resources, construct paths and relations from the synthesized app."""
    import aws_cdk as cdk

    model = Model()
    for stack in [c for c in app.node.children if isinstance(c, cdk.Stack)]:
        template = assembly.get_stack_by_name(stack.stack_name).template
        template_resources = template.get("Resources", {})
        for construct in stack.node.find_all():
            if not isinstance(construct, cdk.CfnResource):
                continue
            logical_id = stack.resolve(construct.logical_id)
            body = template_resources.get(logical_id)
            if body is None:
                continue
            path = tuple(construct.node.path.split("/")[1:])
            resource = Resource(logical_id, body["Type"], body.get("Properties", {}), path, stack.stack_name)
            model.resources[resource.key] = resource
        for child in stack.node.children:
            if isinstance(child, cdk.CfnElement) or not child.node.children:
                continue
            kind = type(child).__name__
            label = child.node.id if kind in (child.node.id, "Construct") else f"{child.node.id}: {kind}"
            model.groups[f"{stack.stack_name}/{child.node.id}"] = label
    _relate(model)
    return model


def _relate(model: Model) -> None:
    refs: dict[str, set[str]] = {}
    for key, resource in model.resources.items():
        refs[key] = {f"{resource.stack}/{target}" for target in _references(resource.properties)} & set(model.resources)
    referrers: dict[str, set[str]] = defaultdict(set)
    for key, targets in refs.items():
        for target in targets:
            referrers[target].add(key)

    def owners(key: str) -> set[str]:
        """Shown resources that use ``key`` directly, or through one resource that is not shown."""
        direct = {r for r in referrers[key] if model.shown(r)}
        if direct:
            return direct
        return {
            owner
            for middle in referrers[key]
            if not model.shown(middle) and model.resources[middle].type != "AWS::IAM::Policy"
            for owner in referrers[middle]
            if model.shown(owner)
        }

    for key, resource in model.resources.items():
        properties = resource.properties
        rules: list[tuple[str, dict[str, Any]]] = []
        if resource.type == "AWS::EC2::SecurityGroupIngress":
            group = next(iter(_references(properties.get("GroupId"))), None)
            if group:
                rules.append((f"{resource.stack}/{group}", properties))
        elif resource.type == "AWS::EC2::SecurityGroup":
            rules.extend((key, rule) for rule in properties.get("SecurityGroupIngress", []))
        for target_group, rule in rules:
            source = next(iter(_references(rule.get("SourceSecurityGroupId"))), None)
            if source is None or target_group not in model.resources or f"{resource.stack}/{source}" == target_group:
                continue  # a group admitting its own members (Studio apps and their EFS) is not an architecture path
            port = rule.get("FromPort")
            label = f"tcp/{port}" if isinstance(port, int) and port == rule.get("ToPort") else "tcp"
            for src in owners(f"{resource.stack}/{source}"):
                for dst in owners(target_group):
                    if src != dst:
                        model.network.add((src, dst, label))
        if resource.type == "AWS::ApiGatewayV2::Integration":
            api = {f"{resource.stack}/{t}" for t in _references(properties.get("ApiId"))}
            link = {f"{resource.stack}/{t}" for t in _references(properties.get("ConnectionId"))}
            uri = {f"{resource.stack}/{t}" for t in _references(properties.get("IntegrationUri"))}
            listeners = {f"{resource.stack}/{t}" for u in uri for t in _references(model.resources[u].properties)} | uri
            balancers = {k for k in listeners if k in model.resources and model.shown(k)}
            for a in api:
                for hop in link or balancers:
                    model.routes.add((a, hop, "HTTP"))
            for hop in link:
                for balancer in balancers:
                    model.routes.add((hop, balancer, "HTTP"))
        if resource.type == "AWS::ECS::Service":
            # Without a load balancer the tasks are found through the Cloud Map service they register into.
            for registry in properties.get("ServiceRegistries", []):
                for target in _references(registry.get("RegistryArn")):
                    target_key = f"{resource.stack}/{target}"
                    if target_key in model.resources and model.shown(target_key):
                        model.routes.add((target_key, key, "discovery"))
        if resource.type == "AWS::Route53::RecordSet":
            for target in refs[key]:
                if model.shown(target):
                    model.routes.add((key, target, "DNS alias"))
        if resource.type == "AWS::IAM::Policy":
            principals = {
                owner for role in refs[key] if model.resources[role].type == "AWS::IAM::Role" for owner in owners(role)
            }
            granted = {
                t for t in _references(properties.get("PolicyDocument")) if f"{resource.stack}/{t}" in model.resources
            }
            for principal in principals:
                for target in granted:
                    target_key = f"{resource.stack}/{target}"
                    if model.shown(target_key) and target_key != principal:
                        model.grants.add((principal, target_key))


def _label(resource: Resource) -> str:
    """The construct id of the resource's L2 (``Database``, ``Artifacts``), split into words."""
    parts = [p for p in resource.path[1:] if p not in _GENERIC_IDS] or [resource.path[0]]
    name = parts[-1]
    if len(parts) > 1 and resource.type in ("AWS::SageMaker::UserProfile", "AWS::SecretsManager::Secret"):
        name = f"{parts[-2]} {parts[-1]}"
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return words.replace("-", " ")


def render(model: Model, title: str, output: Path) -> Path:
    """Draw ``model`` to ``output`` (PNG) with the diagrams package; return the file written."""
    from diagrams import Cluster, Diagram, Edge

    output.parent.mkdir(parents=True, exist_ok=True)
    graph_attr = {"fontsize": "22", "pad": "0.4", "nodesep": "0.7", "ranksep": "1.1", "dpi": "72"}
    node_attr = {"fontsize": "15", "height": "1.4"}
    shown = [k for k in model.resources if model.shown(k)]
    by_group: dict[str, list[str]] = defaultdict(list)
    for key in shown:
        resource = model.resources[key]
        by_group[f"{resource.stack}/{resource.path[0]}"].append(key)
    nodes: dict[str, Any] = {}
    with Diagram(
        title,
        filename=str(output.with_suffix("")),
        outformat="png",
        show=False,
        direction="LR",
        graph_attr=graph_attr,
        node_attr=node_attr,
    ):
        stacks = sorted({model.resources[k].stack for k in shown})
        for stack in stacks:
            with Cluster(f"stack {stack}", graph_attr={"fontsize": "18"}):
                for group, keys in sorted(by_group.items()):
                    if not group.startswith(f"{stack}/"):
                        continue
                    with Cluster(model.groups.get(group, group.split("/", 1)[1]), graph_attr={"fontsize": "17"}):
                        for key in sorted(keys, key=lambda k: _label(model.resources[k])):
                            resource = model.resources[key]
                            module, cls = _ICONS[resource.type]
                            nodes[key] = getattr(importlib.import_module(module), cls)(_label(resource))
        for source, target, label in sorted(model.network):
            nodes[source] >> Edge(label=label, color="darkgreen", penwidth="2.2", fontsize="14") >> nodes[target]
        for source, target, label in sorted(model.routes):
            nodes[source] >> Edge(label=label, color="royalblue", penwidth="2.2", fontsize="14") >> nodes[target]
        for source, target in sorted(model.grants):
            nodes[source] >> Edge(style="dashed", color="gray40", label="IAM", fontsize="12") >> nodes[target]
    return output


def examples() -> list[Path]:
    return sorted(p.parent for p in EXAMPLES_DIR.glob("*/app.py"))


def render_example(example: Path, output: Path) -> Path:
    """Synthesize ``example`` and draw it to ``output``."""
    with tempfile.TemporaryDirectory(prefix=f"diagram-{example.name}-") as outdir:
        app, assembly = _load_app(example, Path(outdir))
        model = build_model(app, assembly)
    return render(model, f"examples/{example.name}: as synthesized", output)


def main(argv: Iterable[str]) -> int:
    (outdir,) = list(argv) or ["site-diagrams"]
    for example in examples():
        written = render_example(example, Path(outdir) / f"{example.name}.png")
        print(written)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
