"""Unit tests of the server entrypoint: settings, URIs, auth config, arguments, waits and migrations."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal, NoReturn

import pytest
from sqlalchemy.engine import make_url

from mlflow_sagemaker_constructs.tracking_server.server import SERVER_IMAGE_DIRECTORY, contract, entrypoint
from mlflow_sagemaker_constructs.tracking_server.server.entrypoint import (
    ConfigError,
    ConnectErrorKind,
    DatabaseTarget,
    EntrypointError,
    Settings,
)

AWKWARD = "p@ss:w/o%rd#?& +x"
ADMIN_PASSWORD = "a-long-admin-%-password"


def env_for(**overrides: str | None) -> dict[str, str]:
    """A complete PostgreSQL contract environment; ``None`` removes a variable."""
    env = {
        contract.DB_ENGINE: "postgresql",
        contract.DB_HOST: "db.cluster-abc.us-east-1.rds.amazonaws.com",
        contract.DB_NAME: "mlflow",
        contract.DB_USERNAME: "mlflow_user",
        contract.DB_PASSWORD: AWKWARD,
        contract.AUTH_ADMIN_PASSWORD: ADMIN_PASSWORD,
        contract.FLASK_SECRET_KEY: "flask-secret",
        contract.ARTIFACTS_URI: "s3://bucket/prefix",
    }
    for key, value in overrides.items():
        name = getattr(contract, key)
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def settings_for(**overrides: str | None) -> Settings:
    return entrypoint.load_settings(env_for(**overrides))


# --- settings -------------------------------------------------------------------------------------


def test_defaults() -> None:
    settings = settings_for()
    assert settings.port == contract.DEFAULT_PORT
    assert settings.tracking_db.port == 5432
    assert settings.db_wait_seconds == contract.DEFAULT_DB_WAIT_SECONDS
    assert settings.workers == contract.DEFAULT_WORKERS
    assert settings.auth_enabled
    assert settings.artifacts_mode == "proxied"
    assert not settings.null_pool
    assert settings.pool_size == contract.DEFAULT_DB_POOL_SIZE
    assert settings.idle_timeout_seconds == contract.DEFAULT_DB_IDLE_TIMEOUT_SECONDS
    assert not settings.job_execution
    assert not settings.ai_gateway
    assert settings.scratch_dir == contract.DEFAULT_SCRATCH_DIR
    # Secure by default: users see only what they created or were granted.
    assert settings.default_permission == "NO_PERMISSIONS"
    assert settings.auth_cache_ttl_seconds == contract.DEFAULT_AUTH_CACHE_TTL_SECONDS
    # The auth store defaults to the tracking server and credentials, in its own database.
    auth = settings.auth_db
    assert auth is not None
    assert (auth.host, auth.port, auth.name) == (settings.tracking_db.host, 5432, contract.DEFAULT_AUTH_DB_NAME)
    assert (auth.username, auth.password) == ("mlflow_user", AWKWARD)


def test_secrets_are_not_in_the_settings_repr() -> None:
    text = repr(settings_for())
    assert AWKWARD not in text
    assert ADMIN_PASSWORD not in text
    assert "flask-secret" not in text


@pytest.mark.parametrize(
    ("raw", "engine", "port"),
    [("postgresql", "postgresql", 5432), ("aurora-postgresql", "postgresql", 5432), ("MySQL", "mysql", 3306)],
)
def test_engines_and_their_default_ports(raw: str, engine: str, port: int) -> None:
    settings = settings_for(DB_ENGINE=raw, AUTH_DB_HOST="auth-db")
    assert settings.tracking_db.engine == engine
    assert settings.tracking_db.port == port


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DB_ENGINE": None}, contract.DB_ENGINE),
        ({"DB_ENGINE": "oracle"}, contract.DB_ENGINE),
        ({"DB_HOST": None}, contract.DB_HOST),
        ({"DB_USERNAME": None}, contract.DB_USERNAME),
        ({"DB_PASSWORD": None}, contract.DB_PASSWORD),
        ({"DB_PORT": "five"}, contract.DB_PORT),
        ({"DB_NAME": "mlflow; DROP TABLE x"}, contract.DB_NAME),
        ({"AUTH_DB_NAME": "mlflow"}, contract.AUTH_DB_NAME),
        ({"ARTIFACTS_URI": None}, contract.ARTIFACTS_URI),
        ({"ARTIFACTS_MODE": "sideways"}, contract.ARTIFACTS_MODE),
        ({"DB_POOL": "huge"}, contract.DB_POOL),
        ({"AUTH_ENABLED": "maybe"}, contract.AUTH_ENABLED),
        ({"AUTH_DEFAULT_PERMISSION": "ADMIN"}, contract.AUTH_DEFAULT_PERMISSION),
        ({"FLASK_SECRET_KEY": None}, contract.FLASK_SECRET_KEY),
        ({"WORKERS": "0"}, contract.WORKERS),
        ({"DB_ENGINE": "mysql"}, contract.AUTH_DB_HOST),  # auth cannot live on MySQL
    ],
)
def test_bad_settings_name_the_variable(overrides: dict[str, str | None], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        settings_for(**overrides)
    assert info.value.exit_code == entrypoint.EXIT_CONFIG


def test_mysql_tracking_with_a_separate_postgresql_auth_store() -> None:
    settings = settings_for(
        DB_ENGINE="mysql",
        AUTH_DB_HOST="auth.example",
        AUTH_DB_USERNAME="auth_user",
        AUTH_DB_PASSWORD="auth-pass",
        AUTH_DB_NAME="auth",
    )
    auth = settings.auth_db
    assert auth is not None
    assert (auth.engine, auth.host, auth.port, auth.name) == ("postgresql", "auth.example", 5432, "auth")
    assert (auth.username, auth.password) == ("auth_user", "auth-pass")
    assert auth.credential_names == (contract.AUTH_DB_USERNAME, contract.AUTH_DB_PASSWORD)


def test_auth_disabled_needs_no_admin_password_or_secret_key() -> None:
    settings = settings_for(AUTH_ENABLED="false", AUTH_ADMIN_PASSWORD=None, FLASK_SECRET_KEY=None, DB_ENGINE="mysql")
    assert not settings.auth_enabled
    assert settings.auth_db is None


def test_null_pool_and_direct_artifacts() -> None:
    settings = settings_for(DB_POOL="null", ARTIFACTS_MODE="direct")
    assert settings.null_pool
    assert settings.artifacts_mode == "direct"


# --- admin password -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "message"),
    [
        (None, "not set"),
        ("", "not set"),
        ("password1234", "default"),
        ("short", "too short"),
        ("eleven-char", "too short"),
        ("twelve-chars\nx", "line breaks"),
    ],
)
def test_weak_admin_passwords_are_refused(password: str | None, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        entrypoint.check_admin_password(password)
    assert contract.AUTH_ADMIN_PASSWORD in info.value.message


def test_a_good_admin_password_passes() -> None:
    entrypoint.check_admin_password("twelve-chars")
    entrypoint.check_admin_password(ADMIN_PASSWORD)


# --- URIs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("password", [AWKWARD, "plain", "a b", "a+b", "%41", "ünï©ode", "'\"\\"])
def test_credentials_survive_the_uri(password: str) -> None:
    target = DatabaseTarget("postgresql", "db.example", 5432, "mlflow", "user@corp", password)
    url = make_url(entrypoint.database_uri(target))
    assert url.password == password
    assert url.username == "user@corp"
    assert (url.host, url.port, url.database) == ("db.example", 5432, "mlflow")


def test_uri_drivers_are_explicit() -> None:
    postgres = DatabaseTarget("postgresql", "h", 5432, "d", "u", "p")
    mysql = DatabaseTarget("mysql", "h", 3306, "d", "u", "p")
    assert entrypoint.database_uri(postgres).startswith("postgresql+psycopg2://")
    assert entrypoint.database_uri(mysql).startswith("mysql+pymysql://")
    assert entrypoint.database_uri(postgres, "postgres").endswith("/postgres")


def test_quote_credential_encodes_every_delimiter() -> None:
    assert entrypoint.quote_credential("@:/%#?& +") == "%40%3A%2F%25%23%3F%26%20%2B"


def test_ssl_mode_and_ipv6_hosts() -> None:
    settings = settings_for(DB_SSL_MODE="verify-full", DB_HOST="fd00::1")
    url = make_url(entrypoint.database_uri(settings.tracking_db))
    assert url.query["sslmode"] == "verify-full"
    assert url.host == "fd00::1"


# --- server arguments and environment -------------------------------------------------------------


def test_proxied_server_arguments() -> None:
    settings = settings_for(ALLOWED_HOSTS="alb.example,mlflow.example", CORS_ALLOWED_ORIGINS="https://ui", WORKERS="3")
    args = entrypoint.build_server_args(settings, ["--static-prefix", "/mlflow"])
    assert args[:7] == ["server", "--host", "0.0.0.0", "--port", "5000", "--workers", "3"]  # noqa: S104
    joined = " ".join(args)
    assert "--artifacts-destination s3://bucket/prefix --serve-artifacts" in joined
    assert "--default-artifact-root" not in joined
    assert "--allowed-hosts alb.example,mlflow.example" in joined
    assert "--cors-allowed-origins https://ui" in joined
    assert f"--app-name {contract.APP_NAME}" in joined
    opts = args[args.index("--uvicorn-opts") + 1]
    assert "--loop uvloop" in opts
    assert "--http httptools" in opts
    assert "--no-access-log" in opts  # the app logs requests itself (request_log.py)
    assert args[-2:] == ["--static-prefix", "/mlflow"]
    assert AWKWARD not in joined
    assert "--backend-store-uri" not in joined  # the URI (with its password) travels in the environment


def test_direct_server_arguments_without_auth() -> None:
    settings = settings_for(ARTIFACTS_MODE="direct", AUTH_ENABLED="false", PORT="8080")
    args = entrypoint.build_server_args(settings)
    joined = " ".join(args)
    assert "--default-artifact-root s3://bucket/prefix --no-serve-artifacts" in joined
    assert "--artifacts-destination" not in joined
    assert f"--app-name {contract.APP_NAME}" in joined  # the app applies request policies without auth too
    assert "--allowed-hosts" not in joined
    assert "--port 8080" in joined


def test_server_command_runs_mlflow_with_this_interpreter() -> None:
    command = entrypoint.server_command(settings_for())
    assert command[:4] == [sys.executable, "-m", "mlflow", "server"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], []),
        (["--static-prefix", "/x"], ["--static-prefix", "/x"]),
        ([*contract.CONTAINER_COMMAND], []),
        ([*contract.CONTAINER_COMMAND[1:], "--static-prefix", "/x"], ["--static-prefix", "/x"]),
    ],
)
def test_a_repeated_container_command_is_not_passed_to_mlflow(argv: list[str], expected: list[str]) -> None:
    assert entrypoint.server_arguments(argv) == expected


def test_server_environment_with_null_pool() -> None:
    settings = settings_for(DB_POOL="null", ALLOWED_HOSTS="alb.example")
    base = {
        **env_for(DB_POOL="null"),
        "PATH": "/usr/bin",
        "MLFLOW_REGISTRY_STORE_URI": "sqlite:///x.db",
        "MLFLOW_AUTH_CONFIG_PATH": "/stale/basic_auth.ini",
    }
    env = entrypoint.build_server_env(settings, base)
    assert env["MLFLOW_BACKEND_STORE_URI"] == entrypoint.database_uri(settings.tracking_db, batched_writes=True)
    assert "MLFLOW_REGISTRY_STORE_URI" not in env
    assert "MLFLOW_AUTH_CONFIG_PATH" not in env
    assert env["MLFLOW_SQLALCHEMYSTORE_POOLCLASS"] == "NullPool"
    assert "MLFLOW_SQLALCHEMYSTORE_POOL_SIZE" not in env
    assert env[contract.JOB_EXECUTION] == "false"
    assert env[contract.ALLOWED_HOSTS] == "alb.example"
    assert env["PATH"] == "/usr/bin"
    for name in (contract.DB_PASSWORD, contract.DB_USERNAME, contract.AUTH_DB_PASSWORD, contract.AUTH_DB_USERNAME):
        assert name not in env


def test_default_pool_is_bounded_and_closes_idle_sessions() -> None:
    settings = settings_for()
    env = entrypoint.build_server_env(settings, {})
    assert "MLFLOW_SQLALCHEMYSTORE_POOLCLASS" not in env
    assert env["MLFLOW_SQLALCHEMYSTORE_POOL_SIZE"] == str(contract.DEFAULT_DB_POOL_SIZE)
    assert env["MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW"] == str(contract.DEFAULT_DB_POOL_MAX_OVERFLOW)
    timeout_ms = contract.DEFAULT_DB_IDLE_TIMEOUT_SECONDS * 1000
    for uri in (env["MLFLOW_BACKEND_STORE_URI"], env[contract.WORKER_AUTH_DATABASE_URI]):
        assert make_url(uri).query["options"] == f"-c idle_session_timeout={timeout_ms}"
        assert make_url(uri).password == AWKWARD


def test_the_tracking_store_batches_writes_on_postgresql_by_default() -> None:
    env = entrypoint.build_server_env(settings_for(), {})
    assert make_url(env["MLFLOW_BACKEND_STORE_URI"]).query["plugin"] == contract.BATCHED_WRITES_PLUGIN
    # The auth store writes single rows; its URI stays free of the plugin.
    assert "plugin" not in make_url(env[contract.WORKER_AUTH_DATABASE_URI]).query


@pytest.mark.parametrize(
    "overrides", [{"DB_BATCHED_WRITES": "false"}, {"DB_ENGINE": "mysql", "AUTH_DB_HOST": "pg.example"}]
)
def test_batched_writes_off_or_on_mysql_leave_the_uri_without_the_plugin(overrides: dict[str, str]) -> None:
    settings = settings_for(**overrides)
    assert settings.batched_writes is False
    env = entrypoint.build_server_env(settings, {})
    assert "plugin" not in make_url(env["MLFLOW_BACKEND_STORE_URI"]).query


def test_the_batched_writes_plugin_is_registered_and_sets_the_mode() -> None:
    """The entry point SQLAlchemy loads by the URI's plugin name; the engine gets the batching mode."""
    from sqlalchemy import create_engine
    from sqlalchemy.dialects import plugins

    entry_points = (SERVER_IMAGE_DIRECTORY / "dist-info" / "entry_points.txt").read_text(encoding="utf-8")
    assert f"{contract.BATCHED_WRITES_PLUGIN} = {contract.SERVER_PACKAGE}.batched_writes:BatchedWrites" in entry_points
    from mlflow_sagemaker_constructs.tracking_server.server.batched_writes import BatchedWrites

    kwargs: dict[str, object] = {}
    BatchedWrites(make_url("postgresql+psycopg2://u@h/db"), kwargs)
    assert kwargs == {"executemany_mode": "values_plus_batch"}
    kwargs = {"executemany_mode": "values_only"}  # a caller's explicit choice stands
    BatchedWrites(make_url("postgresql+psycopg2://u@h/db"), kwargs)
    assert kwargs == {"executemany_mode": "values_only"}
    kwargs = {}
    BatchedWrites(make_url("mysql+pymysql://u@h/db"), kwargs)
    assert kwargs == {}
    # What the entry point does in the server's processes, registered here by hand: this venv does not
    # install the server's metadata. The URI the entrypoint builds then yields a batching engine.
    plugins.register(contract.BATCHED_WRITES_PLUGIN, BatchedWrites.__module__, BatchedWrites.__name__)
    settings = settings_for()
    engine = create_engine(entrypoint.build_server_env(settings, {})["MLFLOW_BACKEND_STORE_URI"])
    assert engine.dialect.executemany_mode.name == "EXECUTEMANY_VALUES_PLUS_BATCH"  # type: ignore[attr-defined]
    assert "plugin" not in engine.url.query
    engine.dispose()


def test_an_image_without_the_plugin_starts_with_batching_off_and_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # This venv does not install the server's metadata: the situation of a custom image without dist-info.
    settings = entrypoint.without_unavailable_batching(settings_for())
    assert settings.batched_writes is False
    assert "batched writes are off" in capsys.readouterr().err
    env = entrypoint.build_server_env(settings, {})
    assert "plugin" not in make_url(env["MLFLOW_BACKEND_STORE_URI"]).query


def test_mysql_sessions_get_a_wait_timeout() -> None:
    settings = settings_for(DB_ENGINE="mysql", AUTH_DB_HOST="pg.example", DB_IDLE_TIMEOUT_SECONDS="45")
    env = entrypoint.build_server_env(settings, {})
    assert make_url(env["MLFLOW_BACKEND_STORE_URI"]).query["init_command"] == "SET SESSION wait_timeout=45"
    assert make_url(env[contract.WORKER_AUTH_DATABASE_URI]).query["options"] == "-c idle_session_timeout=45000"


def test_idle_timeout_zero_leaves_the_server_setting() -> None:
    env = entrypoint.build_server_env(settings_for(DB_IDLE_TIMEOUT_SECONDS="0"), {})
    assert "options" not in make_url(env["MLFLOW_BACKEND_STORE_URI"]).query


def test_auth_settings_reach_the_workers() -> None:
    settings = settings_for(AUTH_DEFAULT_PERMISSION="read", AUTH_CACHE_TTL_SECONDS="15")
    env = entrypoint.build_server_env(settings, env_for())
    assert settings.auth_db is not None
    assert env[contract.WORKER_AUTH_DATABASE_URI].startswith("postgresql+psycopg2://")
    assert env[contract.AUTH_DEFAULT_PERMISSION] == "READ"
    assert env[contract.AUTH_CACHE_TTL_SECONDS] == "15"
    # Sources are checked by request_policy (which knows the run); MLflow's regex would refuse legacy runs.
    assert "MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX" not in env
    assert env[contract.AI_GATEWAY_ENABLED] == "false"


def test_auth_disabled_passes_no_auth_database() -> None:
    env = entrypoint.build_server_env(settings_for(AUTH_ENABLED="false"), env_for(AUTH_ENABLED="false"))
    assert contract.WORKER_AUTH_DATABASE_URI not in env


@pytest.mark.parametrize(
    ("passphrase", "message"),
    [
        (None, "is not set"),
        ("mlflow-default-kek-passphrase-for-development-only", "public default passphrase"),
        ("short", "too short"),
    ],
)
def test_an_ai_gateway_needs_its_own_passphrase(passphrase: str | None, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings_for(AI_GATEWAY_ENABLED="true", CRYPTO_KEK_PASSPHRASE=passphrase)


def test_the_gateway_passphrase_reaches_the_server_only_when_the_gateway_is_on() -> None:
    passphrase = "k" * 40
    on = settings_for(AI_GATEWAY_ENABLED="true", CRYPTO_KEK_PASSPHRASE=passphrase)
    assert (
        entrypoint.build_server_env(on, env_for(CRYPTO_KEK_PASSPHRASE=passphrase))[contract.CRYPTO_KEK_PASSPHRASE]
        == passphrase
    )
    off = settings_for(CRYPTO_KEK_PASSPHRASE=passphrase)
    assert contract.CRYPTO_KEK_PASSPHRASE not in entrypoint.build_server_env(
        off, env_for(CRYPTO_KEK_PASSPHRASE=passphrase)
    )


def test_s3_bounds_reach_the_server() -> None:
    settings = settings_for(S3_CONNECT_TIMEOUT_SECONDS="2", S3_READ_TIMEOUT_SECONDS="9", S3_MAX_ATTEMPTS="4")
    env = entrypoint.build_server_env(settings, {})
    assert (env[contract.S3_CONNECT_TIMEOUT_SECONDS], env[contract.S3_READ_TIMEOUT_SECONDS]) == ("2", "9")
    assert env[contract.S3_MAX_ATTEMPTS] == "4"


@pytest.mark.parametrize("module", ["uvloop", "httptools"])
def test_a_missing_event_loop_dependency_stops_the_start(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes "import <module>" raise ImportError
    with pytest.raises(EntrypointError, match=f"{module} .* cannot be imported") as info:
        entrypoint.check_event_loop_dependencies()
    assert info.value.exit_code == entrypoint.EXIT_MISSING_DEPENDENCY


def test_an_unwritable_scratch_directory_stops_the_start(tmp_path: Path) -> None:
    missing = tmp_path / "not-mounted"
    with pytest.raises(EntrypointError, match="cannot write to the scratch directory") as info:
        entrypoint.check_scratch_dir(str(missing))
    assert info.value.exit_code == entrypoint.EXIT_SCRATCH
    entrypoint.check_scratch_dir(str(tmp_path))
    assert list(tmp_path.iterdir()) == [], "the probe file must not stay behind"


# --- waiting for the database ---------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


TARGET = DatabaseTarget("postgresql", "db.example", 5433, "mlflow", "mlflow_user", "secret")


def scripted(*outcomes: tuple[ConnectErrorKind | None, str], clock: FakeClock, cost: float = 1.0) -> object:
    remaining = list(outcomes)

    def connect(target: DatabaseTarget, uri: str, timeout: float) -> tuple[ConnectErrorKind | None, str]:
        clock.now += cost
        return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return connect


def test_wait_retries_until_the_database_answers() -> None:
    clock = FakeClock()
    connect = scripted(("transient", "refused"), ("transient", "refused"), (None, ""), clock=clock)
    entrypoint.wait_for_database(TARGET, 60, connect=connect, sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]
    assert clock.now < 10


def test_wait_gives_up_naming_host_and_port() -> None:
    clock = FakeClock()
    connect = scripted(("transient", "Connection refused"), clock=clock)
    with pytest.raises(EntrypointError) as info:
        entrypoint.wait_for_database(TARGET, 20, connect=connect, sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]
    assert info.value.exit_code == entrypoint.EXIT_DATABASE_UNREACHABLE
    assert "db.example:5433" in info.value.message
    assert "Connection refused" in info.value.message
    assert contract.DB_WAIT_SECONDS in info.value.message
    assert 20 <= clock.now <= 27


def test_wrong_credentials_fail_at_once() -> None:
    clock = FakeClock()
    connect = scripted(("login", 'password authentication failed for user "mlflow_user"'), clock=clock)
    with pytest.raises(EntrypointError) as info:
        entrypoint.wait_for_database(TARGET, 60, connect=connect, sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]
    assert info.value.exit_code == entrypoint.EXIT_DATABASE_LOGIN
    assert clock.now == 1
    assert "mlflow_user" in info.value.message
    assert contract.DB_PASSWORD in info.value.message
    assert "secret" not in info.value.message.replace("database secret", "")


def test_a_missing_database_is_created_once() -> None:
    clock = FakeClock()
    created: list[tuple[str, str]] = []
    connect = scripted(("missing_database", 'database "mlflow" does not exist'), (None, ""), clock=clock)
    entrypoint.wait_for_database(
        TARGET,
        60,
        connect=connect,  # type: ignore[arg-type]
        sleep=clock.sleep,
        clock=clock,
        create=lambda target, maintenance: created.append((target.name, maintenance)),
    )
    assert created == [("mlflow", "postgres")]


@pytest.mark.parametrize(
    ("engine", "message", "code", "kind"),
    [
        ("postgresql", 'FATAL: password authentication failed for user "x"', None, "login"),
        ("postgresql", "FATAL: no pg_hba.conf entry for host", None, "login"),
        ("postgresql", 'FATAL: database "mlflow" does not exist', None, "missing_database"),
        ("postgresql", "connection to server at 127.0.0.1, port 5432 failed: Connection refused", None, "transient"),
        ("postgresql", "could not translate host name to address", None, "transient"),
        ("postgresql", "FATAL: the database system is starting up", None, "transient"),
        ("mysql", "(1045, Access denied for user)", 1045, "login"),
        ("mysql", "(1049, Unknown database 'mlflow')", 1049, "missing_database"),
        ("mysql", "(2003, Can't connect to MySQL server)", 2003, "transient"),
    ],
)
def test_connection_errors_are_classified(engine: str, message: str, code: int | None, kind: str) -> None:
    assert entrypoint.classify_connect_error(engine, message, code) == kind


# --- migrations -----------------------------------------------------------------------------------


KNOWN = frozenset({"a", "b", "c"})


@pytest.mark.parametrize(
    ("current", "empty", "action"),
    [("c", False, "current"), (None, True, "initialize"), (None, False, "upgrade"), ("a", False, "upgrade")],
)
def test_plan_migration(current: str | None, empty: bool, action: str) -> None:
    assert entrypoint.plan_migration(current, "c", KNOWN, empty) == action


def test_a_newer_schema_is_refused() -> None:
    with pytest.raises(EntrypointError, match="newer MLflow") as info:
        entrypoint.plan_migration("zzz", "c", KNOWN, False)
    assert info.value.exit_code == entrypoint.EXIT_SCHEMA_NEWER


@pytest.mark.parametrize(
    ("engine", "state"),
    [("postgresql", "rolled the migration back; the schema is still at 5b0e9adcef9c"), ("mysql", "half-migrated")],
)
def test_a_failed_migration_names_the_revisions_and_the_way_back(
    engine: Literal["postgresql", "mysql"], state: str
) -> None:
    target = DatabaseTarget(engine, "db.example", 5432, "mlflow", "u", "p")
    error = entrypoint.migration_failed("tracking", target, "5b0e9adcef9c", "dc11669786a5", RuntimeError("boom"))
    assert error.exit_code == entrypoint.EXIT_DATABASE_SETUP
    assert f"migrating the tracking schema of {engine} database 'mlflow' at db.example:5432" in error.message
    assert "from 5b0e9adcef9c to dc11669786a5 failed: RuntimeError: boom." in error.message
    assert state in error.message


def test_mlflows_migration_scripts_are_found_without_importing_mlflow() -> None:
    root = entrypoint.mlflow_package_dir()
    head, known = entrypoint._script_revisions(str(root.joinpath(*entrypoint.TRACKING_MIGRATIONS)))
    assert head in known
    assert len(known) > 50
    auth_head, auth_known = entrypoint._script_revisions(str(root.joinpath(*entrypoint.AUTH_MIGRATIONS)))
    assert auth_head in auth_known


def test_advisory_lock_keys_are_stable_signed_64_bit() -> None:
    key = entrypoint.advisory_lock_key("tracking:mlflow")
    assert key == entrypoint.advisory_lock_key("tracking:mlflow")
    assert key != entrypoint.advisory_lock_key("auth:mlflow")
    assert -(2**63) <= key < 2**63


# --- main -----------------------------------------------------------------------------------------


class ExecCalledError(Exception):
    """Raised instead of replacing the test process."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str]) -> None:
        super().__init__("exec")
        self.command = list(command)
        self.env = dict(env)


def fake_exec(command: Sequence[str], env: Mapping[str, str]) -> NoReturn:
    raise ExecCalledError(command, env)


def test_main_prepares_then_execs_the_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    prepared: list[Settings] = []
    monkeypatch.setattr(entrypoint, "prepare_databases", prepared.append)
    with pytest.raises(ExecCalledError) as info:
        entrypoint.main(["--static-prefix", "/x"], env_for(SCRATCH_DIR=str(tmp_path)), exec_server=fake_exec)
    assert len(prepared) == 1
    assert info.value.command[:4] == [sys.executable, "-m", "mlflow", "server"]
    assert info.value.command[-2:] == ["--static-prefix", "/x"]
    assert "MLFLOW_AUTH_CONFIG_PATH" not in info.value.env
    assert list(tmp_path.iterdir()) == [], "the entrypoint leaves no file in the scratch directory"


def test_main_reports_config_errors_without_touching_the_database(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(entrypoint, "prepare_databases", lambda settings: pytest.fail("database touched"))
    code = entrypoint.main([], env_for(AUTH_ADMIN_PASSWORD="password1234"), exec_server=fake_exec)
    assert code == entrypoint.EXIT_CONFIG
    err = capsys.readouterr().err
    assert "[mlflow-entrypoint] ERROR:" in err
    assert contract.AUTH_ADMIN_PASSWORD in err


def test_main_reports_database_errors(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def unreachable(settings: Settings) -> None:
        raise EntrypointError("db.example:5432 is not reachable", entrypoint.EXIT_DATABASE_UNREACHABLE)

    monkeypatch.setattr(entrypoint, "prepare_databases", unreachable)
    assert entrypoint.main([], env_for(SCRATCH_DIR=tempfile.gettempdir()), exec_server=fake_exec) == (
        entrypoint.EXIT_DATABASE_UNREACHABLE
    )
    assert "db.example:5432" in capsys.readouterr().err


def test_the_image_layout_runs_the_entrypoint_as_a_package_module(tmp_path: Path) -> None:
    """In the image the build context's *.py files are the package mlflow_sagemaker_server in /opt/mlflow."""
    package = tmp_path / contract.SERVER_PACKAGE
    package.mkdir()
    for source in SERVER_IMAGE_DIRECTORY.glob("*.py"):
        shutil.copy(source, package / source.name)
    # -S: no site-packages, so the library is not importable; the entrypoint imports only the stdlib first.
    result = subprocess.run(
        [sys.executable, "-S", *contract.CONTAINER_COMMAND[1:]],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tmp_path)},
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == entrypoint.EXIT_CONFIG, result.stderr
    assert f"ERROR: {contract.DB_ENGINE} is not set" in result.stderr
