"""The least-privilege permissions of Studio execution roles.

Two parts:

- :func:`add_shared_statements` fills the customer managed policy every execution role gets: reading and
  listing, creating training and tuning jobs only in the VPC, creating models and endpoints, logs,
  metrics, image pulls, the data buckets, and the network interfaces SageMaker creates for jobs, limited to
  the VPC, its training subnets and security group;
- :func:`grant_owner_scoped` gives one role what may only touch its user's own resources: stopping,
  updating and deleting jobs, models, endpoint configurations and endpoints tagged with
  :data:`OWNER_TAG` = the user, tagging only those (or untagged ones) with that value, and managing the
  user's own private spaces and apps.

SageMaker Python SDK defaults written by the lifecycle configuration tag what users create with their
owner value, so the owner check works without code in notebooks. Resources created otherwise (for example
``MlflowModelEndpoint`` by CloudFormation) carry no owner tag: Studio users can read and invoke them, never
change or delete them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from mlflow_sagemaker_constructs._internal.nag import acknowledge, acknowledge_wildcard_resource

#: The tag that names the Studio user profile owning a SageMaker resource.
OWNER_TAG = "mlflow-sagemaker-owner"
#: Owner value of the domain's shared execution role: not a valid profile name, so it owns nothing of a user.
SHARED_OWNER = "_shared"

_JOB_REASON = "SageMaker {} are named by the data scientist at creation; scoped to this account and region."
_DOMAIN_REASON = "Studio creates {} with generated names; scoped to this domain."


class _Statements:
    """Adds statements to a policy and acknowledges each wildcard resource with its reason."""

    def __init__(self, policy: iam.ManagedPolicy | iam.Role) -> None:
        self.policy = policy
        self.stack = cdk.Stack.of(policy)

    def sagemaker_arn(self, resource: str, name: str) -> str:
        return self.stack.format_arn(service="sagemaker", resource=resource, resource_name=name)

    def ec2_arn(self, resource: str, name: str) -> str:
        return self.stack.format_arn(service="ec2", resource=resource, resource_name=name)

    def add(self, sid: str, actions: Sequence[str], resources: Sequence[tuple[str, str]], **kwargs: Any) -> None:
        statement = iam.PolicyStatement(
            sid=sid, actions=list(actions), resources=[arn for arn, _ in resources], **kwargs
        )
        if isinstance(self.policy, iam.ManagedPolicy):
            self.policy.add_statements(statement)
        else:
            self.policy.add_to_principal_policy(statement)
        for arn, reason in resources:
            if reason:
                acknowledge_wildcard_resource(self.policy, arn, reason)

    def owned_resources(self) -> list[tuple[str, str]]:
        return [
            (self.sagemaker_arn(kind, "*"), _JOB_REASON.format(label))
            for kind, label in (
                ("training-job", "training jobs"),
                ("hyper-parameter-tuning-job", "tuning jobs"),
                ("model", "models"),
                ("endpoint-config", "endpoint configurations"),
                ("endpoint", "endpoints"),
            )
        ]


def add_shared_statements(
    policy: iam.ManagedPolicy,
    *,
    domain_id: str,
    vpc_id: str,
    training_subnet_ids: Sequence[str],
    training_security_group_id: str,
    require_vpc_for_jobs: bool,
    data_buckets: Sequence[s3.IBucket],
    domain_key: kms.IKey | None,
) -> None:
    """The statements every execution role shares."""
    add = _Statements(policy)
    jobs = add.owned_resources()[:2]
    vpc_condition: dict[str, Any] = {}
    if require_vpc_for_jobs:
        vpc_condition = {
            "ForAllValues:StringEquals": {
                "sagemaker:VpcSubnets": list(training_subnet_ids),
                "sagemaker:VpcSecurityGroupIds": [training_security_group_id],
            },
            "Null": {"sagemaker:VpcSubnets": "false", "sagemaker:VpcSecurityGroupIds": "false"},
        }
    add.add(
        "CreateJobsInTheVpc" if vpc_condition else "CreateJobs",
        ["sagemaker:CreateTrainingJob", "sagemaker:CreateHyperParameterTuningJob"],
        jobs,
        **({"conditions": vpc_condition} if vpc_condition else {}),
    )
    add.add(
        "CreateModelsAndEndpoints",
        ["sagemaker:CreateModel", "sagemaker:CreateEndpointConfig", "sagemaker:CreateEndpoint"],
        add.owned_resources()[2:],
    )
    add.add(
        "ReadAndInvoke",
        [
            "sagemaker:DescribeTrainingJob",
            "sagemaker:DescribeHyperParameterTuningJob",
            "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
            "sagemaker:DescribeModel",
            "sagemaker:DescribeEndpointConfig",
            "sagemaker:DescribeEndpoint",
            "sagemaker:InvokeEndpoint",
            "sagemaker:ListTags",
        ],
        add.owned_resources(),
    )
    add.add(
        "DescribeStudio",
        [
            "sagemaker:DescribeDomain",
            "sagemaker:DescribeUserProfile",
            "sagemaker:DescribeSpace",
            "sagemaker:DescribeApp",
            "sagemaker:ListTags",
        ],
        [
            (add.sagemaker_arn("domain", domain_id), ""),
            (add.sagemaker_arn("user-profile", f"{domain_id}/*"), _DOMAIN_REASON.format("user profiles")),
            (add.sagemaker_arn("space", f"{domain_id}/*"), _DOMAIN_REASON.format("spaces")),
            (add.sagemaker_arn("app", f"{domain_id}/*"), _DOMAIN_REASON.format("apps")),
        ],
    )
    add.add(
        "SageMakerListAndEc2Describe",
        [
            "sagemaker:ListTrainingJobs",
            "sagemaker:ListHyperParameterTuningJobs",
            "sagemaker:ListModels",
            "sagemaker:ListEndpointConfigs",
            "sagemaker:ListEndpoints",
            "sagemaker:ListApps",
            "sagemaker:ListSpaces",
            "sagemaker:ListUserProfiles",
            "sagemaker:ListStudioLifecycleConfigs",
            "ec2:DescribeVpcs",
            "ec2:DescribeSubnets",
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeDhcpOptions",
            "ecr:GetAuthorizationToken",
            "cloudwatch:GetMetricData",
            "cloudwatch:GetMetricStatistics",
            "cloudwatch:ListMetrics",
        ],
        [("*", "")],
    )
    add.add(
        "SageMakerMetrics",
        ["cloudwatch:PutMetricData"],
        [("*", "")],
        conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
    )
    acknowledge(
        policy,
        "AwsSolutions-IAM5[Resource::*]",
        "Only actions without resource-level permissions use '*': SageMaker List*, EC2 Describe*, "
        "ecr:GetAuthorizationToken, CloudWatch metric reads and PutMetricData (limited to /aws/sagemaker/* "
        "namespaces).",
    )
    _add_network_interfaces(add, vpc_id, training_subnet_ids, training_security_group_id)
    _add_logs_images_and_data(add, data_buckets, domain_key)


def _add_network_interfaces(add: _Statements, vpc_id: str, subnet_ids: Sequence[str], security_group_id: str) -> None:
    """Training jobs' network interfaces, which SageMaker creates with the execution role: in the VPC only."""
    interfaces = add.ec2_arn("network-interface", "*")
    reason = (
        "SageMaker names the network interfaces it creates for training jobs; the statement is limited to "
        "interfaces in the MLflow VPC by the ec2:Vpc condition."
    )
    add.add(
        "CreateInterfacesInTheTrainingSubnets",
        ["ec2:CreateNetworkInterface"],
        [(add.ec2_arn("subnet", s), "") for s in subnet_ids] + [(add.ec2_arn("security-group", security_group_id), "")],
    )
    add.add(
        "ManageInterfacesInTheVpc",
        [
            "ec2:CreateNetworkInterface",
            "ec2:CreateNetworkInterfacePermission",
            "ec2:DeleteNetworkInterface",
            "ec2:DeleteNetworkInterfacePermission",
        ],
        [(interfaces, reason)],
        conditions={"ArnEquals": {"ec2:Vpc": add.ec2_arn("vpc", vpc_id)}},
    )


def _add_logs_images_and_data(
    add: _Statements, data_buckets: Sequence[s3.IBucket], domain_key: kms.IKey | None
) -> None:
    add.add(
        "SageMakerLogs",
        [
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "logs:DescribeLogStreams",
            "logs:GetLogEvents",
            "logs:FilterLogEvents",
        ],
        [
            (
                add.stack.format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name="/aws/sagemaker/*",
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                ),
                "SageMaker writes jobs', endpoints' and Studio's logs to log groups and streams under "
                "/aws/sagemaker/ that it names at run time.",
            )
        ],
    )
    add.add(
        "PullImages",
        ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
        [
            (
                add.stack.format_arn(service="ecr", account="*", resource="repository", resource_name="*"),
                "SageMaker's prebuilt training and inference images live in AWS-owned accounts that differ by "
                "region and framework; pulls are limited to this region and still need the repository's own "
                "policy to allow them.",
            )
        ],
    )
    if data_buckets:
        add.add(
            "DataBucketsList",
            ["s3:ListBucket", "s3:GetBucketLocation"],
            [(bucket.bucket_arn, "") for bucket in data_buckets],
        )
        add.add(
            "DataBucketsObjects",
            [
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            [
                (
                    bucket.arn_for_objects("*"),
                    "Datasets and model artifacts are objects of any name in the data bucket given.",
                )
                for bucket in data_buckets
            ],
        )
    keys = [b.encryption_key for b in data_buckets if b.encryption_key is not None]
    if keys:
        add.add(
            "DataBucketKeys", ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"], [(k.key_arn, "") for k in keys]
        )
    if domain_key is not None:
        add.add("DomainKey", ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"], [(domain_key.key_arn, "")])
        add.add(
            "DomainKeyGrantsForAwsResources",
            ["kms:CreateGrant"],
            [(domain_key.key_arn, "")],
            conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
        )


def grant_owner_scoped(role: iam.Role, *, owner: str, domain_id: str, user_profile_arn: str | None) -> None:
    """What ``role`` may do to its user's own resources only (``owner`` = the user profile name)."""
    add = _Statements(role)
    owned = add.owned_resources()
    add.add(
        "ChangeOwnJobsModelsEndpoints",
        [
            "sagemaker:StopTrainingJob",
            "sagemaker:StopHyperParameterTuningJob",
            "sagemaker:DeleteModel",
            "sagemaker:DeleteEndpointConfig",
            "sagemaker:UpdateEndpoint",
            "sagemaker:UpdateEndpointWeightsAndCapacities",
            "sagemaker:DeleteEndpoint",
        ],
        owned,
        conditions={"StringEquals": {f"aws:ResourceTag/{OWNER_TAG}": owner}},
    )
    # Tag-on-create and tags on own (or not yet owned) resources; never another user's owner tag.
    add.add(
        "TagOwnResources",
        ["sagemaker:AddTags"],
        owned,
        conditions={
            "StringEquals": {f"aws:RequestTag/{OWNER_TAG}": owner},
            "StringEqualsIfExists": {f"aws:ResourceTag/{OWNER_TAG}": owner},
        },
    )
    if user_profile_arn is None:
        return
    add.add(
        "OwnSpacesAndApps",
        [
            "sagemaker:CreateSpace",
            "sagemaker:UpdateSpace",
            "sagemaker:DeleteSpace",
            "sagemaker:CreateApp",
            "sagemaker:DeleteApp",
            "sagemaker:AddTags",
        ],
        [
            (add.sagemaker_arn("space", f"{domain_id}/*"), _DOMAIN_REASON.format("spaces")),
            (add.sagemaker_arn("app", f"{domain_id}/*"), _DOMAIN_REASON.format("apps")),
        ],
        conditions={"ArnEqualsIfExists": {"sagemaker:OwnerUserProfileArn": user_profile_arn}},
    )
