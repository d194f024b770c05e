#!/bin/bash
# MLflow settings for SageMaker Studio JupyterLab spaces (mlflow-sagemaker-constructs, StudioDomainOrUser).
# Runs at every JupyterLab start and rewrites, in the user's home directory:
#   ~/.mlflow/credentials        MLflow's own credentials file (mode 600), built-in authentication only
#   ~/.mlflow/studio-env.sh      MLFLOW_TRACKING_URI and related variables for shells (~/.bashrc sources it)
#   ~/.ipython/profile_default/startup/00-mlflow.py   the same variables for Python kernels
#   ~/.mlflow/sagemaker-config.yaml   SageMaker Python SDK defaults for training jobs (subnets, security
#                                     group, environment)
# Never prints credentials, can run any number of times, and exits non-zero with a message when the
# credentials secret cannot be read.
set -euo pipefail
umask 077

#@SETTINGS@

log() { printf 'mlflow-lifecycle: %s\n' "$*" >&2; }
fail() {
  log "ERROR: $*"
  exit 1
}

# JupyterLab runs this as sagemaker-user. Run as root, it configures that user's home, but never as root:
# anything in a home (a symlink planted in it, say) belongs to its user, so the script first becomes that
# user, and root follows nothing there.
if [ "$(id -u)" = 0 ] && [ -z "${MLFLOW_LCC_AS_OWNER:-}" ]; then
  home="${HOME:-/root}"
  if [ -d /home/sagemaker-user ]; then home=/home/sagemaker-user; fi
  [ -d "$home" ] && [ ! -L "$home" ] || fail "the home directory $home is missing or a symlink"
  owner_uid="$(stat -c %u "$home")"
  owner_gid="$(stat -c %g "$home")"
  if [ "$owner_uid" != 0 ]; then
    command -v setpriv >/dev/null 2>&1 ||
      fail "running as root, but setpriv (util-linux) is missing to switch to the owner of $home; not continuing as root"
    copy="$(mktemp)"
    cat "${BASH_SOURCE[0]}" >"$copy"
    chmod 644 "$copy"
    status=0
    HOME="$home" MLFLOW_LCC_AS_OWNER=1 setpriv --reuid="$owner_uid" --regid="$owner_gid" --clear-groups \
      -- /bin/bash "$copy" || status=$?
    rm -f "$copy"
    exit "$status"
  fi
  HOME="$home"
fi
export HOME="${HOME:-/home/sagemaker-user}"
mkdir -p "$HOME/.mlflow"
chmod 700 "$HOME/.mlflow"

python_bin="$(command -v python3 || command -v python || true)"
[ -n "$python_bin" ] || fail "python3 is not on PATH; the JupyterLab image needs Python to write the MLflow settings"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
: >"$work/secret"

if [ "$MLFLOW_LCC_AUTH" = basic ]; then
  command -v aws >/dev/null 2>&1 ||
    fail "the aws CLI is not on PATH: cannot read MLflow credentials from Secrets Manager secret $MLFLOW_LCC_SECRET_ID"
  region="$MLFLOW_LCC_REGION"
  case "$MLFLOW_LCC_SECRET_ID" in arn:*) region="$(printf '%s' "$MLFLOW_LCC_SECRET_ID" | cut -d: -f4)" ;; esac
  if ! AWS_MAX_ATTEMPTS=3 aws secretsmanager get-secret-value --region "$region" \
    --cli-connect-timeout 10 --cli-read-timeout 20 --secret-id "$MLFLOW_LCC_SECRET_ID" \
    --query SecretString --output json >"$work/secret" 2>"$work/aws-error"; then
    fail "cannot read MLflow credentials from Secrets Manager secret $MLFLOW_LCC_SECRET_ID: \
$(tr '\n' ' ' <"$work/aws-error" | cut -c1-400) -- check that the execution role may call \
secretsmanager:GetSecretValue on it (and kms:Decrypt on its key) and that the VPC reaches Secrets Manager"
  fi
fi

if [ -n "$MLFLOW_LCC_PIP_PACKAGES" ]; then
  read -r -a packages <<<"$MLFLOW_LCC_PIP_PACKAGES"
  "$python_bin" -m pip install --quiet --disable-pip-version-check "${packages[@]}" >"$work/pip.log" 2>&1 ||
    fail "pip install ${packages[*]} failed: $(tail -n 5 "$work/pip.log" | tr '\n' ' ')"
fi

export MLFLOW_LCC_TRACKING_URI MLFLOW_LCC_AUTH MLFLOW_LCC_SECRET_ID MLFLOW_LCC_SDK_CONFIG MLFLOW_LCC_IAM_STS_ENDPOINT
"$python_bin" - "$work/secret" <<'PY'
import importlib.util
import json
import os
import shlex
import sys
import tempfile

E = os.environ
HOME = E["HOME"]
CONF = os.path.join(HOME, ".mlflow")
MARK = "# Written by the MLflow lifecycle configuration (mlflow-sagemaker-constructs) at every JupyterLab start.\n"


def stop(message):
    sys.exit("mlflow-lifecycle: ERROR: " + message)


def write(path, text):
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".mlflow-lifecycle-")
    with os.fdopen(fd, "w") as handle:
        handle.write(MARK + text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def remove_ours(path):
    if os.path.isfile(path):
        with open(path) as handle:
            ours = handle.readline() == MARK
        if ours:
            os.remove(path)


mode = E["MLFLOW_LCC_AUTH"]
secret_id = E.get("MLFLOW_LCC_SECRET_ID", "")
env = {"MLFLOW_TRACKING_URI": E["MLFLOW_LCC_TRACKING_URI"]}
if mode in ("sigv4", "iam"):
    env["MLFLOW_TRACKING_AUTH"] = "aws-sigv4" if mode == "sigv4" else "aws-iam"
    if E.get("MLFLOW_LCC_IAM_STS_ENDPOINT"):
        env["MLFLOW_IAM_STS_ENDPOINT"] = E["MLFLOW_LCC_IAM_STS_ENDPOINT"]
    if importlib.util.find_spec("mlflow_sagemaker_client") is None:
        print("mlflow-lifecycle: WARNING: MLFLOW_TRACKING_AUTH=%s needs the client plugin: "
              "pip install mlflow-sagemaker-client (or client_packages)" % env["MLFLOW_TRACKING_AUTH"], file=sys.stderr)

credentials = os.path.join(CONF, "credentials")
if mode == "basic":
    try:
        with open(sys.argv[1]) as handle:
            data = json.loads(json.loads(handle.read()))
    except (ValueError, TypeError):
        data = None
    if not isinstance(data, dict):
        stop("secret %s does not hold a JSON object with 'username' and 'password'" % secret_id)
    values = [data.get("username"), data.get("password")]
    if not all(isinstance(v, str) and v and v == v.strip() and "\n" not in v and "\r" not in v for v in values):
        stop("secret %s must hold non-empty one-line 'username' and 'password' strings" % secret_id)
    user, password = (v.replace("%", "%%") for v in values)
    write(credentials, "[mlflow]\nmlflow_tracking_username = %s\nmlflow_tracking_password = %s\n" % (user, password))
else:
    remove_ours(credentials)

sdk_config = os.path.join(CONF, "sagemaker-config.yaml")
if E.get("MLFLOW_LCC_SDK_CONFIG"):
    try:
        json.loads(E["MLFLOW_LCC_SDK_CONFIG"])
    except ValueError:
        stop("the SageMaker SDK defaults are not valid JSON")
    write(sdk_config, E["MLFLOW_LCC_SDK_CONFIG"] + "\n")
    env["SAGEMAKER_ADMIN_CONFIG_OVERRIDE"] = sdk_config
else:
    remove_ours(sdk_config)

write(os.path.join(CONF, "studio-env.sh"), "".join("export %s=%s\n" % (k, shlex.quote(v)) for k, v in env.items()))
write(
    os.path.join(HOME, ".ipython", "profile_default", "startup", "00-mlflow.py"),
    "import os as _os\n\n_os.environ.update(%r)\ndel _os\n" % env,
)
PY

marker="# mlflow-sagemaker-constructs: MLflow settings"
touch "$HOME/.bashrc"
if ! grep -qF "$marker" "$HOME/.bashrc"; then
  # shellcheck disable=SC2016 # $HOME is expanded when ~/.bashrc runs
  printf '\n%s\nif [ -f "$HOME/.mlflow/studio-env.sh" ]; then . "$HOME/.mlflow/studio-env.sh"; fi\n' "$marker" >>"$HOME/.bashrc"
fi

log "MLflow tracking URI $MLFLOW_LCC_TRACKING_URI configured (authentication: $MLFLOW_LCC_AUTH)"
