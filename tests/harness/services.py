"""Local stand-ins for the AWS services around the MLflow server, and a runner for the entrypoint.

Everything runs on 127.0.0.1 with random free ports, in its own temporary directory, with a pid file,
without Docker or systemd:

* :class:`PostgresServer` - PostgreSQL (``initdb`` + ``pg_ctl``, as the ``postgres`` user when root);
* :class:`MariaDbServer` - MariaDB (``mariadb-install-db`` + ``mariadbd``);
* :class:`S3Server` - S3 emulated by ``moto_server``;
* :class:`ApiGateway` - nginx plus a response-size limiter enforcing API Gateway HTTP API limits;
* :func:`run_entrypoint` - runs the server package's entrypoint on the host, installed as the image
  installs it (:func:`server_install_dir`), with a given environment, and returns an
  :class:`EntrypointProcess` (URL, process, logs, health wait, stop).

The classes are plain context managers so that fixtures of any scope (and tests of the construct's
synthesized task definition) can reuse them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import glob
import http.client
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import sqlalchemy
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from mlflow_sagemaker_constructs.tracking_server.server import SERVER_IMAGE_DIRECTORY, contract
from tests.harness.processes import stop_process_group

LOCALHOST = "127.0.0.1"
#: API Gateway HTTP API limits (not adjustable): 10 MB payloads both ways, 30 s integration timeout.
API_GATEWAY_PAYLOAD_LIMIT = 10 * 1024 * 1024
API_GATEWAY_TIMEOUT_SECONDS = 30
#: Dummy credentials for moto; never real ones.
FAKE_AWS_ENV: Mapping[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


class ServiceError(RuntimeError):
    pass


@dataclasses.dataclass(frozen=True)
class DbAccount:
    """A database and the login that owns it, as the task's database secret would describe them."""

    engine: str  # contract.DB_ENGINES
    host: str
    port: int
    database: str
    username: str
    password: str = dataclasses.field(repr=False)


def awkward_password() -> str:
    """A password with every character that breaks naive URI building, plus a space and a plus."""
    return f"p@ss:w/rd%#?&+ {secrets.token_hex(4)}"


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServiceError(f"process {process.args!r} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((LOCALHOST, port), timeout=1):
            return
        time.sleep(0.1)
    raise ServiceError(f"nothing listens on {LOCALHOST}:{port} after {timeout} s")


def _private_dir(prefix: str) -> Path:
    """A temporary directory other local users (postgres, nginx workers) may traverse."""
    path = Path(tempfile.mkdtemp(prefix=f"mlflow-it-{prefix}-"))
    path.chmod(0o755)
    return path


def _write_pid_file(path: Path, pid: int) -> None:
    path.write_text(f"{pid}\n", encoding="utf-8")


def _stop_process_group(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    stop_process_group(process, timeout)


class _Service:
    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        raise NotImplementedError

    def _start(self) -> None:
        raise NotImplementedError

    def _start_or_clean_up(self) -> Self:
        """Run ``_start``; stop whatever it got running when it fails, so no process outlives the test."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self


def _engine(url: str | sqlalchemy.URL) -> Engine:
    return sqlalchemy.create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")


# --------------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------------


def _postgres_bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise ServiceError("PostgreSQL is not installed (apt-get install postgresql)")


def _as_postgres_user(command: Sequence[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as the ``postgres`` user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return list(command)


class PostgresServer(_Service):
    """A throw-away PostgreSQL cluster; password (scram) logins over TCP, superuser ``postgres``."""

    superuser = "postgres"

    def __init__(self) -> None:
        self.host = LOCALHOST
        self.port = free_port()
        self.superuser_password = secrets.token_urlsafe(16)
        self.base_dir = _private_dir("postgres")
        self.data_dir = self.base_dir / "data"
        self.log_file = self.base_dir / "postgres.log"
        self.pid_file = self.data_dir / "postmaster.pid"  # written by the postmaster itself
        self._bin = _postgres_bin_dir()
        self._started = False

    @classmethod
    def start(cls) -> PostgresServer:
        return cls()._start_or_clean_up()

    def _start(self) -> None:
        pwfile = self.base_dir / "pwfile"
        pwfile.write_text(self.superuser_password + "\n", encoding="utf-8")
        if os.geteuid() == 0:
            shutil.chown(self.base_dir, "postgres")
            shutil.chown(pwfile, "postgres")
        pwfile.chmod(0o600)
        subprocess.run(
            _as_postgres_user(
                [
                    str(self._bin / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    self.superuser,
                    "--pwfile",
                    str(pwfile),
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )
        options = (
            f"-c listen_addresses={self.host} -c port={self.port} "
            f"-c unix_socket_directories={self.base_dir} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        result = subprocess.run(
            _as_postgres_user(
                [
                    str(self._bin / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            log = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
            raise ServiceError(f"pg_ctl start failed: {result.stderr!r}\n{log}")
        self._started = True

    def stop(self) -> None:
        if self._started:
            subprocess.run(
                _as_postgres_user([str(self._bin / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"]),
                capture_output=True,
                check=False,
            )
            self._started = False
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def url(self, database: str = "postgres", user: str | None = None, password: str | None = None) -> sqlalchemy.URL:
        return sqlalchemy.URL.create(
            "postgresql+psycopg2",
            username=user or self.superuser,
            password=password if user else self.superuser_password,
            host=self.host,
            port=self.port,
            database=database,
        )

    def query(
        self, sql: str, params: Mapping[str, Any] | None = None, database: str = "postgres"
    ) -> list[tuple[Any, ...]]:
        """Run one statement as the superuser (autocommit); rows for SELECTs, else []."""
        engine = _engine(self.url(database))
        try:
            with engine.connect() as connection:
                result = connection.execute(sqlalchemy.text(sql), dict(params or {}))
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            engine.dispose()

    def create_user(self, name: str, password: str, createdb: bool = True) -> None:
        # PostgreSQL has no bind parameters in utility statements: quote the literal ourselves.
        literal = "'" + password.replace("'", "''") + "'"
        self.query(f'CREATE ROLE "{name}" LOGIN {"CREATEDB" if createdb else ""} PASSWORD {literal}')

    def create_database(self, name: str, owner: str) -> None:
        self.query(f'CREATE DATABASE "{name}" OWNER "{owner}"')

    def new_account(self, name: str, password: str | None = None, createdb: bool = True) -> DbAccount:
        """A login role ``name`` owning a fresh, empty database ``name``."""
        password = password or awkward_password()
        self.create_user(name, password, createdb=createdb)
        self.create_database(name, name)
        return DbAccount("postgresql", self.host, self.port, name, name, password)

    def database_exists(self, name: str) -> bool:
        return bool(self.query("SELECT 1 FROM pg_database WHERE datname = :n", {"n": name}))

    def connections(self, user: str) -> list[tuple[str, str]]:
        """(database, state) of every open connection of ``user``."""
        rows = self.query("SELECT datname, coalesce(state, '') FROM pg_stat_activity WHERE usename = :u", {"u": user})
        return [(str(db), str(state)) for db, state in rows]

    def backends(self, user: str) -> set[tuple[int, str]]:
        """(pid, start time) of every open connection of ``user``: a new connection is a new pair."""
        rows = self.query("SELECT pid, backend_start::text FROM pg_stat_activity WHERE usename = :u", {"u": user})
        return {(int(pid), str(start)) for pid, start in rows}

    def terminate_backends(self, user: str) -> int:
        """Kill every connection of ``user`` (as a failover or an idle timeout would); how many there were."""
        rows = self.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :u AND pid <> pg_backend_pid()",
            {"u": user},
        )
        return len(rows)


# --------------------------------------------------------------------------------------------------
# MariaDB
# --------------------------------------------------------------------------------------------------


class MariaDbServer(_Service):
    """A throw-away MariaDB server; the admin connects as root over its unix socket."""

    def __init__(self) -> None:
        self.host = LOCALHOST
        self.port = free_port()
        self.base_dir = _private_dir("mariadb")
        self.data_dir = self.base_dir / "data"
        self.socket = self.base_dir / "mariadb.sock"
        self.pid_file = self.base_dir / "mariadb.pid"
        self.log_file = self.base_dir / "mariadb.err"
        self.process: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls) -> MariaDbServer:
        return cls()._start_or_clean_up()

    def _start(self) -> None:
        user = "root" if os.geteuid() == 0 else os.environ.get("USER", "nobody")
        install = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"
        mariadbd = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        subprocess.run(
            [
                install,
                "--no-defaults",
                f"--user={user}",
                f"--datadir={self.data_dir}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
        )
        self.process = subprocess.Popen(
            [
                mariadbd,
                "--no-defaults",
                f"--user={user}",
                f"--datadir={self.data_dir}",
                f"--bind-address={self.host}",
                f"--port={self.port}",
                f"--socket={self.socket}",
                f"--pid-file={self.pid_file}",
                f"--log-error={self.log_file}",
                "--skip-name-resolve",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=64M",
                "--innodb-flush-log-at-trx-commit=0",
                "--max-connections=200",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                self.query("SELECT 1")
                return
            except sqlalchemy.exc.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
                    raise ServiceError(f"mariadbd did not start:\n{log}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None:
            _stop_process_group(self.process, timeout=30)
            self.process = None
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def query(self, sql: str, params: Mapping[str, Any] | None = None, database: str = "") -> list[tuple[Any, ...]]:
        url = sqlalchemy.URL.create(
            "mysql+pymysql",
            username="root",
            database=database or None,
            query={"unix_socket": str(self.socket)},
        )
        engine = _engine(url)
        try:
            with engine.connect() as connection:
                result = connection.execute(sqlalchemy.text(sql), dict(params or {}))
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            engine.dispose()

    def create_user(self, name: str, password: str) -> None:
        self.query(f"CREATE USER '{name}'@'%' IDENTIFIED BY :p", {"p": password})

    def new_account(self, name: str, password: str | None = None) -> DbAccount:
        password = password or awkward_password()
        self.create_user(name, password)
        self.create_database(name, name)
        return DbAccount("mysql", self.host, self.port, name, name, password)

    def create_database(self, name: str, owner: str) -> None:
        self.query(f"CREATE DATABASE `{name}`")
        self.query(f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{owner}'@'%'")


# --------------------------------------------------------------------------------------------------
# S3 (moto)
# --------------------------------------------------------------------------------------------------


class MotoServer(_Service):
    """``moto_server`` on a free local port, with its own log file and pid file."""

    extra_env: Mapping[str, str] = {}

    def __init__(self) -> None:
        self.port = free_port()
        self.base_dir = _private_dir("moto")
        self.pid_file = self.base_dir / "moto.pid"
        self.log_file = self.base_dir / "moto.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    def _start(self) -> None:
        with self.log_file.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", LOCALHOST, "-p", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **FAKE_AWS_ENV, **self.extra_env},
                start_new_session=True,
            )
        _write_pid_file(self.pid_file, self.process.pid)
        wait_for_port(self.port, 30, self.process)

    def stop(self) -> None:
        if self.process is not None:
            _stop_process_group(self.process)
            self.process = None
        shutil.rmtree(self.base_dir, ignore_errors=True)


class S3Server(MotoServer):
    """``moto_server`` emulating S3 (including presigned URLs and multipart uploads)."""

    @classmethod
    def start(cls) -> S3Server:
        return cls()._start_or_clean_up()

    def client_env(self) -> dict[str, str]:
        """What a process needs to use this S3: endpoint and dummy credentials."""
        return {**FAKE_AWS_ENV, "MLFLOW_S3_ENDPOINT_URL": self.endpoint_url}

    def boto3_client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
            region_name=FAKE_AWS_ENV["AWS_DEFAULT_REGION"],
        )

    def create_bucket(self, name: str) -> str:
        self.boto3_client().create_bucket(Bucket=name)
        return name


# --------------------------------------------------------------------------------------------------
# API Gateway HTTP API stand-in: nginx (request size, timeout, Host) + a response-size limiter
# --------------------------------------------------------------------------------------------------

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)


class _LimiterServer(ThreadingHTTPServer):
    daemon_threads = True
    upstream_port: int
    limit: int


class _LimiterHandler(BaseHTTPRequestHandler):
    """Buffers each upstream response like API Gateway does; over the limit the client gets a 500."""

    protocol_version = "HTTP/1.1"
    server: _LimiterServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _proxy(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        connection = http.client.HTTPConnection(
            LOCALHOST, self.server.upstream_port, timeout=API_GATEWAY_TIMEOUT_SECONDS
        )
        try:
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            data = b"" if self.command == "HEAD" else response.read(self.server.limit + 1)
            if len(data) > self.server.limit:
                self._reply(500, [("Content-Type", "application/json")], b'{"message":"Internal Server Error"}')
                return
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
            self._reply(response.status, kept, data)
        except (OSError, http.client.HTTPException):
            self._reply(504, [("Content-Type", "application/json")], b'{"message":"Service Unavailable"}')
        finally:
            connection.close()

    def _reply(self, status: int, headers: Sequence[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _proxy  # noqa: N815


_NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    log_format gateway '$request_method $uri $status $request_length $bytes_sent';
    access_log {dir}/access.log gateway;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen {host}:{port};
        # API Gateway HTTP API: 10 MB request payload (413 above), 30 s integration timeout.
        client_max_body_size {limit};
        client_body_buffer_size {limit};
        location / {{
            proxy_pass http://{host}:{upstream_port};
            proxy_http_version 1.1;
            proxy_set_header Host {host_header};
            proxy_set_header Connection "";
            proxy_request_buffering on;
            proxy_buffering off;
            proxy_connect_timeout 10s;
            proxy_send_timeout {timeout}s;
            proxy_read_timeout {timeout}s;
        }}
    }}
}}
"""


class ApiGateway(_Service):
    """nginx on ``url`` -> response-size limiter -> MLflow at ``upstream_port``.

    nginx enforces the request-size limit (413) and the 30 s timeout (504) and sets the ``Host`` header
    the server sees (API Gateway's private integration forwards to the load balancer's DNS name).
    nginx has no directive for a response-size limit, so a small in-process proxy behind it buffers
    each response and answers 500 above 10 MB, as API Gateway does.
    """

    def __init__(self, upstream_port: int, host_header: str, limit: int = API_GATEWAY_PAYLOAD_LIMIT) -> None:
        self.port = free_port()
        self.upstream_port = upstream_port
        self.host_header = host_header
        self.limit = limit
        self.base_dir = _private_dir("nginx")
        self.pid_file = self.base_dir / "nginx.pid"
        self.access_log = self.base_dir / "access.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._limiter: _LimiterServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    @classmethod
    def start(cls, upstream_port: int, host_header: str, limit: int = API_GATEWAY_PAYLOAD_LIMIT) -> ApiGateway:
        return cls(upstream_port, host_header, limit)._start_or_clean_up()

    def _start(self) -> None:
        limiter = _LimiterServer((LOCALHOST, 0), _LimiterHandler)
        limiter.upstream_port = self.upstream_port
        limiter.limit = self.limit
        self._limiter = limiter
        self._thread = threading.Thread(target=limiter.serve_forever, name="api-gateway-limiter", daemon=True)
        self._thread.start()
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.base_dir / sub).mkdir(mode=0o777)
            (self.base_dir / sub).chmod(0o777)
        conf = self.base_dir / "nginx.conf"
        conf.write_text(
            _NGINX_CONF.format(
                dir=self.base_dir,
                host=LOCALHOST,
                port=self.port,
                upstream_port=limiter.server_address[1],
                host_header=self.host_header,
                limit=self.limit,
                timeout=API_GATEWAY_TIMEOUT_SECONDS,
            ),
            encoding="utf-8",
        )
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.process = subprocess.Popen(
            [nginx, "-p", str(self.base_dir), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=(self.base_dir / "stderr.log").open("wb"),
            start_new_session=True,
        )
        wait_for_port(self.port, 15, self.process)

    def stop(self) -> None:
        if self.process is not None:
            _stop_process_group(self.process)
            self.process = None
        if self._limiter is not None:
            self._limiter.shutdown()
            self._limiter.server_close()
            self._limiter = None
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def requests_seen(self) -> list[tuple[str, str, int, int, int]]:
        """(method, path, status, request bytes, response bytes) of every request nginx handled."""
        if not self.access_log.exists():
            return []
        rows = []
        for line in self.access_log.read_text(encoding="utf-8").splitlines():
            method, path, status, request_length, sent = line.split(" ")
            rows.append((method, path, int(status), int(request_length), int(sent)))
        return rows


# --------------------------------------------------------------------------------------------------
# The entrypoint
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class EntrypointProcess:
    """``entrypoint.py`` (which becomes ``mlflow server``) running in its own process group."""

    process: subprocess.Popen[bytes]
    port: int
    log_file: Path
    started_at: float
    scratch_dir: Path

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    def logs(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace") if self.log_file.exists() else ""

    def health_status(self) -> int | None:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except OSError:
            return None

    def wait_healthy(self, timeout: float = 120) -> float:
        """Wait for ``/health`` to answer 200; return the seconds since the process started."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.health_status() == 200:
                return time.monotonic() - self.started_at
            if self.process.poll() is not None:
                raise ServiceError(f"entrypoint exited with {self.process.returncode}:\n{self.logs()}")
            time.sleep(0.1)
        raise ServiceError(f"/health not 200 after {timeout} s:\n{self.logs()}")

    def wait_exit(self, timeout: float = 120) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ServiceError(f"entrypoint still running after {timeout} s:\n{self.logs()}") from None

    def stop(self) -> None:
        _stop_process_group(self.process)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


PYCACHE_DIR = os.path.join(tempfile.gettempdir(), "mlflow-it-pycache")
#: Variables of the test process that the entrypoint may see; everything else comes from ``env``.
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "SYSTEMROOT")


@functools.cache
def server_install_dir() -> Path:
    """A directory laid out as the image's ``/opt/mlflow``: the package and its entry-point metadata.

    The Dockerfile copies the build context's ``*.py`` to ``mlflow_sagemaker_server/`` and ``dist-info/`` to
    ``mlflow_sagemaker_server-1.0.dist-info/`` and puts the directory on ``PYTHONPATH``; here the package is a
    link to the source, so the tests run exactly the shipped code.
    """
    root = Path(tempfile.mkdtemp(prefix="mlflow-it-server-"))
    (root / contract.SERVER_PACKAGE).symlink_to(SERVER_IMAGE_DIRECTORY, target_is_directory=True)
    shutil.copytree(SERVER_IMAGE_DIRECTORY / "dist-info", root / f"{contract.SERVER_PACKAGE}-1.0.dist-info")
    return root


def run_entrypoint(
    env: Mapping[str, str],
    log_dir: Path,
    *,
    name: str = "mlflow",
    extra_args: Sequence[str] = ("--host", LOCALHOST),
    python_path: Sequence[Path] = (),
) -> EntrypointProcess:
    """Start the entrypoint (``contract.CONTAINER_COMMAND``) with ``env`` (contract variables) on the host.

    ``MLFLOW_PORT`` is set to a free port unless ``env`` has one. ``extra_args`` are passed to
    ``mlflow server`` (by default: listen on 127.0.0.1 only instead of the container's 0.0.0.0).
    ``python_path`` directories come before the server package (e.g. to shadow a module).
    """
    full_env = {key: os.environ[key] for key in _INHERITED if key in os.environ}
    # Cache bytecode outside the source tree and the virtualenv: MLflow imports in seconds, not tens.
    full_env["PYTHONPYCACHEPREFIX"] = PYCACHE_DIR
    full_env["PYTHONPATH"] = os.pathsep.join(str(p) for p in [*python_path, server_install_dir()])
    full_env.update(env)
    full_env.setdefault(contract.PORT, str(free_port()))
    port = int(full_env[contract.PORT])
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / f"{name}-{port}.log"
    # Its own working directory, like the image's WORKDIR: nothing lands in the checkout. And its own
    # scratch directory, like the task's writable /tmp volume, so tests can see what is left there.
    workdir = log_dir / f"{name}-{port}.cwd"
    workdir.mkdir(exist_ok=True)
    scratch = log_dir / f"{name}-{port}.tmp"
    scratch.mkdir(exist_ok=True)
    full_env.setdefault(contract.SCRATCH_DIR, str(scratch))
    with log_file.open("wb") as log:
        started_at = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, *contract.CONTAINER_COMMAND[1:], *extra_args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=workdir,
            start_new_session=True,
        )
    _write_pid_file(log_dir / f"{name}-{port}.pid", process.pid)
    return EntrypointProcess(
        process=process,
        port=port,
        log_file=log_file,
        started_at=started_at,
        scratch_dir=Path(full_env[contract.SCRATCH_DIR]),
    )


@contextlib.contextmanager
def running_entrypoint(
    env: Mapping[str, str], log_dir: Path, timeout: float = 120, **kwargs: Any
) -> Iterator[EntrypointProcess]:
    """Start the entrypoint, wait until healthy, stop it afterwards."""
    handle = run_entrypoint(env, log_dir, **kwargs)
    try:
        handle.wait_healthy(timeout)
        yield handle
    finally:
        handle.stop()


def read_json(url: str, timeout: float = 10) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
        return json.loads(response.read())


def contract_env(
    tracking: DbAccount,
    artifacts_uri: str,
    s3: S3Server | None = None,
    *,
    admin_password: str | None = None,
    auth_db: DbAccount | None = None,
    auth_db_name: str | None = None,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The contract variables for a server on ``tracking`` with artifacts at ``artifacts_uri``.

    Auth is on when ``admin_password`` is given; ``auth_db`` puts the auth store on another
    PostgreSQL server (its ``database`` is the auth database name). ``overrides`` replace or add
    variables, e.g. ``{contract.DB_POOL: "null"}``.
    """
    env = {
        contract.DB_ENGINE: tracking.engine,
        contract.DB_HOST: tracking.host,
        contract.DB_PORT: str(tracking.port),
        contract.DB_NAME: tracking.database,
        contract.DB_USERNAME: tracking.username,
        contract.DB_PASSWORD: tracking.password,
        contract.DB_WAIT_SECONDS: "30",
        contract.ARTIFACTS_MODE: "proxied",
        contract.ARTIFACTS_URI: artifacts_uri,
        contract.WORKERS: "2",
        contract.JOB_EXECUTION: "false",
    }
    if s3 is not None:
        env.update(s3.client_env())
    if admin_password is None:
        env[contract.AUTH_ENABLED] = "false"
    else:
        env.update(
            {
                contract.AUTH_ENABLED: "true",
                contract.AUTH_ADMIN_USERNAME: "admin",
                contract.AUTH_ADMIN_PASSWORD: admin_password,
                contract.FLASK_SECRET_KEY: secrets.token_hex(32),
                contract.AUTH_DB_NAME: auth_db_name or f"{tracking.database}_auth",
            }
        )
        if auth_db is not None:
            env.update(
                {
                    contract.AUTH_DB_HOST: auth_db.host,
                    contract.AUTH_DB_PORT: str(auth_db.port),
                    contract.AUTH_DB_NAME: auth_db.database,
                    contract.AUTH_DB_USERNAME: auth_db.username,
                    contract.AUTH_DB_PASSWORD: auth_db.password,
                }
            )
    env.update(overrides or {})
    return env
