"""Small corrections to resources that aws-cdk-lib generates, so that cfn-lint stays silent."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct

from mlflow_sagemaker_constructs._internal import checkov

# Construct id of aws-cdk-lib's singleton log-retention function (stable across versions).
_LOG_RETENTION_ID = "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a"


def tidy_log_retention_function(scope: IConstruct) -> None:
    """Tidy aws-cdk-lib's log-retention function (created when RDS log exports get a retention).

    Keeps only the policy in the function's DependsOn, and acknowledges the cdk-nag findings on the role
    that aws-cdk-lib gives it.

    The function names its role with Fn::GetAtt, which already orders creation; CDK also lists the role
    in DependsOn, which cfn-lint reports as W3005. The dependency on the role's policy is kept: the
    function must not run before it may set retention.
    """
    stack = cdk.Stack.of(scope)
    provider = stack.node.try_find_child(_LOG_RETENTION_ID)
    if provider is None:
        return
    function = provider.node.find_child("Resource")
    policy = provider.node.find_child("ServiceRole").node.find_child("DefaultPolicy").node.default_child
    assert isinstance(function, cdk.CfnResource)
    assert isinstance(policy, cdk.CfnResource)
    function.add_override("DependsOn", [policy.logical_id])
    role = provider.node.find_child("ServiceRole")
    for rule, reason in (
        (
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "aws-cdk-lib's log-retention function writes only its own logs with the basic execution policy.",
        ),
        (
            "AwsSolutions-IAM5[Resource::*]",
            "aws-cdk-lib's log-retention function sets retention on log groups RDS creates at run time, whose "
            "ARNs are not known at synthesis.",
        ),
    ):
        cdk.Validations.of(role).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))
    # The same function, for checkov: it is aws-cdk-lib's, created once per stack and invoked only by
    # CloudFormation during deployments.
    for check_id, reason in (
        ("CKV_AWS_111", "aws-cdk-lib's policy sets retention on RDS log groups whose ARNs exist only at run time."),
        ("CKV_AWS_115", "Invoked only by CloudFormation during deployments: no concurrency to reserve."),
        ("CKV_AWS_116", "Invoked synchronously by CloudFormation, which reports failures: no event to keep in a DLQ."),
        ("CKV_AWS_117", "Calls only the CloudWatch Logs API; a VPC would need an endpoint or NAT for no gain."),
    ):
        checkov.skip(policy if check_id == "CKV_AWS_111" else function, check_id, reason)
