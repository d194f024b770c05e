"""checkov suppressions, written next to the code they excuse, in the template metadata checkov reads.

checkov (``checkov -d cdk.out``) skips a check on a resource whose ``Metadata.checkov.skip`` lists the check's
id; the comment is the reason, shown in checkov's report. Like cdk-nag acknowledgements, every skip names a
specific reason.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import IConstruct


def skip(resource: IConstruct, check_id: str, reason: str) -> None:
    """Record that checkov's ``check_id`` (e.g. ``CKV_AWS_158``) does not apply to ``resource``, and why.

    ``resource`` is a ``CfnResource`` or an L2 construct whose default child is one.
    """
    cfn = resource if isinstance(resource, cdk.CfnResource) else resource.node.default_child
    if not isinstance(cfn, cdk.CfnResource):
        raise TypeError(f"{resource.node.path} has no CloudFormation resource to record a checkov skip on")
    metadata: dict[str, Any] = cfn.get_metadata("checkov") or {}
    skips = [s for s in metadata.get("skip", []) if s["id"] != check_id]
    cfn.add_metadata("checkov", {**metadata, "skip": [*skips, {"id": check_id, "comment": reason}]})


#: CloudWatch Logs log groups without a customer managed key (CKV_AWS_158).
LOG_GROUP_KMS_REASON = (
    "CloudWatch Logs encrypts every log group at rest; a customer managed key adds a key policy for the logs "
    "service and a monthly key charge, and the server never logs secrets (tested)."
)
#: Secrets Manager secrets under the AWS managed key (CKV_AWS_149).
SECRET_KMS_REASON = (
    "Encrypted with the account's aws/secretsmanager key; who may read it is decided by the IAM grants the "
    "construct makes, which a customer managed key would only duplicate."
)
