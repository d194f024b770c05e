"""Fixtures shared by every test: pinned apps and stacks, and JSON snapshots of normalized templates."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import aws_cdk as cdk
import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.harness import new_app, new_stack, normalize_template
from tests.harness.client_venv import ClientServices, ClientVenv, build_client_venv, client_services


@pytest.fixture
def app() -> cdk.App:
    """A fresh app with the pinned feature flags."""
    return new_app()


@pytest.fixture
def stack(app: cdk.App) -> cdk.Stack:
    """A fresh stack in the fixed test environment."""
    return new_stack(app)


@pytest.fixture
def template_snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """A syrupy snapshot stored as JSON; compare it with ``normalized(template)``.

    Update snapshots after an intended change with ``./dev snapshot-update``.
    """
    return snapshot.use_extension(JSONSnapshotExtension)


def normalized(template: Mapping[str, Any]) -> dict[str, Any]:
    """Shorthand used by snapshot tests."""
    return normalize_template(template)


@pytest.fixture(scope="session")
def client_venv(tmp_path_factory: pytest.TempPathFactory) -> ClientVenv:
    """The client wheel installed alone into a fresh venv (once per session; tests using it share an xdist group)."""
    return build_client_venv(tmp_path_factory.mktemp("client-venv"))


@pytest.fixture(scope="session")
def client_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClientServices]:
    """A real MLflow server with a registered scikit-learn model, and moto's S3 server (once per session)."""
    with client_services(tmp_path_factory.mktemp("client-services")) as services:
        yield services
