"""The built distributions: complete, valid metadata, the one version, and usable from a fresh install.

Builds the sdists and wheels of both distributions (``uv build --all-packages``: each wheel is built from
its sdist, so the sdists are proven complete too), checks their contents and metadata (the license file,
the PyPI description's links, project URLs), installs the constructs' wheel into a new virtual environment
outside the repository and synthesizes a ``SecureMlflowService`` there, from a directory that is not the
repository, so the package data (the server image's Docker build context) must come from the wheel.
The client's wheel is installed and used in ``tests/client/test_client_venv.py``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import tomllib
import zipfile
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from tests.harness.app import REPO_ROOT

# Builds and a jsii synthesis: keep them on one worker, once per session.
pytestmark = pytest.mark.xdist_group("packaging_wheel")

DISTRIBUTION = "mlflow-sagemaker-constructs"
PACKAGE = "mlflow_sagemaker_constructs"
PACKAGE_DIR = REPO_ROOT / "src" / PACKAGE
CLIENT_DISTRIBUTION = "mlflow-sagemaker-client"
CLIENT_PACKAGE = "mlflow_sagemaker_client"
CLIENT_PACKAGE_DIR = REPO_ROOT / "client" / "src" / CLIENT_PACKAGE
#: distribution -> (import package, its source directory relative to the project directory of the distribution)
SOURCES = {
    DISTRIBUTION: (PACKAGE, PACKAGE_DIR),
    CLIENT_DISTRIBUTION: (CLIENT_PACKAGE, CLIENT_PACKAGE_DIR),
}

#: Files the constructs read at synthesis or that ship in images: named, so a failure says what is missing.
REQUIRED_IN_WHEEL = [
    "py.typed",
    "tracking_server/server/Dockerfile",
    "tracking_server/server/.dockerignore",
    "tracking_server/server/entrypoint.py",
    "tracking_server/server/contract.py",
    "tracking_server/server/requirements.txt",
    "serving/image/Dockerfile",
    "serving/image/.dockerignore",
    "serving/image/entrypoint.py",
    "serving/image/requirements.txt",
    "studio/lifecycle.sh",
]
REQUIRED_IN_CLIENT_WHEEL = ["py.typed", "packaging/serving_image_pins.txt"]


@dataclass(frozen=True)
class Dists:
    wheel: Path
    sdist: Path


@dataclass(frozen=True)
class AllDists:
    by_name: dict[str, Dists]


def _uv() -> str:
    """The project's pinned uv (``./dev`` installs it), else the one in the environment."""
    for candidate in (REPO_ROOT / ".tools" / "uv" / "bin" / "uv", Path(sys.executable).parent / "uv"):
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("uv")
    assert found, "uv not found: run the tests through ./dev"
    return found


def _run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, check=False, timeout=300, **kwargs)
    assert result.returncode == 0, f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
    return result


def _pyproject_version() -> str:
    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert isinstance(version, str)
    return version


def _package_files(package_dir: Path = PACKAGE_DIR) -> set[str]:
    """Every file of the package the build should ship, relative to the package directory.

    Files git tracks plus untracked files it does not ignore (hatch honours .gitignore the same way),
    without bytecode; every file on disk when this is not a git checkout.
    """
    result = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", str(package_dir)],
        cwd=REPO_ROOT,
        capture_output=True,
        check=False,
    )
    if result.returncode == 0 and result.stdout:
        candidates = [REPO_ROOT / name for name in result.stdout.decode().split("\0") if name]
    else:
        candidates = [p for p in package_dir.rglob("*") if p.is_file()]
    return {
        path.relative_to(package_dir).as_posix()
        for path in candidates
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in {".pyc", ".pyo"}
    }


@pytest.fixture(scope="module")
def all_dists(tmp_path_factory: pytest.TempPathFactory) -> AllDists:
    """What the release's package task builds: ``uv build --all-packages``."""
    out = tmp_path_factory.mktemp("dist")
    _run([_uv(), "build", "--all-packages", "--out-dir", str(out)], cwd=REPO_ROOT)
    by_name = {}
    for name, (package, _) in SOURCES.items():
        wheels, sdists = sorted(out.glob(f"{package}-*.whl")), sorted(out.glob(f"{package}-*.tar.gz"))
        assert len(wheels) == 1, wheels
        assert len(sdists) == 1, sdists
        by_name[name] = Dists(wheel=wheels[0], sdist=sdists[0])
    assert len(list(out.glob("*.whl"))) == len(SOURCES)
    _run([sys.executable, str(REPO_ROOT / "scripts" / "stamp_version.py"), "verify", str(out)])
    return AllDists(by_name)


@pytest.fixture(scope="module")
def dists(all_dists: AllDists) -> Dists:
    return all_dists.by_name[DISTRIBUTION]


@pytest.fixture(params=list(SOURCES))
def any_dists(request: pytest.FixtureRequest, all_dists: AllDists) -> tuple[str, Dists]:
    name: str = request.param
    return name, all_dists.by_name[name]


def test_wheel_ships_every_package_file(any_dists: tuple[str, Dists]) -> None:
    name, dists = any_dists
    package, package_dir = SOURCES[name]
    with zipfile.ZipFile(dists.wheel) as wheel:
        names = set(wheel.namelist())
    required = REQUIRED_IN_WHEEL if name == DISTRIBUTION else REQUIRED_IN_CLIENT_WHEEL
    missing_required = [f for f in required if f"{package}/{f}" not in names]
    assert not missing_required, f"wheel lacks {missing_required}"
    expected = _package_files(package_dir)
    assert set(required) <= expected
    missing = sorted(f for f in expected if f"{package}/{f}" not in names)
    assert not missing, f"wheel lacks package files (package data?): {missing}"
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_sdist_ships_every_package_file(any_dists: tuple[str, Dists]) -> None:
    name, dists = any_dists
    package, package_dir = SOURCES[name]
    prefix = dists.sdist.name.removesuffix(".tar.gz") + f"/src/{package}/"
    with tarfile.open(dists.sdist) as sdist:
        names = {m.name.removeprefix(prefix) for m in sdist.getmembers() if m.name.startswith(prefix)}
    missing = sorted(_package_files(package_dir) - names)
    assert not missing, f"sdist lacks {missing}"


def _metadata(dists: Dists, package: str, version: str) -> tuple[Message, Message]:
    with zipfile.ZipFile(dists.wheel) as wheel:
        wheel_metadata = HeaderParser().parsestr(wheel.read(f"{package}-{version}.dist-info/METADATA").decode())
    with tarfile.open(dists.sdist) as sdist:
        member = sdist.extractfile(f"{package}-{version}/PKG-INFO")
        assert member is not None
        sdist_metadata = HeaderParser().parsestr(member.read().decode())
    return wheel_metadata, sdist_metadata


def test_built_version_is_pyprojects(any_dists: tuple[str, Dists]) -> None:
    name, dists = any_dists
    package, _ = SOURCES[name]
    version = _pyproject_version()
    wheel_metadata, sdist_metadata = _metadata(dists, package, version)
    assert wheel_metadata["Name"] == sdist_metadata["Name"] == name
    assert wheel_metadata["Version"] == sdist_metadata["Version"] == version
    assert dists.wheel.name.startswith(f"{package}-{version}-")


def test_twine_check_passes(all_dists: AllDists) -> None:
    files = [str(path) for dists in all_dists.by_name.values() for path in (dists.wheel, dists.sdist)]
    _run([sys.executable, "-m", "twine", "check", "--strict", *files])


def test_license_is_in_every_wheel_and_sdist(any_dists: tuple[str, Dists]) -> None:
    name, dists = any_dists
    package, _ = SOURCES[name]
    version = _pyproject_version()
    license_text = (REPO_ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in license_text
    assert "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text
    with zipfile.ZipFile(dists.wheel) as wheel:
        assert wheel.read(f"{package}-{version}.dist-info/licenses/LICENSE").decode() == license_text
    with tarfile.open(dists.sdist) as sdist:
        member = sdist.extractfile(f"{package}-{version}/LICENSE")
        assert member is not None
        assert member.read().decode() == license_text
    wheel_metadata, sdist_metadata = _metadata(dists, package, version)
    for metadata_ in (wheel_metadata, sdist_metadata):
        assert metadata_["License-Expression"] == "Apache-2.0"
        assert metadata_.get_all("License-File") == ["LICENSE"]


# A Markdown link or image target, inline or reference-style, and an HTML href/src.
_LINK_TARGETS = re.compile(
    r"\]\((?P<inline>[^)\s]+)|^\s*\[[^\]]+\]:\s*(?P<reference>\S+)|(?:href|src)=\"(?P<html>[^\"]+)\"", re.M
)


def test_pypi_description_links_are_absolute(any_dists: tuple[str, Dists]) -> None:
    """What PyPI shows is the long description in the metadata: relative links would point nowhere there."""
    name, dists = any_dists
    package, _ = SOURCES[name]
    wheel_metadata, _ = _metadata(dists, package, _pyproject_version())
    assert wheel_metadata["Description-Content-Type"] == "text/markdown"
    description = wheel_metadata.get_payload()
    assert isinstance(description, str)
    targets = [next(t for t in match.groups() if t) for match in _LINK_TARGETS.finditer(description)]
    assert targets, "the description has links (docs, getting started)"
    relative = [t for t in targets if not t.startswith(("https://", "#"))]
    assert not relative, f"relative links in the PyPI description of {name}: {relative}"
    assert "pip install" in description
    assert any("getting-started" in t for t in targets), "the description links to the getting-started guide"


def test_metadata_has_project_urls_classifiers_and_no_placeholder_email(any_dists: tuple[str, Dists]) -> None:
    name, dists = any_dists
    package, _ = SOURCES[name]
    wheel_metadata, _ = _metadata(dists, package, _pyproject_version())
    urls = dict(url.split(", ", 1) for url in wheel_metadata.get_all("Project-URL") or [])
    assert {"Source", "Documentation", "Issues", "Changelog"} <= set(urls), urls
    assert all(url.startswith("https://") for url in urls.values())
    classifiers = wheel_metadata.get_all("Classifier") or []
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert ".invalid" not in str(wheel_metadata)
    assert wheel_metadata["Author-email"] is None


_APP = textwrap.dedent(
    """
    import json
    import sys
    from importlib import metadata
    from pathlib import Path

    import aws_cdk as cdk
    from aws_cdk import aws_ec2 as ec2

    import mlflow_sagemaker_constructs
    from mlflow_sagemaker_constructs import SecureMlflowService

    # The feature flags `cdk init` writes into cdk.json (the CLI would pass them as context).
    app = cdk.App(outdir=sys.argv[1], context=json.loads(Path("feature_flags.json").read_text()))
    stack = cdk.Stack(app, "Packaged", env=cdk.Environment(account="123456789012", region="us-east-1"))
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id="vpc-0123456789abcdef0",
        vpc_cidr_block="10.20.0.0/16",
        availability_zones=["us-east-1a", "us-east-1b"],
        private_subnet_ids=["subnet-0a000000000000001", "subnet-0a000000000000002"],
        private_subnet_route_table_ids=["rtb-0a000000000000001", "rtb-0a000000000000002"],
        isolated_subnet_ids=["subnet-0b000000000000001", "subnet-0b000000000000002"],
        isolated_subnet_route_table_ids=["rtb-0b000000000000001", "rtb-0b000000000000002"],
    )
    SecureMlflowService(stack, "Mlflow", vpc=vpc)
    app.synth()
    print(json.dumps({
        "module_file": str(Path(mlflow_sagemaker_constructs.__file__).resolve()),
        "prefix": str(Path(sys.prefix).resolve()),
        "version": mlflow_sagemaker_constructs.__version__,
        "metadata_version": metadata.version("mlflow-sagemaker-constructs"),
    }))
    """
)


def _constraints() -> str:
    """Pin every dependency to the version in this environment: the install resolves from uv's cache."""
    pins: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and name.lower().replace("_", "-") != DISTRIBUTION:
            pins.setdefault(name.lower(), f"{name}=={dist.version}")
    return "\n".join(sorted(pins.values())) + "\n"


def test_installed_wheel_synthesizes_outside_the_repository(
    dists: Dists, tmp_path_factory: pytest.TempPathFactory
) -> None:
    work = tmp_path_factory.mktemp("installed")
    assert not work.resolve().is_relative_to(REPO_ROOT)
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    (work / "constraints.txt").write_text(_constraints())
    install = [_uv(), "pip", "install", "--quiet", "--python", str(python), "--constraint", "constraints.txt"]
    _run([*install, str(dists.wheel)], cwd=work)
    (work / "app.py").write_text(_APP)
    shutil.copy(REPO_ROOT / "examples" / "cdk_feature_flags.json", work / "feature_flags.json")
    # No trace of the repository or the development environment; Node.js stays on PATH for jsii.
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}}
    # Let imports write __pycache__ next to the sources: the asset must exclude it.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPYCACHEPREFIX", None)
    outdir = work / "cdk.out"
    result = _run([str(python), "app.py", str(outdir)], cwd=work, env=env)
    report = json.loads(result.stdout.strip().splitlines()[-1])

    installed = Path(report["module_file"]).parent
    assert Path(report["module_file"]).is_relative_to(venv.resolve()), report
    assert Path(report["prefix"]) == venv.resolve()
    assert report["version"] == report["metadata_version"] == _pyproject_version()

    template = json.loads((outdir / "Packaged.template.json").read_text())
    types = [resource["Type"] for resource in template["Resources"].values()]
    assert types.count("AWS::ECS::Service") == 1

    assets = json.loads((outdir / "Packaged.assets.json").read_text())
    images = list(assets["dockerImages"].values())
    assert len(images) == 1, images
    context = outdir / images[0]["source"]["directory"]
    shipped = installed / "tracking_server" / "server" / "Dockerfile"
    assert (context / "Dockerfile").read_bytes() == shipped.read_bytes()
    assert shipped.read_bytes() == (PACKAGE_DIR / "tracking_server" / "server" / "Dockerfile").read_bytes()
    for name in ("entrypoint.py", "contract.py", "requirements.txt"):
        assert (context / name).is_file(), name
    assert not list(context.rglob("__pycache__")), "the Docker build context includes bytecode caches"
