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
# "null" when the database may pause (Aurora Serverless v2 at 0 ACU): no pooled idle connections.
DB_POOL = "MLFLOW_DB_POOL"
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

# Artifact store.
ARTIFACTS_MODE = "MLFLOW_ARTIFACTS_MODE"  # "proxied" or "direct"
ARTIFACTS_URI = "MLFLOW_ARTIFACTS_URI"  # s3://bucket/prefix
MULTIPART_UPLOAD = "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD"

# Server behaviour.
ALLOWED_HOSTS = "MLFLOW_SERVER_ALLOWED_HOSTS"  # comma-separated, as MLflow reads it
CORS_ALLOWED_ORIGINS = "MLFLOW_SERVER_CORS_ALLOWED_ORIGINS"  # comma-separated
WORKERS = "MLFLOW_WORKERS"
JOB_EXECUTION = "MLFLOW_SERVER_ENABLE_JOB_EXECUTION"
# Seconds uvicorn keeps idle client connections open; keep it above the load balancer's idle timeout.
KEEP_ALIVE_SECONDS = "MLFLOW_SERVER_KEEP_ALIVE_SECONDS"

# Values and defaults the entrypoint applies when a variable is unset.
DB_ENGINES = ("postgresql", "mysql")
DEFAULT_DB_NAME = "mlflow"
DEFAULT_DB_PORTS = {"postgresql": 5432, "mysql": 3306}
DEFAULT_DB_WAIT_SECONDS = 60
DEFAULT_DB_MIGRATION_LOCK_TIMEOUT_SECONDS = 900
DB_POOL_NULL = "null"
DEFAULT_AUTH_DB_NAME = "mlflow_auth"
DEFAULT_AUTH_ADMIN_USERNAME = "admin"
AUTH_PERMISSIONS = ("READ", "EDIT", "MANAGE", "NO_PERMISSIONS")
DEFAULT_AUTH_DEFAULT_PERMISSION = "READ"
DEFAULT_AUTH_CACHE_TTL_SECONDS = 60
ARTIFACTS_MODES = ("proxied", "direct")
DEFAULT_ARTIFACTS_MODE = "proxied"
DEFAULT_WORKERS = 2
DEFAULT_KEEP_ALIVE_SECONDS = 75
# MLflow refuses these admin passwords; so does the entrypoint, before touching any database.
MIN_ADMIN_PASSWORD_LENGTH = 12
FORBIDDEN_ADMIN_PASSWORDS = frozenset({"password1234"})

#: Secrets the task definition injects (never plain environment variables).
SECRET_NAMES = frozenset(
    {
        DB_USERNAME,
        DB_PASSWORD,
        AUTH_DB_USERNAME,
        AUTH_DB_PASSWORD,
        AUTH_ADMIN_PASSWORD,
        FLASK_SECRET_KEY,
    }
)

#: Where the image installs the entrypoint and its contract.
ENTRYPOINT_PATH = "/opt/mlflow/entrypoint.py"
CONTAINER_COMMAND = ["python3", ENTRYPOINT_PATH]

#: The container health check: stdlib only, so it runs in the image and on a test host alike.
HEALTH_CHECK_COMMAND = [
    "CMD",
    "python3",
    "-c",
    "import os,urllib.request;"
    "urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('MLFLOW_PORT', '5000'), timeout=4)",
]
