"""SecureMlflowService: defaults, every option, rejected combinations, subclass hooks, lint and nag."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast

import aws_cdk as cdk
import pytest
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Match, Template
from syrupy.assertion import SnapshotAssertion

from mlflow_sagemaker_constructs import (
    AccessLogs,
    ArtifactAccess,
    ArtifactStore,
    DatabaseEngine,
    DefaultPermission,
    ExistingDatabase,
    IMlflowTrackingServer,
    Listener,
    MlflowAuthentication,
    PrincipalMapping,
    SecureMlflowService,
    ServerAccess,
    ServerImage,
    StsAccess,
    TrackingDatabase,
)
from mlflow_sagemaker_constructs.tracking_server.database import POSTGRES_LOGGING_PARAMETERS
from mlflow_sagemaker_constructs.tracking_server.server import contract
from tests.conftest import normalized
from tests.harness import assert_cfn_lint_clean, assert_nag_clean, new_app, new_stack
from tests.harness.task_environment import mlflow_container, mlflow_environment, principal_rules
from tests.harness.vpc import imported_isolated_only_vpc, imported_vpc, new_vpc

CERT_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"


def _template(**props: Any) -> Template:
    stack = new_stack()
    SecureMlflowService(stack, "Mlflow", vpc=imported_vpc(stack), **props)
    return Template.from_stack(stack)


def _secret_names(template: Template) -> set[str]:
    return {s["Name"] for s in mlflow_container(template).get("Secrets", [])}


def _policy_statements(template: Template, role_fragment: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        roles = json.dumps(policy["Properties"].get("Roles", []))
        if role_fragment in roles:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


# ---------------------------------------------------------------------------------------------- defaults


@pytest.fixture(scope="module")
def default_template() -> Template:
    return _template()


def test_default_load_balancer_is_internal_and_drops_invalid_headers(default_template: Template) -> None:
    default_template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        {
            "Scheme": "internal",
            "LoadBalancerAttributes": Match.array_with(
                [
                    {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"},
                    {"Key": "access_logs.s3.enabled", "Value": "true"},
                ]
            ),
        },
    )
    default_template.has_resource_properties("AWS::ElasticLoadBalancingV2::Listener", {"Protocol": "HTTP", "Port": 80})


def test_default_security_groups_admit_nothing_from_anywhere(default_template: Template) -> None:
    rendered = json.dumps(default_template.to_json())
    assert "0.0.0.0/0" not in rendered.replace('"CidrIp": "0.0.0.0/0", "Description": "Allow all outbound', "")
    for group in default_template.find_resources("AWS::EC2::SecurityGroup").values():
        assert "SecurityGroupIngress" not in group["Properties"]
    ingress = [i["Properties"] for i in default_template.find_resources("AWS::EC2::SecurityGroupIngress").values()]
    # Load balancer -> service on the container port, service -> database on its port; nothing else.
    assert len(ingress) == 2
    service_rule = next(i for i in ingress if i["FromPort"] == contract.DEFAULT_PORT)
    assert "LoadBalancerSecurityGroup" in service_rule["SourceSecurityGroupId"]["Fn::GetAtt"][0]
    database_rule = next(i for i in ingress if i is not service_rule)
    assert database_rule["FromPort"] == {
        "Fn::GetAtt": [_logical_id(default_template, "AWS::RDS::DBCluster"), "Endpoint.Port"]
    }
    assert "ServiceSecurityGroup" in database_rule["SourceSecurityGroupId"]["Fn::GetAtt"][0]
    for rule in ingress:
        assert "CidrIp" not in rule


def _logical_id(template: Template, resource_type: str) -> str:
    (logical_id,) = template.find_resources(resource_type).keys()
    return logical_id


def test_default_database_is_encrypted_serverless_v2_that_pauses(default_template: Template) -> None:
    default_template.has_resource_properties(
        "AWS::RDS::DBCluster",
        {
            "Engine": "aurora-postgresql",
            "EngineVersion": "17.9",
            "StorageEncrypted": True,
            "DeletionProtection": True,
            "BackupRetentionPeriod": 7,
            "ServerlessV2ScalingConfiguration": {
                "MinCapacity": 0,
                "MaxCapacity": 4,
                "SecondsUntilAutoPause": 600,
            },
            "DatabaseName": "mlflow",
            "EnableIAMDatabaseAuthentication": True,
        },
    )
    default_template.has_resource(
        "AWS::RDS::DBCluster", {"DeletionPolicy": "Snapshot", "UpdateReplacePolicy": "Snapshot"}
    )
    default_template.has_resource_properties(
        "AWS::RDS::DBInstance", {"DBInstanceClass": "db.serverless", "PubliclyAccessible": False}
    )


def test_default_secrets_are_url_safe_and_retained(default_template: Template) -> None:
    secrets = default_template.find_resources("AWS::SecretsManager::Secret")
    assert len(secrets) == 3  # database, admin, Flask key
    for secret in secrets.values():
        assert secret["DeletionPolicy"] == "Retain"
    generators = [s["Properties"]["GenerateSecretString"] for s in secrets.values()]
    admin = next(g for g in generators if g.get("GenerateStringKey") == "password" and "admin" in str(g))
    assert admin["PasswordLength"] >= 24
    assert admin["ExcludePunctuation"] is True
    database = next(g for g in generators if '"mlflow"' in str(g.get("SecretStringTemplate", "")))
    for character in "@:/%#?&":
        assert character in database["ExcludeCharacters"]


def test_default_bucket_is_private_versioned_tls_only_and_retained(default_template: Template) -> None:
    buckets = default_template.find_resources(
        "AWS::S3::Bucket", {"Properties": {"VersioningConfiguration": {"Status": "Enabled"}}}
    )
    (artifacts,) = buckets.values()
    assert artifacts["DeletionPolicy"] == "Retain"
    properties = artifacts["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    (rule,) = properties["LifecycleConfiguration"]["Rules"]
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert properties["LoggingConfiguration"]["LogFilePrefix"] == "artifacts/"
    default_template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )


def test_default_service_runs_with_circuit_breaker_and_container_insights(default_template: Template) -> None:
    default_template.has_resource_properties(
        "AWS::ECS::Service",
        {
            "LaunchType": "FARGATE",
            "DesiredCount": 1,
            "DeploymentConfiguration": {
                "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
                "MinimumHealthyPercent": 100,
                "MaximumPercent": 200,
            },
            "NetworkConfiguration": {"AwsvpcConfiguration": Match.object_like({"AssignPublicIp": "DISABLED"})},
            "EnableExecuteCommand": False,
        },
    )
    default_template.has_resource_properties(
        "AWS::ECS::Cluster",
        {"ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}]},
    )
    default_template.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {
            "Cpu": "512",
            "Memory": "1024",
            "RuntimePlatform": {"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"},
        },
    )


def test_default_health_checks_use_mlflow_health_endpoint(default_template: Template) -> None:
    default_template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        {"HealthCheckPath": "/health", "Matcher": {"HttpCode": "200"}, "Port": 5000, "TargetType": "ip"},
    )
    container = mlflow_container(default_template)
    assert container["HealthCheck"]["Command"] == contract.HEALTH_CHECK_COMMAND
    assert container["EntryPoint"] == contract.CONTAINER_COMMAND
    assert container["PortMappings"][0]["ContainerPort"] == contract.DEFAULT_PORT


def test_default_autoscaling_on_cpu_and_requests(default_template: Template) -> None:
    default_template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget", {"MinCapacity": 1, "MaxCapacity": 4}
    )
    default_template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {
                    "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
                    "TargetValue": 60,
                }
            )
        },
    )
    default_template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {
                    "PredefinedMetricSpecification": Match.object_like(
                        {"PredefinedMetricType": "ALBRequestCountPerTarget"}
                    ),
                    "TargetValue": 600,
                }
            )
        },
    )


def test_default_environment_configures_auth_pool_hosts_and_proxied_artifacts(
    default_template: Template,
) -> None:
    env = mlflow_environment(default_template)
    assert env[contract.AUTH_ENABLED] == "true"
    assert env[contract.AUTH_DEFAULT_PERMISSION] == "NO_PERMISSIONS"
    assert env[contract.AUTH_CACHE_TTL_SECONDS] == "60"
    assert env[contract.AUTH_DB_NAME] == "mlflow_auth"
    assert env[contract.ARTIFACTS_MODE] == "proxied"
    assert env[contract.MULTIPART_UPLOAD] == "true"
    assert env[contract.JOB_EXECUTION] == "false"
    assert env[contract.WORKERS] == "1"
    # Pooled: the server closes idle connections itself (contract default), so the cluster still pauses.
    assert contract.DB_POOL not in env
    assert env[contract.KEEP_ALIVE_SECONDS] == "125"  # load balancer idle timeout (120 s) + 5
    assert env[contract.DB_ENGINE] == "postgresql"
    # IAM principals are users; tokens are verified at the regional STS endpoint; no rule until one is added.
    assert env[contract.AUTH_IAM_ENABLED] == "true"
    assert env[contract.AUTH_IAM_STS_ENDPOINT] == {
        "Fn::Join": ["", ["https://sts.us-east-1.", {"Ref": "AWS::URLSuffix"}]]
    }
    assert env[contract.AUTH_IAM_PRINCIPALS] == "[]"
    assert env[contract.AUTH_IAM_STS_TIMEOUT_SECONDS] == "5"
    lb = _logical_id(default_template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert env[contract.ALLOWED_HOSTS] == {"Fn::GetAtt": [lb, "DNSName"]}
    assert _secret_names(default_template) == {
        contract.DB_USERNAME,
        contract.DB_PASSWORD,
        contract.AUTH_ADMIN_PASSWORD,
        contract.FLASK_SECRET_KEY,
    }
    # No secret value is ever a plain environment variable.
    assert not set(env) & contract.SECRET_NAMES


def test_default_task_role_can_use_only_the_artifact_prefix(default_template: Template) -> None:
    statements = _policy_statements(default_template, "TaskRole")
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListBucket",
    } <= actions
    assert not any("*" in a for a in actions)
    object_statement = next(s for s in statements if "s3:PutObject" in s["Action"])
    assert object_statement["Resource"]["Fn::Join"][1][-1] == "/mlflow-artifacts/*"
    list_statement = next(s for s in statements if s["Action"] == "s3:ListBucket")
    assert list_statement["Condition"] == {"StringLike": {"s3:prefix": ["mlflow-artifacts", "mlflow-artifacts/*"]}}


def test_default_log_group_has_finite_retention_and_is_retained(default_template: Template) -> None:
    default_template.has_resource(
        "AWS::Logs::LogGroup", {"Properties": {"RetentionInDays": 90}, "DeletionPolicy": "Retain"}
    )


def test_default_snapshot(default_template: Template, template_snapshot: SnapshotAssertion) -> None:
    assert normalized(default_template.to_json()) == template_snapshot


# ---------------------------------------------------------------------------------------------- lint and nag


def _build_default(stack: cdk.Stack, vpc: ec2.IVpc) -> SecureMlflowService:
    if vpc.private_subnets:
        return SecureMlflowService(stack, "Mlflow", vpc=vpc)
    # Isolated subnets have no route to STS: the one change the default needs there.
    return SecureMlflowService(
        stack, "Mlflow", vpc=vpc, authentication=MlflowAuthentication.iam(sts_access=StsAccess.new_interface_endpoint())
    )


@pytest.mark.parametrize(
    "vpc_factory",
    [imported_vpc, new_vpc, imported_isolated_only_vpc],
    ids=["imported-3az", "new", "isolated-only"],
)
def test_cfn_lint_and_nag_are_clean(vpc_factory: Callable[[cdk.Stack], ec2.IVpc]) -> None:
    app = new_app()
    stack = new_stack(app)
    _build_default(stack, vpc_factory(stack))
    assert_cfn_lint_clean(Template.from_stack(stack).to_json())
    assert_nag_clean(app)


def _all_options(stack: cdk.Stack) -> SecureMlflowService:
    vpc = imported_vpc(stack)
    secret = secretsmanager.Secret.from_secret_complete_arn(
        stack, "DbSecret", "arn:aws:secretsmanager:us-east-1:123456789012:secret:mlflow-db-AbCdEf"
    )
    database_sg = ec2.SecurityGroup.from_security_group_id(stack, "DbSg", "sg-0123456789abcdef0")
    bucket = s3.Bucket.from_bucket_name(stack, "Bucket", "existing-mlflow-artifacts")
    cluster = ecs.Cluster.from_cluster_attributes(stack, "Cluster", cluster_name="platform", vpc=vpc)
    return SecureMlflowService(
        stack,
        "Mlflow",
        vpc=vpc,
        cluster=cluster,
        database=TrackingDatabase.existing(
            ExistingDatabase(
                endpoint="mlflow.cluster-abc.us-east-1.rds.amazonaws.com",
                secret=secret,
                engine=DatabaseEngine.POSTGRESQL,
                security_group=database_sg,
            )
        ),
        artifact_store=ArtifactStore.existing_bucket(bucket, prefix="teams/ml"),
        image=ServerImage.from_container_image(
            ecs.ContainerImage.from_registry("123456789012.dkr.ecr.us-east-1.amazonaws.com/mlflow:3.17.2"),
            architecture=ecs.CpuArchitecture.X86_64,
        ),
        access=ServerAccess.load_balancer(
            listener=Listener.https(
                certificate=acm.Certificate.from_certificate_arn(stack, "Cert", CERT_ARN),
                domain_name="mlflow.example.com",
            )
        ),
        access_logs=AccessLogs.existing_bucket(s3.Bucket.from_bucket_name(stack, "Logs", "existing-access-logs")),
    )


@pytest.fixture(scope="module")
def all_existing_template() -> Template:
    stack = new_stack()
    _all_options(stack)
    return Template.from_stack(stack)


def test_all_existing_creates_no_database_bucket_or_cluster(all_existing_template: Template) -> None:
    for resource_type in ("AWS::RDS::DBCluster", "AWS::S3::Bucket", "AWS::ECS::Cluster"):
        all_existing_template.resource_count_is(resource_type, 0)
    env = mlflow_environment(all_existing_template)
    assert env[contract.DB_HOST] == "mlflow.cluster-abc.us-east-1.rds.amazonaws.com"
    assert env[contract.DB_PORT] == "5432"
    assert env[contract.DB_NAME] == "mlflow"
    assert contract.DB_POOL not in env
    assert env[contract.ARTIFACTS_URI] == "s3://existing-mlflow-artifacts/teams/ml"
    all_existing_template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {"GroupId": "sg-0123456789abcdef0", "FromPort": 5432, "ToPort": 5432, "IpProtocol": "tcp"},
    )
    all_existing_template.has_resource_properties("AWS::ECS::Service", {"Cluster": "platform"})


def test_all_existing_uses_https_and_accepts_the_custom_domain(all_existing_template: Template) -> None:
    all_existing_template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {"Protocol": "HTTPS", "Port": 443, "Certificates": [{"CertificateArn": CERT_ARN}]},
    )
    hosts = mlflow_environment(all_existing_template)[contract.ALLOWED_HOSTS]
    assert hosts["Fn::Join"][1][-1] == ",mlflow.example.com"
    container = mlflow_container(all_existing_template)
    assert container["Image"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlflow:3.17.2"


def test_all_existing_snapshot(all_existing_template: Template, template_snapshot: SnapshotAssertion) -> None:
    assert normalized(all_existing_template.to_json()) == template_snapshot


def test_all_existing_is_lint_and_nag_clean() -> None:
    app = new_app()
    stack = new_stack(app)
    _all_options(stack)
    assert_cfn_lint_clean(Template.from_stack(stack).to_json())
    assert_nag_clean(app)


# ---------------------------------------------------------------------------------------------- options


def _legacy_bucket_service(
    stack: cdk.Stack, prefixes: list[str], access: ArtifactAccess = ArtifactAccess.PROXIED
) -> SecureMlflowService:
    """The AWS samples' bucket imported: their experiments' artifacts sit outside the artifact prefix."""
    bucket = s3.Bucket.from_bucket_name(stack, "SampleBucket", "mlflow-artifacts-123456789012")
    service = SecureMlflowService(
        stack,
        "Mlflow",
        vpc=imported_vpc(stack),
        artifact_store=ArtifactStore.existing_bucket(bucket, access=access, legacy_prefixes=prefixes),
    )
    service.grant_artifact_access(iam.Role(stack, "Studio", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com")))
    return service


def _object_resources(statements: list[dict[str, Any]], action: str) -> list[str]:
    statement = next(
        s for s in statements if action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    )
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    return sorted(str(r) for r in resources)


@pytest.mark.parametrize("access", [ArtifactAccess.PROXIED, ArtifactAccess.DIRECT])
def test_legacy_artifact_prefixes_extend_the_server_and_client_grants(access: ArtifactAccess) -> None:
    stack = new_stack()
    _legacy_bucket_service(stack, ["0", "1", "custom/team-a", "0"], access)
    template = Template.from_stack(stack)
    expected_objects = [
        "arn:aws:s3:::mlflow-artifacts-123456789012/0/*",
        "arn:aws:s3:::mlflow-artifacts-123456789012/1/*",
        "arn:aws:s3:::mlflow-artifacts-123456789012/custom/team-a/*",
        "arn:aws:s3:::mlflow-artifacts-123456789012/mlflow-artifacts/*",
    ]
    for role, write in (("TaskRole", access is ArtifactAccess.PROXIED), ("Studio", True)):
        statements = _policy_statements(template, role)
        assert _object_resources(statements, "s3:GetObject") == expected_objects
        assert any("s3:PutObject" in s["Action"] for s in statements) is write
        listing = next(s for s in statements if s["Action"] == "s3:ListBucket")
        assert listing["Condition"] == {
            "StringLike": {
                "s3:prefix": [
                    "mlflow-artifacts",
                    "mlflow-artifacts/*",
                    "0",
                    "0/*",
                    "1",
                    "1/*",
                    "custom/team-a",
                    "custom/team-a/*",
                ]
            }
        }


def test_legacy_artifact_prefix_star_is_the_whole_bucket() -> None:
    stack = new_stack()
    _legacy_bucket_service(stack, ["*"])
    statements = _policy_statements(Template.from_stack(stack), "TaskRole")
    assert _object_resources(statements, "s3:PutObject") == [
        "arn:aws:s3:::mlflow-artifacts-123456789012/*",
        "arn:aws:s3:::mlflow-artifacts-123456789012/mlflow-artifacts/*",
    ]
    listing = next(s for s in statements if s["Action"] == "s3:ListBucket")
    assert "Condition" not in listing


def test_legacy_artifact_prefixes_are_nag_clean() -> None:
    app = new_app()
    stack = new_stack(app)
    service = _legacy_bucket_service(stack, ["*", "custom/team-a"])
    assert service.artifact_store.prefixes == ["mlflow-artifacts", "*", "custom/team-a"]
    assert_nag_clean(app)


def test_mysql_tracking_store_with_postgresql_auth_database() -> None:
    stack = new_stack()
    mysql_secret = secretsmanager.Secret(stack, "MysqlSecret")
    pg_secret = secretsmanager.Secret(stack, "PgSecret")
    SecureMlflowService(
        stack,
        "Mlflow",
        vpc=imported_vpc(stack),
        database=TrackingDatabase.existing(
            ExistingDatabase(endpoint="mysql.example.internal", secret=mysql_secret, engine=DatabaseEngine.MYSQL),
            auth_database=ExistingDatabase(
                endpoint="pg.example.internal",
                secret=pg_secret,
                engine=DatabaseEngine.POSTGRESQL,
                database_name="mlflow_users",
            ),
        ),
    )
    template = Template.from_stack(stack)
    env = mlflow_environment(template)
    assert env[contract.DB_ENGINE] == "mysql"
    assert env[contract.DB_PORT] == "3306"
    assert env[contract.AUTH_DB_HOST] == "pg.example.internal"
    assert env[contract.AUTH_DB_PORT] == "5432"
    assert env[contract.AUTH_DB_NAME] == "mlflow_users"
    assert {contract.AUTH_DB_USERNAME, contract.AUTH_DB_PASSWORD} <= _secret_names(template)


def test_auth_disabled_has_no_admin_or_flask_secret() -> None:
    template = _template(authentication=MlflowAuthentication.disabled(authenticated_by="IAM at the HTTP API"))
    assert mlflow_environment(template)[contract.AUTH_ENABLED] == "false"
    assert _secret_names(template) == {contract.DB_USERNAME, contract.DB_PASSWORD}
    template.resource_count_is("AWS::SecretsManager::Secret", 1)


def test_auth_options_reach_the_container() -> None:
    template = _template(
        authentication=MlflowAuthentication.basic_auth(
            admin_username="root", default_permission=DefaultPermission.READ, cache_ttl_seconds=30
        )
    )
    env = mlflow_environment(template)
    assert env[contract.AUTH_ADMIN_USERNAME] == "root"
    assert env[contract.AUTH_DEFAULT_PERMISSION] == "READ"
    assert env[contract.AUTH_CACHE_TTL_SECONDS] == "30"


def test_a_minimum_capacity_has_no_auto_pause() -> None:
    template = _template(database=TrackingDatabase.aurora_serverless(min_capacity=0.5, max_capacity=8))
    template.has_resource_properties(
        "AWS::RDS::DBCluster",
        {"ServerlessV2ScalingConfiguration": {"MinCapacity": 0.5, "MaxCapacity": 8}},
    )
    assert contract.DB_POOL not in mlflow_environment(template)


def test_direct_artifacts_and_grant_for_clients() -> None:
    stack = new_stack()
    service = SecureMlflowService(
        stack, "Mlflow", vpc=imported_vpc(stack), artifact_store=ArtifactStore.new_bucket(access=ArtifactAccess.DIRECT)
    )
    client = iam.Role(stack, "Client", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    service.grant_artifact_access(client)
    template = Template.from_stack(stack)
    env = mlflow_environment(template)
    assert env[contract.ARTIFACTS_MODE] == "direct"
    assert env[contract.MULTIPART_UPLOAD] == "false"
    task_actions = {a for s in _policy_statements(template, "TaskRole") for a in s["Action"]}
    assert "s3:PutObject" not in task_actions
    assert {"s3:GetObject", "s3:DeleteObject"} <= task_actions  # UI previews, run and experiment deletion
    client_actions = {a for s in _policy_statements(template, "Client") for a in s["Action"]}
    assert {"s3:PutObject", "s3:GetObject", "s3:DeleteObject"} <= client_actions


def test_kms_bucket_and_grants_include_the_key() -> None:
    stack = new_stack()
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    SecureMlflowService(
        stack, "Mlflow", vpc=imported_vpc(stack), artifact_store=ArtifactStore.new_bucket(encryption_key=key)
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    Match.object_like({"ServerSideEncryptionByDefault": Match.object_like({"SSEAlgorithm": "aws:kms"})})
                ]
            }
        },
    )
    actions = {a for s in _policy_statements(template, "TaskRole") for a in s["Action"]}
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} & actions


def test_access_logging_off_creates_no_log_bucket() -> None:
    template = _template(access_logs=AccessLogs.disabled())
    template.resource_count_is("AWS::S3::Bucket", 1)
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        {"LoadBalancerAttributes": Match.not_({"Key": "access_logs.s3.enabled", "Value": "true"})},
    )


def test_task_size_architecture_and_workers() -> None:
    template = _template(cpu=2048, memory_limit_mib=4096, cpu_architecture=ecs.CpuArchitecture.X86_64)
    template.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {"Cpu": "2048", "Memory": "4096", "RuntimePlatform": Match.object_like({"CpuArchitecture": "X86_64"})},
    )
    assert mlflow_environment(template)[contract.WORKERS] == "2"  # one per vCPU


def test_memory_defaults_to_the_least_fargate_allows_for_a_larger_cpu() -> None:
    template = _template(cpu=1024)
    template.has_resource_properties("AWS::ECS::TaskDefinition", {"Cpu": "1024", "Memory": "2048"})
    assert mlflow_environment(template)[contract.WORKERS] == "1"


@pytest.mark.parametrize(
    ("image", "asset_expected"),
    [
        (ServerImage.bundled_asset(), True),
        (ServerImage.deploy_time_build(), False),
        (
            ServerImage.from_container_image(
                ecs.ContainerImage.from_registry("example/mlflow:1"), architecture=ecs.CpuArchitecture.ARM64
            ),
            False,
        ),
    ],
    ids=["bundled-asset", "deploy-time-build", "container-image"],
)
def test_image_modes(image: ServerImage, asset_expected: bool) -> None:
    stack = new_stack()
    SecureMlflowService(stack, "Mlflow", vpc=imported_vpc(stack), image=image)
    template = Template.from_stack(stack)
    image_value = json.dumps(mlflow_container(template)["Image"])
    if image.kind == "bundled-asset":
        assert "cdk-hnb659fds-container-assets" in image_value
    elif image.kind == "deploy-time-build":
        # CodeBuild builds the image during deployment and pushes it to a repository of its own.
        template.resource_count_is("AWS::CodeBuild::Project", 1)
        assert "cdk-hnb659fds-container-assets" not in image_value
    else:
        assert image_value == '"example/mlflow:1"'
    assert asset_expected == ("cdk-hnb659fds-container-assets" in image_value)


def test_two_instances_synthesize_side_by_side() -> None:
    stack = new_stack()
    vpc = imported_vpc(stack)
    SecureMlflowService(stack, "A", vpc=vpc)
    SecureMlflowService(stack, "B", vpc=vpc)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::RDS::DBCluster", 2)
    template.resource_count_is("AWS::ElasticLoadBalancingV2::LoadBalancer", 2)
    rendered = json.dumps(
        {k: v for k, v in template.to_json()["Resources"].items() if v["Type"] != "AWS::RDS::DBInstance"}
    )
    for physical_name in (
        '"BucketName"',
        '"ClusterName"',
        '"LoadBalancerName"',
        '"DBClusterIdentifier"',
    ):
        assert physical_name not in rendered
    for secret in template.find_resources("AWS::SecretsManager::Secret").values():
        assert "Name" not in secret["Properties"]


def test_allow_from_opens_the_listener_port_to_a_peer_only() -> None:
    stack = new_stack()
    vpc = imported_vpc(stack)
    service = SecureMlflowService(stack, "Mlflow", vpc=vpc)
    client = ec2.SecurityGroup(stack, "Client", vpc=vpc)
    service.allow_from(client)
    service.add_allowed_host("mlflow.internal.example")
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "FromPort": 80,
            "ToPort": 80,
            "SourceSecurityGroupId": {"Fn::GetAtt": [Match.string_like_regexp("Client"), "GroupId"]},
        },
    )
    hosts = mlflow_environment(template)[contract.ALLOWED_HOSTS]
    assert hosts["Fn::Join"][1][-1] == ",mlflow.internal.example"
    assert service.url.startswith("http://")
    assert service.url == service.internal_url


def test_public_attributes_expose_every_inner_construct() -> None:
    stack = new_stack()
    service = SecureMlflowService(stack, "Mlflow", vpc=imported_vpc(stack))
    assert isinstance(service.service, ecs.FargateService)
    assert isinstance(service.task_definition, ecs.FargateTaskDefinition)
    assert isinstance(service.container, ecs.ContainerDefinition)
    assert isinstance(service.load_balancer, elbv2.ApplicationLoadBalancer)
    assert isinstance(service.listener, elbv2.ApplicationListener)
    assert service.database_cluster is not None
    assert service.admin_secret is not None
    assert service.flask_secret is not None
    assert service.access_logs_bucket is not None
    assert service.ai_gateway_secret is None
    assert service.connections.security_groups
    assert isinstance(service.scaling, ecs.ScalableTaskCount)
    assert isinstance(service.target_group, elbv2.ApplicationTargetGroup)
    server: IMlflowTrackingServer = service  # mypy checks the structural interface
    assert server.url.startswith("http://")
    grant = service.grant_read_admin_secret(iam.Role(stack, "Ops", assumed_by=iam.AccountRootPrincipal()))
    assert grant.success


# ---------------------------------------------------------------------------------------------- subclass hook


class _CustomListenerService(SecureMlflowService):
    """Replaces the networking: a load balancer with its own security group and an HTTPS listener on 8443."""

    def _create_load_balancer(self) -> elbv2.IApplicationLoadBalancer:
        return elbv2.ApplicationLoadBalancer(
            self,
            "CustomLoadBalancer",
            vpc=self.vpc,
            internet_facing=False,
            vpc_subnets=self.access.subnets or self.service_subnets,
        )

    def _create_listener(self, load_balancer: elbv2.IApplicationLoadBalancer) -> elbv2.IApplicationListener:
        certificate = acm.Certificate.from_certificate_arn(self, "CustomCert", CERT_ARN)
        return load_balancer.add_listener("Custom", port=8443, certificates=[certificate], open=False)


def test_subclass_overrides_the_load_balancer_hooks() -> None:
    stack = new_stack()
    vpc = imported_vpc(stack)
    service = _CustomListenerService(stack, "Mlflow", vpc=vpc)
    client = ec2.SecurityGroup(stack, "Client", vpc=vpc)
    service.allow_from(client)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::ElasticLoadBalancingV2::Listener", {"Port": 8443, "Protocol": "HTTPS"})
    template.resource_count_is("AWS::ElasticLoadBalancingV2::LoadBalancer", 1)
    assert "CustomLoadBalancer" in service.load_balancer.node.id
    # Everything derived from the listener follows the hook: port, connections, allow_from, URL.
    assert service.port == 8443
    assert service.connections.default_port is not None
    assert service.connections.default_port.to_rule_json()["fromPort"] == 8443
    assert service.url.startswith("https://")
    assert service.url.endswith(":8443")
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "FromPort": 8443,
            "ToPort": 8443,
            "SourceSecurityGroupId": {"Fn::GetAtt": [Match.string_like_regexp("Client"), "GroupId"]},
        },
    )
    ports = [i["Properties"]["FromPort"] for i in template.find_resources("AWS::EC2::SecurityGroupIngress").values()]
    assert 80 not in ports
    assert 443 not in ports


# ---------------------------------------------------------------------------------------------- rejected


def _secret(stack: cdk.Stack, construct_id: str = "S") -> secretsmanager.ISecret:
    return secretsmanager.Secret(stack, construct_id)


REJECTED: list[tuple[str, Callable[[cdk.Stack, ec2.IVpc], dict[str, Any]], str]] = [
    (
        "fargate-pair",
        lambda s, v: {"cpu": 256, "memory_limit_mib": 4096},
        r"memory_limit_mib \(4096\) is not allowed with cpu 256",
    ),
    ("fargate-cpu", lambda s, v: {"cpu": 300}, r"cpu \(300\) is not a Fargate task size"),
    (
        "tasks-min-max",
        lambda s, v: {"min_task_count": 3, "max_task_count": 2},
        r"min_task_count \(3\) is greater than max_task_count \(2\)",
    ),
    (
        "desired-outside",
        lambda s, v: {"desired_count": 9},
        r"desired_count \(9\) is outside min_task_count\.\.max_task_count",
    ),
    (
        "mysql-with-auth",
        lambda s, v: {
            "database": TrackingDatabase.existing(
                ExistingDatabase(endpoint="db.example.internal", secret=_secret(s), engine=DatabaseEngine.MYSQL)
            )
        },
        r"the tracking database is MySQL and the server authenticates.*auth_database",
    ),
    (
        "auth-db-without-auth",
        lambda s, v: {
            "database": TrackingDatabase.existing(
                ExistingDatabase(endpoint="db.example.internal", secret=_secret(s), engine=DatabaseEngine.MYSQL),
                auth_database=ExistingDatabase(
                    endpoint="pg.example.internal", secret=_secret(s, "S2"), engine=DatabaseEngine.POSTGRESQL
                ),
            ),
            "authentication": MlflowAuthentication.disabled(authenticated_by="IAM at the HTTP API"),
        },
        r"auth_database was given but the server does not authenticate",
    ),
    (
        "empty-subnets",
        lambda s, v: {"service_subnets": ec2.SubnetSelection(subnet_group_name="does-not-exist")},
        r"service_subnets selects no subnets in the given VPC",
    ),
    (
        "lb-one-az",
        lambda s, v: {
            "access": ServerAccess.load_balancer(
                subnets=ec2.SubnetSelection(
                    subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, availability_zones=["us-east-1a"]
                )
            )
        },
        r"access.subnets selects subnets in 1 availability zone\(s\); at least 2 are required",
    ),
    ("bad-host", lambda s, v: {"extra_allowed_hosts": ["https://mlflow.example.com/"]}, r"is not a host name"),
    ("bad-origin", lambda s, v: {"cors_allowed_origins": ["studio.example.com"]}, r"is not an origin"),
    (
        "cpu-percent",
        lambda s, v: {"scale_on_cpu_percent": 0},
        r"scale_on_cpu_percent \(0\) must be between 1 and 100",
    ),
]

#: Option objects refuse what cannot work when they are made, before any construct exists.
REJECTED_OPTIONS: list[tuple[str, Callable[[], object], str]] = [
    (
        "acu-min-max",
        lambda: TrackingDatabase.aurora_serverless(min_capacity=8, max_capacity=4),
        r"min_capacity \(8\) is greater than max_capacity \(4\)",
    ),
    (
        "acu-step",
        lambda: TrackingDatabase.aurora_serverless(max_capacity=4.2),
        r"max_capacity \(4\.2\) must be a multiple of 0\.5 ACU",
    ),
    (
        "acu-range",
        lambda: TrackingDatabase.aurora_serverless(max_capacity=300),
        r"max_capacity \(300 ACU\) must be between 1 and 256",
    ),
    (
        "backup-short",
        lambda: TrackingDatabase.aurora_serverless(backup_retention=cdk.Duration.days(1)),
        r"backup_retention \(1 days\) must be at least 7 days",
    ),
    (
        "auto-pause-short",
        lambda: TrackingDatabase.aurora_serverless(auto_pause=cdk.Duration.minutes(1)),
        r"auto_pause \(1 minutes\) must be between 5 and 1440 minutes",
    ),
    (
        "auth-db-mysql",
        lambda: TrackingDatabase.existing(
            ExistingDatabase(endpoint="db.example.internal", secret=_unbound_secret(), engine=DatabaseEngine.MYSQL),
            auth_database=ExistingDatabase(
                endpoint="db2.example.internal", secret=_unbound_secret(), engine=DatabaseEngine.MYSQL
            ),
        ),
        r"auth_database must be PostgreSQL",
    ),
    (
        "bad-endpoint",
        lambda: TrackingDatabase.existing(
            ExistingDatabase(endpoint="postgres://db", secret=_unbound_secret(), engine=DatabaseEngine.POSTGRESQL)
        ),
        r"database.endpoint \('postgres://db'\) is not a host name",
    ),
    (
        "bad-port",
        lambda: TrackingDatabase.existing(
            ExistingDatabase(
                endpoint="db.example.internal", secret=_unbound_secret(), engine=DatabaseEngine.POSTGRESQL, port=0
            )
        ),
        r"database.port \(0\) must be between 1 and 65535",
    ),
    ("auth-off-silent", lambda: MlflowAuthentication.disabled(authenticated_by=" "), r"needs to say who authenticates"),
    (
        "negative-ttl",
        lambda: MlflowAuthentication.basic_auth(cache_ttl_seconds=-1),
        r"cache_ttl_seconds \(-1\) must be 0 or more",
    ),
    ("admin-colon", lambda: MlflowAuthentication.basic_auth(admin_username="a:b"), r"admin_username .* without ':'"),
    ("empty-prefix", lambda: ArtifactStore.new_bucket(prefix="/"), r"prefix \('/'\) must be a non-empty key prefix"),
    ("dotdot-prefix", lambda: ArtifactStore.new_bucket(prefix="a/../b"), r"must be a non-empty key prefix"),
    (
        "legacy-prefix-empty",
        lambda: ArtifactStore.existing_bucket(_unbound_bucket(), legacy_prefixes=["/"]),
        r"legacy_prefixes entry '/' is not a key prefix",
    ),
    (
        "legacy-prefix-partial-wildcard",
        lambda: ArtifactStore.existing_bucket(_unbound_bucket(), legacy_prefixes=["team-*"]),
        r"legacy_prefixes entry 'team-\*' is not a key prefix",
    ),
    ("listener-port", lambda: Listener.http(port=0), r"port \(0\) must be between 1 and 65535"),
    (
        "idle-timeout",
        lambda: ServerAccess.load_balancer(idle_timeout=cdk.Duration.seconds(5000)),
        r"idle_timeout \(5000 s\)",
    ),
]


def _unbound_bucket() -> s3.IBucket:
    return s3.Bucket.from_bucket_name(new_stack(), "B", "bucket")


def _unbound_secret() -> secretsmanager.ISecret:
    return secretsmanager.Secret.from_secret_complete_arn(
        new_stack(), "S", "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
    )


@pytest.mark.parametrize(("case", "make", "message"), REJECTED_OPTIONS, ids=[r[0] for r in REJECTED_OPTIONS])
def test_rejected_option(case: str, make: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(("case", "props", "message"), REJECTED, ids=[r[0] for r in REJECTED])
def test_rejected_combination(case: str, props: Callable[[cdk.Stack, ec2.IVpc], dict[str, Any]], message: str) -> None:
    stack = new_stack()
    vpc = imported_vpc(stack)
    with pytest.raises(ValueError, match=message):
        SecureMlflowService(stack, "Mlflow", vpc=vpc, **props(stack, vpc))


def test_cluster_of_another_vpc_is_rejected() -> None:
    stack = new_stack()
    other = imported_isolated_only_vpc(stack)
    cluster = ecs.Cluster.from_cluster_attributes(stack, "C", cluster_name="c", vpc=other)
    with pytest.raises(ValueError, match=r"cluster is in VPC vpc-\w+, not in vpc"):
        SecureMlflowService(stack, "Mlflow", vpc=imported_vpc(stack), cluster=cluster)


def test_vpc_without_private_subnets_is_rejected() -> None:
    stack = new_stack()
    public_only = ec2.Vpc.from_vpc_attributes(
        stack,
        "Public",
        vpc_id="vpc-0aaaaaaaaaaaaaaaa",
        availability_zones=["us-east-1a", "us-east-1b"],
        public_subnet_ids=["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
        public_subnet_route_table_ids=["rtb-0aaaaaaaaaaaaaaa1", "rtb-0aaaaaaaaaaaaaaa2"],
    )
    with pytest.raises(ValueError, match="vpc has neither private-with-egress nor isolated subnets"):
        SecureMlflowService(stack, "Mlflow", vpc=public_only)


def test_admin_secret_grant_without_auth_is_rejected() -> None:
    stack = new_stack()
    service = SecureMlflowService(
        stack,
        "Mlflow",
        vpc=imported_vpc(stack),
        authentication=MlflowAuthentication.disabled(authenticated_by="IAM"),
    )
    with pytest.raises(ValueError, match="the server does not authenticate, there is no admin secret"):
        service.grant_read_admin_secret(iam.Role(stack, "R", assumed_by=iam.AccountRootPrincipal()))


def test_synthesizes_clean_in_an_app_without_feature_flags() -> None:
    """Access logging must not depend on @aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy."""
    app = cdk.App(outdir=new_app().outdir)
    stack = cdk.Stack(app, "NoFlags", env=cdk.Environment(account="123456789012", region="us-east-1"))
    SecureMlflowService(stack, "Mlflow", vpc=imported_vpc(stack))
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {"LoggingConfiguration": Match.object_like({"LogFilePrefix": "artifacts/"})},
    )
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject"}
                        )
                    ]
                )
            }
        },
    )
    assert_cfn_lint_clean(template.to_json())
    assert_nag_clean(app)


# ---------------------------------------------------------------------------------------------- composition


def test_the_service_is_a_connectable_with_the_listener_port_as_default() -> None:
    stack = new_stack()
    vpc = imported_vpc(stack)
    service = SecureMlflowService(stack, "Mlflow", vpc=vpc)
    notebook = ec2.SecurityGroup(stack, "Notebook", vpc=vpc)
    job = ec2.SecurityGroup(stack, "Job", vpc=vpc)
    # Through jsii: the service is passed to CDK as an IConnectable.
    job.connections.allow_to(service, ec2.Port.tcp(80), "job to MLflow")
    service.connections.allow_default_port_from(notebook, "notebook to MLflow")
    template = Template.from_stack(stack)
    for peer in ("Notebook", "Job"):
        template.has_resource_properties(
            "AWS::EC2::SecurityGroupIngress",
            {
                "FromPort": 80,
                "ToPort": 80,
                "SourceSecurityGroupId": {"Fn::GetAtt": [Match.string_like_regexp(peer), "GroupId"]},
            },
        )


def test_from_attributes_describes_a_server_of_another_stack() -> None:
    app = new_app()
    server_stack = new_stack(app, "Server")
    vpc = imported_vpc(server_stack)
    service = SecureMlflowService(server_stack, "Mlflow", vpc=vpc)
    client_stack = new_stack(app, "Clients")
    imported = SecureMlflowService.from_attributes(
        client_stack,
        "Mlflow",
        vpc=imported_vpc(client_stack),
        url=service.url,
        security_group=ec2.SecurityGroup.from_security_group_id(client_stack, "Sg", "sg-0123456789abcdef0"),
        port=service.port,
        authentication=service.authentication,
        listener_arn=service.listener.listener_arn if service.listener is not None else None,
        artifact_bucket=s3.Bucket.from_bucket_name(client_stack, "Artifacts", "mlflow-artifacts-bucket"),
    )
    assert imported.port == 80
    assert imported.listener is not None
    role = iam.Role(client_stack, "Reader", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    imported.grant_artifact_read(role)
    imported.allow_from(ec2.SecurityGroup(client_stack, "Peer", vpc=imported.vpc))
    template = Template.from_stack(client_stack)
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress", {"GroupId": "sg-0123456789abcdef0", "FromPort": 80, "ToPort": 80}
    )
    actions = {
        a
        for s in _policy_statements(template, "Reader")
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert {"s3:GetObject", "s3:ListBucket"} <= actions
    assert "s3:PutObject" not in actions


def test_an_imported_server_without_its_bucket_says_how_to_grant() -> None:
    stack = new_stack()
    imported = SecureMlflowService.from_attributes(
        stack,
        "Mlflow",
        vpc=imported_vpc(stack),
        url="http://mlflow.internal.example.com",
        security_group=ec2.SecurityGroup.from_security_group_id(stack, "Sg", "sg-0123456789abcdef0"),
        port=80,
        authentication=MlflowAuthentication.basic_auth(),
    )
    with pytest.raises(ValueError, match="pass artifact_bucket"):
        imported.grant_artifact_access(iam.Role(stack, "R", assumed_by=iam.AccountRootPrincipal()))
    assert imported.host == "mlflow.internal.example.com"


def test_an_environment_agnostic_stack_gets_a_clear_error_or_synthesizes_without_access_logs() -> None:
    stack = cdk.Stack(new_app(), "Agnostic")
    with pytest.raises(ValueError, match=r"environment-agnostic stack.*AccessLogs.disabled\(\)"):
        SecureMlflowService(stack, "Mlflow", vpc=imported_vpc(stack))
    other = cdk.Stack(new_app(), "AgnosticNoLogs")
    SecureMlflowService(other, "Mlflow", vpc=imported_vpc(other), access_logs=AccessLogs.disabled())
    Template.from_stack(other).resource_count_is("AWS::ECS::Service", 1)


# ---------------------------------------------------------------------------------------------- hardening


def test_the_container_has_a_read_only_root_filesystem_and_a_scratch_volume(default_template: Template) -> None:
    container = mlflow_container(default_template)
    assert container["ReadonlyRootFilesystem"] is True
    assert container["MountPoints"] == [{"ContainerPath": "/tmp", "ReadOnly": False, "SourceVolume": "scratch"}]
    assert container["LinuxParameters"] == {"Capabilities": {"Drop": ["ALL"]}, "InitProcessEnabled": True}
    default_template.has_resource_properties("AWS::ECS::TaskDefinition", {"Volumes": [{"Name": "scratch"}]})


def test_finding_10_database_logs_leave_out_statement_values(default_template: Template) -> None:
    default_template.has_resource_properties(
        "AWS::RDS::DBClusterParameterGroup",
        {"Family": "aurora-postgresql17", "Parameters": POSTGRES_LOGGING_PARAMETERS},
    )
    assert POSTGRES_LOGGING_PARAMETERS["log_min_error_statement"] == "panic"
    assert POSTGRES_LOGGING_PARAMETERS["log_error_verbosity"] == "terse"


def test_the_ai_gateway_is_off_by_default_and_gets_its_own_passphrase_when_on(default_template: Template) -> None:
    assert contract.AI_GATEWAY_ENABLED not in mlflow_environment(default_template)  # the image's default: off
    template = _template(enable_ai_gateway=True)
    assert mlflow_environment(template)[contract.AI_GATEWAY_ENABLED] == "true"
    assert contract.CRYPTO_KEK_PASSPHRASE in _secret_names(template)
    template.has_resource_properties(
        "AWS::SecretsManager::Secret",
        {"GenerateSecretString": Match.object_like({"PasswordLength": 64, "ExcludePunctuation": True})},
    )


def test_execute_command_is_off_by_default_and_keeps_the_root_filesystem_read_only_when_on() -> None:
    template = _template(enable_execute_command=True)
    template.has_resource_properties("AWS::ECS::Service", {"EnableExecuteCommand": True})
    container = mlflow_container(template)
    assert container["ReadonlyRootFilesystem"] is True
    paths = {m["ContainerPath"] for m in container["MountPoints"]}
    assert paths == {"/tmp", "/managed-agents", "/var/lib/amazon/ssm", "/var/log/amazon/ssm"}


def test_the_default_permission_is_the_images_default() -> None:
    assert MlflowAuthentication.basic_auth().default_permission.value == contract.DEFAULT_AUTH_DEFAULT_PERMISSION
    assert DefaultPermission.NO_PERMISSIONS.value == contract.DEFAULT_AUTH_DEFAULT_PERMISSION


# ---------------------------------------------------------------------------------------------- HTTPS


def test_https_with_a_dns_validated_certificate_and_an_alias() -> None:
    from aws_cdk import aws_route53 as route53

    stack = new_stack()
    zone = route53.HostedZone.from_hosted_zone_attributes(stack, "Zone", hosted_zone_id="Z123", zone_name="example.com")
    service = SecureMlflowService(
        stack,
        "Mlflow",
        vpc=imported_vpc(stack),
        access=ServerAccess.load_balancer(
            listener=Listener.https_with_dns_validated_certificate(domain_name="mlflow.example.com", hosted_zone=zone)
        ),
    )
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::CertificateManager::Certificate", {"DomainName": "mlflow.example.com"})
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {"Protocol": "HTTPS", "Port": 443, "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"},
    )
    template.has_resource_properties("AWS::Route53::RecordSet", {"Name": "mlflow.example.com.", "Type": "A"})
    assert service.url == "https://mlflow.example.com"
    assert "mlflow.example.com" in service.allowed_hosts
    assert_cfn_lint_clean(template.to_json())


def test_finding_13_https_with_a_private_ca_certificate() -> None:
    from aws_cdk import aws_acmpca as acmpca

    stack = new_stack()
    authority = acmpca.CertificateAuthority.from_certificate_authority_arn(
        stack, "Ca", "arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/11111111-2222-3333-4444-555555555555"
    )
    service = SecureMlflowService(
        stack,
        "Mlflow",
        vpc=imported_vpc(stack),
        access=ServerAccess.load_balancer(
            listener=Listener.https_with_private_certificate(
                domain_name="mlflow.corp.internal", certificate_authority=authority, port=8443
            )
        ),
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::CertificateManager::Certificate",
        {
            "DomainName": "mlflow.corp.internal",
            "CertificateAuthorityArn": Match.string_like_regexp("certificate-authority"),
        },
    )
    assert service.url == "https://mlflow.corp.internal:8443"
    assert service.port == 8443


def test_a_listener_domain_outside_its_zone_is_refused() -> None:
    from aws_cdk import aws_route53 as route53

    stack = new_stack()
    zone = route53.HostedZone.from_hosted_zone_attributes(stack, "Zone", hosted_zone_id="Z123", zone_name="example.com")
    with pytest.raises(ValueError, match=r"domain_name \(mlflow.other.org\) is not in hosted_zone \(example.com\)"):
        Listener.https_with_dns_validated_certificate(domain_name="mlflow.other.org", hosted_zone=zone)


# ---------------------------------------------------------------------------------------------- IAM principals


def test_principal_mappings_reach_the_server_in_order() -> None:
    stack = new_stack()
    ci_role = iam.Role(stack, "CiRole", assumed_by=iam.AccountRootPrincipal())
    bot = iam.User(stack, "Bot")
    service = SecureMlflowService(
        stack,
        "Mlflow",
        vpc=imported_vpc(stack),
        authentication=MlflowAuthentication.iam(
            principals=[
                PrincipalMapping.role(ci_role, username="ci", admin=True),
                PrincipalMapping.role_sessions("AWSReservedSSO_DataScientist_*"),
            ]
        ),
    )
    service.add_principal_mapping(PrincipalMapping.iam_user(bot))
    service.add_principal_mapping(PrincipalMapping.role_name_prefix("mlflow-user-", account="210987654321"))
    rules = principal_rules(Template.from_stack(stack))
    ci_role_id, bot_id = (stack.get_logical_id(cast(cdk.CfnElement, c.node.default_child)) for c in (ci_role, bot))
    assert rules == [
        {
            "kind": "role",
            "admin": True,
            "arn": {"Fn::GetAtt": [ci_role_id, "Arn"]},
            "username": "ci",
        },
        {"kind": "role_session", "admin": False, "account": "123456789012", "name": "AWSReservedSSO_DataScientist_*"},
        {
            "kind": "iam_user",
            "admin": False,
            "arn": {"Fn::GetAtt": [bot_id, "Arn"]},
        },
        {"kind": "role_prefix", "admin": False, "account": "210987654321", "name": "mlflow-user-"},
    ]
    # The server parses them as rendered (references resolve to ARNs at deployment).
    from mlflow_sagemaker_constructs.tracking_server.server.principals import parse_rules

    deployed = (
        json.dumps(rules)
        .replace(json.dumps(rules[0]["arn"]), '"arn:aws:iam::123456789012:role/CiRole"')
        .replace(json.dumps(rules[2]["arn"]), '"arn:aws:iam::123456789012:user/Bot"')
    )
    assert [rule.kind for rule in parse_rules(deployed)] == ["role", "role_session", "iam_user", "role_prefix"]


def test_basic_auth_has_no_iam_settings_and_refuses_principal_mappings() -> None:
    stack = new_stack()
    service = SecureMlflowService(
        stack, "Mlflow", vpc=imported_vpc(stack), authentication=MlflowAuthentication.basic_auth()
    )
    env = mlflow_environment(Template.from_stack(stack))
    assert not {name for name in env if name.startswith("MLFLOW_AUTH_IAM_")}
    with pytest.raises(
        ValueError, match=r"does not authenticate IAM principals; pass authentication=MlflowAuthentication.iam"
    ):
        service.add_principal_mapping(PrincipalMapping.role_name_prefix("mlflow-user-"))


def test_isolated_subnets_without_an_sts_endpoint_are_refused_with_the_fix() -> None:
    stack = new_stack()
    with pytest.raises(ValueError, match=r"service subnets are isolated.*StsAccess.new_interface_endpoint\(\)"):
        SecureMlflowService(stack, "Mlflow", vpc=imported_isolated_only_vpc(stack))


def test_a_new_sts_endpoint_is_private_dns_and_open_only_to_the_service() -> None:
    stack = new_stack()
    service = SecureMlflowService(
        stack,
        "Mlflow",
        vpc=imported_isolated_only_vpc(stack),
        authentication=MlflowAuthentication.iam(sts_access=StsAccess.new_interface_endpoint()),
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::EC2::VPCEndpoint", 1)
    template.has_resource_properties(
        "AWS::EC2::VPCEndpoint",
        {
            "ServiceName": "com.amazonaws.us-east-1.sts",
            "PrivateDnsEnabled": True,
            "VpcEndpointType": "Interface",
            "SubnetIds": ["subnet-0c000000000000001", "subnet-0c000000000000002"],
        },
    )
    assert service.sts_endpoint is not None
    (endpoint_group,) = service.sts_endpoint.connections.security_groups
    (service_group,) = service.service.connections.security_groups
    ingress = template.find_resources("AWS::EC2::SecurityGroupIngress")
    to_endpoint = [
        r["Properties"]
        for r in ingress.values()
        if r["Properties"].get("GroupId") == stack.resolve(endpoint_group.security_group_id)
    ]
    assert to_endpoint == [
        {
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "GroupId": stack.resolve(endpoint_group.security_group_id),
            "SourceSecurityGroupId": stack.resolve(service_group.security_group_id),
            "Description": "MLflow server verifies IAM tokens with STS",
        }
    ]


def test_an_existing_sts_endpoint_admits_the_service_and_its_url_reaches_server_and_clients() -> None:
    stack = new_stack()
    endpoint = ec2.InterfaceVpcEndpoint.from_interface_vpc_endpoint_attributes(
        stack,
        "Sts",
        vpc_endpoint_id="vpce-0123456789abcdef0",
        port=443,
        security_groups=[ec2.SecurityGroup.from_security_group_id(stack, "StsSg", "sg-0fedcba9876543210")],
    )
    url = "https://vpce-0123456789abcdef0-abcdefgh.sts.us-east-1.vpce.amazonaws.com"
    service = SecureMlflowService(
        stack,
        "Mlflow",
        vpc=imported_isolated_only_vpc(stack),
        authentication=MlflowAuthentication.iam(sts_access=StsAccess.existing_endpoint(endpoint, endpoint_url=url)),
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::EC2::VPCEndpoint", 0)
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress", {"GroupId": "sg-0fedcba9876543210", "FromPort": 443, "ToPort": 443}
    )
    assert mlflow_environment(template)[contract.AUTH_IAM_STS_ENDPOINT] == url
    from mlflow_sagemaker_constructs.studio.training import MlflowTrainingConfig

    config = MlflowTrainingConfig(service, security_group=ec2.SecurityGroup(stack, "Jobs", vpc=service.vpc))
    assert config.environment()["MLFLOW_IAM_STS_ENDPOINT"] == url


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: PrincipalMapping.role_sessions("team/*"), r"role_name_pattern \('team/\*'\) must be an IAM role name"),
        (lambda: PrincipalMapping.role_name_prefix(""), r"prefix \(''\) must be the beginning of IAM role names"),
        (lambda: PrincipalMapping.role_name_prefix("p-", account="12"), r"account \('12'\) must be a 12-digit"),
        (
            lambda: PrincipalMapping.role(iam.Role.from_role_name(new_stack(), "R", "r"), username="a b"),
            r"username \('a b'\) must be 1 to 128 letters",
        ),
        (
            lambda: MlflowAuthentication.iam(sts_timeout=cdk.Duration.seconds(60)),
            r"sts_timeout \(60 s\) must be 1 to 30",
        ),
        (
            lambda: StsAccess.existing_endpoint(_unbound_endpoint(), endpoint_url="http://vpce.example.com"),
            r"endpoint_url \('http://vpce.example.com'\) must be an https:// URL",
        ),
    ],
    ids=["pattern-with-path", "empty-prefix", "short-account", "bad-username", "long-sts-timeout", "http-endpoint"],
)
def test_iam_options_that_cannot_work_are_refused(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def _unbound_endpoint() -> ec2.IInterfaceVpcEndpoint:
    return ec2.InterfaceVpcEndpoint.from_interface_vpc_endpoint_attributes(
        new_stack(), "E", vpc_endpoint_id="vpce-0123456789abcdef0", port=443
    )


def test_a_vpc_from_lookup_synthesizes_before_its_lookup_has_run() -> None:
    """``Vpc.from_lookup`` gives a stand-in VPC (each subnet private and isolated) until the CLI has looked it
    up; the IAM default must not take it for isolated subnets without a route to STS."""
    stack = new_stack()
    vpc = ec2.Vpc.from_lookup(stack, "Vpc", vpc_id="vpc-0123456789abcdef0")
    # The stand-in's subnets are in the template until the lookup has run, so it is not synthesized here.
    service = SecureMlflowService(stack, "Mlflow", vpc=vpc)
    assert service.sts_endpoint is None
    assert service.authentication.uses_iam_tokens
