"""The Studio JupyterLab lifecycle script, run in bash against a fake ``aws`` CLI and a temporary home.

The fake ``aws`` answers ``secretsmanager get-secret-value`` for one secret only (checking the region the
script derives from the ARN) and fails like the real CLI for any other. Every test checks what the script
leaves behind the way Studio would use it: a fresh bash sourcing ``~/.bashrc``, a Python process running the
IPython startup file, and MLflow's own credentials reader.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlflow_sagemaker_constructs import MlflowAuthentication, SecureMlflowService, __version__
from mlflow_sagemaker_constructs.studio.domain import StudioDomainOrUser
from mlflow_sagemaker_constructs.studio.lifecycle_config import render_script
from tests.harness import new_stack
from tests.harness.vpc import imported_vpc

SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mlflow-alice-AbCdEf"
URI = "http://internal-Mlflow-123456789.us-east-1.elb.amazonaws.com"
# Characters that break naive shell quoting, configparser interpolation or JSON embedding.
PASSWORD = "p%ss'w\"rd$(id)`x`\\;|&*?"
SDK_CONFIG = json.dumps(
    {
        "SchemaVersion": "1.0",
        "SageMaker": {
            "TrainingJob": {
                "VpcConfig": {"Subnets": ["subnet-0a1"], "SecurityGroupIds": ["sg-0b2"]},
                "Environment": {"MLFLOW_TRACKING_URI": URI, "MLFLOW_CREDENTIALS_SECRET_ARN": SECRET_ARN},
            }
        },
    }
)

FAKE_AWS = textwrap.dedent(
    """\
    #!/usr/bin/env python3
    import json, os, sys
    args = sys.argv[1:]
    with open(os.environ["FAKE_AWS_LOG"], "a") as log:
        log.write(json.dumps(args) + "\\n")
    def value(flag):
        return args[args.index(flag) + 1] if flag in args else None
    if args[:2] != ["secretsmanager", "get-secret-value"] or value("--secret-id") != os.environ["FAKE_AWS_SECRET_ID"]:
        print("An error occurred (AccessDeniedException) when calling the GetSecretValue operation: "
              "User is not authorized to perform: secretsmanager:GetSecretValue", file=sys.stderr)
        sys.exit(254)
    if value("--region") != os.environ["FAKE_AWS_REGION"]:
        print("An error occurred (ResourceNotFoundException): wrong region", file=sys.stderr)
        sys.exit(254)
    assert value("--query") == "SecretString" and value("--output") == "json", args
    print(json.dumps(os.environ["FAKE_AWS_SECRET_STRING"]))
    """
)


@dataclass
class Run:
    """One run of the script: exit code and output."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class Sandbox:
    """A temporary home, a bin directory with the fake ``aws`` and the script under test."""

    root: Path
    home: Path
    bin: Path
    aws_log: Path

    def write_script(self, **settings: Any) -> Path:
        script = self.root / "lifecycle.sh"
        script.write_text(render_script(**settings))
        return script

    def run(
        self,
        script: Path,
        *,
        secret_string: str | None = None,
        secret_id: str = SECRET_ARN,
        region: str = "eu-west-1",
        with_aws: bool = True,
    ) -> Run:
        path = f"{self.bin}:/usr/bin:/bin" if with_aws else "/usr/bin:/bin"
        env = {
            "HOME": str(self.home),
            "PATH": path,
            "FAKE_AWS_LOG": str(self.aws_log),
            "FAKE_AWS_SECRET_ID": secret_id,
            "FAKE_AWS_REGION": region,
            "FAKE_AWS_SECRET_STRING": secret_string
            if secret_string is not None
            else json.dumps({"username": "alice", "password": PASSWORD}),
        }
        result = subprocess.run(
            ["/bin/bash", str(script)], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        return Run(result.returncode, result.stdout, result.stderr)

    def shell_env(self) -> dict[str, str]:
        """The environment of a fresh bash that sources ``~/.bashrc`` as an interactive shell would."""
        result = subprocess.run(
            ["/bin/bash", "--noprofile", "--norc", "-c", 'source "$HOME/.bashrc" && env -0'],
            env={"HOME": str(self.home), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            check=True,
        )
        pairs = [item.split("=", 1) for item in result.stdout.decode().split("\0") if "=" in item]
        return {k: v for k, v in pairs}

    def kernel_env(self) -> dict[str, str]:
        """``os.environ`` of a Python process after the IPython startup file ran, as in a kernel."""
        startup = self.home / ".ipython" / "profile_default" / "startup" / "00-mlflow.py"
        code = (
            "import json, os\n"
            "for key in [k for k in os.environ if k.startswith(('MLFLOW_', 'SAGEMAKER_'))]: del os.environ[key]\n"
            f"exec(open({str(startup)!r}).read())\n"
            "print(json.dumps(dict(os.environ)))\n"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        env: dict[str, str] = json.loads(result.stdout)
        return env

    def mlflow_credentials(self) -> tuple[str | None, str | None]:
        """What MLflow's own credentials reader finds in this home (no MLFLOW_* variables set)."""
        code = (
            "import json\n"
            "from mlflow.utils.credentials import read_mlflow_creds\n"
            "c = read_mlflow_creds()\n"
            "print(json.dumps([c.username, c.password]))\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        env["HOME"] = str(self.home)
        result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        username, password = json.loads(result.stdout.strip().splitlines()[-1])
        return username, password

    def files(self) -> dict[str, bytes]:
        return {str(p.relative_to(self.home)): p.read_bytes() for p in sorted(self.home.rglob("*")) if p.is_file()}


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    home = tmp_path / "home"
    home.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    aws = bin_dir / "aws"
    aws.write_text(FAKE_AWS)
    aws.chmod(0o755)
    return Sandbox(root=tmp_path, home=home, bin=bin_dir, aws_log=tmp_path / "aws.log")


@pytest.fixture
def basic_script(sandbox: Sandbox) -> Path:
    return sandbox.write_script(
        tracking_uri=URI, auth="basic", secret_id=SECRET_ARN, region="us-east-1", sdk_config=SDK_CONFIG
    )


def test_the_script_is_valid_bash_and_fits_sagemakers_limit(basic_script: Path) -> None:
    subprocess.run(["/bin/bash", "-n", str(basic_script)], check=True)
    text = basic_script.read_text()
    assert text.startswith("#!/bin/bash\n")
    # StudioLifecycleConfigContent: at most 16384 base64 characters, i.e. 12288 bytes of script.
    assert len(text.encode()) < 12288 * 0.7


def test_basic_auth_writes_mlflows_credentials_file_and_tracking_uri(sandbox: Sandbox, basic_script: Path) -> None:
    run = sandbox.run(basic_script)
    assert run.returncode == 0, run.output

    assert sandbox.mlflow_credentials() == ("alice", PASSWORD)
    credentials = sandbox.home / ".mlflow" / "credentials"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE((sandbox.home / ".mlflow").stat().st_mode) == 0o700

    shell = sandbox.shell_env()
    assert shell["MLFLOW_TRACKING_URI"] == URI
    kernel = sandbox.kernel_env()
    assert kernel["MLFLOW_TRACKING_URI"] == URI
    for env in (shell, kernel):
        # The password stays in the 0600 credentials file, out of every process environment.
        assert "MLFLOW_TRACKING_PASSWORD" not in env
        assert PASSWORD not in json.dumps(env)
        assert "MLFLOW_TRACKING_AUTH" not in env


def test_the_region_comes_from_the_secret_arn(sandbox: Sandbox, basic_script: Path) -> None:
    assert sandbox.run(basic_script).returncode == 0
    (call,) = [json.loads(line) for line in sandbox.aws_log.read_text().splitlines()]
    assert call[call.index("--region") + 1] == "eu-west-1"
    assert call[call.index("--secret-id") + 1] == SECRET_ARN


def test_a_secret_name_uses_the_configured_region(sandbox: Sandbox) -> None:
    script = sandbox.write_script(tracking_uri=URI, auth="basic", secret_id="mlflow/alice", region="us-east-1")
    run = sandbox.run(script, secret_id="mlflow/alice", region="us-east-1")
    assert run.returncode == 0, run.output


def test_the_password_is_never_printed(sandbox: Sandbox, basic_script: Path) -> None:
    run = sandbox.run(basic_script)
    assert run.returncode == 0
    assert PASSWORD not in run.output
    assert "p%ss" not in run.output
    assert "MLflow tracking URI" in run.stderr


def test_running_twice_gives_the_same_files_and_one_bashrc_hook(sandbox: Sandbox, basic_script: Path) -> None:
    (sandbox.home / ".bashrc").write_text("# the user's own settings\nexport EDITOR=vim\n")
    assert sandbox.run(basic_script).returncode == 0
    first = sandbox.files()
    assert sandbox.run(basic_script).returncode == 0
    assert sandbox.files() == first
    bashrc = (sandbox.home / ".bashrc").read_text()
    assert bashrc.startswith("# the user's own settings\nexport EDITOR=vim\n")
    assert bashrc.count("mlflow-sagemaker-constructs: MLflow settings") == 1
    assert sandbox.shell_env()["EDITOR"] == "vim"
    # No temporary files are left next to the written ones.
    assert not [name for name in first if ".mlflow-lifecycle-" in name]


def test_an_unreadable_secret_fails_clearly_and_writes_no_credentials(sandbox: Sandbox, basic_script: Path) -> None:
    run = sandbox.run(basic_script, secret_id="arn:aws:secretsmanager:eu-west-1:123456789012:secret:other-XyZ")
    assert run.returncode != 0
    assert "ERROR: cannot read MLflow credentials from Secrets Manager secret " + SECRET_ARN in run.stderr
    assert "AccessDeniedException" in run.stderr
    assert "secretsmanager:GetSecretValue" in run.stderr
    assert not (sandbox.home / ".mlflow" / "credentials").exists()
    assert not (sandbox.home / ".bashrc").exists()


def test_a_failed_refresh_keeps_no_stale_half_written_state(sandbox: Sandbox, basic_script: Path) -> None:
    assert sandbox.run(basic_script).returncode == 0
    before = sandbox.files()
    run = sandbox.run(basic_script, secret_string="not json")
    assert run.returncode != 0
    assert f"ERROR: secret {SECRET_ARN} does not hold a JSON object" in run.stderr
    assert sandbox.files() == before


@pytest.mark.parametrize(
    "secret_string",
    [
        json.dumps({"username": "alice"}),
        json.dumps({"username": "alice", "password": ""}),
        json.dumps({"username": "alice", "password": "two\nlines"}),
        json.dumps({"username": "alice", "password": " padded "}),
        json.dumps(["alice", "pw"]),
    ],
    ids=["no-password", "empty-password", "line-break", "padded", "not-an-object"],
)
def test_malformed_credentials_are_refused(sandbox: Sandbox, basic_script: Path, secret_string: str) -> None:
    run = sandbox.run(basic_script, secret_string=secret_string)
    assert run.returncode != 0
    assert f"mlflow-lifecycle: ERROR: secret {SECRET_ARN}" in run.stderr
    assert not (sandbox.home / ".mlflow" / "credentials").exists()


def test_a_missing_aws_cli_fails_clearly(sandbox: Sandbox, basic_script: Path) -> None:
    run = sandbox.run(basic_script, with_aws=False)
    assert run.returncode != 0
    assert "ERROR: the aws CLI is not on PATH" in run.stderr


def test_the_sagemaker_sdk_defaults_are_installed(sandbox: Sandbox, basic_script: Path) -> None:
    assert sandbox.run(basic_script).returncode == 0
    path = sandbox.home / ".mlflow" / "sagemaker-config.yaml"
    assert yaml.safe_load(path.read_text()) == json.loads(SDK_CONFIG)
    assert sandbox.shell_env()["SAGEMAKER_ADMIN_CONFIG_OVERRIDE"] == str(path)
    assert sandbox.kernel_env()["SAGEMAKER_ADMIN_CONFIG_OVERRIDE"] == str(path)


def test_sigv4_sets_the_auth_plugin_and_removes_credentials_it_wrote(sandbox: Sandbox, basic_script: Path) -> None:
    assert sandbox.run(basic_script).returncode == 0
    script = sandbox.write_script(tracking_uri="https://abc123.execute-api.us-east-1.amazonaws.com/", auth="sigv4")
    run = sandbox.run(script)
    assert run.returncode == 0, run.output
    assert not sandbox.aws_log.read_text().count("\n") > 1, "sigv4 must not read any secret"
    for env in (sandbox.shell_env(), sandbox.kernel_env()):
        assert env["MLFLOW_TRACKING_URI"] == "https://abc123.execute-api.us-east-1.amazonaws.com/"
        assert env["MLFLOW_TRACKING_AUTH"] == "aws-sigv4"
        assert "SAGEMAKER_ADMIN_CONFIG_OVERRIDE" not in env
    assert not (sandbox.home / ".mlflow" / "credentials").exists()
    assert not (sandbox.home / ".mlflow" / "sagemaker-config.yaml").exists()


def test_credentials_the_user_wrote_are_left_alone(sandbox: Sandbox) -> None:
    own = "[mlflow]\nmlflow_tracking_username = me\nmlflow_tracking_password = mine\n"
    (sandbox.home / ".mlflow").mkdir()
    (sandbox.home / ".mlflow" / "credentials").write_text(own)
    script = sandbox.write_script(tracking_uri=URI, auth="none")
    run = sandbox.run(script)
    assert run.returncode == 0, run.output
    assert (sandbox.home / ".mlflow" / "credentials").read_text() == own
    assert not sandbox.aws_log.exists()
    assert sandbox.shell_env()["MLFLOW_TRACKING_URI"] == URI


def test_pip_failures_are_reported(sandbox: Sandbox) -> None:
    script = sandbox.write_script(
        tracking_uri=URI, auth="none", pip_packages=["surely-not-a-package-name-8c1f[x]==0.0.0"]
    )
    pip = sandbox.bin / "python3"
    # A python3 whose pip always fails, so the test needs no network.
    pip.write_text(
        '#!/bin/bash\nif [ "$1" = -m ] && [ "$2" = pip ]; then echo \'No matching distribution\' >&2; exit 1; fi\n'
        f'exec {sys.executable} "$@"\n'
    )
    pip.chmod(0o755)
    run = sandbox.run(script)
    assert run.returncode != 0
    assert "ERROR: pip install surely-not-a-package-name-8c1f[x]==0.0.0 failed: No matching distribution" in run.stderr


def test_quotes_in_settings_are_refused() -> None:
    with pytest.raises(ValueError, match=r"MLFLOW_LCC_TRACKING_URI .* contains a quote or line break"):
        render_script(tracking_uri="http://x/'; rm -rf /", auth="none")


# A settings value as CloudFormation substitutes it: Ref/GetAtt are replaced, Fn::Join joined.
def _substitute(value: Any, lookup: Callable[[str], str]) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return lookup(str(arg))
        if key == "Fn::GetAtt":
            return lookup(".".join(arg))
        if key == "Fn::Join":
            separator, parts = arg
            return str(separator).join(_substitute(p, lookup) for p in parts)
        if key == "Fn::Base64":
            return _substitute(arg, lookup)
    raise AssertionError(f"unexpected intrinsic in lifecycle content: {value!r}")


def test_the_deployed_script_of_a_stack_runs(sandbox: Sandbox) -> None:
    """Build the construct, substitute the template's references like CloudFormation, run the script."""
    stack = new_stack()
    vpc = imported_vpc(stack)
    mlflow = SecureMlflowService(stack, "Mlflow", vpc=vpc, authentication=MlflowAuthentication.basic_auth())
    studio = StudioDomainOrUser(stack, "Studio", vpc=vpc, mlflow=mlflow, user_profile_names=["alice"])
    secret = studio.credentials_secrets["alice"]
    secret_logical_id = stack.resolve(secret.secret_arn)["Ref"]
    deployed_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:StudioUsersalice-AbC123"

    def lookup(name: str) -> str:
        if name == secret_logical_id:
            return deployed_arn
        if name.endswith(".DNSName"):
            return "internal-TestS-Mlflo-ABC-123456789.us-east-1.elb.amazonaws.com"
        if name.endswith(".GroupId"):
            return "sg-0123456789abcdef0"
        if name == "AWS::URLSuffix":
            return "amazonaws.com"
        raise AssertionError(f"unexpected reference {name}")

    content = stack.resolve(studio.lifecycle_configs["alice"].studio_lifecycle_config_content)
    assert set(content) == {"Fn::Base64"}
    script = sandbox.root / "deployed.sh"
    script.write_text(_substitute(content, lookup))
    run = sandbox.run(script, secret_id=deployed_arn, region="us-east-1")
    assert run.returncode == 0, run.output

    assert sandbox.mlflow_credentials() == ("alice", PASSWORD)
    uri = "http://internal-TestS-Mlflo-ABC-123456789.us-east-1.elb.amazonaws.com"
    assert sandbox.shell_env()["MLFLOW_TRACKING_URI"] == uri
    config = yaml.safe_load((sandbox.home / ".mlflow" / "sagemaker-config.yaml").read_text())
    training = config["SageMaker"]["TrainingJob"]
    assert training["Environment"] == {"MLFLOW_TRACKING_URI": uri, "MLFLOW_CREDENTIALS_SECRET_ARN": deployed_arn}
    assert training["VpcConfig"] == {
        "Subnets": ["subnet-0a000000000000001", "subnet-0a000000000000002", "subnet-0a000000000000003"],
        "SecurityGroupIds": ["sg-0123456789abcdef0"],
    }
    assert len(script.read_text().encode()) * 4 / 3 < 16384


# --- finding 7: run as root, the script must not follow what a user planted in the home ------------------


@pytest.fixture
def user_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    """A home owned by an unprivileged user (nobody), in directories that user may traverse."""
    if os.geteuid() != 0:
        pytest.fail("the privilege-drop tests run as root, as the Studio lifecycle runner may")
    root = tmp_path_factory.mktemp("lcc-user")
    root.chmod(0o755)
    for parent in root.parents:
        if parent == Path(parent.anchor) or parent == Path("/tmp"):
            break
        parent.chmod(parent.stat().st_mode | 0o005)
    home, bin_dir = root / "home", root / "bin"
    home.mkdir()
    bin_dir.mkdir()
    os.chown(home, 65534, 65534)
    aws = bin_dir / "aws"
    aws.write_text(FAKE_AWS)
    aws.chmod(0o755)
    log = root / "aws.log"
    log.touch()
    log.chmod(0o666)
    return Sandbox(root=root, home=home, bin=bin_dir, aws_log=log)


def _root_owned_target(tmp_path: Path) -> Path:
    target = tmp_path / "root-only"
    target.mkdir()
    target.chmod(0o755)
    (target / "keep").write_text("root's file\n")
    return target


def test_finding_7_a_planted_symlink_in_the_home_is_not_followed_as_root(
    user_sandbox: Sandbox, basic_script: Path, tmp_path: Path
) -> None:
    target = _root_owned_target(tmp_path)
    (user_sandbox.home / ".mlflow").symlink_to(target)
    bashrc_target = tmp_path / "root-profile"
    bashrc_target.write_text("# root's profile\n")
    (user_sandbox.home / ".bashrc").symlink_to(bashrc_target)
    script = user_sandbox.write_script(
        tracking_uri=URI, auth="basic", secret_id=SECRET_ARN, region="us-east-1", sdk_config=SDK_CONFIG
    )
    before = {p.name: p.stat() for p in [target, bashrc_target]}
    run = user_sandbox.run(script)
    # The user cannot write there, so the script (running as the user) stops with a message.
    assert run.returncode != 0
    assert "ERROR" in run.output or "Permission denied" in run.output
    assert sorted(p.name for p in target.iterdir()) == ["keep"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    assert bashrc_target.read_text() == "# root's profile\n"
    assert {p.name: p.stat().st_mode for p in [target, bashrc_target]} == {k: v.st_mode for k, v in before.items()}
    assert PASSWORD not in run.output


def test_run_as_root_the_files_belong_to_the_homes_owner(user_sandbox: Sandbox) -> None:
    script = user_sandbox.write_script(
        tracking_uri=URI, auth="basic", secret_id=SECRET_ARN, region="us-east-1", sdk_config=SDK_CONFIG
    )
    run = user_sandbox.run(script)
    assert run.returncode == 0, run.output
    owners = {p.stat().st_uid for p in user_sandbox.home.rglob("*")}
    assert owners == {65534}
    assert (user_sandbox.home / ".mlflow" / "credentials").stat().st_mode & 0o077 == 0
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("tmp.*lifecycle*"))


def test_the_deployed_script_of_an_iam_stack_sets_only_the_uri_and_the_plugin(sandbox: Sandbox) -> None:
    """With IAM authentication (the default) the role is the identity: no secret, no credentials file."""
    stack = new_stack()
    vpc = imported_vpc(stack)
    mlflow = SecureMlflowService(stack, "Mlflow", vpc=vpc)
    studio = StudioDomainOrUser(stack, "Studio", vpc=vpc, mlflow=mlflow, user_profile_names=["alice"])
    assert studio.credentials_secrets == {}

    def lookup(name: str) -> str:
        if name.endswith(".DNSName"):
            return "internal-TestS-Mlflo-ABC-123456789.us-east-1.elb.amazonaws.com"
        if name.endswith(".GroupId"):
            return "sg-0123456789abcdef0"
        raise AssertionError(f"unexpected reference {name}")

    content = stack.resolve(studio.lifecycle_configs["alice"].studio_lifecycle_config_content)
    script = sandbox.root / "deployed-iam.sh"
    script.write_text(_substitute(content, lookup))
    # A python3 that records pip installs (no network in tests) and runs everything else with the real one.
    installs = sandbox.root / "pip-installs"
    python = sandbox.bin / "python3"
    python.write_text(
        '#!/bin/bash\nif [ "$1" = -m ] && [ "$2" = pip ]; then echo "${@:3}" >>'
        + f"'{installs}'"
        + '; exit 0; fi\nexec /usr/bin/python3 "$@"\n'
    )
    python.chmod(0o755)
    run = sandbox.run(script, secret_id="", region="us-east-1")
    assert run.returncode == 0, run.output
    # The plugin's distribution is installed at every start, pinned to the library's version.
    assert installs.read_text().split() == [
        "install",
        "--quiet",
        "--disable-pip-version-check",
        f"mlflow-sagemaker-client=={__version__}",
    ]
    uri = "http://internal-TestS-Mlflo-ABC-123456789.us-east-1.elb.amazonaws.com"
    env = sandbox.shell_env()
    assert {key: env[key] for key in env if key.startswith("MLFLOW_")} == {
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_TRACKING_AUTH": "aws-iam",
    }
    assert sandbox.mlflow_credentials() == (None, None)
    config = yaml.safe_load((sandbox.home / ".mlflow" / "sagemaker-config.yaml").read_text())
    assert config["SageMaker"]["TrainingJob"]["Environment"] == {
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_TRACKING_AUTH": "aws-iam",
    }
