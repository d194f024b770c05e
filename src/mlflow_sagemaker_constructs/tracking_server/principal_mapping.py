"""Which MLflow user an AWS principal is: one rule per factory, rendered into the server's environment."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from mlflow_sagemaker_constructs._internal import validation as check
from mlflow_sagemaker_constructs.tracking_server.server import contract

_USERNAME = re.compile(contract.IAM_USERNAME_PATTERN)
# IAM role names allow [\w+=,.@-]; a pattern adds fnmatch's * ? [ ].
_ROLE_NAME_PATTERN = re.compile(r"^[\w+=,.@*?\[\]-]{1,64}$")
_ROLE_NAME_PREFIX = re.compile(r"^[\w+=,.@-]{1,63}$")
_ACCOUNT = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class PrincipalMapping:
    """A rule that makes AWS principals MLflow users; the server tries the rules in order.

    - :meth:`role`: every session of one role is one MLflow user (a Studio user profile's own execution role,
      a CI role);
    - :meth:`role_sessions`: roles whose name matches a pattern; the session name is the user. IAM Identity
      Center's roles (``AWSReservedSSO_<permission set>_<id>``) carry the person's user name or email there;
    - :meth:`role_name_prefix`: roles named ``<prefix><user>``;
    - :meth:`iam_user`: an IAM user.

    A mapped principal's MLflow user is created on first use (users of :meth:`role` and :meth:`iam_user` rules
    when the server starts), without a usable password, with the server's default permission; ``admin``
    makes it an MLflow admin. A principal no rule matches gets 403.
    """

    kind: str
    admin: bool
    arn: str | None = None
    name: str | None = None
    account: str | None = None
    username: str | None = None

    @staticmethod
    def role(role: iam.IRole, *, username: str, admin: bool = False) -> PrincipalMapping:
        """Every session of ``role`` is the MLflow user ``username``.

        :param role: the role (any ``iam.IRole``; its sessions' ARNs are ``assumed-role/<name>/<session>``).
        :param username: the MLflow user.
        :param admin: make the user an MLflow admin. Default: False.
        """
        return PrincipalMapping(kind="role", admin=admin, arn=role.role_arn, username=_username(username)).validated()

    @staticmethod
    def role_sessions(role_name_pattern: str, *, account: str | None = None, admin: bool = False) -> PrincipalMapping:
        """Sessions of roles whose name matches ``role_name_pattern`` (``*``, ``?``, ``[...]``) are the MLflow
        user named like the session, e.g. ``role_sessions("AWSReservedSSO_DataScientist_*")``.

        Only map roles whose session names the principal cannot choose freely: IAM Identity Center sets them
        to the signed-in person; a role anyone can assume with any ``RoleSessionName`` would let them pick a user.

        :param role_name_pattern: ``fnmatch`` pattern of role names (without path).
        :param account: the roles' account. Default: the stack's account.
        :param admin: make these users MLflow admins. Default: False.
        """
        return PrincipalMapping(kind="role_session", admin=admin, name=role_name_pattern, account=account).validated()

    @staticmethod
    def role_name_prefix(prefix: str, *, account: str | None = None, admin: bool = False) -> PrincipalMapping:
        """Sessions of roles named ``<prefix><user>`` are the MLflow user ``<user>``.

        :param prefix: the common beginning of the role names, e.g. ``"mlflow-user-"``.
        :param account: the roles' account. Default: the stack's account.
        :param admin: make these users MLflow admins. Default: False.
        """
        return PrincipalMapping(kind="role_prefix", admin=admin, name=prefix, account=account).validated()

    @staticmethod
    def iam_user(user: iam.IUser, *, username: str | None = None, admin: bool = False) -> PrincipalMapping:
        """The IAM user ``user`` is the MLflow user ``username``.

        :param user: the IAM user.
        :param username: the MLflow user. Default: the IAM user's name.
        :param admin: make the user an MLflow admin. Default: False.
        """
        return PrincipalMapping(
            kind="iam_user", admin=admin, arn=user.user_arn, username=None if username is None else _username(username)
        ).validated()

    def validated(self) -> PrincipalMapping:
        if self.kind == "role_session" and not _ROLE_NAME_PATTERN.match(self.name or ""):
            raise ValueError(
                f"role_name_pattern ({self.name!r}) must be an IAM role name pattern of letters, digits, "
                "+=,.@_- and the wildcards * ? [ ], e.g. 'AWSReservedSSO_DataScientist_*'"
            )
        if self.kind == "role_prefix" and not _ROLE_NAME_PREFIX.match(self.name or ""):
            raise ValueError(
                f"prefix ({self.name!r}) must be the beginning of IAM role names (letters, digits, +=,.@_-), "
                "e.g. 'mlflow-user-'"
            )
        if self.account is not None and not check.is_token(self.account) and not _ACCOUNT.match(self.account):
            raise ValueError(f"account ({self.account!r}) must be a 12-digit AWS account id")
        return self

    def render(self, scope: IConstruct) -> dict[str, Any]:
        """The rule as the server reads it (``principals.py``); tokens resolve at deployment."""
        rule: dict[str, Any] = {"kind": self.kind, "admin": self.admin}
        if self.arn is not None:
            rule["arn"] = self.arn
        else:
            rule["account"] = self.account or cdk.Stack.of(scope).account
            rule["name"] = self.name
        if self.username is not None:
            rule["username"] = self.username
        return rule


def _username(value: str) -> str:
    if check.is_token(value):
        return value
    if not _USERNAME.match(value):
        raise ValueError(
            f"username ({value!r}) must be 1 to 128 letters, digits or +=,.@_- (an MLflow user name the server "
            "can create)"
        )
    return value
