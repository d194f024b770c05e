"""Fixtures shared by every test: pinned apps and stacks, and JSON snapshots of normalized templates."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.harness import new_app, new_stack, normalize_template
from tests.harness.client_venv import ClientServices, ClientVenv, build_client_venv, client_services
from tests.harness.sts import StsServer

if TYPE_CHECKING:
    from tests.harness.containers import Images


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


@pytest.fixture(scope="module")
def sts() -> Iterator[StsServer]:
    """STS (and IAM) emulated by moto, checking SigV4 signatures: IAM tokens verify against it."""
    with StsServer.start() as server:
        yield server


@pytest.fixture(scope="session")
def shipped_images(tmp_path_factory: pytest.TempPathFactory) -> Images:
    """The server and serving images, built from their Dockerfiles as shipped (``scripts/build_images.py``).

    Cached between runs; ``./dev test`` starts the same build in the background at the beginning of the
    run, and this call waits for it. Fails (never skips) when buildah or debootstrap is missing.
    """
    from tests.harness.containers import build_images

    log = tmp_path_factory.mktemp("images") / "build.log"
    images = build_images(("server", "serving"), log)
    for line in log.read_text(encoding="utf-8").splitlines():
        if line.startswith("[images]"):
            print(line)
    return images


#: The xdist group of the tests that build and run the shipped images.
IMAGES_GROUP = "images"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Schedule the image tests last: their images build in the background meanwhile (``./dev test``), so the
    other tests keep both xdist workers busy instead of one worker waiting for the build."""
    last = [item for item in items if _xdist_group(item) == IMAGES_GROUP]
    if last:
        items[:] = [item for item in items if _xdist_group(item) != IMAGES_GROUP] + last


def _xdist_group(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("xdist_group")
    if marker is None:
        return None
    return str(marker.args[0] if marker.args else marker.kwargs.get("name", ""))
