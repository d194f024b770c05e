"""Unit tests of the request policies: artifact locations and user passwords."""

from __future__ import annotations

import pytest

from mlflow_sagemaker_constructs.tracking_server.server import contract, request_policy
from mlflow_sagemaker_constructs.tracking_server.server.request_policy import (
    PolicyViolationError,
    check_artifact_location,
    check_password,
    is_within,
)

PROXIED_ROOT = "mlflow-artifacts:/"
DIRECT_ROOT = "s3://artifacts-bucket/mlflow"


def test_the_root_is_the_proxied_scheme_or_the_bucket_prefix() -> None:
    assert request_policy.artifact_root({contract.ARTIFACTS_MODE: "proxied"}) == PROXIED_ROOT
    direct = {contract.ARTIFACTS_MODE: "direct", contract.ARTIFACTS_URI: DIRECT_ROOT}
    assert request_policy.artifact_root(direct) == DIRECT_ROOT


@pytest.mark.parametrize(
    ("location", "root", "inside"),
    [
        ("mlflow-artifacts:/team-a", PROXIED_ROOT, True),
        ("s3://artifacts-bucket/mlflow/custom", DIRECT_ROOT, True),
        ("s3://artifacts-bucket/mlflow", DIRECT_ROOT, True),
        ("S3://ARTIFACTS-BUCKET/mlflow/x", DIRECT_ROOT, True),
        ("s3://artifacts-bucket/mlflow-other/x", DIRECT_ROOT, False),
        ("s3://artifacts-bucket/other", DIRECT_ROOT, False),
        ("s3://another-bucket/mlflow/x", DIRECT_ROOT, False),
        ("file:///etc", DIRECT_ROOT, False),
        ("file:///etc", PROXIED_ROOT, False),
        ("/etc", PROXIED_ROOT, False),
        ("s3://artifacts-bucket/mlflow", PROXIED_ROOT, False),
    ],
)
def test_is_within(location: str, root: str, inside: bool) -> None:
    assert is_within(location, root) is inside


@pytest.mark.parametrize(
    "location",
    [
        "s3://artifacts-bucket/mlflow/../other",
        "s3://artifacts-bucket/mlflow/%2e%2e/other",
        "s3://artifacts-bucket/mlflow/%252e%252e/other",
        "s3://artifacts-bucket/mlflow/a%2Fb",
        "s3://artifacts-bucket/mlflow/x?versionId=1",
        "mlflow-artifacts:/x#frag",
    ],
)
def test_traversal_and_tricks_are_refused_even_for_admins(location: str) -> None:
    with pytest.raises(PolicyViolationError):
        check_artifact_location(location, DIRECT_ROOT, is_admin=True, auth_enabled=True)


def test_only_admins_choose_a_location_and_only_inside_the_root() -> None:
    check_artifact_location("", DIRECT_ROOT, is_admin=False, auth_enabled=True)
    check_artifact_location("s3://artifacts-bucket/mlflow/shared", DIRECT_ROOT, is_admin=True, auth_enabled=True)
    with pytest.raises(PolicyViolationError, match="only be chosen by an MLflow admin"):
        check_artifact_location("s3://artifacts-bucket/mlflow/mine", DIRECT_ROOT, is_admin=False, auth_enabled=True)
    with pytest.raises(PolicyViolationError, match="outside this server's artifact store"):
        check_artifact_location("file:///etc", DIRECT_ROOT, is_admin=True, auth_enabled=True)


def test_without_authentication_the_root_still_applies() -> None:
    check_artifact_location("s3://artifacts-bucket/mlflow/x", DIRECT_ROOT, is_admin=False, auth_enabled=False)
    with pytest.raises(PolicyViolationError, match="outside"):
        check_artifact_location("s3://elsewhere/x", DIRECT_ROOT, is_admin=False, auth_enabled=False)


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("bob", "short-pw", "at least 12"),
        ("bob", "password1234", "well-known"),
        ("bob", "PASSWORD1234", "well-known"),
        ("bob", "aaaaaaaaaaaaaaaa", "well-known"),
        ("bob", "abababababababab", "well-known"),
        ("bob.smith", "my-name-is-BOB.SMITH", "user name"),
    ],
)
def test_weak_passwords_are_refused(username: str, password: str, message: str) -> None:
    with pytest.raises(PolicyViolationError, match=message):
        check_password(username, password)


def test_a_reasonable_password_passes() -> None:
    check_password("bob", "correct-horse-battery")


def test_the_known_bad_list_only_holds_passwords_long_enough_to_pass_the_length_rule() -> None:
    # Shorter entries would be dead weight: the length rule refuses them already.
    assert all(len(p) >= contract.MIN_USER_PASSWORD_LENGTH for p in request_policy.KNOWN_BAD_PASSWORDS)
    assert all(p == p.casefold() for p in request_policy.KNOWN_BAD_PASSWORDS)


LEGACY_RUN = "s3://old-bucket/3/0123abcd/artifacts"


@pytest.mark.parametrize(
    ("source", "run_artifact_uri"),
    [
        ("runs:/0123abcd/model", None),
        ("models:/m-1234", None),
        ("mlflow-artifacts:/1/0123abcd/artifacts/model", None),
        ("prompt-template", None),
        ("dummy-source", None),
        (f"{LEGACY_RUN}/model", LEGACY_RUN),
        (LEGACY_RUN, LEGACY_RUN),
    ],
)
def test_model_version_sources_the_server_serves(source: str, run_artifact_uri: str | None) -> None:
    request_policy.check_model_version_source(source, run_artifact_uri)


@pytest.mark.parametrize(
    ("source", "run_artifact_uri", "message"),
    [
        ("s3://old-bucket/3/0123abcd/artifacts/model", None, "Invalid model version source"),
        ("s3://old-bucket/4/other/artifacts/model", LEGACY_RUN, "Invalid model version source"),
        ("s3://other-bucket/3/0123abcd/artifacts/model", LEGACY_RUN, "Invalid model version source"),
        (f"{LEGACY_RUN}/../../4/other/artifacts", LEGACY_RUN, "must not contain '..'"),
        (f"{LEGACY_RUN}/%2e%2e/%2e%2e/4", LEGACY_RUN, "must not contain '..'"),
        (f"{LEGACY_RUN}x/model", LEGACY_RUN, "Invalid model version source"),
        ("file:///etc/passwd", None, "Invalid model version source"),
        ("/etc/passwd", "file:///etc", "Invalid model version source"),
        ("s3://old-bucket/3/0123abcd/artifacts/model", "mlflow-artifacts:/3/0123abcd/artifacts", "Invalid"),
    ],
)
def test_model_version_sources_outside_the_named_run_are_refused(
    source: str, run_artifact_uri: str | None, message: str
) -> None:
    with pytest.raises(PolicyViolationError, match=message):
        request_policy.check_model_version_source(source, run_artifact_uri)
