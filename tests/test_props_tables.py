"""The construct pages' props tables are what the code says (``scripts/props_tables.py``).

A changed signature or ``:param:`` docstring fails here until the pages are regenerated with
``./dev shell python scripts/props_tables.py``; a parameter without a ``:param:`` (or, when optional,
without ``Default: ...``) fails here until its docstring is written.
"""

from __future__ import annotations

import re

import pytest
from scripts import props_tables

from tests.harness.app import REPO_ROOT

REGENERATE = "./dev shell python scripts/props_tables.py"


@pytest.fixture(scope="module")
def targets() -> dict[str, props_tables.Target]:
    return props_tables.targets()


def test_every_public_construct_and_factory_is_a_target(targets: dict[str, props_tables.Target]) -> None:
    # Spot checks of the discovery: constructs, option-object factories and plain value classes.
    for name in (
        "SecureMlflowService",
        "SecureMlflowService.from_attributes",
        "PrivateHttpApi",
        "StudioDomainOrUser",
        "MlflowTrainingConfig",
        "MlflowModelEndpoint",
        "TrackingDatabase.aurora_serverless",
        "TrackingDatabase.existing",
        "TrackingDatabase.from_cluster",
        "ExistingDatabase",
        "ArtifactStore.new_bucket",
        "ArtifactStore.existing_bucket",
        "ServerAccess.load_balancer",
        "Listener.http",
        "Listener.https",
        "AccessLogs.new_bucket",
        "AccessLogs.disabled",
        "MlflowAuthentication.basic_auth",
        "MlflowAuthentication.disabled",
        "ServerImage.bundled_asset",
        "ServerImage.deploy_time_build",
        "ServerImage.from_container_image",
        "EndpointVariant.real_time",
        "EndpointVariant.serverless",
        "Autoscaling",
        "DataCapture",
        "ServingImage.bundled_asset",
        "ServingImage.from_repository",
    ):
        assert name in targets, name
    # Enums and option objects made only through their factories have no table of their own.
    assert "DatabaseEngine" not in targets
    assert "TrackingDatabase" not in targets
    assert "EndpointVariant" not in targets


def test_docstrings_document_every_parameter_and_default(targets: dict[str, props_tables.Target]) -> None:
    problems = props_tables.problems(targets)
    assert not problems, "fix the docstrings (or the pages' markers):\n" + "\n".join(problems)


def test_pages_show_the_tables_the_code_renders(targets: dict[str, props_tables.Target]) -> None:
    stale = [str(page.relative_to(REPO_ROOT)) for page, _ in props_tables.stale_pages(targets)]
    assert not stale, f"props tables are stale in {stale}: run {REGENERATE}"


def test_each_construct_page_has_its_construct_table_and_the_sections_of_a_construct_page() -> None:
    pages = {
        "secure-mlflow-service.md": "SecureMlflowService",
        "private-http-api.md": "PrivateHttpApi",
        "studio.md": "StudioDomainOrUser",
        "model-endpoint.md": "MlflowModelEndpoint",
    }
    constructs_dir = REPO_ROOT / "docs" / "constructs"
    assert sorted(p.name for p in constructs_dir.glob("*.md")) == sorted(pages)
    for page, construct in pages.items():
        text = (constructs_dir / page).read_text(encoding="utf-8")
        assert f"<!-- props:{construct} -->" in text, page
        headings = {m.group(1).lower() for m in re.finditer(r"^##+ (.+)$", text, re.MULTILINE)}
        for section in ("what it creates", "props", "examples", "limits"):
            assert any(h.startswith(section) for h in headings), f"{page} has no '## {section.capitalize()}' section"


# The parser's edge cases, on made-up docstrings.


def test_default_sentence_is_split_from_the_description() -> None:
    assert props_tables.split_default("subnets of a new domain. Default: private, else isolated. New domain only.") == (
        "subnets of a new domain. New domain only.",
        "private, else isolated",
    )
    assert props_tables.split_default("task memory. Default: 2048 MiB (e.g. two workers).") == (
        "task memory.",
        "2048 MiB (e.g. two workers)",
    )
    assert props_tables.split_default("the VPC.") == ("the VPC.", None)


def test_param_docs_join_continuation_lines_and_convert_markup() -> None:
    doc = """Summary.

    :param a: first line
        second line with ``code`` and :class:`~x.y.Thing`.
    :param b: one | two. Default: ``X``.
    """
    import inspect

    assert props_tables.param_docs(inspect.cleandoc(doc)) == {
        "a": "first line second line with `code` and `Thing`.",
        "b": "one \\| two. Default: `X`.",
    }
    with pytest.raises(ValueError, match="inside code"):
        props_tables.to_markdown("``A | B``")


def test_literal_defaults_must_appear_in_the_default_text() -> None:
    import enum

    class Color(enum.Enum):
        DARK_RED = "dark-red"

    assert props_tables._literal_in(0, "0 (pauses when idle)")
    assert not props_tables._literal_in(0, "10 minutes")
    assert props_tables._literal_in(1024, "1,024 units")
    assert props_tables._literal_in(0.5, "0.5 ACU")
    assert props_tables._literal_in(False, "False (off)")
    assert not props_tables._literal_in(True, "False")
    assert props_tables._literal_in("mlflow", '`"mlflow"`')
    assert props_tables._literal_in(Color.DARK_RED, "dark red")
    assert props_tables._literal_in(None, "anything")
