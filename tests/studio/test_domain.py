"""StudioDomainOrUser: template assertions per default and option, snapshots, cfn-lint, cdk-nag, validation."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Annotations, Match, Template
from syrupy.assertion import SnapshotAssertion

from mlflow_sagemaker_constructs import (
    ArtifactAccess,
    ArtifactStore,
    MlflowAuthentication,
    PrincipalMapping,
    SecureMlflowService,
    __version__,
)
from mlflow_sagemaker_constructs.studio.domain import SHARED_MLFLOW_USER, AppNetworkAccess, StudioDomainOrUser
from mlflow_sagemaker_constructs.studio.execution_policy import OWNER_TAG, SHARED_OWNER
from tests.conftest import normalized
from tests.harness import assert_cfn_lint_clean, assert_nag_clean, new_app, new_stack
from tests.harness.task_environment import principal_rules
from tests.harness.vpc import imported_isolated_only_vpc, imported_vpc, new_vpc

DOMAIN_ID = "d-abc123def456"
PRIVATE_SUBNETS = ["subnet-0a000000000000001", "subnet-0a000000000000002", "subnet-0a000000000000003"]
HTTP_API_URL = "https://abc123def4.execute-api.us-east-1.amazonaws.com/"
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
UNAUTHENTICATED = MlflowAuthentication.disabled(authenticated_by="IAM (SigV4) at the PrivateHttpApi")
#: Most classes here test the basic-auth behaviour (per-user password secrets); TestIamDomain the default.
BASIC_AUTH = MlflowAuthentication.basic_auth()
ARN = "arn:aws:sagemaker:us-east-1:123456789012"


@dataclass
class Built:
    """A synthesized stack with one StudioDomainOrUser."""

    stack: cdk.Stack
    mlflow: SecureMlflowService
    studio: StudioDomainOrUser
    template: Template

    @property
    def json(self) -> dict[str, Any]:
        return dict(self.template.to_json())

    def resources(self, resource_type: str) -> dict[str, Any]:
        return dict(self.template.find_resources(resource_type))

    def logical_id(self, construct: Any) -> str:
        child = construct if isinstance(construct, cdk.CfnElement) else construct.node.default_child
        assert isinstance(child, cdk.CfnElement)
        return self.stack.get_logical_id(child)

    def script(self, lifecycle_config: Any) -> str:
        """The lifecycle script with references written as ``<LogicalId>`` / ``<LogicalId.Attribute>``."""
        props = self.json["Resources"][self.logical_id(lifecycle_config)]["Properties"]
        return _render(props["StudioLifecycleConfigContent"]["Fn::Base64"])

    def statements(self, logical_id: str) -> list[dict[str, Any]]:
        statements: list[dict[str, Any]] = self.json["Resources"][logical_id]["Properties"]["PolicyDocument"][
            "Statement"
        ]
        return statements

    def role_statements(self, role: Any) -> list[dict[str, Any]]:
        """Statements of the inline policies attached to ``role``."""
        role_id = self.logical_id(role)
        found: list[dict[str, Any]] = []
        for logical_id, resource in self.resources("AWS::IAM::Policy").items():
            if {"Ref": role_id} in resource["Properties"]["Roles"]:
                found += self.statements(logical_id)
        return found

    def studio_statements(self) -> list[dict[str, Any]]:
        """Every statement of every IAM policy the Studio construct created."""
        found = []
        for logical_id, resource in self.json["Resources"].items():
            if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and logical_id.startswith("Studio"):
                found += self.statements(logical_id)
        return found


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    ((key, arg),) = value.items()
    if key == "Ref":
        return f"<{arg}>"
    if key == "Fn::GetAtt":
        return f"<{'.'.join(arg)}>"
    if key == "Fn::Join":
        return str(arg[0]).join(_render(p) for p in arg[1])
    raise AssertionError(f"unexpected intrinsic {key}")


def _settings(script: str) -> dict[str, str]:
    return dict(re.findall(r"^(MLFLOW_LCC_[A-Z_]+)='(.*)'$", script, flags=re.MULTILINE))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _build(
    *,
    vpc_factory: Callable[[cdk.Stack], ec2.IVpc] = imported_vpc,
    app: cdk.App | None = None,
    mlflow_kwargs: dict[str, Any] | None = None,
    synth: bool = True,
    **kwargs: Any,
) -> Built:
    stack = new_stack(app or new_app())
    vpc = vpc_factory(stack)
    mlflow = SecureMlflowService(stack, "Mlflow", vpc=vpc, **{"authentication": BASIC_AUTH, **(mlflow_kwargs or {})})
    extra = {k: (v(stack) if callable(v) else v) for k, v in kwargs.items()}
    studio = StudioDomainOrUser(stack, "Studio", vpc=vpc, mlflow=mlflow, **extra)
    template = Template.from_stack(stack) if synth else Template.from_json({})
    return Built(stack, mlflow, studio, template)


# ---------------------------------------------------------------------------------------------------------------
# New domain, defaults


@pytest.fixture(scope="module")
def new_domain() -> Built:
    return _build(user_profile_names=["alice", "bob"])


@pytest.mark.xdist_group("studio-new")
class TestNewDomain:
    def test_domain_is_vpc_only_iam_in_private_subnets(self, new_domain: Built) -> None:
        new_domain.template.resource_count_is("AWS::SageMaker::Domain", 1)
        sg = {"Fn::GetAtt": [new_domain.logical_id(new_domain.studio.security_group), "GroupId"]}
        role = {"Fn::GetAtt": [new_domain.logical_id(new_domain.studio.execution_role), "Arn"]}
        lcc = {"Fn::GetAtt": [new_domain.logical_id(new_domain.studio.lifecycle_config), "StudioLifecycleConfigArn"]}
        jupyter_lab = {"DefaultResourceSpec": {"LifecycleConfigArn": lcc}, "LifecycleConfigArns": [lcc]}
        new_domain.template.has_resource(
            "AWS::SageMaker::Domain",
            {
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": {
                    "AuthMode": "IAM",
                    "AppNetworkAccessType": "VpcOnly",
                    "VpcId": "vpc-0123456789abcdef0",
                    "SubnetIds": PRIVATE_SUBNETS,
                    "DefaultUserSettings": {
                        "ExecutionRole": role,
                        "SecurityGroups": [sg],
                        "StudioWebPortal": "ENABLED",
                        "DefaultLandingUri": "studio::",
                        "JupyterLabAppSettings": jupyter_lab,
                    },
                    "DefaultSpaceSettings": {
                        "ExecutionRole": role,
                        "SecurityGroups": [sg],
                        "JupyterLabAppSettings": jupyter_lab,
                    },
                    "DomainSettings": {
                        "ExecutionRoleIdentityConfig": "USER_PROFILE_NAME",
                        "SecurityGroupIds": [sg],
                    },
                    "KmsKeyId": Match.absent(),
                },
            },
        )

    def test_physical_names_derive_from_the_construct_path(self, new_domain: Built) -> None:
        (domain,) = new_domain.resources("AWS::SageMaker::Domain").values()
        name = domain["Properties"]["DomainName"]
        assert name.startswith("TestStack-Studio-")
        assert NAME_PATTERN.match(name)
        names = [
            r["Properties"]["StudioLifecycleConfigName"]
            for r in new_domain.resources("AWS::SageMaker::StudioLifecycleConfig").values()
        ]
        assert len(set(names)) == len(names) == 3
        assert all(NAME_PATTERN.match(n) and len(n) <= 63 for n in names)

    def test_lifecycle_config_names_change_with_their_content(self, new_domain: Built) -> None:
        for resource in new_domain.resources("AWS::SageMaker::StudioLifecycleConfig").values():
            props = resource["Properties"]
            digest = hashlib.sha256(
                json.dumps(props["StudioLifecycleConfigContent"], sort_keys=True).encode()
            ).hexdigest()[:8]
            assert props["StudioLifecycleConfigName"].endswith(f"-{digest}")
            assert props["StudioLifecycleConfigAppType"] == "JupyterLab"

    def test_studio_security_group_admits_itself_for_nfs_and_apps(self, new_domain: Built) -> None:
        sg = {"Fn::GetAtt": [new_domain.logical_id(new_domain.studio.security_group), "GroupId"]}
        for low, high in ((2049, 2049), (8192, 65535)):
            new_domain.template.has_resource_properties(
                "AWS::EC2::SecurityGroupIngress",
                {"GroupId": sg, "SourceSecurityGroupId": sg, "IpProtocol": "tcp", "FromPort": low, "ToPort": high},
            )

    def test_mlflow_load_balancer_admits_studio_and_training_jobs(self, new_domain: Built) -> None:
        alb_sg = {
            "Fn::GetAtt": [
                new_domain.logical_id(new_domain.mlflow.load_balancer.connections.security_groups[0]),
                "GroupId",
            ]
        }
        studio = new_domain.studio
        assert studio.training_security_group is not studio.security_group
        for group in (studio.security_group, studio.training_security_group):
            new_domain.template.has_resource_properties(
                "AWS::EC2::SecurityGroupIngress",
                {
                    "GroupId": alb_sg,
                    "SourceSecurityGroupId": {"Fn::GetAtt": [new_domain.logical_id(group), "GroupId"]},
                    "IpProtocol": "tcp",
                    "FromPort": 80,
                    "ToPort": 80,
                },
            )
        training = {"Fn::GetAtt": [new_domain.logical_id(studio.training_security_group), "GroupId"]}
        new_domain.template.has_resource_properties(
            "AWS::EC2::SecurityGroupIngress",
            {"GroupId": training, "SourceSecurityGroupId": training, "FromPort": 0, "ToPort": 65535},
        )

    def test_execution_role_trusts_sagemaker_with_source_identity(self, new_domain: Built) -> None:
        new_domain.template.has_resource_properties(
            "AWS::IAM::Role",
            {
                "AssumeRolePolicyDocument": {
                    "Statement": [
                        {
                            "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
                            "Effect": "Allow",
                            "Principal": {"Service": "sagemaker.amazonaws.com"},
                        }
                    ]
                }
            },
        )

    def test_pass_role_is_limited_to_the_own_role_and_sagemaker(self, new_domain: Built) -> None:
        roles = new_domain.studio.roles
        assert len(roles) == 3  # the domain's shared role, alice's and bob's
        for role in roles:
            role_arn = {"Fn::GetAtt": [new_domain.logical_id(role), "Arn"]}
            passes = [s for s in new_domain.role_statements(role) if "iam:PassRole" in _as_list(s["Action"])]
            assert passes == [
                {
                    "Action": "iam:PassRole",
                    "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                    "Effect": "Allow",
                    "Resource": role_arn,
                    "Sid": "PassOwnRoleToSageMaker",
                }
            ]

    def test_sagemaker_resources_are_scoped_to_account_region_and_domain(self, new_domain: Built) -> None:
        policy = new_domain.logical_id(new_domain.studio.execution_policy)
        by_sid = {s["Sid"]: s for s in new_domain.statements(policy)}
        assert by_sid["ReadAndInvoke"]["Resource"] == [
            f"{ARN}:endpoint-config/*",
            f"{ARN}:endpoint/*",
            f"{ARN}:hyper-parameter-tuning-job/*",
            f"{ARN}:model/*",
            f"{ARN}:training-job/*",
        ]
        training_sg = {"Fn::GetAtt": [new_domain.logical_id(new_domain.studio.training_security_group), "GroupId"]}
        assert by_sid["CreateJobsInTheVpc"] == {
            "Action": ["sagemaker:CreateHyperParameterTuningJob", "sagemaker:CreateTrainingJob"],
            "Condition": {
                "ForAllValues:StringEquals": {
                    "sagemaker:VpcSubnets": PRIVATE_SUBNETS,
                    "sagemaker:VpcSecurityGroupIds": [training_sg],
                },
                "Null": {"sagemaker:VpcSubnets": "false", "sagemaker:VpcSecurityGroupIds": "false"},
            },
            "Effect": "Allow",
            "Resource": [f"{ARN}:hyper-parameter-tuning-job/*", f"{ARN}:training-job/*"],
            "Sid": "CreateJobsInTheVpc",
        }
        create = [a for s in new_domain.studio_statements() for a in _as_list(s["Action"]) if "Create" in a]
        assert create.count("sagemaker:CreateTrainingJob") == 1
        domain_id = {"Fn::GetAtt": [new_domain.logical_id(new_domain.studio.domain), "DomainId"]}
        scoped = by_sid["DescribeStudio"]["Resource"]
        assert {"Fn::Join": ["", [f"{ARN}:domain/", domain_id]]} in scoped
        assert {"Fn::Join": ["", [f"{ARN}:app/", domain_id, "/*"]]} in scoped
        assert "sagemaker:CreatePresignedDomainUrl" not in json.dumps(new_domain.statements(policy))
        # '*' only for actions without resource-level permissions.
        for statement in new_domain.studio_statements():
            if statement["Resource"] == "*":
                for action in _as_list(statement["Action"]):
                    assert action.split(":")[1].startswith(("List", "Describe", "Get", "PutMetricData")), action
        assert by_sid["SageMakerMetrics"]["Condition"] == {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}
        assert by_sid["SageMakerLogs"]["Resource"] == "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/*"

    def test_finding_6_users_change_only_their_own_resources(self, new_domain: Built) -> None:
        studio = new_domain.studio
        domain_id = {"Fn::GetAtt": [new_domain.logical_id(studio.domain), "DomainId"]}
        mutating = ("Stop", "Update", "Delete", "AddTags", "CreateSpace", "CreateApp")
        for user, role in [*studio.user_roles.items(), (None, studio.execution_role)]:
            owner = user or SHARED_OWNER
            by_sid = {s["Sid"]: s for s in new_domain.role_statements(role) if "Sid" in s}
            change = by_sid["ChangeOwnJobsModelsEndpoints"]
            assert change["Condition"] == {"StringEquals": {f"aws:ResourceTag/{OWNER_TAG}": owner}}
            assert "sagemaker:DeleteEndpoint" in change["Action"]
            assert "sagemaker:UpdateEndpoint" in change["Action"]
            assert by_sid["TagOwnResources"]["Condition"] == {
                "StringEquals": {f"aws:RequestTag/{OWNER_TAG}": owner},
                "StringEqualsIfExists": {f"aws:ResourceTag/{OWNER_TAG}": owner},
            }
            if user is None:
                assert "OwnSpacesAndApps" not in by_sid  # the shared role manages nobody's spaces
            else:
                profile_arn = {"Fn::Join": ["", [f"{ARN}:user-profile/", domain_id, f"/{user}"]]}
                assert by_sid["OwnSpacesAndApps"]["Condition"] == {
                    "ArnEqualsIfExists": {"sagemaker:OwnerUserProfileArn": profile_arn}
                }
        # Nothing else may stop, update, delete or tag anything, nor create spaces or apps.
        for statement in new_domain.studio_statements():
            actions = [a.split(":")[1] for a in _as_list(statement["Action"]) if a.startswith("sagemaker:")]
            if any(a.startswith(mutating) for a in actions):
                assert "Condition" in statement, statement
        # What the SDK creates carries the owner tag, so the owner check works without code in notebooks.
        alice = json.loads(_settings(new_domain.script(studio.lifecycle_configs["alice"]))["MLFLOW_LCC_SDK_CONFIG"])
        for resource in ("TrainingJob", "Model", "EndpointConfig", "Endpoint"):
            assert alice["SageMaker"][resource]["Tags"] == [{"Key": OWNER_TAG, "Value": "alice"}]

    def test_finding_6_network_interfaces_only_in_the_vpc(self, new_domain: Built) -> None:
        policy = new_domain.logical_id(new_domain.studio.execution_policy)
        by_sid = {s["Sid"]: s for s in new_domain.statements(policy)}
        vpc_arn = "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0123456789abcdef0"
        assert by_sid["ManageInterfacesInTheVpc"]["Condition"] == {"ArnEquals": {"ec2:Vpc": vpc_arn}}
        assert (
            by_sid["ManageInterfacesInTheVpc"]["Resource"] == "arn:aws:ec2:us-east-1:123456789012:network-interface/*"
        )
        create = by_sid["CreateInterfacesInTheTrainingSubnets"]
        assert create["Action"] == "ec2:CreateNetworkInterface"
        subnets = [r for r in create["Resource"] if isinstance(r, str)]
        assert subnets == [f"arn:aws:ec2:us-east-1:123456789012:subnet/{s}" for s in PRIVATE_SUBNETS]
        for statement in new_domain.studio_statements():
            for action in _as_list(statement["Action"]):
                if action.startswith(("ec2:Create", "ec2:Delete")):
                    assert statement["Resource"] != "*", statement

    def test_managed_policy_is_attached_to_every_role_without_full_access(self, new_domain: Built) -> None:
        (policy,) = new_domain.resources("AWS::IAM::ManagedPolicy").values()
        attached = sorted(r["Ref"] for r in policy["Properties"]["Roles"])
        assert attached == sorted(new_domain.logical_id(r) for r in new_domain.studio.roles)
        assert "AmazonSageMakerFullAccess" not in json.dumps(new_domain.json)
        assert not [s for s in new_domain.studio_statements() if str(s["Action"]).startswith("s3:")]

    def test_each_user_gets_a_generated_mlflow_credential_secret(self, new_domain: Built) -> None:
        studio = new_domain.studio
        assert set(studio.credentials_secrets) == {"alice", "bob"}
        for user in ("alice", "bob"):
            new_domain.template.has_resource(
                "AWS::SecretsManager::Secret",
                {
                    "DeletionPolicy": "Retain",
                    "Properties": {
                        "GenerateSecretString": {
                            "SecretStringTemplate": json.dumps({"username": user}),
                            "GenerateStringKey": "password",
                            "ExcludePunctuation": True,
                            "PasswordLength": 32,
                        }
                    },
                },
            )
        role_policy = [
            s for s in new_domain.studio_statements() if "secretsmanager:GetSecretValue" in _as_list(s["Action"])
        ]
        readable = sorted(r["Ref"] for s in role_policy for r in _as_list(s["Resource"]))
        assert readable == sorted(new_domain.logical_id(studio.credentials_secrets[u]) for u in ("alice", "bob"))

    def test_finding_2_no_role_can_read_another_users_secret(self, new_domain: Built) -> None:
        studio = new_domain.studio
        for user, secret in studio.credentials_secrets.items():
            secret_ref = {"Ref": new_domain.logical_id(secret)}
            readers = [
                policy["Properties"]["Roles"]
                for policy in new_domain.resources("AWS::IAM::Policy").values()
                if any(
                    "secretsmanager:GetSecretValue" in _as_list(st["Action"]) and secret_ref in _as_list(st["Resource"])
                    for st in policy["Properties"]["PolicyDocument"]["Statement"]
                )
            ]
            assert readers == [[{"Ref": new_domain.logical_id(studio.user_roles[user])}]], user
        # Nor through a managed policy or a wildcard.
        rendered = json.dumps(new_domain.resources("AWS::IAM::ManagedPolicy"))
        assert "secretsmanager" not in rendered
        # The MLflow admin secret is never readable by Studio users.
        admin = new_domain.mlflow.admin_secret
        assert admin is not None
        assert new_domain.logical_id(admin) not in json.dumps(new_domain.studio_statements())

    def test_user_profiles_use_their_own_lifecycle_config(self, new_domain: Built) -> None:
        studio = new_domain.studio
        assert set(studio.user_profiles) == {"alice", "bob"}
        for user in ("alice", "bob"):
            lcc = {"Fn::GetAtt": [new_domain.logical_id(studio.lifecycle_configs[user]), "StudioLifecycleConfigArn"]}
            new_domain.template.has_resource_properties(
                "AWS::SageMaker::UserProfile",
                {
                    "DomainId": {"Fn::GetAtt": [new_domain.logical_id(studio.domain), "DomainId"]},
                    "UserProfileName": user,
                    "UserSettings": {
                        "ExecutionRole": {"Fn::GetAtt": [new_domain.logical_id(studio.user_roles[user]), "Arn"]},
                        "SecurityGroups": [{"Fn::GetAtt": [new_domain.logical_id(studio.security_group), "GroupId"]}],
                        "StudioWebPortal": "ENABLED",
                        "JupyterLabAppSettings": {
                            "DefaultResourceSpec": {"LifecycleConfigArn": lcc},
                            "LifecycleConfigArns": [lcc],
                        },
                    },
                },
            )

    def test_lifecycle_scripts_set_the_internal_url_and_per_user_secret(self, new_domain: Built) -> None:
        studio = new_domain.studio
        alb = new_domain.logical_id(new_domain.mlflow.load_balancer)
        alice = _settings(new_domain.script(studio.lifecycle_configs["alice"]))
        assert alice["MLFLOW_LCC_TRACKING_URI"] == f"http://<{alb}.DNSName>"
        assert alice["MLFLOW_LCC_AUTH"] == "basic"
        assert alice["MLFLOW_LCC_SECRET_ID"] == f"<{new_domain.logical_id(studio.credentials_secrets['alice'])}>"
        assert alice["MLFLOW_LCC_REGION"] == "us-east-1"
        assert alice["MLFLOW_LCC_PIP_PACKAGES"] == ""
        sdk = json.loads(alice["MLFLOW_LCC_SDK_CONFIG"])
        assert sdk["SageMaker"]["TrainingJob"]["VpcConfig"]["Subnets"] == PRIVATE_SUBNETS
        assert (
            sdk["SageMaker"]["TrainingJob"]["Environment"]["MLFLOW_CREDENTIALS_SECRET_ARN"]
            == alice["MLFLOW_LCC_SECRET_ID"]
        )
        # The domain default (users not managed here, shared spaces) gets the URL but no credentials.
        assert studio.lifecycle_config is not None
        domain = _settings(new_domain.script(studio.lifecycle_config))
        assert domain["MLFLOW_LCC_AUTH"] == "none"
        assert domain["MLFLOW_LCC_SECRET_ID"] == ""
        assert "MLFLOW_CREDENTIALS_SECRET_ARN" not in domain["MLFLOW_LCC_SDK_CONFIG"]

    def test_public_attributes(self, new_domain: Built) -> None:
        studio = new_domain.studio
        resolve = new_domain.stack.resolve
        assert studio.domain is not None
        assert resolve(studio.domain_id) == {"Fn::GetAtt": [new_domain.logical_id(studio.domain), "DomainId"]}
        assert resolve(studio.url) == {"Fn::GetAtt": [new_domain.logical_id(studio.domain), "Url"]}
        assert studio.roles == [studio.execution_role, studio.user_roles["alice"], studio.user_roles["bob"]]
        assert len({id(r) for r in studio.roles}) == 3
        config = studio.training_config("bob")
        assert resolve(config.environment())["MLFLOW_CREDENTIALS_SECRET_ARN"] == {
            "Ref": new_domain.logical_id(studio.credentials_secrets["bob"])
        }
        assert resolve(config.vpc_config())["SecurityGroupIds"] == [
            {"Fn::GetAtt": [new_domain.logical_id(studio.training_security_group), "GroupId"]}
        ]

    def test_snapshot(self, new_domain: Built, template_snapshot: SnapshotAssertion) -> None:
        assert normalized(new_domain.json) == template_snapshot

    def test_cfn_lint_clean(self, new_domain: Built) -> None:
        assert_cfn_lint_clean(new_domain.json, "new domain, imported VPC")


# ---------------------------------------------------------------------------------------------------------------
# Existing domain, defaults


@pytest.fixture(scope="module")
def existing_domain() -> Built:
    return _build(existing_domain_id=DOMAIN_ID, user_profile_names=["carol"])


@pytest.mark.xdist_group("studio-existing")
class TestExistingDomain:
    def test_only_user_profiles_are_added(self, existing_domain: Built) -> None:
        existing_domain.template.resource_count_is("AWS::SageMaker::Domain", 0)
        existing_domain.template.resource_count_is("AWS::SageMaker::UserProfile", 1)
        studio = existing_domain.studio
        assert studio.domain is None
        assert studio.url is None
        assert studio.domain_id == DOMAIN_ID
        lcc = {
            "Fn::GetAtt": [existing_domain.logical_id(studio.lifecycle_configs["carol"]), "StudioLifecycleConfigArn"]
        }
        existing_domain.template.has_resource_properties(
            "AWS::SageMaker::UserProfile",
            {
                "DomainId": DOMAIN_ID,
                "UserProfileName": "carol",
                "UserSettings": {
                    "ExecutionRole": {"Fn::GetAtt": [existing_domain.logical_id(studio.user_roles["carol"]), "Arn"]},
                    "SecurityGroups": [{"Fn::GetAtt": [existing_domain.logical_id(studio.security_group), "GroupId"]}],
                    "StudioWebPortal": "ENABLED",
                    "DefaultLandingUri": "studio::",
                    "JupyterLabAppSettings": {
                        "DefaultResourceSpec": {"LifecycleConfigArn": lcc},
                        "LifecycleConfigArns": [lcc],
                    },
                },
            },
        )

    def test_studio_permissions_are_scoped_to_the_existing_domain(self, existing_domain: Built) -> None:
        policy = existing_domain.logical_id(existing_domain.studio.execution_policy)
        by_sid = {s["Sid"]: s for s in existing_domain.statements(policy)}
        assert existing_domain.studio.execution_role is None
        assert existing_domain.studio.lifecycle_config is None
        assert by_sid["DescribeStudio"]["Resource"] == [
            f"{ARN}:app/{DOMAIN_ID}/*",
            f"{ARN}:domain/{DOMAIN_ID}",
            f"{ARN}:space/{DOMAIN_ID}/*",
            f"{ARN}:user-profile/{DOMAIN_ID}/*",
        ]

    def test_security_groups_are_admitted_by_mlflow(self, existing_domain: Built) -> None:
        alb = existing_domain.mlflow.load_balancer.connections.security_groups[0]
        sources = [
            r["Properties"]["SourceSecurityGroupId"]
            for r in existing_domain.resources("AWS::EC2::SecurityGroupIngress").values()
            if r["Properties"]["GroupId"] == {"Fn::GetAtt": [existing_domain.logical_id(alb), "GroupId"]}
        ]
        for group in (existing_domain.studio.security_group, existing_domain.studio.training_security_group):
            assert {"Fn::GetAtt": [existing_domain.logical_id(group), "GroupId"]} in sources

    def test_snapshot(self, existing_domain: Built, template_snapshot: SnapshotAssertion) -> None:
        assert normalized(existing_domain.json) == template_snapshot

    def test_cfn_lint_clean(self, existing_domain: Built) -> None:
        assert_cfn_lint_clean(existing_domain.json, "existing domain, imported VPC")


# ---------------------------------------------------------------------------------------------------------------
# Options on a new domain in a new VPC: KMS, per-user roles, full access, data buckets, direct artifacts, DESTROY


@pytest.fixture(scope="module")
def options() -> Built:
    return _build(
        vpc_factory=new_vpc,
        mlflow_kwargs={"artifact_store": ArtifactStore.new_bucket(access=ArtifactAccess.DIRECT)},
        user_profile_names=["alice", "bob"],
        use_sagemaker_full_access=True,
        kms_key=lambda stack: kms.Key(stack, "DomainKey", enable_key_rotation=True),
        data_buckets=lambda stack: [
            s3.Bucket.from_bucket_name(stack, "Datasets", "team-datasets"),
            s3.Bucket(stack, "Features", enforce_ssl=True, encryption=s3.BucketEncryption.KMS),
        ],
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )


@pytest.mark.xdist_group("studio-options")
class TestOptions:
    def test_kms_key_encrypts_the_domain_and_roles_may_use_it(self, options: Built) -> None:
        key = options.stack.node.find_child("DomainKey")
        key_arn = {"Fn::GetAtt": [options.logical_id(key), "Arn"]}
        options.template.has_resource_properties("AWS::SageMaker::Domain", {"KmsKeyId": key_arn})
        policy = options.logical_id(options.studio.execution_policy)
        by_sid = {s["Sid"]: s for s in options.statements(policy)}
        assert by_sid["DomainKey"]["Resource"] == key_arn
        assert by_sid["DomainKeyGrantsForAwsResources"]["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}

    def test_removal_policy_destroy(self, options: Built) -> None:
        options.template.has_resource("AWS::SageMaker::Domain", {"DeletionPolicy": "Delete"})

    def test_per_user_roles_pass_and_read_only_their_own(self, options: Built) -> None:
        studio = options.studio
        assert len(studio.roles) == 3
        assert studio.user_roles["alice"] is not studio.user_roles["bob"]
        for user, other in (("alice", "bob"), ("bob", "alice")):
            role = studio.user_roles[user]
            role_id = options.logical_id(role)
            options.template.has_resource_properties(
                "AWS::SageMaker::UserProfile",
                {
                    "UserProfileName": user,
                    "UserSettings": {"ExecutionRole": {"Fn::GetAtt": [role_id, "Arn"]}},
                },
            )
            (policy_id,) = [
                k
                for k, r in options.resources("AWS::IAM::Policy").items()
                if r["Properties"]["Roles"] == [{"Ref": role_id}]
            ]
            statements = options.statements(policy_id)
            passes = [s for s in statements if s["Action"] == "iam:PassRole"]
            assert [p["Resource"] for p in passes] == [{"Fn::GetAtt": [role_id, "Arn"]}]
            secrets = [s["Resource"] for s in statements if "secretsmanager:GetSecretValue" in _as_list(s["Action"])]
            assert secrets == [{"Ref": options.logical_id(studio.credentials_secrets[user])}]
            assert options.logical_id(studio.credentials_secrets[other]) not in json.dumps(statements)
        # The shared (domain default) role reads no user's credentials.
        shared_id = options.logical_id(studio.execution_role)
        shared_policies = [
            k
            for k, r in options.resources("AWS::IAM::Policy").items()
            if r["Properties"]["Roles"] == [{"Ref": shared_id}]
        ]
        assert "secretsmanager" not in json.dumps([options.statements(p) for p in shared_policies])

    def test_full_access_is_attached_to_every_role(self, options: Built) -> None:
        for role in options.studio.roles:
            arns = options.json["Resources"][options.logical_id(role)]["Properties"]["ManagedPolicyArns"]
            assert json.dumps(arns).count("AmazonSageMakerFullAccess") == 1
        (policy,) = options.resources("AWS::IAM::ManagedPolicy").values()
        attached = sorted(r["Ref"] for r in policy["Properties"]["Roles"])
        assert attached == sorted(options.logical_id(r) for r in options.studio.roles)

    def test_data_buckets_objects_and_keys(self, options: Built) -> None:
        features = options.stack.node.find_child("Features")
        assert isinstance(features, s3.Bucket)
        assert features.encryption_key is not None
        policy = options.logical_id(options.studio.execution_policy)
        by_sid = {s["Sid"]: s for s in options.statements(policy)}
        features_arn = {"Fn::GetAtt": [options.logical_id(features), "Arn"]}
        assert by_sid["DataBucketsList"]["Resource"] == [
            "arn:aws:s3:::team-datasets",
            features_arn,
        ]
        assert {"Fn::Join": ["", [features_arn, "/*"]]} in by_sid["DataBucketsObjects"]["Resource"]
        assert sorted(by_sid["DataBucketsObjects"]["Action"]) == [
            "s3:AbortMultipartUpload",
            "s3:DeleteObject",
            "s3:GetObject",
            "s3:ListMultipartUploadParts",
            "s3:PutObject",
        ]
        assert by_sid["DataBucketKeys"]["Resource"] == {
            "Fn::GetAtt": [options.logical_id(features.encryption_key), "Arn"]
        }
        sdk = json.loads(_settings(options.script(options.studio.lifecycle_configs["alice"]))["MLFLOW_LCC_SDK_CONFIG"])
        assert sdk["SageMaker"]["PythonSDK"]["Modules"]["Session"]["DefaultS3Bucket"] == "team-datasets"

    def test_direct_artifact_access_is_granted_to_every_role(self, options: Built) -> None:
        bucket = options.logical_id(options.mlflow.bucket)
        prefix = {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/mlflow-artifacts/*"]]}
        for role in options.studio.roles:
            role_id = options.logical_id(role)
            (policy_id,) = [
                k
                for k, r in options.resources("AWS::IAM::Policy").items()
                if r["Properties"]["Roles"] == [{"Ref": role_id}]
            ]
            assert prefix in [s["Resource"] for s in options.statements(policy_id)]

    def test_subnets_of_a_new_vpc(self, options: Built) -> None:
        (domain,) = options.resources("AWS::SageMaker::Domain").values()
        subnets = domain["Properties"]["SubnetIds"]
        assert [s["Ref"] for s in subnets] == [options.logical_id(s) for s in options.studio.vpc.private_subnets]

    def test_cfn_lint_clean(self, options: Built) -> None:
        assert_cfn_lint_clean(options.json, "new domain with options, new VPC")


# ---------------------------------------------------------------------------------------------------------------
# IAM principals as MLflow users (the server's default authentication)


@pytest.fixture(scope="module")
def iam_domain() -> Built:
    return _build(
        mlflow_kwargs={"authentication": MlflowAuthentication.iam()},
        user_profile_names=["alice", "bob"],
    )


@pytest.mark.xdist_group("studio-iam")
class TestIamDomain:
    def test_each_role_is_mapped_to_its_profiles_mlflow_user(self, iam_domain: Built) -> None:
        studio = iam_domain.studio
        rules = principal_rules(iam_domain.template)
        expected = [
            ("alice", studio.user_roles["alice"]),
            ("bob", studio.user_roles["bob"]),
            (SHARED_MLFLOW_USER, studio.execution_role),
        ]
        assert rules == [
            {
                "kind": "role",
                "admin": False,
                "arn": {"Fn::GetAtt": [iam_domain.logical_id(role), "Arn"]},
                "username": user,
            }
            for user, role in expected
        ]

    def test_no_password_secret_and_no_secret_read(self, iam_domain: Built) -> None:
        assert iam_domain.studio.credentials_secrets == {}
        assert not [k for k in iam_domain.resources("AWS::SecretsManager::Secret") if k.startswith("Studio")]
        actions = json.dumps([s["Action"] for s in iam_domain.studio_statements()])
        assert "secretsmanager:" not in actions

    def test_scripts_select_the_iam_token_plugin(self, iam_domain: Built) -> None:
        studio = iam_domain.studio
        for name in ("alice", "bob"):
            settings = _settings(iam_domain.script(studio.lifecycle_configs[name]))
            assert settings["MLFLOW_LCC_AUTH"] == "iam"
            assert settings["MLFLOW_LCC_SECRET_ID"] == ""
            assert settings["MLFLOW_LCC_IAM_STS_ENDPOINT"] == ""  # the regional endpoint the client derives
            # The plugin comes with the client distribution of the library's own version, unless told otherwise.
            assert settings["MLFLOW_LCC_PIP_PACKAGES"] == f"mlflow-sagemaker-client=={__version__}"
            env = json.loads(settings["MLFLOW_LCC_SDK_CONFIG"])["SageMaker"]["TrainingJob"]["Environment"]
            assert env["MLFLOW_TRACKING_AUTH"] == "aws-iam"

    def test_load_balancer_admits_studio_and_training_jobs(self, iam_domain: Built) -> None:
        alb = iam_domain.mlflow.load_balancer.connections.security_groups[0]
        sources = {
            json.dumps(r["Properties"].get("SourceSecurityGroupId"))
            for r in iam_domain.resources("AWS::EC2::SecurityGroupIngress").values()
            if r["Properties"]["GroupId"] == {"Fn::GetAtt": [iam_domain.logical_id(alb), "GroupId"]}
        }
        for group in (iam_domain.studio.security_group, iam_domain.studio.training_security_group):
            assert json.dumps({"Fn::GetAtt": [iam_domain.logical_id(group), "GroupId"]}) in sources

    def test_shared_roles_are_refused(self) -> None:
        with pytest.raises(ValueError, match=r"per_user_roles=False with an MLflow server that authenticates IAM"):
            _build(
                mlflow_kwargs={"authentication": MlflowAuthentication.iam()},
                user_profile_names=["alice"],
                per_user_roles=False,
            )

    def test_a_prefix_rule_of_the_server_replaces_the_per_role_rules(self) -> None:
        built = _build(
            mlflow_kwargs={
                "authentication": MlflowAuthentication.iam(principals=[PrincipalMapping.role_name_prefix("ml-")])
            },
            user_profile_names=["alice"],
            role_name_prefix="ml-",
        )
        assert [rule["kind"] for rule in principal_rules(built.template)] == ["role_prefix"]
        roles = built.resources("AWS::IAM::Role")
        assert roles[built.logical_id(built.studio.user_roles["alice"])]["Properties"]["RoleName"] == "ml-alice"
        assert built.studio.execution_role is not None
        shared = roles[built.logical_id(built.studio.execution_role)]["Properties"]["RoleName"]
        assert shared == f"ml-{SHARED_MLFLOW_USER}"

    def test_snapshot(self, iam_domain: Built, template_snapshot: SnapshotAssertion) -> None:
        assert normalized(iam_domain.json) == template_snapshot

    def test_cfn_lint_clean(self, iam_domain: Built) -> None:
        assert_cfn_lint_clean(iam_domain.json, "new domain with IAM principals as MLflow users")


# ---------------------------------------------------------------------------------------------------------------
# SigV4 through an HTTP API, existing domain in a new VPC


@pytest.fixture(scope="module")
def sigv4() -> Built:
    return _build(
        vpc_factory=new_vpc,
        mlflow_kwargs={"authentication": UNAUTHENTICATED},
        existing_domain_id=DOMAIN_ID,
        user_profile_names=["dave"],
        per_user_roles=True,
        tracking_uri=HTTP_API_URL,
        sigv4=True,
        client_packages=["mlflow-sagemaker-client==0.1.0"],
    )


@pytest.mark.xdist_group("studio-sigv4")
class TestSigV4:
    def test_load_balancer_does_not_admit_studio_or_jobs(self, sigv4: Built) -> None:
        studio_groups = {
            json.dumps({"Fn::GetAtt": [sigv4.logical_id(g), "GroupId"]})
            for g in (sigv4.studio.security_group, sigv4.studio.training_security_group)
        }
        alb = {"Fn::GetAtt": [sigv4.logical_id(sigv4.mlflow.load_balancer.connections.security_groups[0]), "GroupId"]}
        for resource in sigv4.resources("AWS::EC2::SecurityGroupIngress").values():
            if resource["Properties"]["GroupId"] == alb:
                assert json.dumps(resource["Properties"].get("SourceSecurityGroupId")) not in studio_groups

    def test_script_signs_requests_and_installs_the_client(self, sigv4: Built) -> None:
        studio = sigv4.studio
        assert studio.lifecycle_config is None
        settings = _settings(sigv4.script(studio.lifecycle_configs["dave"]))
        assert settings["MLFLOW_LCC_TRACKING_URI"] == HTTP_API_URL
        assert settings["MLFLOW_LCC_AUTH"] == "sigv4"
        assert settings["MLFLOW_LCC_SECRET_ID"] == ""
        assert settings["MLFLOW_LCC_PIP_PACKAGES"] == "mlflow-sagemaker-client==0.1.0"
        env = json.loads(settings["MLFLOW_LCC_SDK_CONFIG"])["SageMaker"]["TrainingJob"]["Environment"]
        assert env == {"MLFLOW_TRACKING_URI": HTTP_API_URL, "MLFLOW_TRACKING_AUTH": "aws-sigv4"}

    def test_no_credential_secrets_and_only_user_roles(self, sigv4: Built) -> None:
        studio = sigv4.studio
        assert studio.credentials_secrets == {}
        assert studio.execution_role is None
        assert list(studio.user_roles) == ["dave"]
        assert studio.roles == [studio.user_roles["dave"]]
        sigv4.template.resource_count_is("AWS::SageMaker::StudioLifecycleConfig", 1)
        assert not [k for k in sigv4.resources("AWS::SecretsManager::Secret") if k.startswith("Studio")]

    def test_cfn_lint_clean(self, sigv4: Built) -> None:
        assert_cfn_lint_clean(sigv4.json, "existing domain with sigv4, new VPC")


# ---------------------------------------------------------------------------------------------------------------
# A shared credentials secret, public internet access, one security group


@pytest.fixture(scope="module")
def shared() -> Built:
    return _build(
        user_profile_names=["erin", "frank"],
        app_network_access_type=AppNetworkAccess.PUBLIC_INTERNET_ONLY,
        tracking_uri="https://mlflow.example.com",
        mlflow_credentials_secret=lambda stack: secretsmanager.Secret.from_secret_complete_arn(
            stack, "Shared", "arn:aws:secretsmanager:us-east-1:123456789012:secret:mlflow-team-AbCdEf"
        ),
        separate_training_security_group=False,
        configure_sagemaker_sdk=False,
        require_vpc_for_jobs=False,
    )


@pytest.mark.xdist_group("studio-shared")
class TestSharedSecret:
    def test_public_internet_access_with_a_warning(self, shared: Built) -> None:
        shared.template.has_resource_properties(
            "AWS::SageMaker::Domain", {"AppNetworkAccessType": "PublicInternetOnly"}
        )
        Annotations.from_stack(shared.stack).has_warning(
            "/TestStack/Studio", Match.string_like_regexp("PublicInternetOnly")
        )

    def test_every_user_reads_the_given_secret(self, shared: Built) -> None:
        studio = shared.studio
        arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mlflow-team-AbCdEf"
        assert {shared.stack.resolve(s.secret_arn) for s in studio.credentials_secrets.values()} == {arn}
        shared.template.resource_count_is("AWS::SageMaker::StudioLifecycleConfig", 1)
        assert studio.lifecycle_config is not None
        assert {id(c) for c in studio.lifecycle_configs.values()} == {id(studio.lifecycle_config)}
        settings = _settings(shared.script(studio.lifecycle_config))
        assert settings["MLFLOW_LCC_SECRET_ID"] == arn
        assert settings["MLFLOW_LCC_AUTH"] == "basic"
        assert settings["MLFLOW_LCC_TRACKING_URI"] == "https://mlflow.example.com"
        assert settings["MLFLOW_LCC_SDK_CONFIG"] == ""
        reads = [s for s in shared.studio_statements() if "secretsmanager:GetSecretValue" in _as_list(s["Action"])]
        assert [s["Resource"] for s in reads] == [arn, arn]  # erin's and frank's roles, not the domain's

    def test_jobs_may_run_outside_the_vpc_when_not_required(self, shared: Built) -> None:
        policy = shared.logical_id(shared.studio.execution_policy)
        by_sid = {s["Sid"]: s for s in shared.statements(policy)}
        assert "CreateJobsInTheVpc" not in by_sid
        assert "Condition" not in by_sid["CreateJobs"]

    def test_training_jobs_share_the_studio_security_group(self, shared: Built) -> None:
        assert shared.studio.training_security_group is shared.studio.security_group
        shared.template.resource_count_is("AWS::EC2::SecurityGroup", 4)  # Studio + MLflow's three

    def test_cfn_lint_clean(self, shared: Built) -> None:
        assert_cfn_lint_clean(shared.json, "new domain with a shared secret")


# ---------------------------------------------------------------------------------------------------------------
# cdk-nag on fresh apps


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"user_profile_names": ["alice"]}, id="new-imported-vpc"),
        pytest.param({"vpc_factory": new_vpc, "user_profile_names": ["alice"]}, id="new-new-vpc"),
        pytest.param({"existing_domain_id": DOMAIN_ID, "user_profile_names": ["alice"]}, id="existing-imported-vpc"),
        pytest.param(
            {
                "vpc_factory": new_vpc,
                "existing_domain_id": DOMAIN_ID,
                "user_profile_names": ["alice", "bob"],
            },
            id="existing-new-vpc-per-user",
        ),
        pytest.param(
            {
                "mlflow_kwargs": {"artifact_store": ArtifactStore.new_bucket(access=ArtifactAccess.DIRECT)},
                "user_profile_names": ["alice"],
                "use_sagemaker_full_access": True,
                "kms_key": lambda stack: kms.Key(stack, "DomainKey", enable_key_rotation=True),
                "data_buckets": lambda stack: [s3.Bucket.from_bucket_name(stack, "Datasets", "team-datasets")],
            },
            id="new-all-options",
        ),
        pytest.param(
            {"mlflow_kwargs": {"authentication": MlflowAuthentication.iam()}, "user_profile_names": ["alice"]},
            id="new-iam",
        ),
    ],
)
def test_cdk_nag_clean(kwargs: dict[str, Any]) -> None:
    app = new_app()
    _build(app=app, synth=False, **kwargs)
    assert_nag_clean(app)


def test_two_instances_synthesize_side_by_side() -> None:
    stack = new_stack()
    vpc = imported_vpc(stack)
    mlflow = SecureMlflowService(stack, "Mlflow", vpc=vpc, authentication=BASIC_AUTH)
    first = StudioDomainOrUser(stack, "TeamA", vpc=vpc, mlflow=mlflow, user_profile_names=["alice"])
    second = StudioDomainOrUser(stack, "TeamB", vpc=vpc, mlflow=mlflow, user_profile_names=["alice"])
    template = Template.from_stack(stack).to_json()
    names = [
        r["Properties"][key]
        for r in template["Resources"].values()
        for key in ("DomainName", "StudioLifecycleConfigName")
        if key in r.get("Properties", {})
    ]
    assert len(names) == len(set(names)) == 2 + 4
    assert first.domain is not None
    assert second.domain is not None
    assert_cfn_lint_clean(template, "two instances")


# ---------------------------------------------------------------------------------------------------------------
# Rejected combinations


@dataclass
class Scratch:
    stack: cdk.Stack
    vpc: ec2.IVpc
    other_vpc: ec2.IVpc
    mlflow: SecureMlflowService
    unauthenticated: SecureMlflowService
    ids: Iterator[int]

    def studio(self, *, mlflow: SecureMlflowService | None = None, **kwargs: Any) -> StudioDomainOrUser:
        kwargs.setdefault("vpc", self.vpc)
        return StudioDomainOrUser(self.stack, f"Studio{next(self.ids)}", mlflow=mlflow or self.mlflow, **kwargs)


@pytest.fixture(scope="module")
def scratch() -> Scratch:
    stack = new_stack()
    vpc = imported_vpc(stack)
    return Scratch(
        stack=stack,
        vpc=vpc,
        other_vpc=imported_isolated_only_vpc(stack),
        mlflow=SecureMlflowService(stack, "Mlflow", vpc=vpc, authentication=BASIC_AUTH),
        unauthenticated=SecureMlflowService(stack, "Unauthenticated", vpc=vpc, authentication=UNAUTHENTICATED),
        ids=itertools.count(),
    )


EXISTING = {"existing_domain_id": DOMAIN_ID, "user_profile_names": ["alice"]}


@pytest.mark.xdist_group("studio-validation")
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {**EXISTING, "subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)},
            r"subnets only applies with a new domain \(they cannot be changed on an existing one",
        ),
        ({**EXISTING, "kms_key": "key"}, r"kms_key only applies with a new domain"),
        (
            {**EXISTING, "app_network_access_type": AppNetworkAccess.VPC_ONLY},
            r"app_network_access_type only applies with a new domain",
        ),
        (
            {**EXISTING, "removal_policy": cdk.RemovalPolicy.DESTROY},
            r"removal_policy only applies with a new domain",
        ),
        (
            {"existing_domain_id": "my-domain", "user_profile_names": ["alice"]},
            r"existing_domain_id \('my-domain'\) is not a SageMaker domain ID: pass the ID \(d-xxxxxxxxxxxx\)",
        ),
        (
            {"existing_domain_id": f"{ARN}:domain/{DOMAIN_ID}", "user_profile_names": ["alice"]},
            r"is not a SageMaker domain ID",
        ),
        ({"existing_domain_id": DOMAIN_ID}, r"existing_domain_id without user_profile_names: there is nothing to add"),
        ({"user_profile_names": ["alice_smith"]}, r"user_profile_names: 'alice_smith' is not a valid SageMaker user"),
        ({"user_profile_names": ["-bob"]}, r"'-bob' is not a valid SageMaker user profile name"),
        ({"user_profile_names": ["a" * 64]}, r"is not a valid SageMaker user profile name: use 1 to 63"),
        ({"user_profile_names": ["alice", "bob", "alice"]}, r"user_profile_names lists 'alice' twice"),
        ({"subnets": ec2.SubnetSelection(subnet_group_name="nope")}, r"subnets selects no subnets in the given VPC"),
        (
            {"training_subnets": ec2.SubnetSelection(subnet_group_name="nope")},
            r"subnets selects no subnets in the given VPC",
        ),
        (
            {"per_user_roles": False, "user_profile_names": ["alice", "bob"]},
            r"per_user_roles=False with a generated MLflow password per user: the shared execution role could read",
        ),
        (
            {"mlflow": "unauthenticated", "user_profile_names": ["alice"]},
            r"the MLflow server does not authenticate .* so Studio users must not reach it directly",
        ),
        ({"removal_policy": cdk.RemovalPolicy.SNAPSHOT}, r"removal_policy \(.*\) is not supported by a domain"),
        (
            {"sigv4": True, "mlflow": "unauthenticated"},
            r"the MLflow server does not authenticate .* pass tracking_uri of what authenticates",
        ),
        (
            {"sigv4": True, "tracking_uri": HTTP_API_URL},
            r"sigv4=True with an MLflow server that uses its built-in authentication: .* "
            r"MlflowAuthentication.disabled",
        ),
        (
            {"mlflow": "unauthenticated", "mlflow_credentials_secret": "secret", "tracking_uri": HTTP_API_URL},
            r"mlflow_credentials_secret was given but Studio users do not use MLflow passwords",
        ),
        (
            {"tracking_uri": "mlflow.internal"},
            r"tracking_uri \('mlflow.internal'\) must start with http:// or https://",
        ),
        (
            {"app_network_access_type": AppNetworkAccess.PUBLIC_INTERNET_ONLY},
            r"PUBLIC_INTERNET_ONLY: Studio apps then do not reach the VPC .* pass tracking_uri",
        ),
        ({"vpc": "other"}, r"mlflow \(Studio reaches the server only from its VPC\) is in VPC"),
        (
            {"client_packages": ["mlflow; rm -rf ~"]},
            r"client_packages: 'mlflow; rm -rf ~' is not a plain pip requirement",
        ),
    ],
    ids=[
        "existing-with-subnets",
        "existing-with-kms-key",
        "existing-with-network-access",
        "existing-with-removal-policy",
        "malformed-domain-id",
        "domain-arn-as-id",
        "existing-without-users",
        "underscore-in-name",
        "leading-hyphen",
        "name-too-long",
        "duplicate-name",
        "empty-subnets",
        "empty-training-subnets",
        "shared-role-with-per-user-passwords",
        "finding-5-direct-to-unauthenticated-server",
        "snapshot-removal",
        "sigv4-without-uri",
        "sigv4-with-basic-auth",
        "secret-without-basic-auth",
        "uri-without-scheme",
        "public-internet-without-uri",
        "vpc-differs-from-mlflow",
        "shell-in-client-packages",
    ],
)
def test_rejected_combinations(scratch: Scratch, kwargs: dict[str, Any], message: str) -> None:
    kwargs = dict(kwargs)
    if kwargs.get("mlflow") == "unauthenticated":
        kwargs["mlflow"] = scratch.unauthenticated
    if kwargs.get("vpc") == "other":
        kwargs["vpc"] = scratch.other_vpc
    if kwargs.get("kms_key") == "key":
        kwargs["kms_key"] = kms.Key.from_key_arn(
            scratch.stack, f"Key{next(scratch.ids)}", "arn:aws:kms:us-east-1:123456789012:key/abc"
        )
    if kwargs.get("mlflow_credentials_secret") == "secret":
        kwargs["mlflow_credentials_secret"] = secretsmanager.Secret.from_secret_name_v2(
            scratch.stack, f"Secret{next(scratch.ids)}", "mlflow"
        )
    with pytest.raises(ValueError, match=message):
        scratch.studio(**kwargs)


@pytest.mark.xdist_group("studio-validation")
def test_training_config_needs_a_known_user_with_per_user_secrets(scratch: Scratch) -> None:
    studio = scratch.studio(user_profile_names=["alice"])
    with pytest.raises(ValueError, match=r"training_config\('zoe'\): no such user profile; use one of \['alice'\]"):
        studio.training_config("zoe")
    with pytest.raises(ValueError, match=r"every user has their own MLflow credentials; pass user_profile_name"):
        studio.training_config()
    assert studio.training_config("alice").credentials_secret is studio.credentials_secrets["alice"]


@pytest.mark.xdist_group("studio-validation")
def test_grant_read_credentials_for_registration_automation(scratch: Scratch) -> None:
    studio = scratch.studio(user_profile_names=["alice", "bob"])
    automation = iam.Role(scratch.stack, "Registrar", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    grant = studio.grant_read_credentials(automation)
    assert grant.success
    document = scratch.stack.resolve(automation.node.find_child("DefaultPolicy").document.to_json())  # type: ignore[attr-defined]
    refs = sorted(r["Ref"] for s in document["Statement"] for r in _as_list(s["Resource"]))
    assert len(refs) == 2
    unauthenticated = scratch.studio(
        mlflow=scratch.unauthenticated, user_profile_names=["alice"], tracking_uri=HTTP_API_URL, sigv4=True
    )
    with pytest.raises(ValueError, match=r"grant_read_credentials: there are no MLflow credential secrets"):
        unauthenticated.grant_read_credentials(automation)


# ---------------------------------------------------------------------------------------------------------------
# A server defined in another stack


def _logical_id(stack: cdk.Stack, construct: Any) -> str:
    child = construct.node.default_child
    assert isinstance(child, cdk.CfnElement)
    return stack.get_logical_id(child)


def test_studio_works_with_a_server_from_another_stack() -> None:
    """The server's rules are fixed in its own stack: a prefix rule there maps the roles Studio names here."""
    app = new_app()
    server_stack = new_stack(app, "Server")
    authentication = MlflowAuthentication.iam(principals=[PrincipalMapping.role_name_prefix("mlflow-studio-")])
    server = SecureMlflowService(server_stack, "Mlflow", vpc=imported_vpc(server_stack), authentication=authentication)
    studio_stack = new_stack(app, "Studio")
    vpc = imported_vpc(studio_stack)
    imported = SecureMlflowService.from_attributes(
        studio_stack,
        "Mlflow",
        vpc=vpc,
        url="http://mlflow.internal.example.com",
        security_group=ec2.SecurityGroup.from_security_group_id(studio_stack, "MlflowSg", "sg-0123456789abcdef0"),
        port=server.port,
        authentication=authentication,
    )
    studio = StudioDomainOrUser(
        studio_stack,
        "Studio",
        vpc=vpc,
        mlflow=imported,
        user_profile_names=["alice"],
        role_name_prefix="mlflow-studio-",
    )
    template = Template.from_stack(studio_stack)
    for group in (studio.security_group, studio.training_security_group):
        template.has_resource_properties(
            "AWS::EC2::SecurityGroupIngress",
            {
                "GroupId": "sg-0123456789abcdef0",
                "FromPort": 80,
                "ToPort": 80,
                "SourceSecurityGroupId": {"Fn::GetAtt": [_logical_id(studio_stack, group), "GroupId"]},
            },
        )
    names = {r["Properties"].get("RoleName") for r in template.find_resources("AWS::IAM::Role").values()}
    assert {"mlflow-studio-alice", "mlflow-studio-studio-shared"} <= names
    server_template = json.dumps(Template.from_stack(server_stack).to_json())
    assert '\\"kind\\":\\"role_prefix\\"' in server_template
    assert '\\"name\\":\\"mlflow-studio-\\"' in server_template
    content = json.dumps(template.to_json())
    assert "http://mlflow.internal.example.com" in content
    assert_cfn_lint_clean(template.to_json(), "Studio with a server of another stack")
    assert_nag_clean(app)


def test_an_imported_iam_server_without_a_prefix_rule_says_how_to_map_the_roles() -> None:
    stack = new_stack()
    vpc = imported_vpc(stack)
    imported = SecureMlflowService.from_attributes(
        stack,
        "Mlflow",
        vpc=vpc,
        url="http://mlflow.internal.example.com",
        security_group=ec2.SecurityGroup.from_security_group_id(stack, "MlflowSg", "sg-0123456789abcdef0"),
        port=80,
        authentication=MlflowAuthentication.iam(),
    )
    with pytest.raises(ValueError, match=r"PrincipalMapping.role_name_prefix\('<prefix>'\)"):
        StudioDomainOrUser(stack, "Studio", vpc=vpc, mlflow=imported, user_profile_names=["alice"])
