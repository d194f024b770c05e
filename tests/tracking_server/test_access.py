"""ServerAccess.cloud_map(): the lean topology without a load balancer, as synthesized.

The tasks register into a Cloud Map service (A records, health from the container health check), the HTTP API's
VPC link integrates with that service, Studio and training jobs use the Cloud Map DNS name, and every security
group rule is group to group. Props that only apply behind a load balancer are refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_servicediscovery as servicediscovery
from aws_cdk.assertions import Match, Template

from mlflow_sagemaker_constructs import (
    EdgeAuthorization,
    MlflowAuthentication,
    MlflowTrainingConfig,
    PrivateHttpApi,
    SecureMlflowService,
    ServerAccess,
    StudioDomainOrUser,
)
from mlflow_sagemaker_constructs.tracking_server.access import (
    CLOUD_MAP_KEEP_ALIVE_SECONDS,
    DEFAULT_NAMESPACE_NAME,
    DEFAULT_SERVICE_NAME,
    AccessKind,
)
from mlflow_sagemaker_constructs.tracking_server.server import contract
from tests.harness import assert_cfn_lint_clean, assert_nag_clean, new_app, new_stack
from tests.harness.task_environment import mlflow_container, mlflow_environment
from tests.harness.vpc import imported_vpc

pytestmark = pytest.mark.xdist_group("access")

DNS_NAME = f"{DEFAULT_SERVICE_NAME}.{DEFAULT_NAMESPACE_NAME}"


@dataclass
class Lean:
    app: cdk.App
    stack: cdk.Stack
    mlflow: SecureMlflowService
    api: PrivateHttpApi
    studio: StudioDomainOrUser
    training: MlflowTrainingConfig
    template: Template

    def logical_id(self, construct: Any) -> str:
        child = construct.node.default_child if not isinstance(construct, cdk.CfnElement) else construct
        assert isinstance(child, cdk.CfnElement)
        return self.stack.get_logical_id(child)

    def resources(self, type_: str) -> dict[str, Any]:
        return dict(self.template.find_resources(type_))


@pytest.fixture(scope="module")
def lean() -> Lean:
    """The lean server with an HTTP API, a Studio domain and a training configuration, unchanged otherwise."""
    app = new_app()
    stack = new_stack(app)
    vpc = imported_vpc(stack)
    mlflow = SecureMlflowService(stack, "Mlflow", vpc=vpc, access=ServerAccess.cloud_map())
    api = PrivateHttpApi(stack, "Api", server=mlflow, authorization=EdgeAuthorization.NONE)
    studio = StudioDomainOrUser(stack, "Studio", vpc=vpc, mlflow=mlflow, user_profile_names=["alice"])
    jobs = ec2.SecurityGroup(stack, "Jobs", vpc=vpc, allow_all_outbound=False)
    training = MlflowTrainingConfig(mlflow, security_group=jobs)  # IAM: the job's role is its MLflow user
    mlflow.allow_from(jobs, "training jobs")  # as the training configuration's documentation says
    return Lean(app, stack, mlflow, api, studio, training, Template.from_stack(stack))


# ---------------------------------------------------------------------------------------------- template


def test_there_is_no_load_balancer(lean: Lean) -> None:
    for type_ in (
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "AWS::ElasticLoadBalancingV2::Listener",
        "AWS::ElasticLoadBalancingV2::TargetGroup",
    ):
        lean.template.resource_count_is(type_, 0)
    (service,) = lean.resources("AWS::ECS::Service").values()
    assert not service["Properties"].get("LoadBalancers")
    assert lean.mlflow.listener is None
    assert lean.mlflow.target_group is None
    assert lean.mlflow.access.kind is AccessKind.CLOUD_MAP
    with pytest.raises(ValueError, match="no load balancer"):
        _ = lean.mlflow.load_balancer


def test_tasks_register_into_a_health_checked_cloud_map_service(lean: Lean) -> None:
    lean.template.has_resource_properties(
        "AWS::ServiceDiscovery::PrivateDnsNamespace",
        {"Name": DEFAULT_NAMESPACE_NAME, "Vpc": "vpc-0123456789abcdef0"},
    )
    (namespace_id,) = lean.resources("AWS::ServiceDiscovery::PrivateDnsNamespace")
    (cloud_map_id, cloud_map) = next(iter(lean.resources("AWS::ServiceDiscovery::Service").items()))
    properties = cloud_map["Properties"]
    assert properties["Name"] == DEFAULT_SERVICE_NAME
    assert properties["NamespaceId"] == {"Fn::GetAtt": [namespace_id, "Id"]}
    # A records: every healthy task's address for clients in the VPC; short TTL so a replaced task is found.
    assert properties["DnsConfig"]["DnsRecords"] == [{"TTL": 10, "Type": "A"}]
    assert properties["DnsConfig"]["RoutingPolicy"] == "MULTIVALUE"
    # ECS reports the container health check: an unhealthy task leaves the answers at the first failure.
    assert properties["HealthCheckCustomConfig"] == {"FailureThreshold": 1}
    assert "HealthCheckConfig" not in properties  # Route 53 health checks cannot reach private addresses
    (service,) = lean.resources("AWS::ECS::Service").values()
    # The container port is registered too (AWS_INSTANCE_PORT): API Gateway's Cloud Map integration needs it.
    assert service["Properties"]["ServiceRegistries"] == [
        {"RegistryArn": {"Fn::GetAtt": [cloud_map_id, "Arn"]}, "ContainerName": "Mlflow", "ContainerPort": 5000}
    ]
    # The health check that decides is the task definition's own.
    assert mlflow_container(lean.template)["HealthCheck"]["Command"] == contract.HEALTH_CHECK_COMMAND


def test_the_http_api_integrates_with_the_cloud_map_service_over_its_vpc_link(lean: Lean) -> None:
    (cloud_map_id,) = lean.resources("AWS::ServiceDiscovery::Service")
    (link_id,) = lean.resources("AWS::ApiGatewayV2::VpcLink")
    (integration,) = lean.resources("AWS::ApiGatewayV2::Integration").values()
    assert integration["Properties"] == {
        "ApiId": {"Ref": lean.logical_id(lean.api.http_api)},
        "ConnectionId": {"Ref": link_id},
        "ConnectionType": "VPC_LINK",
        "IntegrationMethod": "ANY",
        "IntegrationType": "HTTP_PROXY",
        "IntegrationUri": {"Fn::GetAtt": [cloud_map_id, "Arn"]},
        "PayloadFormatVersion": "1.0",
        # The server's own name, which it accepts; without a port, like the load-balanced integration.
        "RequestParameters": {"overwrite:header.host": DNS_NAME},
    }
    assert lean.api.listener is None
    assert lean.api.host_header == DNS_NAME


def test_security_groups_are_group_to_group_on_the_container_port(lean: Lean) -> None:
    rendered = json.dumps(lean.template.to_json())
    assert '"CidrIp": "0.0.0.0/0", "Description": "Allow all outbound' in rendered  # the tasks' egress only
    for group in lean.resources("AWS::EC2::SecurityGroup").values():
        assert "SecurityGroupIngress" not in group["Properties"]
    service_group = lean.logical_id(lean.mlflow.service.connections.security_groups[0])
    ingress = [
        rule["Properties"]
        for rule in lean.resources("AWS::EC2::SecurityGroupIngress").values()
        if rule["Properties"]["GroupId"] == {"Fn::GetAtt": [service_group, "GroupId"]}
    ]
    sources = {rule["SourceSecurityGroupId"]["Fn::GetAtt"][0] for rule in ingress}
    assert lean.studio.training_security_group is not None
    assert sources == {
        lean.logical_id(lean.api.security_group),
        lean.logical_id(lean.studio.security_group),
        lean.logical_id(lean.studio.training_security_group),
        lean.logical_id(lean.training.security_group),
    }
    for rule in ingress:
        assert (rule["FromPort"], rule["ToPort"], rule["IpProtocol"]) == (5000, 5000, "tcp")
        assert "CidrIp" not in rule
    # The VPC link may only reach the tasks' port.
    lean.template.has_resource_properties(
        "AWS::EC2::SecurityGroupEgress",
        {
            "GroupId": {"Fn::GetAtt": [lean.logical_id(lean.api.security_group), "GroupId"]},
            "DestinationSecurityGroupId": {"Fn::GetAtt": [service_group, "GroupId"]},
            "FromPort": 5000,
            "ToPort": 5000,
        },
    )


def test_clients_in_the_vpc_use_the_cloud_map_name(lean: Lean) -> None:
    assert lean.mlflow.url == f"http://{DNS_NAME}:5000"
    assert lean.mlflow.host == DNS_NAME
    assert lean.mlflow.port == 5000
    assert lean.mlflow.connections.default_port is not None
    assert lean.mlflow.connections.default_port.to_rule_json()["fromPort"] == 5000
    assert lean.training.environment()["MLFLOW_TRACKING_URI"] == f"http://{DNS_NAME}:5000"
    assert lean.studio.tracking_uri == f"http://{DNS_NAME}:5000"
    environment = mlflow_environment(lean.template)
    # What those clients send as Host (name:port), and what the HTTP API sends (the name).
    assert environment[contract.ALLOWED_HOSTS] == f"{DNS_NAME},{DNS_NAME}:5000"
    assert environment[contract.KEEP_ALIVE_SECONDS] == str(CLOUD_MAP_KEEP_ALIVE_SECONDS)


def test_autoscaling_follows_cpu_only(lean: Lean) -> None:
    policies = lean.resources("AWS::ApplicationAutoScaling::ScalingPolicy").values()
    metrics = [
        p["Properties"]["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"][
            "PredefinedMetricType"
        ]
        for p in policies
    ]
    assert metrics == ["ECSServiceAverageCPUUtilization"]
    assert lean.mlflow.scale_on_requests_per_target is None


def test_the_secure_defaults_stay(lean: Lean) -> None:
    lean.template.has_resource_properties(
        "AWS::RDS::DBCluster",
        {
            "StorageEncrypted": True,
            "DeletionProtection": True,
            "ServerlessV2ScalingConfiguration": Match.object_like({"MinCapacity": 0}),
        },
    )
    environment = mlflow_environment(lean.template)
    assert environment[contract.AUTH_ENABLED] == "true"
    (service,) = lean.resources("AWS::ECS::Service").values()
    assert service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"
    # The artifact bucket still writes access logs; only the load balancer's are gone.
    artifacts = lean.template.find_resources(
        "AWS::S3::Bucket", {"Properties": {"VersioningConfiguration": {"Status": "Enabled"}}}
    )
    (bucket,) = artifacts.values()
    assert bucket["Properties"]["LoggingConfiguration"]["LogFilePrefix"] == "artifacts/"


def test_cfn_lint_and_cdk_nag_clean(lean: Lean) -> None:
    assert_cfn_lint_clean(lean.template.to_json(), name="lean")
    assert_nag_clean(lean.app)


# ---------------------------------------------------------------------------------------------- options


def test_an_existing_namespace_is_used_not_created() -> None:
    stack = new_stack()
    vpc = imported_vpc(stack)
    namespace = servicediscovery.PrivateDnsNamespace.from_private_dns_namespace_attributes(
        stack,
        "Namespace",
        namespace_arn="arn:aws:servicediscovery:us-east-1:123456789012:namespace/ns-0123456789abcdef",
        namespace_id="ns-0123456789abcdef",
        namespace_name="platform.internal",
    )
    mlflow = SecureMlflowService(
        stack,
        "Mlflow",
        vpc=vpc,
        access=ServerAccess.cloud_map(namespace=namespace, service_name="mlflow", dns_ttl=cdk.Duration.seconds(30)),
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::ServiceDiscovery::PrivateDnsNamespace", 0)
    template.has_resource_properties(
        "AWS::ServiceDiscovery::Service",
        {
            "Name": "mlflow",
            "NamespaceId": "ns-0123456789abcdef",
            "DnsConfig": Match.object_like({"DnsRecords": [{"TTL": 30, "Type": "A"}]}),
        },
    )
    assert mlflow.url == "http://mlflow.platform.internal:5000"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"namespace_name": "a.internal", "namespace": "given"}, "namespace_name is only for the namespace"),
        ({"namespace_name": "Not A Name"}, "namespace_name"),
        ({"service_name": "two.labels"}, "one DNS label"),
        ({"dns_ttl": cdk.Duration.hours(2)}, "dns_ttl"),
    ],
    ids=["namespace-and-name", "bad-namespace-name", "dotted-service-name", "ttl"],
)
def test_cloud_map_options_are_checked(options: dict[str, Any], message: str) -> None:
    if options.get("namespace") == "given":
        stack = new_stack()
        options = {
            **options,
            "namespace": servicediscovery.PrivateDnsNamespace.from_private_dns_namespace_attributes(
                stack, "Ns", namespace_arn="arn", namespace_id="ns-1", namespace_name="b.internal"
            ),
        }
    with pytest.raises(ValueError, match=message):
        ServerAccess.cloud_map(**options)


def test_request_count_scaling_is_refused_without_a_load_balancer() -> None:
    stack = new_stack()
    with pytest.raises(ValueError, match="scale_on_requests_per_target needs a load balancer"):
        SecureMlflowService(
            stack,
            "Mlflow",
            vpc=imported_vpc(stack),
            access=ServerAccess.cloud_map(),
            scale_on_requests_per_target=300,
        )


def test_an_http_namespace_is_refused() -> None:
    stack = new_stack()
    namespace = servicediscovery.HttpNamespace(stack, "Http", name="mlflow-http")
    with pytest.raises(ValueError, match="private DNS namespace"):
        SecureMlflowService(
            stack,
            "Mlflow",
            vpc=imported_vpc(stack),
            access=ServerAccess(kind=AccessKind.CLOUD_MAP, discovery=_discovery(namespace)),
        )


def _discovery(namespace: servicediscovery.INamespace) -> Any:
    from mlflow_sagemaker_constructs.tracking_server.access import CloudMapDiscovery

    return CloudMapDiscovery(
        namespace=namespace,  # type: ignore[arg-type]
        namespace_name="mlflow-http",
        service_name="tracking",
        dns_ttl=cdk.Duration.seconds(10),
    )


def test_secure_server_name_is_refused_for_a_server_in_cloud_map() -> None:
    stack = new_stack()
    mlflow = SecureMlflowService(stack, "Mlflow", vpc=imported_vpc(stack), access=ServerAccess.cloud_map())
    with pytest.raises(ValueError, match=r"secure_server_name .* Cloud Map"):
        PrivateHttpApi(
            stack,
            "Api",
            server=mlflow,
            authorization=EdgeAuthorization.NONE,
            secure_server_name="tracking.mlflow.internal",
        )


def test_the_environment_agnostic_stack_needs_no_region_without_a_load_balancer() -> None:
    # Load balancer access logs need the region (log delivery principal); without a load balancer nothing does.
    stack = cdk.Stack(new_app(), "Agnostic")
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=["a", "b"],
        private_subnet_ids=["subnet-0a000000000000001", "subnet-0a000000000000002"],
        isolated_subnet_ids=["subnet-0b000000000000001", "subnet-0b000000000000002"],
    )
    SecureMlflowService(stack, "Mlflow", vpc=vpc, access=ServerAccess.cloud_map())


# ---------------------------------------------------------------------------------------------- composition


def test_a_server_in_another_stack_is_integrated_through_its_cloud_map_service() -> None:
    app = new_app()
    server_stack = new_stack(app, "Server")
    mlflow = SecureMlflowService(
        server_stack, "Mlflow", vpc=imported_vpc(server_stack), access=ServerAccess.cloud_map()
    )
    assert mlflow.cloud_map_service is not None
    api_stack = new_stack(app, "Api")
    server = SecureMlflowService.from_attributes(
        api_stack,
        "Server",
        vpc=imported_vpc(api_stack),
        url=mlflow.url,
        security_group=ec2.SecurityGroup.from_security_group_id(
            api_stack,
            "TasksSg",
            mlflow.connections.security_groups[0].security_group_id,
            allow_all_outbound=False,
        ),
        port=mlflow.port,
        authentication=mlflow.authentication,
        cloud_map_service=mlflow.cloud_map_service,
    )
    assert server.listener is None
    PrivateHttpApi(api_stack, "Api", server=server, authorization=EdgeAuthorization.NONE)
    template = Template.from_stack(api_stack).to_json()
    (integration,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Integration"]
    # The Cloud Map service's ARN crosses from the server's stack.
    assert "MlflowCloudMapService" in json.dumps(integration["Properties"]["IntegrationUri"])
    assert_cfn_lint_clean(template, name="api stack")


def test_listener_and_cloud_map_service_together_are_refused() -> None:
    stack = new_stack()
    namespace = servicediscovery.PrivateDnsNamespace(stack, "Ns", vpc=imported_vpc(stack), name="x.internal")
    with pytest.raises(ValueError, match="listener_arn and cloud_map_service"):
        SecureMlflowService.from_attributes(
            stack,
            "Server",
            vpc=imported_vpc(stack, "Vpc2"),
            url="http://tracking.x.internal:5000",
            security_group=ec2.SecurityGroup.from_security_group_id(stack, "Sg", "sg-0123456789abcdef0"),
            port=5000,
            authentication=MlflowAuthentication.basic_auth(),
            listener_arn="arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/x/1/2",
            cloud_map_service=namespace.create_service("Svc"),
        )
