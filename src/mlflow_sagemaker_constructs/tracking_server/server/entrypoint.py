"""Entrypoint of the MLflow server image: prepare the databases, then exec ``mlflow server``.

Runs as ``python3 -m mlflow_sagemaker_server.entrypoint`` (``contract.CONTAINER_COMMAND``) with the
environment variables and secrets named in ``contract``. In order, it:

1. reads and validates the settings (a bad value stops the task with a message naming the variable);
2. refuses a missing, short (< 12 characters) or default (``password1234``) admin password, an AI Gateway
   without its own passphrase, a missing uvloop/httptools, and a scratch directory it cannot write;
3. waits, with bounded retries, until the tracking database (and the auth database's server) accepts
   connections, and creates the tracking and auth databases when they are missing;
4. under a database lock (PostgreSQL ``pg_advisory_lock``, MySQL ``GET_LOCK``), migrates the tracking
   and auth schemas, so that tasks starting together migrate exactly once; a schema newer than the
   installed MLflow stops the task;
5. replaces itself (``os.execvpe``) with ``mlflow server --app-name mlflow-sagemaker`` (this package's
   app, :mod:`.app`); database URIs travel in the environment, never on the command line. Extra
   command-line arguments are appended to ``mlflow server``.

The module imports only the standard library at import time; SQLAlchemy and MLflow (present in the
image) are imported where they are needed, so the helpers are unit-testable anywhere.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import sys
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NoReturn
from urllib.parse import quote, urlencode

from . import contract

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

LOG_PREFIX = "[mlflow-entrypoint]"
# Printed exactly when this process changes a schema; tests count these lines across tasks.
MIGRATION_MARKER = "MIGRATING"

EXIT_CONFIG = 2
EXIT_DATABASE_UNREACHABLE = 3
EXIT_DATABASE_LOGIN = 4
EXIT_DATABASE_SETUP = 5
EXIT_SCHEMA_NEWER = 6
EXIT_SCRATCH = 7
EXIT_MISSING_DEPENDENCY = 8

# SQL identifiers the entrypoint creates (database names) must be plain, so no quoting games are needed.
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})
_ENGINE_ALIASES: Mapping[str, Literal["postgresql", "mysql"]] = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "aurora-postgresql": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
    "aurora-mysql": "mysql",
}
# Seconds one connection attempt may take while waiting for the database.
_CONNECT_ATTEMPT_SECONDS = 5
_AUTH_VERSION_TABLE = "alembic_version_auth"


class EntrypointError(Exception):
    """A failure with a message meant for the operator, and the process exit code to use."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class ConfigError(EntrypointError):
    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_CONFIG)


def log(message: str) -> None:
    print(f"{LOG_PREFIX} {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DatabaseTarget:
    """One database on one server, with the credentials to reach it."""

    engine: Literal["postgresql", "mysql"]
    host: str
    port: int
    name: str
    username: str
    password: str = dataclasses.field(repr=False)
    ssl_mode: str | None = None
    #: The contract variables holding this target's credentials, for error messages.
    credential_names: tuple[str, str] = (contract.DB_USERNAME, contract.DB_PASSWORD)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def describe(self) -> str:
        return f"{self.engine} database '{self.name}' at {self.address}"

    def same_server(self, other: DatabaseTarget) -> bool:
        return (self.engine, self.host, self.port) == (other.engine, other.host, other.port)


@dataclasses.dataclass(frozen=True)
class Settings:
    port: int
    tracking_db: DatabaseTarget
    db_wait_seconds: float
    migration_lock_timeout_seconds: int
    null_pool: bool
    pool_size: int
    pool_max_overflow: int
    idle_timeout_seconds: int
    batched_writes: bool
    auth_enabled: bool
    auth_db: DatabaseTarget | None
    admin_username: str
    admin_password: str | None = dataclasses.field(repr=False)
    default_permission: str
    auth_cache_ttl_seconds: int
    flask_secret_key: str | None = dataclasses.field(repr=False)
    artifacts_mode: Literal["proxied", "direct"]
    artifacts_uri: str
    allowed_hosts: str | None
    cors_allowed_origins: str | None
    workers: int
    job_execution: bool
    keep_alive_seconds: int
    ai_gateway: bool
    kek_passphrase: str | None = dataclasses.field(repr=False)
    s3_connect_timeout_seconds: int
    s3_read_timeout_seconds: int
    s3_max_attempts: int
    scratch_dir: str
    iam_audiences: frozenset[str] = frozenset()


def _get(env: Mapping[str, str], name: str) -> str | None:
    """The stripped value of a variable, or None when it is unset or blank."""
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _require(env: Mapping[str, str], name: str, why: str = "") -> str:
    value = _get(env, name)
    if value is None:
        raise ConfigError(f"{name} is not set{': ' + why if why else ''}.")
    return value


def _get_int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = _get(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}.") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}.")
    return value


def _get_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}.")


def _get_secret(env: Mapping[str, str], name: str) -> str | None:
    """Secrets are used verbatim (no stripping): whitespace may be part of a password."""
    value = env.get(name)
    return value if value else None


def _database_name(env: Mapping[str, str], name: str, default: str) -> str:
    value = _get(env, name) or default
    if not _IDENTIFIER.match(value):
        raise ConfigError(
            f"{name} must be a plain identifier (letters, digits and underscores, at most 63 "
            f"characters, not starting with a digit), got {value!r}."
        )
    return value


def parse_engine(raw: str | None) -> Literal["postgresql", "mysql"]:
    if raw is None:
        raise ConfigError(f"{contract.DB_ENGINE} is not set: use one of {', '.join(contract.DB_ENGINES)}.")
    engine = _ENGINE_ALIASES.get(raw.strip().lower())
    if engine is None:
        raise ConfigError(f"{contract.DB_ENGINE} must be one of {', '.join(contract.DB_ENGINES)}, got {raw!r}.")
    return engine


def load_settings(env: Mapping[str, str]) -> Settings:
    """Read and validate every contract variable; raise ConfigError naming the first bad one."""
    engine = parse_engine(_get(env, contract.DB_ENGINE))
    ssl_mode = _get(env, contract.DB_SSL_MODE)
    username = _require(env, contract.DB_USERNAME, "the database secret's username is needed")
    password = _get_secret(env, contract.DB_PASSWORD)
    if password is None:
        raise ConfigError(f"{contract.DB_PASSWORD} is not set: the database secret's password is needed.")
    tracking_db = DatabaseTarget(
        engine=engine,
        host=_require(env, contract.DB_HOST),
        port=_get_int(env, contract.DB_PORT, contract.DEFAULT_DB_PORTS[engine], minimum=1),
        name=_database_name(env, contract.DB_NAME, contract.DEFAULT_DB_NAME),
        username=username,
        password=password,
        ssl_mode=ssl_mode if engine == "postgresql" else None,
    )

    auth_enabled = _get_bool(env, contract.AUTH_ENABLED, True)
    auth_db: DatabaseTarget | None = None
    admin_password = _get_secret(env, contract.AUTH_ADMIN_PASSWORD)
    flask_secret_key = _get_secret(env, contract.FLASK_SECRET_KEY)
    default_permission = (
        _get(env, contract.AUTH_DEFAULT_PERMISSION) or contract.DEFAULT_AUTH_DEFAULT_PERMISSION
    ).upper()
    if auth_enabled:
        auth_host = _get(env, contract.AUTH_DB_HOST)
        if auth_host is None and engine != "postgresql":
            raise ConfigError(
                f"the tracking store is {engine}, but MLflow's auth store only works on PostgreSQL "
                f"(mlflow/mlflow#9642): set {contract.AUTH_DB_HOST} (and {contract.AUTH_DB_PORT}, "
                f"{contract.AUTH_DB_USERNAME}, {contract.AUTH_DB_PASSWORD}) to a PostgreSQL server, "
                f"or set {contract.AUTH_ENABLED}=false."
            )
        auth_db = DatabaseTarget(
            engine="postgresql",
            host=auth_host or tracking_db.host,
            port=_get_int(
                env,
                contract.AUTH_DB_PORT,
                contract.DEFAULT_DB_PORTS["postgresql"] if auth_host else tracking_db.port,
                minimum=1,
            ),
            name=_database_name(env, contract.AUTH_DB_NAME, contract.DEFAULT_AUTH_DB_NAME),
            username=_get(env, contract.AUTH_DB_USERNAME) or tracking_db.username,
            password=_get_secret(env, contract.AUTH_DB_PASSWORD) or tracking_db.password,
            ssl_mode=ssl_mode,
            credential_names=(
                (contract.AUTH_DB_USERNAME, contract.AUTH_DB_PASSWORD)
                if _get(env, contract.AUTH_DB_USERNAME)
                else (contract.DB_USERNAME, contract.DB_PASSWORD)
            ),
        )
        if auth_db.same_server(tracking_db) and auth_db.name == tracking_db.name:
            raise ConfigError(
                f"{contract.AUTH_DB_NAME} must differ from {contract.DB_NAME} ({tracking_db.name!r}): "
                "the auth store needs its own database."
            )
        if default_permission not in contract.AUTH_PERMISSIONS:
            raise ConfigError(
                f"{contract.AUTH_DEFAULT_PERMISSION} must be one of "
                f"{', '.join(contract.AUTH_PERMISSIONS)}, got {default_permission!r}."
            )
        if flask_secret_key is None:
            raise ConfigError(
                f"{contract.FLASK_SECRET_KEY} is not set: the basic-auth app needs a secret key, "
                "identical on every task."
            )

    artifacts_mode_raw = (_get(env, contract.ARTIFACTS_MODE) or contract.DEFAULT_ARTIFACTS_MODE).lower()
    if artifacts_mode_raw not in contract.ARTIFACTS_MODES:
        raise ConfigError(
            f"{contract.ARTIFACTS_MODE} must be one of {', '.join(contract.ARTIFACTS_MODES)}, "
            f"got {artifacts_mode_raw!r}."
        )
    artifacts_mode: Literal["proxied", "direct"] = "proxied" if artifacts_mode_raw == "proxied" else "direct"

    pool = (_get(env, contract.DB_POOL) or "").lower()
    if pool not in ("", "default", "queue", contract.DB_POOL_NULL):
        raise ConfigError(f"{contract.DB_POOL} must be '{contract.DB_POOL_NULL}' or unset, got {pool!r}.")

    ai_gateway = _get_bool(env, contract.AI_GATEWAY_ENABLED, False)
    kek_passphrase = _get_secret(env, contract.CRYPTO_KEK_PASSPHRASE)
    if ai_gateway:
        check_kek_passphrase(kek_passphrase)

    return Settings(
        port=_get_int(env, contract.PORT, contract.DEFAULT_PORT, minimum=1),
        tracking_db=tracking_db,
        db_wait_seconds=_get_int(env, contract.DB_WAIT_SECONDS, contract.DEFAULT_DB_WAIT_SECONDS),
        migration_lock_timeout_seconds=_get_int(
            env,
            contract.DB_MIGRATION_LOCK_TIMEOUT_SECONDS,
            contract.DEFAULT_DB_MIGRATION_LOCK_TIMEOUT_SECONDS,
            minimum=1,
        ),
        null_pool=pool == contract.DB_POOL_NULL,
        pool_size=_get_int(env, contract.DB_POOL_SIZE, contract.DEFAULT_DB_POOL_SIZE, minimum=1),
        pool_max_overflow=_get_int(env, contract.DB_POOL_MAX_OVERFLOW, contract.DEFAULT_DB_POOL_MAX_OVERFLOW),
        idle_timeout_seconds=_get_int(env, contract.DB_IDLE_TIMEOUT_SECONDS, contract.DEFAULT_DB_IDLE_TIMEOUT_SECONDS),
        # Only psycopg2 has the batching mode (batched_writes.py): on MySQL the setting cannot apply.
        batched_writes=_get_bool(env, contract.DB_BATCHED_WRITES, True) and tracking_db.engine == "postgresql",
        auth_enabled=auth_enabled,
        auth_db=auth_db,
        admin_username=_get(env, contract.AUTH_ADMIN_USERNAME) or contract.DEFAULT_AUTH_ADMIN_USERNAME,
        admin_password=admin_password,
        default_permission=default_permission,
        auth_cache_ttl_seconds=_get_int(env, contract.AUTH_CACHE_TTL_SECONDS, contract.DEFAULT_AUTH_CACHE_TTL_SECONDS),
        flask_secret_key=flask_secret_key,
        artifacts_mode=artifacts_mode,
        artifacts_uri=_require(env, contract.ARTIFACTS_URI, "the artifact store, e.g. s3://bucket/prefix"),
        allowed_hosts=_get(env, contract.ALLOWED_HOSTS),
        cors_allowed_origins=_get(env, contract.CORS_ALLOWED_ORIGINS),
        workers=_get_int(env, contract.WORKERS, contract.DEFAULT_WORKERS, minimum=1),
        job_execution=_get_bool(env, contract.JOB_EXECUTION, False),
        keep_alive_seconds=_get_int(env, contract.KEEP_ALIVE_SECONDS, contract.DEFAULT_KEEP_ALIVE_SECONDS, minimum=1),
        ai_gateway=ai_gateway,
        kek_passphrase=kek_passphrase,
        s3_connect_timeout_seconds=_get_int(
            env, contract.S3_CONNECT_TIMEOUT_SECONDS, contract.DEFAULT_S3_CONNECT_TIMEOUT_SECONDS, minimum=1
        ),
        s3_read_timeout_seconds=_get_int(
            env, contract.S3_READ_TIMEOUT_SECONDS, contract.DEFAULT_S3_READ_TIMEOUT_SECONDS, minimum=1
        ),
        s3_max_attempts=_get_int(env, contract.S3_MAX_ATTEMPTS, contract.DEFAULT_S3_MAX_ATTEMPTS, minimum=1),
        scratch_dir=_get(env, contract.SCRATCH_DIR) or contract.DEFAULT_SCRATCH_DIR,
        iam_audiences=load_iam_settings(env, auth_enabled),
    )


def load_iam_settings(env: Mapping[str, str], auth_enabled: bool) -> frozenset[str]:
    """Validate the IAM authentication settings; return the accepted audiences (empty when IAM is off)."""
    from .iam_authentication import audiences, check_sts_endpoint, sts_endpoint
    from .principals import MappingConfigError, parse_rules

    iam_names = (contract.AUTH_IAM_PRINCIPALS, contract.AUTH_IAM_STS_ENDPOINT, contract.AUTH_IAM_AUDIENCES)
    if not _get_bool(env, contract.AUTH_IAM_ENABLED, False):
        for name in iam_names:
            if _get(env, name) is not None:
                raise ConfigError(f"{name} is set but {contract.AUTH_IAM_ENABLED} is not true: set both, or neither.")
        return frozenset()
    if not auth_enabled:
        raise ConfigError(
            f"{contract.AUTH_IAM_ENABLED}=true needs {contract.AUTH_ENABLED}=true (IAM users are MLflow users)."
        )
    try:
        parse_rules(_get(env, contract.AUTH_IAM_PRINCIPALS) or "[]")
        check_sts_endpoint(sts_endpoint(env))
    except (MappingConfigError, ValueError) as exc:
        raise ConfigError(f"{contract.AUTH_IAM_PRINCIPALS} / {contract.AUTH_IAM_STS_ENDPOINT}: {exc}") from None
    _get_int(env, contract.AUTH_IAM_STS_TIMEOUT_SECONDS, contract.DEFAULT_AUTH_IAM_STS_TIMEOUT_SECONDS, minimum=1)
    accepted = audiences(env)
    if not accepted:
        raise ConfigError(
            f"{contract.AUTH_IAM_ENABLED}=true, but neither {contract.AUTH_IAM_AUDIENCES} nor {contract.ALLOWED_HOSTS} "
            "names a host: IAM tokens carry the host the client addresses, so list this server's host names"
        )
    return accepted


#: MLflow's public default passphrase for the AI Gateway's key encryption key (mlflow.utils.crypto).
MLFLOW_DEFAULT_KEK_PASSPHRASE = "mlflow-default-kek-passphrase-for-development-only"
MIN_KEK_PASSPHRASE_LENGTH = 32


def check_kek_passphrase(passphrase: str | None) -> None:
    """The AI Gateway encrypts stored provider keys with this passphrase: it must be a real secret."""
    name = contract.CRYPTO_KEK_PASSPHRASE
    if not passphrase:
        raise ConfigError(
            f"{contract.AI_GATEWAY_ENABLED} is true but {name} is not set: without it MLflow encrypts stored "
            "provider API keys with its public default passphrase. Inject a generated secret."
        )
    if passphrase == MLFLOW_DEFAULT_KEK_PASSPHRASE:
        raise ConfigError(f"{name} is MLflow's public default passphrase; inject a generated secret.")
    if len(passphrase) < MIN_KEK_PASSPHRASE_LENGTH:
        raise ConfigError(
            f"{name} is too short ({len(passphrase)} characters): use at least {MIN_KEK_PASSPHRASE_LENGTH}."
        )


def check_admin_password(password: str | None) -> None:
    """Refuse what MLflow would refuse, before any database work, with a message naming the secret."""
    name = contract.AUTH_ADMIN_PASSWORD
    if not password:
        raise ConfigError(f"{name} is not set: the admin user's password is needed when auth is enabled.")
    if password in contract.FORBIDDEN_ADMIN_PASSWORDS:
        raise ConfigError(f"{name} is MLflow's well-known default admin password; use a generated one.")
    if len(password) < contract.MIN_ADMIN_PASSWORD_LENGTH:
        raise ConfigError(
            f"{name} is too short ({len(password)} characters): MLflow requires at least "
            f"{contract.MIN_ADMIN_PASSWORD_LENGTH}."
        )
    if "\n" in password or "\r" in password:
        raise ConfigError(f"{name} must not contain line breaks.")


# --------------------------------------------------------------------------------------------------
# URIs, auth configuration, server arguments and environment
# --------------------------------------------------------------------------------------------------


def quote_credential(value: str) -> str:
    """Percent-encode a user name or password for a database URI.

    ``quote(..., safe="")`` rather than ``quote_plus``: SQLAlchemy decodes URIs with ``unquote``, which
    turns the ``+`` that ``quote_plus`` writes for a space back into ``+``, not into a space.
    """
    return quote(value, safe="")


def database_uri(
    target: DatabaseTarget, database: str | None = None, idle_timeout_seconds: int = 0, batched_writes: bool = False
) -> str:
    """The SQLAlchemy URI of ``target`` (or of another database on the same server).

    ``idle_timeout_seconds`` > 0 makes the database server close each connection of this URI once it has
    been idle that long (PostgreSQL ``idle_session_timeout``, MySQL ``wait_timeout``, set per session), so
    pooled connections do not keep a paused Aurora cluster awake; MLflow's engines use ``pool_pre_ping`` and
    reconnect. ``batched_writes`` names the :mod:`.batched_writes` plugin on PostgreSQL: only processes that
    have this package's metadata on their path (the server's) can open such a URI.
    """
    # Explicit drivers: SQLAlchemy 2.1 maps a bare "postgresql://" to psycopg 3, which the image lacks.
    scheme = "postgresql+psycopg2" if target.engine == "postgresql" else "mysql+pymysql"
    name = target.name if database is None else database
    uri = (
        f"{scheme}://{quote_credential(target.username)}:{quote_credential(target.password)}"
        f"@{_uri_host(target.host)}:{target.port}/{name}"
    )
    query: dict[str, str] = {}
    if target.engine == "postgresql":
        if target.ssl_mode:
            query["sslmode"] = target.ssl_mode
        if idle_timeout_seconds > 0:
            query["options"] = f"-c idle_session_timeout={idle_timeout_seconds * 1000}"
        if batched_writes:
            query["plugin"] = contract.BATCHED_WRITES_PLUGIN
    elif idle_timeout_seconds > 0:
        query["init_command"] = f"SET SESSION wait_timeout={idle_timeout_seconds}"
    if query:
        uri += "?" + urlencode(query, quote_via=quote, safe="")
    return uri


def _uri_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def build_server_args(settings: Settings, extra_args: Sequence[str] = ()) -> list[str]:
    """Arguments of ``mlflow server``; credentials are never among them."""
    args = [
        "server",
        "--host",
        "0.0.0.0",  # noqa: S104 - the container's only interface reached by the load balancer
        "--port",
        str(settings.port),
        "--workers",
        str(settings.workers),
        # uvloop and httptools explicitly: asyncio + h11 with more than one worker loses TCP_NODELAY and
        # adds about 40 ms to every keep-alive request (measured 0.38-0.52x throughput). No access log:
        # the app logs each request as JSON with its duration and user (request_log.py).
        "--uvicorn-opts",
        f"--loop uvloop --http httptools --timeout-keep-alive {settings.keep_alive_seconds} --no-access-log",
        "--app-name",
        contract.APP_NAME,
    ]
    if settings.artifacts_mode == "proxied":
        args += ["--artifacts-destination", settings.artifacts_uri, "--serve-artifacts"]
    else:
        args += ["--default-artifact-root", settings.artifacts_uri, "--no-serve-artifacts"]
    if settings.allowed_hosts:
        args += ["--allowed-hosts", settings.allowed_hosts]
    if settings.cors_allowed_origins:
        args += ["--cors-allowed-origins", settings.cors_allowed_origins]
    return [*args, *extra_args]


# Contract variables MLflow does not read; the server process does not need them.
_ENTRYPOINT_ONLY = (
    contract.DB_USERNAME,
    contract.DB_PASSWORD,
    contract.AUTH_DB_USERNAME,
    contract.AUTH_DB_PASSWORD,
)


def build_server_env(settings: Settings, base_env: Mapping[str, str]) -> dict[str, str]:
    """The environment of ``mlflow server``: store URIs, pool, security and auth settings."""
    env = {key: value for key, value in base_env.items() if key not in _ENTRYPOINT_ONLY}
    idle = 0 if settings.null_pool else settings.idle_timeout_seconds
    env["MLFLOW_BACKEND_STORE_URI"] = database_uri(
        settings.tracking_db, idle_timeout_seconds=idle, batched_writes=settings.batched_writes
    )
    env.pop("MLFLOW_REGISTRY_STORE_URI", None)  # The registry lives in the tracking database.
    env.pop("MLFLOW_AUTH_CONFIG_PATH", None)  # The app writes its own, briefly (auth_config.py).
    env[contract.JOB_EXECUTION] = "true" if settings.job_execution else "false"
    # Both MLflow's tracking store and its auth store create engines through
    # mlflow.store.db.utils.create_sqlalchemy_engine, which reads these variables.
    if settings.null_pool:
        env["MLFLOW_SQLALCHEMYSTORE_POOLCLASS"] = "NullPool"
    else:
        env["MLFLOW_SQLALCHEMYSTORE_POOL_SIZE"] = str(settings.pool_size)
        env["MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW"] = str(settings.pool_max_overflow)
    if settings.allowed_hosts:
        env[contract.ALLOWED_HOSTS] = settings.allowed_hosts
    if settings.auth_db is not None:
        env[contract.WORKER_AUTH_DATABASE_URI] = database_uri(settings.auth_db, idle_timeout_seconds=idle)
        env[contract.AUTH_ADMIN_USERNAME] = settings.admin_username
        env[contract.AUTH_DEFAULT_PERMISSION] = settings.default_permission
        env[contract.AUTH_CACHE_TTL_SECONDS] = str(settings.auth_cache_ttl_seconds)
    env[contract.AI_GATEWAY_ENABLED] = "true" if settings.ai_gateway else "false"
    if not settings.ai_gateway:
        env.pop(contract.CRYPTO_KEK_PASSPHRASE, None)
    env[contract.S3_CONNECT_TIMEOUT_SECONDS] = str(settings.s3_connect_timeout_seconds)
    env[contract.S3_READ_TIMEOUT_SECONDS] = str(settings.s3_read_timeout_seconds)
    env[contract.S3_MAX_ATTEMPTS] = str(settings.s3_max_attempts)
    env[contract.SCRATCH_DIR] = settings.scratch_dir
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def check_event_loop_dependencies() -> None:
    """uvicorn picks uvloop and httptools implicitly when importable; here they are required."""
    import importlib

    for module, what in (("uvloop", "the event loop"), ("httptools", "the HTTP parser")):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise EntrypointError(
                f"{module} ({what} the server is started with) cannot be imported: {exc}. The image must "
                f"install it (requirements.txt); without it every keep-alive request is about 40 ms slower.",
                EXIT_MISSING_DEPENDENCY,
            ) from None


def without_unavailable_batching(settings: Settings) -> Settings:
    """Settings with batched writes off when this image lacks the plugin's entry point (a custom image that
    copied the server code without its ``dist-info``): SQLAlchemy could not open the tracking store's URI."""
    from importlib.metadata import entry_points

    if not settings.batched_writes or entry_points(group="sqlalchemy.plugins", name=contract.BATCHED_WRITES_PLUGIN):
        return settings
    log(
        f"WARNING: batched writes are off: the SQLAlchemy plugin {contract.BATCHED_WRITES_PLUGIN} is not installed "
        f"(the image's {contract.SERVER_PACKAGE} dist-info is missing), so log_batch sends one statement per row"
    )
    return dataclasses.replace(settings, batched_writes=False)


def check_scratch_dir(path: str, probe_bytes: int = 64 * 1024) -> None:
    """Fail fast when the scratch directory (the writable volume) is missing, read-only or full."""
    import tempfile

    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".entrypoint-probe-") as handle:
            handle.write(b"\0" * probe_bytes)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise EntrypointError(
            f"cannot write to the scratch directory {path} ({contract.SCRATCH_DIR}): {exc.strerror or exc}. "
            "The server needs a writable volume there for temporary files and its auth configuration; "
            "check that it is mounted, writable by uid 10001 and not full.",
            EXIT_SCRATCH,
        ) from None


# --------------------------------------------------------------------------------------------------
# Databases: wait, create, lock, migrate
# --------------------------------------------------------------------------------------------------

ConnectErrorKind = Literal["login", "missing_database", "transient"]


def classify_connect_error(engine: str, message: str, code: int | None = None) -> ConnectErrorKind:
    """Whether a failed connection attempt is worth retrying.

    ``code`` is the MySQL error number (PyMySQL puts it first in ``args``); PostgreSQL connection
    errors carry no SQLSTATE, so their message text is used.
    """
    text = message.lower()
    if engine == "mysql":
        if code in (1044, 1045, 1698):  # access denied to database / for user / unix socket
            return "login"
        if code == 1049:  # unknown database
            return "missing_database"
        return "transient"
    if (
        "password authentication failed" in text
        or "no pg_hba.conf entry" in text
        or "authentication failed" in text
        or ("role" in text and "does not exist" in text)
        or "permission denied for database" in text
    ):
        return "login"
    if "database" in text and "does not exist" in text:
        return "missing_database"
    return "transient"


def _error_code(exc: BaseException) -> int | None:
    orig = getattr(exc, "orig", exc)
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None


def _error_text(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip()
    return " ".join(text.split()) or type(orig).__name__


def create_engine(uri: str, connect_timeout: float | None = None) -> Engine:
    """A SQLAlchemy engine that keeps no idle connection (NullPool)."""
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    connect_args: dict[str, object] = {}
    if connect_timeout is not None:
        connect_args["connect_timeout"] = max(1, int(connect_timeout))
    return sqlalchemy.create_engine(uri, poolclass=NullPool, connect_args=connect_args)


def try_connect(target: DatabaseTarget, uri: str, timeout: float) -> tuple[ConnectErrorKind | None, str]:
    """One connection attempt: (None, "") on success, else the error kind and text."""
    import sqlalchemy

    engine = create_engine(uri, connect_timeout=timeout)
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
        return None, ""
    except Exception as exc:  # Every driver error is classified below.
        return classify_connect_error(target.engine, _error_text(exc), _error_code(exc)), _error_text(exc)
    finally:
        engine.dispose()


def wait_for_database(
    target: DatabaseTarget,
    wait_seconds: float,
    *,
    connect: Callable[[DatabaseTarget, str, float], tuple[ConnectErrorKind | None, str]] = try_connect,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    create: Callable[[DatabaseTarget, str], None] | None = None,
    maintenance_database: str | None = None,
) -> None:
    """Retry until ``target`` accepts a login, at most ``wait_seconds``; create it if missing.

    Fails at once on rejected credentials: retrying cannot fix a wrong secret. A missing database
    is created through ``maintenance_database`` (default: ``postgres``, or no database on MySQL).
    """
    create_missing = create or create_database
    maintenance = maintenance_database or ("postgres" if target.engine == "postgresql" else "")
    created = False
    deadline = clock() + wait_seconds
    delay = 0.5
    attempts = 0
    last_error = ""
    while True:
        attempts += 1
        remaining = max(deadline - clock(), 0.0)
        kind, error = connect(target, database_uri(target), min(_CONNECT_ATTEMPT_SECONDS, max(remaining, 1)))
        if kind is None:
            if attempts > 1:
                log(f"{target.describe()} is reachable after {attempts} attempts")
            return
        if kind == "login":
            raise EntrypointError(
                f"cannot log in to {target.describe()} as user '{target.username}': the server "
                f"rejected the credentials ({error}). Check the database secret "
                f"({' / '.join(target.credential_names)}).",
                EXIT_DATABASE_LOGIN,
            )
        if kind == "missing_database" and not created:
            create_missing(target, maintenance)
            created = True
            continue
        last_error = error
        if clock() >= deadline:
            raise EntrypointError(
                f"{target.describe()} is not reachable at {target.address} (host {target.host}, "
                f"port {target.port}) after {wait_seconds:g} s and {attempts} attempts "
                f"({contract.DB_WAIT_SECONDS}); last error: {last_error}",
                EXIT_DATABASE_UNREACHABLE,
            )
        if attempts == 1:
            log(f"waiting up to {wait_seconds:g} s for {target.describe()}: {error}")
        sleep(min(delay, max(deadline - clock(), 0.1)))
        delay = min(delay * 2, 5.0)


def create_database(target: DatabaseTarget, maintenance: str) -> None:
    """Create ``target``'s database if it does not exist (idempotent, safe when tasks race).

    Connects to the ``maintenance`` database of the same server (on MySQL "" is no database).
    """
    import sqlalchemy
    from sqlalchemy import exc as sa_exc

    engine = create_engine(database_uri(target, maintenance), connect_timeout=_CONNECT_ATTEMPT_SECONDS)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            if target.engine == "mysql":
                connection.execute(sqlalchemy.text(f"CREATE DATABASE IF NOT EXISTS `{target.name}`"))
                log(f"ensured {target.describe()} exists")
                return
            exists = connection.execute(
                sqlalchemy.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.name}
            ).scalar()
            if exists:
                return
            try:
                connection.execute(sqlalchemy.text(f'CREATE DATABASE "{target.name}"'))
                log(f"created {target.describe()}")
            except sa_exc.DBAPIError as exc:
                if getattr(exc.orig, "pgcode", None) not in ("42P04", "23505"):  # exists / raced
                    raise
    except sa_exc.DBAPIError as exc:
        raise EntrypointError(
            f"{target.describe()} does not exist and user '{target.username}' cannot create it "
            f"({_error_text(exc)}). Create it, or grant the user the right to create databases.",
            EXIT_DATABASE_SETUP,
        ) from None
    finally:
        engine.dispose()


def advisory_lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock``."""
    return zlib.crc32(f"mlflow-sagemaker-constructs:{name}".encode()) - 2**31


@contextlib.contextmanager
def migration_lock(target: DatabaseTarget, timeout_seconds: int, purpose: str) -> Iterator[None]:
    """Hold a server-side lock on ``target`` so only one task at a time migrates it."""
    import sqlalchemy
    from sqlalchemy import exc as sa_exc

    engine = create_engine(database_uri(target), connect_timeout=_CONNECT_ATTEMPT_SECONDS)
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        if target.engine == "postgresql":
            key = advisory_lock_key(f"{purpose}:{target.name}")
            got = connection.execute(sqlalchemy.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            if not got:
                log(f"another task is migrating {target.describe()}; waiting for its lock")
                connection.execute(sqlalchemy.text(f"SET lock_timeout = '{int(timeout_seconds)}s'"))
                try:
                    connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
                except sa_exc.DBAPIError:
                    raise EntrypointError(
                        f"gave up waiting {timeout_seconds} s for the migration lock of "
                        f"{target.describe()} ({contract.DB_MIGRATION_LOCK_TIMEOUT_SECONDS})",
                        EXIT_DATABASE_SETUP,
                    ) from None
            try:
                yield
            finally:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        else:
            name = f"mlflow-{purpose}-{target.name}"[:64]
            got = connection.execute(sqlalchemy.text("SELECT GET_LOCK(:n, 0)"), {"n": name}).scalar()
            if got != 1:
                log(f"another task is migrating {target.describe()}; waiting for its lock")
                got = connection.execute(
                    sqlalchemy.text("SELECT GET_LOCK(:n, :t)"), {"n": name, "t": timeout_seconds}
                ).scalar()
            if got != 1:
                raise EntrypointError(
                    f"gave up waiting {timeout_seconds} s for the migration lock of "
                    f"{target.describe()} ({contract.DB_MIGRATION_LOCK_TIMEOUT_SECONDS})",
                    EXIT_DATABASE_SETUP,
                )
            try:
                yield
            finally:
                connection.execute(sqlalchemy.text("SELECT RELEASE_LOCK(:n)"), {"n": name})
    finally:
        connection.close()
        engine.dispose()


SchemaAction = Literal["initialize", "upgrade", "current"]


def plan_migration(current: str | None, head: str, known: frozenset[str], empty: bool) -> SchemaAction:
    """What to do with a schema at revision ``current`` when the installed MLflow's head is ``head``.

    Raises when ``current`` is unknown to the installed MLflow: the database was migrated by a newer
    MLflow, and running an older server against it could corrupt data.
    """
    if current == head:
        return "current"
    if current is None:
        return "initialize" if empty else "upgrade"
    if current not in known:
        raise EntrypointError(
            f"the database schema is at revision {current}, which this MLflow does not know (its "
            f"newest is {head}): it was migrated by a newer MLflow. Run an image with that MLflow "
            "version or newer, or restore a backup taken before the upgrade.",
            EXIT_SCHEMA_NEWER,
        )
    return "upgrade"


def _script_revisions(script_location: str) -> tuple[str, frozenset[str]]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", script_location)
    script = ScriptDirectory.from_config(config)
    heads = script.get_heads()
    if len(heads) != 1:
        raise EntrypointError(f"MLflow's migrations have {len(heads)} heads: {heads}", EXIT_DATABASE_SETUP)
    return heads[0], frozenset(rev.revision for rev in script.walk_revisions())


def _current_revision(connection: Connection, version_table: str) -> str | None:
    from alembic.migration import MigrationContext

    context = MigrationContext.configure(connection, opts={"version_table": version_table})
    return context.get_current_revision()


def mlflow_package_dir() -> Path:
    """Where MLflow is installed, found without importing it (importing MLflow takes seconds)."""
    import importlib.util

    spec = importlib.util.find_spec("mlflow")
    if spec is None or spec.origin is None:
        raise EntrypointError("MLflow is not installed", EXIT_DATABASE_SETUP)
    return Path(spec.origin).resolve().parent


TRACKING_MIGRATIONS = ("store", "db_migrations")
AUTH_MIGRATIONS = ("server", "auth", "db", "migrations")


def _inspect_schema(target: DatabaseTarget, version_table: str) -> tuple[str | None, list[str]]:
    """The schema's alembic revision and the database's table names."""
    import sqlalchemy

    engine = create_engine(database_uri(target))
    try:
        with engine.connect() as connection:
            return _current_revision(connection, version_table), sqlalchemy.inspect(connection).get_table_names()
    finally:
        engine.dispose()


def migrate_tracking_schema(target: DatabaseTarget) -> SchemaAction:
    """Bring the tracking store to the installed MLflow's schema, as ``mlflow db upgrade`` does.

    ``mlflow server`` then finds every table and the head revision, so it migrates nothing itself.
    """
    head, known = _script_revisions(str(mlflow_package_dir().joinpath(*TRACKING_MIGRATIONS)))
    current, tables = _inspect_schema(target, "alembic_version")
    action = plan_migration(current, head, known, all(t.startswith("alembic_") for t in tables))
    if action == "current":
        log(f"tracking schema of {target.describe()} is current ({head})")
        return action
    log(f"{MIGRATION_MARKER} tracking schema of {target.describe()}: {current or 'empty'} -> {head}")
    started = time.monotonic()
    import mlflow.store.db.utils as db_utils

    engine = create_engine(database_uri(target))
    try:
        if action == "initialize":
            db_utils._initialize_tables(engine)  # type: ignore[no-untyped-call]
        else:
            db_utils._upgrade_db(engine)  # type: ignore[no-untyped-call]
    except Exception as exc:  # alembic and driver errors alike: the operator needs the what and the way back
        raise migration_failed("tracking", target, current, head, exc) from exc
    finally:
        engine.dispose()
    log(f"migrated tracking schema in {time.monotonic() - started:.1f} s")
    return action


def migration_failed(
    schema: str, target: DatabaseTarget, current: str | None, head: str, error: BaseException
) -> EntrypointError:
    """The error for a migration that raised, naming the revisions and what state the schema is in."""
    state = (
        f"PostgreSQL rolled the migration back; the schema is still at {current or 'empty'}"
        if target.engine == "postgresql"
        else "MySQL does not roll schema changes back: the schema may be half-migrated, restore the "
        "snapshot taken before the upgrade"
    )
    return EntrypointError(
        f"migrating the {schema} schema of {target.describe()} from {current or 'empty'} to {head} failed: "
        f"{type(error).__name__}: {_error_text(error)}. {state}.",
        EXIT_DATABASE_SETUP,
    )


def migrate_auth_schema(target: DatabaseTarget) -> SchemaAction:
    """Bring the basic-auth store to the installed MLflow's auth schema (version table
    ``alembic_version_auth``); ``mlflow server`` then finds it current and migrates nothing."""
    head, known = _script_revisions(str(mlflow_package_dir().joinpath(*AUTH_MIGRATIONS)))
    current, tables = _inspect_schema(target, _AUTH_VERSION_TABLE)
    # Pre-3.6 auth databases have the tables but no version table; MLflow's migrate() stamps them.
    action = plan_migration(current, head, known, "users" not in tables)
    if action == "current":
        log(f"auth schema of {target.describe()} is current ({head})")
        return action
    log(f"{MIGRATION_MARKER} auth schema of {target.describe()}: {current or 'empty'} -> {head}")
    started = time.monotonic()
    from mlflow.server.auth.db import utils as auth_db_utils

    engine = create_engine(database_uri(target))
    try:
        auth_db_utils.migrate(engine, "head")
    except Exception as exc:  # as for the tracking schema
        raise migration_failed("auth", target, current, head, exc) from exc
    finally:
        engine.dispose()
    log(f"migrated auth schema in {time.monotonic() - started:.1f} s")
    return action


def prepare_databases(settings: Settings) -> None:
    """Wait for, create and migrate the tracking (and auth) databases, under migration locks."""
    tracking = settings.tracking_db
    wait_for_database(tracking, settings.db_wait_seconds)
    auth = settings.auth_db
    if auth is not None:
        # On the tracking server, the tracking database serves to create the auth database.
        maintenance = tracking.name if auth.same_server(tracking) else None
        wait_for_database(auth, settings.db_wait_seconds, maintenance_database=maintenance)
    timeout = settings.migration_lock_timeout_seconds
    with migration_lock(tracking, timeout, "tracking"):
        migrate_tracking_schema(tracking)
    if auth is not None:
        with migration_lock(auth, timeout, "auth"):
            migrate_auth_schema(auth)
            if settings.iam_audiences:
                create_iam_users_table(auth)


def create_iam_users_table(target: DatabaseTarget) -> None:
    """The record of users created for IAM principals (iam_users.py), next to MLflow's auth tables."""
    from .iam_users import create_table

    engine = create_engine(database_uri(target))
    try:
        create_table(engine)
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------------


def server_arguments(argv: Sequence[str]) -> list[str]:
    """The extra ``mlflow server`` arguments among ``argv``.

    A runtime that sets ``contract.CONTAINER_COMMAND`` as entry point *and* as command would repeat
    it here; that repetition is dropped instead of handed to ``mlflow server``.
    """
    args = list(argv)
    for prefix in (contract.CONTAINER_COMMAND, contract.CONTAINER_COMMAND[1:]):
        if args[: len(prefix)] == prefix:
            log(f"ignoring repeated container command {' '.join(prefix)!r} in the arguments")
            return args[len(prefix) :]
    return args


def server_command(settings: Settings, extra_args: Sequence[str] = ()) -> list[str]:
    return [sys.executable, "-m", "mlflow", *build_server_args(settings, extra_args)]


def _exec(command: Sequence[str], env: Mapping[str, str]) -> NoReturn:
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(command[0], list(command), dict(env))  # noqa: S606 - exec, not a shell


def main(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    exec_server: Callable[[Sequence[str], Mapping[str, str]], NoReturn] = _exec,
) -> int:
    """Prepare everything, then exec the server; return an exit code only on failure."""
    args = server_arguments(sys.argv[1:] if argv is None else argv)
    environ = dict(os.environ if env is None else env)
    started = time.monotonic()
    try:
        settings = load_settings(environ)
        if settings.auth_enabled:
            check_admin_password(settings.admin_password)
        check_event_loop_dependencies()
        settings = without_unavailable_batching(settings)
        check_scratch_dir(settings.scratch_dir)
        if not settings.allowed_hosts:
            log(
                f"{contract.ALLOWED_HOSTS} is not set: MLflow accepts only localhost and private-IP "
                "Host headers, so requests through a load balancer's DNS name get 403"
            )
        prepare_databases(settings)
    except EntrypointError as exc:
        log(f"ERROR: {exc.message}")
        return exc.exit_code
    command = server_command(settings, args)
    log(
        f"databases ready in {time.monotonic() - started:.1f} s; starting mlflow server on port "
        f"{settings.port} with {settings.workers} workers, {settings.artifacts_mode} artifacts at "
        f"{settings.artifacts_uri}, auth {'on' if settings.auth_enabled else 'off'}, "
        f"{'no pool' if settings.null_pool else f'pool {settings.pool_size}+{settings.pool_max_overflow}'}"
        f"{', batched writes' if settings.batched_writes else ''}"
    )
    exec_server(command, build_server_env(settings, environ))


if __name__ == "__main__":
    sys.exit(main())
