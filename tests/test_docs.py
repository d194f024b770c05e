"""The documentation site builds with ``mkdocs build --strict`` and every page under docs/ is in its nav.

The build renders the API reference pages from the docstrings (mkdocstrings, sphinx style), so a
docstring that griffe cannot parse, a broken link or anchor, or a page missing from the nav fails here.
It runs without network access where it can (a new network namespace, as root): the diagrams are rendered
at build time (Graphviz, and the example apps synthesized and drawn), and no page loads anything from a CDN.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
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


def _without_network() -> list[str]:
    """A command prefix that runs the build in a new network namespace (no interfaces up), where possible."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "--net", "true"], capture_output=True, check=False).returncode == 0:
        return [unshare, "--net"]
    return []


#: Pages with diagrams, and how many pictures each shows.
DIAGRAM_PAGES = {
    "index.html": 1,
    "security/index.html": 1,
    "constructs/secure-mlflow-service/index.html": 1,
    "constructs/private-http-api/index.html": 1,
    "constructs/model-endpoint/index.html": 1,
    "constructs/studio/index.html": 1,
    "examples/index.html": len(list((REPO_ROOT / "examples").glob("*/app.py"))),
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Build the site once into a temp dir, without network access where possible; return it and mkdocs' output."""
    site_dir = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [
            *_without_network(),
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            str(MKDOCS_YML),
            "-d",
            str(site_dir),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,  # the example apps are synthesized for their pictures (cached under .build/diagrams)
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


class _References(HTMLParser):
    """Every ``src`` and stylesheet/script ``href`` of a page, and its images."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img" and values.get("src"):
            self.images.append(values["src"] or "")
        if values.get("src"):
            self.loads.append(values["src"] or "")
        if (
            tag == "link"
            and values.get("href")
            and (values.get("rel") or "") in ("stylesheet", "preload", "preconnect")
        ):
            self.loads.append(values["href"] or "")


def _parse(page: Path) -> _References:
    parser = _References()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def test_no_page_loads_anything_from_another_host(site: tuple[Path, str]) -> None:
    site_dir, _ = site
    remote = {
        f"{page.relative_to(site_dir)}: {ref}"
        for page in site_dir.rglob("*.html")
        for ref in _parse(page).loads
        if re.match(r"^(https?:)?//", ref)
    }
    assert not remote, f"pages load from other hosts (a CDN): {sorted(remote)[:10]}"
    assert not [p for p in site_dir.rglob("*.html") if "mermaid" in p.read_text(encoding="utf-8")]
    assert not [p for p in site_dir.rglob("*.css") if "fonts.googleapis" in p.read_text(encoding="utf-8")]


def test_every_diagram_is_a_local_non_empty_file(site: tuple[Path, str]) -> None:
    site_dir, _ = site
    for page_name, count in DIAGRAM_PAGES.items():
        page = site_dir / page_name
        diagrams = [src for src in _parse(page).images if "diagrams/" in src]
        assert len(diagrams) == count, f"{page_name}: {diagrams}"
        for src in diagrams:
            assert "://" not in src, f"{page_name}: {src} is not served with the site"
            picture = (page.parent / src).resolve()
            assert picture.is_relative_to(site_dir.resolve()), src
            assert picture.is_file(), f"{page_name}: {src} does not exist in the site"
            content = picture.read_bytes()
            assert len(content) > 1000, f"{page_name}: {src} is (nearly) empty"
            if picture.suffix == ".svg":
                assert b"<svg" in content
                assert b"<text" in content
            else:
                assert content.startswith(b"\x89PNG")
    # Every picture the docs reference anywhere exists.
    for page in site_dir.rglob("*.html"):
        for src in _parse(page).images:
            if "diagrams/" in src:
                assert (page.parent / src).resolve().is_file(), f"{page}: {src}"


def test_example_pictures_are_drawn_from_the_synthesized_apps(site: tuple[Path, str]) -> None:
    """A picture per example app, big enough to read (not a thumbnail), from the apps as they are."""
    import struct

    site_dir, _ = site
    for app in sorted((REPO_ROOT / "examples").glob("*/app.py")):
        picture = site_dir / "diagrams" / "examples" / f"{app.parent.name}.png"
        header = picture.read_bytes()[:24]
        width, height = struct.unpack(">II", header[16:24])
        assert width >= 600, (picture.name, width, height)
        assert height >= 300, (picture.name, width, height)
