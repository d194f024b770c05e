"""The contract between the ECS task definition and the server image's entrypoint.

``SecureMlflowService`` sets exactly these environment variables and secrets on the container;
``entrypoint.py`` reads exactly these. An image passed in through ``image`` must honour the same
names. This module is stdlib-only because the image copies it next to the entrypoint.
"""

from __future__ import annotations

# Port the server listens on inside the container.
PORT = "MLFLOW_PORT"
DEFAULT_PORT = 5000

# Tracking (backend) store.
DB_ENGINE = "MLFLOW_DB_ENGINE"  # "postgresql" or "mysql"
DB_HOST = "MLFLOW_DB_HOST"
DB_PORT = "MLFLOW_DB_PORT"
DB_NAME = "MLFLOW_DB_NAME"
DB_USERNAME = "MLFLOW_DB_USERNAME"  # secret (JSON field "username" of the database secret)
DB_PASSWORD = "MLFLOW_DB_PASSWORD"  # secret (JSON field "password" of the database secret)
# Seconds the entrypoint waits for the database before failing with host and port in the message.
DB_WAIT_SECONDS = "MLFLOW_DB_WAIT_SECONDS"
# "null" turns pooling off (a new connection per request, about 3x the CPU cost). Default: pooled, with the
# database closing connections idle for DB_IDLE_TIMEOUT_SECONDS, so a paused Aurora cluster stays paused.
DB_POOL = "MLFLOW_DB_POOL"
# Pooled connections per database engine and worker process, and how many more may open under load.
DB_POOL_SIZE = "MLFLOW_DB_POOL_SIZE"
DB_POOL_MAX_OVERFLOW = "MLFLOW_DB_POOL_MAX_OVERFLOW"
# Seconds after which the database server closes an idle session (PostgreSQL idle_session_timeout, MySQL
# wait_timeout, set per connection); 0 leaves the server's setting. The pool reconnects transparently.
DB_IDLE_TIMEOUT_SECONDS = "MLFLOW_DB_IDLE_TIMEOUT_SECONDS"
# "false" turns off batched multi-row writes on PostgreSQL (batched_writes.py); default: on. An escape hatch,
# and the benchmark's way to measure what batching saves.
DB_BATCHED_WRITES = "MLFLOW_DB_BATCHED_WRITES"
# Optional libpq sslmode for PostgreSQL connections (e.g. "require", "verify-full"); unset: libpq's "prefer".
DB_SSL_MODE = "MLFLOW_DB_SSL_MODE"
# Seconds a starting task waits for another task's schema migration (the migration lock).
DB_MIGRATION_LOCK_TIMEOUT_SECONDS = "MLFLOW_DB_MIGRATION_LOCK_TIMEOUT_SECONDS"

# Built-in authentication (mlflow server --app-name basic-auth).
AUTH_ENABLED = "MLFLOW_AUTH_ENABLED"  # "true" or "false"
AUTH_DB_NAME = "MLFLOW_AUTH_DB_NAME"
# Optional separate PostgreSQL server for the auth store (required when the tracking store is MySQL).
AUTH_DB_HOST = "MLFLOW_AUTH_DB_HOST"
AUTH_DB_PORT = "MLFLOW_AUTH_DB_PORT"
AUTH_DB_USERNAME = "MLFLOW_AUTH_DB_USERNAME"  # secret
AUTH_DB_PASSWORD = "MLFLOW_AUTH_DB_PASSWORD"  # secret
AUTH_ADMIN_USERNAME = "MLFLOW_AUTH_ADMIN_USERNAME"
AUTH_ADMIN_PASSWORD = "MLFLOW_AUTH_ADMIN_PASSWORD"  # secret (JSON field "password" of the admin secret)
AUTH_DEFAULT_PERMISSION = "MLFLOW_AUTH_DEFAULT_PERMISSION"  # READ, EDIT, MANAGE or NO_PERMISSIONS
AUTH_CACHE_TTL_SECONDS = "MLFLOW_AUTH_CACHE_TTL_SECONDS"
FLASK_SECRET_KEY = "MLFLOW_FLASK_SERVER_SECRET_KEY"  # secret, identical on every task
# IAM principals as MLflow users (on top of basic-auth, which stays for the admin and password users).
# Clients send a signed sts:GetCallerIdentity request whose signed audience is the host they address
# (iam_tokens.py); the server accepts the audiences listed here, by default its allowed hosts.
AUTH_IAM_ENABLED = "MLFLOW_AUTH_IAM_ENABLED"
AUTH_IAM_AUDIENCES = "MLFLOW_AUTH_IAM_AUDIENCES"  # comma-separated; default: ALLOWED_HOSTS without wildcards
AUTH_IAM_PRINCIPALS = "MLFLOW_AUTH_IAM_PRINCIPALS"  # JSON list of mapping rules (principals.py)
#: MLflow user names an IAM principal can map to: IAM and Identity Center session names, emails, profile names.
IAM_USERNAME_PATTERN = r"^[A-Za-z0-9_+=,.@-]{1,128}$"
# The STS endpoint tokens are signed for and verified at. Default: https://sts.<AWS_REGION>.amazonaws.com
AUTH_IAM_STS_ENDPOINT = "MLFLOW_AUTH_IAM_STS_ENDPOINT"
AUTH_IAM_STS_TIMEOUT_SECONDS = "MLFLOW_AUTH_IAM_STS_TIMEOUT_SECONDS"

# MLflow's AI Gateway stores provider API keys encrypted with a key derived from this passphrase (secret).
# The gateway is off unless AI_GATEWAY_ENABLED is true, and then the passphrase is required.
AI_GATEWAY_ENABLED = "MLFLOW_ENABLE_AI_GATEWAY"
CRYPTO_KEK_PASSPHRASE = "MLFLOW_CRYPTO_KEK_PASSPHRASE"

# Artifact store.
ARTIFACTS_MODE = "MLFLOW_ARTIFACTS_MODE"  # "proxied" or "direct"
ARTIFACTS_URI = "MLFLOW_ARTIFACTS_URI"  # s3://bucket/prefix
MULTIPART_UPLOAD = "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD"
# Bounds on the server's own S3 calls (seconds, attempts), so a hung S3 cannot hold a worker for minutes.
S3_CONNECT_TIMEOUT_SECONDS = "MLFLOW_S3_CONNECT_TIMEOUT_SECONDS"
S3_READ_TIMEOUT_SECONDS = "MLFLOW_S3_READ_TIMEOUT_SECONDS"
S3_MAX_ATTEMPTS = "MLFLOW_S3_MAX_ATTEMPTS"

# Server behaviour.
ALLOWED_HOSTS = "MLFLOW_SERVER_ALLOWED_HOSTS"  # comma-separated, as MLflow reads it
CORS_ALLOWED_ORIGINS = "MLFLOW_SERVER_CORS_ALLOWED_ORIGINS"  # comma-separated
WORKERS = "MLFLOW_WORKERS"
JOB_EXECUTION = "MLFLOW_SERVER_ENABLE_JOB_EXECUTION"
# Seconds uvicorn keeps idle client connections open; keep it above the load balancer's idle timeout.
KEEP_ALIVE_SECONDS = "MLFLOW_SERVER_KEEP_ALIVE_SECONDS"
# Writable scratch directory (the container's root filesystem is read-only): temporary files and the
# auth configuration, which lives there only while a worker starts.
SCRATCH_DIR = "TMPDIR"

# Values and defaults the entrypoint applies when a variable is unset.
DB_ENGINES = ("postgresql", "mysql")
DEFAULT_DB_NAME = "mlflow"
DEFAULT_DB_PORTS = {"postgresql": 5432, "mysql": 3306}
DEFAULT_DB_WAIT_SECONDS = 60
DEFAULT_DB_MIGRATION_LOCK_TIMEOUT_SECONDS = 900
DB_POOL_NULL = "null"
# 10: with 5, a worker serving 8 keep-alive clients churned overflow connections (about 10 new connections
# per 100 requests, docs/benchmarks.md); with 10, none. Sizing against Aurora's limit: docs/server-image.md.
DEFAULT_DB_POOL_SIZE = 10
DEFAULT_DB_POOL_MAX_OVERFLOW = 5
DEFAULT_DB_IDLE_TIMEOUT_SECONDS = 30
#: The SQLAlchemy plugin (entry point group sqlalchemy.plugins) that batches multi-row writes on PostgreSQL.
BATCHED_WRITES_PLUGIN = "mlflow_sagemaker_batched_writes"
#: Engines MLflow opens per worker process: tracking store, model registry store, auth store.
ENGINES_PER_WORKER = 3
DEFAULT_AUTH_DB_NAME = "mlflow_auth"
DEFAULT_AUTH_ADMIN_USERNAME = "admin"
AUTH_PERMISSIONS = ("READ", "EDIT", "MANAGE", "NO_PERMISSIONS")
DEFAULT_AUTH_DEFAULT_PERMISSION = "NO_PERMISSIONS"
DEFAULT_AUTH_CACHE_TTL_SECONDS = 60
DEFAULT_AUTH_IAM_STS_TIMEOUT_SECONDS = 5
ARTIFACTS_MODES = ("proxied", "direct")
DEFAULT_ARTIFACTS_MODE = "proxied"
DEFAULT_WORKERS = 2
DEFAULT_KEEP_ALIVE_SECONDS = 75
DEFAULT_S3_CONNECT_TIMEOUT_SECONDS = 5
DEFAULT_S3_READ_TIMEOUT_SECONDS = 30
DEFAULT_S3_MAX_ATTEMPTS = 3
DEFAULT_SCRATCH_DIR = "/tmp"
# MLflow refuses these admin passwords; so does the entrypoint, before touching any database.
MIN_ADMIN_PASSWORD_LENGTH = 12
FORBIDDEN_ADMIN_PASSWORDS = frozenset({"password1234"})
# Passwords of users created or changed through the server: at least this long, not a known-bad one.
MIN_USER_PASSWORD_LENGTH = 12
# Model version sources the server accepts: references it resolves itself (runs:/, models:/ and its own
# proxied mlflow-artifacts: URIs, which MLflow checks against the run or model). A raw s3:// source would
# let any user read any object in the artifact bucket through /model-versions/get-artifact.
MODEL_VERSION_SOURCE_REGEX = r"^(runs:/|models:/|mlflow-artifacts:/)"

#: Secrets the task definition injects (never plain environment variables).
SECRET_NAMES = frozenset(
    {
        DB_USERNAME,
        DB_PASSWORD,
        AUTH_DB_USERNAME,
        AUTH_DB_PASSWORD,
        AUTH_ADMIN_PASSWORD,
        FLASK_SECRET_KEY,
        CRYPTO_KEK_PASSPHRASE,
    }
)

#: The server code's Python package inside the image (this directory, installed under /opt/mlflow) and the
#: MLflow app it registers (entry point group ``mlflow.app``) for ``mlflow server --app-name``.
SERVER_PACKAGE = "mlflow_sagemaker_server"
APP_NAME = "mlflow-sagemaker"
CONTAINER_COMMAND = ["python3", "-m", f"{SERVER_PACKAGE}.entrypoint"]

#: The container health check: stdlib only, so it runs in the image and on a test host alike.
HEALTH_CHECK_COMMAND = [
    "CMD",
    "python3",
    "-c",
    "import os,urllib.request;"
    "urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('MLFLOW_PORT', '5000'), timeout=4)",
]

#: Set by the entrypoint for the server's worker processes, never by the task definition: the auth
#: store's database URI (with credentials, so it travels in the environment, not on a command line).
WORKER_AUTH_DATABASE_URI = "MLFLOW_SAGEMAKER_AUTH_DATABASE_URI"
