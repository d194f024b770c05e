"""Which MLflow user an AWS principal is: ordered mapping rules, from the construct's props.

STS ``GetCallerIdentity`` names the caller with one of these ARNs:

- an IAM user: ``arn:<partition>:iam::<account>:user/<path/>name``;
- a role session: ``arn:<partition>:sts::<account>:assumed-role/<role name>/<session name>`` (SageMaker Studio,
  training jobs, IAM Identity Center, anything that assumed a role).

Rules, tried in order, the first match wins:

- ``role``: an exact role (account and name) is one MLflow user;
- ``role_session``: roles whose name matches a pattern (``fnmatch``, e.g. ``AWSReservedSSO_DataScientist_*``);
  the session name is the user (Identity Center puts the person's user name or email there);
- ``role_prefix``: roles whose name starts with a prefix; the rest of the name is the user (per-user roles
  named ``<prefix><user>``, for example Studio's when the server is defined in another stack);
- ``iam_user``: an exact IAM user is one MLflow user (by default its own name).

Every rule may make its users MLflow admins. A principal no rule matches is refused.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from . import contract

KINDS = ("role", "role_session", "role_prefix", "iam_user")
_USERNAME = re.compile(contract.IAM_USERNAME_PATTERN)
_ACCOUNT = re.compile(r"^\d{12}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(?P<account>\d{12}):role/(?:[^/]+/)*(?P<name>[^/]+)$")
_USER_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(?P<account>\d{12}):user/(?:[^/]+/)*(?P<name>[^/]+)$")
_CALLER_ROLE = re.compile(r"^arn:aws[a-z-]*:sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/(?P<session>[^/]+)$")
_CALLER_USER = re.compile(r"^arn:aws[a-z-]*:iam::(?P<account>\d{12}):user/(?:[^/]+/)*(?P<name>[^/]+)$")


class MappingConfigError(ValueError):
    """The mapping rules are malformed; the message names the rule."""


@dataclass(frozen=True)
class Principal:
    """A caller as STS reported it."""

    arn: str
    account: str
    kind: str  # "role" or "user"
    name: str  # role name or user name
    session: str | None = None

    @staticmethod
    def from_arn(arn: str) -> Principal | None:
        """Parse a ``GetCallerIdentity`` ARN; ``None`` for anything else (federated users, root)."""
        if match := _CALLER_ROLE.match(arn):
            return Principal(arn, match["account"], "role", match["role"], match["session"])
        if match := _CALLER_USER.match(arn):
            return Principal(arn, match["account"], "user", match["name"])
        return None


@dataclass(frozen=True)
class Rule:
    kind: str
    account: str
    name: str  # role name, role-name pattern or prefix, or IAM user name
    username: str | None
    admin: bool

    def match(self, principal: Principal) -> str | None:
        """The MLflow user name when this rule covers ``principal``."""
        if principal.account != self.account:
            return None
        if self.kind == "iam_user":
            return (
                (self.username or principal.name) if principal.kind == "user" and principal.name == self.name else None
            )
        if principal.kind != "role":
            return None
        if self.kind == "role":
            return self.username if principal.name == self.name else None
        if self.kind == "role_session":
            return principal.session if fnmatch.fnmatchcase(principal.name, self.name) else None
        if principal.name.startswith(self.name) and len(principal.name) > len(self.name):
            return principal.name[len(self.name) :]
        return None


@dataclass(frozen=True)
class Mapping:
    """The user name and admin flag of a mapped principal."""

    username: str
    admin: bool
    rule: int  # index of the rule that matched


def parse_rules(raw: str) -> list[Rule]:
    """Parse the JSON rules the construct renders; raise :class:`MappingConfigError` on anything malformed."""
    try:
        items = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise MappingConfigError(f"the principal mappings are not JSON: {exc}") from None
    if not isinstance(items, list):
        raise MappingConfigError("the principal mappings must be a JSON list")
    return [_parse_rule(i, item) for i, item in enumerate(items)]


def _parse_rule(index: int, item: object) -> Rule:
    where = f"principal mapping {index}"
    if not isinstance(item, dict):
        raise MappingConfigError(f"{where} is not an object")
    kind = item.get("kind")
    if kind not in KINDS:
        raise MappingConfigError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    admin = item.get("admin", False)
    if not isinstance(admin, bool):
        raise MappingConfigError(f"{where}: admin must be true or false")
    username = item.get("username")
    if username is not None and (not isinstance(username, str) or not _USERNAME.match(username)):
        raise MappingConfigError(f"{where}: username {username!r} is not a valid user name")
    if kind in ("role", "iam_user") and "arn" in item:
        pattern = _ROLE_ARN if kind == "role" else _USER_ARN
        match = pattern.match(str(item["arn"]))
        if match is None:
            raise MappingConfigError(
                f"{where}: {item['arn']!r} is not an IAM {'role' if kind == 'role' else 'user'} ARN"
            )
        account, name = match["account"], match["name"]
    else:
        account, name = str(item.get("account", "")), str(item.get("name", ""))
    if not _ACCOUNT.match(account):
        raise MappingConfigError(f"{where}: account {account!r} is not a 12-digit AWS account id")
    if not name:
        raise MappingConfigError(f"{where}: the role or user name (or pattern, or prefix) is empty")
    if kind == "role" and username is None:
        raise MappingConfigError(f"{where}: a role rule needs the username its sessions act as")
    return Rule(kind=kind, account=account, name=name, username=username, admin=admin)


def map_principal(rules: Sequence[Rule], principal: Principal) -> Mapping | None:
    """The first rule's mapping of ``principal``, or ``None`` when no rule matches (or the name is unusable)."""
    for index, rule in enumerate(rules):
        username = rule.match(principal)
        if username is not None:
            if not _USERNAME.match(username):
                return None
            return Mapping(username=username, admin=rule.admin, rule=index)
    return None


def provisioned_usernames(rules: Sequence[Rule]) -> list[tuple[str, bool]]:
    """Users the rules name exactly (role and IAM user rules with a user name): created at server start."""
    found: dict[str, bool] = {}
    for rule in rules:
        if rule.kind == "role" or (rule.kind == "iam_user" and rule.username):
            assert rule.username is not None
            found[rule.username] = found.get(rule.username, False) or rule.admin
        elif rule.kind == "iam_user":
            found[rule.name] = found.get(rule.name, False) or rule.admin
    return list(found.items())
