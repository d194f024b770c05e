"""Mapping AWS principals to MLflow users: rule kinds, order, admin flags and malformed rules."""

from __future__ import annotations

import json

import pytest

from mlflow_sagemaker_constructs.tracking_server.server.principals import (
    MappingConfigError,
    Principal,
    map_principal,
    parse_rules,
    provisioned_usernames,
)

ACCOUNT = "123456789012"
OTHER = "210987654321"
RULES = parse_rules(
    json.dumps(
        [
            {"kind": "role", "arn": f"arn:aws:iam::{ACCOUNT}:role/service-role/Studio-alice", "username": "alice"},
            {"kind": "role", "arn": f"arn:aws:iam::{ACCOUNT}:role/PlatformAdmin", "username": "ops", "admin": True},
            {"kind": "role_session", "account": ACCOUNT, "name": "AWSReservedSSO_DataScientist_*"},
            {"kind": "role_prefix", "account": ACCOUNT, "name": "mlflow-user-"},
            {"kind": "iam_user", "arn": f"arn:aws:iam::{ACCOUNT}:user/ci/ci-bot"},
            {"kind": "iam_user", "arn": f"arn:aws:iam::{ACCOUNT}:user/carol", "username": "carol-ci"},
        ]
    )
)


def mapped(arn: str) -> tuple[str, bool] | None:
    principal = Principal.from_arn(arn)
    assert principal is not None, arn
    mapping = map_principal(RULES, principal)
    return None if mapping is None else (mapping.username, mapping.admin)


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/Studio-alice/SageMaker", ("alice", False)),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/PlatformAdmin/break-glass", ("ops", True)),
        (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_DataScientist_0a1b/bob@example.com",
            ("bob@example.com", False),
        ),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/mlflow-user-dave/SageMaker", ("dave", False)),
        (f"arn:aws:iam::{ACCOUNT}:user/ci/ci-bot", ("ci-bot", False)),
        (f"arn:aws:iam::{ACCOUNT}:user/carol", ("carol-ci", False)),
    ],
)
def test_each_rule_kind_maps_its_principals(arn: str, expected: tuple[str, bool]) -> None:
    assert mapped(arn) == expected


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:sts::{OTHER}:assumed-role/Studio-alice/SageMaker",  # same role name, another account
        f"arn:aws:sts::{ACCOUNT}:assumed-role/Studio-bob/SageMaker",  # no rule
        f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Admin_0a1b/eve@example.com",  # pattern does not match
        f"arn:aws:sts::{ACCOUNT}:assumed-role/mlflow-user-/SageMaker",  # prefix with nothing after it
        f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_DataScientist_0a1b/has space",  # unusable user name
    ],
)
def test_principals_no_rule_covers_are_unmapped(arn: str) -> None:
    assert mapped(arn) is None


def test_the_first_matching_rule_wins() -> None:
    rules = parse_rules(
        json.dumps(
            [
                {
                    "kind": "role",
                    "account": ACCOUNT,
                    "name": "mlflow-user-erin",
                    "username": "erin-admin",
                    "admin": True,
                },
                {"kind": "role_prefix", "account": ACCOUNT, "name": "mlflow-user-"},
            ]
        )
    )
    principal = Principal.from_arn(f"arn:aws:sts::{ACCOUNT}:assumed-role/mlflow-user-erin/s")
    assert principal is not None
    mapping = map_principal(rules, principal)
    assert mapping is not None
    assert (mapping.username, mapping.admin, mapping.rule) == ("erin-admin", True, 0)


@pytest.mark.parametrize(
    "arn", ["arn:aws:iam::123456789012:root", "arn:aws:sts::123456789012:federated-user/bob", "not an arn"]
)
def test_other_caller_kinds_are_not_principals(arn: str) -> None:
    assert Principal.from_arn(arn) is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{", "not JSON"),
        ('{"kind": "role"}', "must be a JSON list"),
        ('["role"]', "principal mapping 0 is not an object"),
        ('[{"kind": "group", "account": "123456789012", "name": "x"}]', "kind 'group' is not one of"),
        ('[{"kind": "role", "arn": "arn:aws:iam::123456789012:user/bob", "username": "b"}]', "is not an IAM role ARN"),
        ('[{"kind": "role", "account": "1234", "name": "r", "username": "b"}]', "is not a 12-digit AWS account id"),
        ('[{"kind": "role", "account": "123456789012", "name": "r"}]', "needs the username"),
        ('[{"kind": "role_prefix", "account": "123456789012", "name": ""}]', "is empty"),
        (
            '[{"kind": "iam_user", "account": "123456789012", "name": "u", "admin": "yes"}]',
            "admin must be true or false",
        ),
        ('[{"kind": "iam_user", "account": "123456789012", "name": "u", "username": "a b"}]', "not a valid user name"),
    ],
)
def test_malformed_rules_name_the_rule(raw: str, message: str) -> None:
    with pytest.raises(MappingConfigError, match=message):
        parse_rules(raw)


def test_users_named_exactly_are_provisioned_at_start() -> None:
    assert provisioned_usernames(RULES) == [("alice", False), ("ops", True), ("ci-bot", False), ("carol-ci", False)]
