"""The documentation site builds with ``mkdocs build --strict`` and every page under docs/ is in its nav.

The build renders the API reference pages from the docstrings (mkdocstrings, sphinx style), so a
docstring that griffe cannot parse, a broken link or anchor, or a page missing from the nav fails here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mkdocs.config import load_config

from tests.harness.app import REPO_ROOT

# One build per test session: the tests share the module-scoped site on one xdist worker.
pytestmark = pytest.mark.xdist_group("docs")

DOCS_DIR = REPO_ROOT / "docs"
MKDOCS_YML = REPO_ROOT / "mkdocs.yml"

# mkdocs and its plugins report problems as log records "WARNING - ..." (and "ERROR - ...").
_PROBLEM = re.compile(r"^\s*(WARNING|ERROR)\b", re.MULTILINE)


def _nav_pages(nav: Any) -> Iterator[str]:
    """Every page path in a mkdocs nav (nested lists of ``{title: path-or-list}`` or bare paths)."""
    if isinstance(nav, str):
        if "://" not in nav:
            yield nav
    elif isinstance(nav, list):
        for item in nav:
            yield from _nav_pages(item)
    elif isinstance(nav, dict):
        for value in nav.values():
            yield from _nav_pages(value)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Build the site once into a temp dir; return it and mkdocs' output."""
    site_dir = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(MKDOCS_YML), "-d", str(site_dir)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{output}"
    return site_dir, output


def test_site_builds_strict_without_warnings(site: tuple[Path, str]) -> None:
    _, output = site
    problems = [line for line in output.splitlines() if _PROBLEM.match(line)]
    assert not problems, "mkdocs reported problems:\n" + "\n".join(problems)


def test_api_reference_is_rendered_from_docstrings(site: tuple[Path, str]) -> None:
    site_dir, _ = site
    # A docstring sentence of the constructor, which only mkdocstrings can have put there.
    page = (site_dir / "reference" / "secure-mlflow-service" / "index.html").read_text()
    assert "SecureMlflowService" in page
    assert "autoscaling minimum" in page
    for reference in (REPO_ROOT / "docs" / "reference").glob("*.md"):
        html = (site_dir / "reference" / reference.stem / "index.html").read_text()
        assert 'class="doc doc-object' in html, f"{reference.name} rendered no API objects"


def test_every_page_is_in_the_nav() -> None:
    in_nav = set(_nav_pages(load_config(config_file=str(MKDOCS_YML)).nav))
    pages = {path.relative_to(DOCS_DIR).as_posix() for path in DOCS_DIR.rglob("*.md")}
    assert not sorted(pages - in_nav), f"pages missing from mkdocs.yml's nav: {sorted(pages - in_nav)}"
    assert not sorted(in_nav - pages), f"nav entries without a page: {sorted(in_nav - pages)}"


def test_reference_directives_name_existing_modules() -> None:
    """Each ``::: module`` directive names a module that exists, and no page repeats one."""
    directives = [
        match.group(1)
        for page in sorted((DOCS_DIR / "reference").glob("*.md"))
        for match in re.finditer(r"^::: ([\w.]+)\s*$", page.read_text(), re.MULTILINE)
    ]
    assert directives
    assert len(directives) == len(set(directives))
    for module in directives:
        candidates = [root / Path(*module.split(".")) for root in (REPO_ROOT / "src", REPO_ROOT / "client" / "src")]
        assert any(path.with_suffix(".py").is_file() or (path / "__init__.py").is_file() for path in candidates), module
