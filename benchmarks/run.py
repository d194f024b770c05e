"""Benchmarks of the server image's entrypoint and the example apps on this machine (issues 9, 13 and 15).

Run with ``./dev shell python -m benchmarks.run`` from the repository root; writes ``docs/benchmarks.md`` and
the raw figures to ``benchmarks/results/run.json`` (``--render-only`` rewrites the page from them).
Everything runs locally (PostgreSQL, moto S3, moto STS with signature checks, the API-Gateway-limits proxy, the
MLflow entrypoint; see ``tests/harness/services.py`` and ``tests/harness/sts.py``), every loop is bounded in
count and in time, and the whole run is meant to stay under 25 minutes on 2 cores (``--quick``: about 6).
No test asserts any of these numbers.

The throughput part runs four servers side by side and measures them interleaved, cell by cell:

* ``bare``: auth off; ``basic``: built-in basic auth (60 s credential cache); ``iam``: IAM tokens verified at
  the server's configured STS endpoint (moto), basic auth beside it; ``previous``: basic auth with
  ``MLFLOW_DB_POOL=null`` and ``MLFLOW_DB_BATCHED_WRITES=false``, the settings deployed before issue 13;
* per cell: req/s, p50/p95, the server's process-tree CPU and the whole PostgreSQL cluster's CPU from
  ``/proc`` (utime + stime, plus the children's times that exited processes leave in their parent), new
  database connections from PostgreSQL's connection log, and STS calls from the emulator's log.

Then two more servers, ``batched`` and ``unbatched`` (``MLFLOW_DB_BATCHED_WRITES=false``), measure log_batch
behind a TCP proxy to PostgreSQL whose added round-trip time switches between none and BATCHING_RTT_MS, the
network between a task and Aurora that this machine lacks.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import datetime
import hashlib
import importlib.util
import itertools
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import requests
import sqlalchemy
from requests.auth import AuthBase
from tests.harness.services import (
    ApiGateway,
    DbAccount,
    EntrypointProcess,
    PostgresServer,
    S3Server,
    contract_env,
    free_port,
    run_entrypoint,
)
from tests.harness.sts import REGION, Keys, StsServer

from mlflow_sagemaker_constructs.tracking_server.server import contract

REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUT = REPO_ROOT / "docs" / "benchmarks.md"
RESULTS = REPO_ROOT / "benchmarks" / "results" / "run.json"
MiB = 1024 * 1024
ALB_DNS_NAME = "internal-mlflow-123.us-east-1.elb.amazonaws.com"
ALLOWED_HOSTS = f"{ALB_DNS_NAME},127.0.0.1:*,localhost:*"
#: The four servers, in the order of the first round (later rounds rotate it).
TARGETS = ("bare", "basic", "iam", "previous")
AUTH_TARGETS = ("basic", "iam")
POOLED_TARGETS = ("bare", "basic", "iam")
OPERATIONS = ("log_metric", "log_batch", "search_runs", "get_run")
#: (operation, clients) measured for every target in every round.
PLAN = (("log_metric", 1), ("log_metric", 8), ("log_batch", 1), ("search_runs", 1), ("get_run", 1))
#: Added database round-trip times (ms) of the batched-writes part: none, and about what a Fargate task sees
#: to Aurora in another Availability Zone of the same Region.
BATCHING_RTT_MS = (0.0, 1.0)
BATCHING_TARGETS = ("batched", "unbatched")
#: Full run: rounds and seconds per cell; --quick: fewer and shorter.
ROUNDS, QUICK_ROUNDS = 5, 2
CELL_SECONDS, QUICK_CELL_SECONDS = 3.0, 1.5
CELL_MAX_REQUESTS = 5000
#: Uncounted requests per client before each cell's window (at least one), so pools are grown and warm.
CELL_WARMUP_SECONDS = 0.5
#: Step numbers of warm-up requests (apart from the measured ones).
WARMUP_INDEX = 10_000_000
#: Worker processes of every throughput server: one per core of this machine, the construct's rule
#: (``SecureMlflowService`` defaults to one worker per vCPU).
THROUGHPUT_WORKERS = 2
AUTH_CACHE_TTL_SECONDS = 60
#: How long the drain phase waits for the database to close the servers' idle connections.
DRAIN_LIMIT_SECONDS = 120.0
DRAIN_POLL_SECONDS = 0.5
WORKER_COUNTS = (1, 2, 4)
QUICK_WORKER_COUNTS = (1,)
LOAD_SECONDS = 5.0
ARTIFACT_SIZES_MIB = (1024, 512, 256, 128)
#: Budget (seconds) for the four large-artifact transfers together.
ARTIFACT_BUDGET_SECONDS = 240.0
#: What a client behind API Gateway sets (docs/server-image.md, tests/tracking_server/integration/
#: test_large_artifacts.py).
API_GATEWAY_CLIENT_ENV = {
    "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD": "true",
    "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD": "true",
    "MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE": str(8 * MiB),
    "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE": str(8 * MiB),
    "MLFLOW_MULTIPART_DOWNLOAD_CHUNK_SIZE": str(8 * MiB),
}
BATCH_METRICS = 100
SEED_RUNS = 50
IAM_USERNAME = "bench-iam"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _load_cost_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cost_script", REPO_ROOT / "scripts" / "cost.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def loadavg() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


# --------------------------------------------------------------------------------------------------
# Machine
# --------------------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu_model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    import mlflow

    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "cpu": cpu_model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "mlflow": mlflow.__version__,
        "loadavg": f"{loadavg():.2f}",
    }


class LoadSampler:
    """The 1-minute load average every few seconds while the benchmark runs (other jobs share the cores)."""

    def __init__(self, every: float = 5.0) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._every = every
        self._thread = threading.Thread(target=self._run, name="loadavg", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.samples.append(loadavg())

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --------------------------------------------------------------------------------------------------
# Processes via /proc
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ProcStat:
    ppid: int
    session: int
    cpu: float  # utime + stime, seconds
    children_cpu: float  # cutime + cstime: children that exited and were waited for, seconds


def _parse_stat(stat: str) -> ProcStat:
    """One ``/proc/<pid>/stat`` line."""
    fields = stat[stat.rindex(")") + 2 :].split()
    # Fields 4 (ppid), 6 (session), 14-17 (utime, stime, cutime, cstime) of proc(5), here 0-based from 3.
    return ProcStat(
        ppid=int(fields[1]),
        session=int(fields[3]),
        cpu=(int(fields[11]) + int(fields[12])) / CLK_TCK,
        children_cpu=(int(fields[13]) + int(fields[14])) / CLK_TCK,
    )


def proc_table() -> dict[int, ProcStat]:
    """Every process's parent, session and CPU times, from one pass over ``/proc``."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            table[int(entry.name)] = _parse_stat((entry / "stat").read_text())
    return table


def process_cpu(pid: int) -> float:
    """utime + stime of ``pid`` in seconds (0 when it is gone)."""
    try:
        return _parse_stat(Path(f"/proc/{pid}/stat").read_text()).cpu
    except OSError:
        return 0.0


def session_pids(session_id: int, table: Mapping[int, ProcStat] | None = None) -> list[int]:
    """Every process in the session ``session_id`` (the entrypoint runs in its own session)."""
    table = proc_table() if table is None else table
    return [pid for pid, stat in table.items() if stat.session == session_id]


def session_cpu(session_id: int, table: Mapping[int, ProcStat]) -> float:
    """CPU seconds of a process tree so far, including its processes that already exited."""
    return sum(s.cpu + s.children_cpu for s in table.values() if s.session == session_id)


def postmaster_cpu(postmaster: int, table: Mapping[int, ProcStat]) -> float:
    """CPU seconds of the whole PostgreSQL cluster: the postmaster, its live children (backends, background
    workers) and, through the postmaster's cutime/cstime, every backend that already ended (NullPool's)."""
    own = table.get(postmaster)
    total = own.cpu + own.children_cpu if own else 0.0
    return total + sum(s.cpu + s.children_cpu for s in table.values() if s.ppid == postmaster)


def _kib(path: Path, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    return 0


def tree_memory_mib(handle: EntrypointProcess) -> tuple[float, float, int]:
    """(RSS sum, PSS sum, process count) of the server's process tree, in MiB."""
    pids = session_pids(handle.process.pid)
    rss = sum(_kib(Path(f"/proc/{pid}/status"), "VmRSS:") for pid in pids)
    pss = sum(_kib(Path(f"/proc/{pid}/smaps_rollup"), "Pss:") for pid in pids)
    return rss / 1024, pss / 1024, len(pids)


# --------------------------------------------------------------------------------------------------
# The database as the benchmark watches it
# --------------------------------------------------------------------------------------------------


class DatabaseWatch:
    """One long-lived superuser connection (so watching opens no connection of its own during a cell), the
    postmaster's pid for ``/proc``, and PostgreSQL's log with ``log_connections`` on."""

    def __init__(self, postgres: PostgresServer) -> None:
        self.postgres = postgres
        self.engine = sqlalchemy.create_engine(postgres.url(), isolation_level="AUTOCOMMIT", pool_size=1)
        self.connection = self.engine.connect()
        self.connection.execute(sqlalchemy.text("ALTER SYSTEM SET log_connections = on"))
        self.connection.execute(sqlalchemy.text("SELECT pg_reload_conf()"))
        self.postmaster = int(postgres.pid_file.read_text().split()[0])

    def close(self) -> None:
        self.connection.close()
        self.engine.dispose()

    def open_connections(self, users: Sequence[str]) -> dict[str, int]:
        """Open connections per database login (the servers' tracking and auth stores)."""
        rows = self.connection.execute(
            sqlalchemy.text("SELECT usename, count(*) FROM pg_stat_activity WHERE usename = ANY(:u) GROUP BY usename"),
            {"u": list(users)},
        )
        counts = dict.fromkeys(users, 0)
        counts.update({str(user): int(count) for user, count in rows})
        return counts

    def log_offset(self) -> int:
        try:
            return self.postgres.log_file.stat().st_size
        except OSError:
            return 0

    def connections_between(self, start: int, end: int, user: str) -> int:
        """Connections ``user`` opened between two log offsets ("connection authorized" lines)."""
        with self.postgres.log_file.open("rb") as handle:
            handle.seek(start)
            text = handle.read(max(0, end - start)).decode("utf-8", errors="replace")
        return len(re.findall(rf"connection authorized: user={re.escape(user)} ", text))


# --------------------------------------------------------------------------------------------------
# Tracking load
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Target:
    """A server under load: its URL, entrypoint process, database login and how a client authenticates."""

    name: str
    url: str
    handle: EntrypointProcess
    db_user: str
    #: The ``requests`` auth of client number ``i`` (the same object for the whole run, like a client process).
    auth: Callable[[int], tuple[str, str] | AuthBase | None]
    experiment_id: str = ""
    run_id: str = ""
    read_run_id: str = ""
    #: Steps of the logged metrics, increasing over the whole run as in training, so that every log_metric
    #: and log_batch also updates the run's latest_metrics rows (a step below the latest updates nothing).
    steps: Iterator[int] = dataclasses.field(default_factory=itertools.count)

    def session(self, client: int = 0) -> requests.Session:
        session = requests.Session()
        auth = self.auth(client)
        if auth is not None:
            session.auth = auth
        return session


def post_json(session: requests.Session, url: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """POST ``body`` as JSON; the decoded answer, or an exception for an error status."""
    response = session.post(url, json=body, timeout=60)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def prepare_experiment(target: Target) -> None:
    """An experiment with SEED_RUNS runs (10 metrics, 5 params each), one of them to read, and a run to log into."""
    api = f"{target.url}/api/2.0/mlflow/"
    with target.session() as session:
        name = f"bench-{target.name}-{time.monotonic_ns()}"
        experiment_id = str(post_json(session, api + "experiments/create", {"name": name})["experiment_id"])
        now = int(time.time() * 1000)
        run_ids = []
        for i in range(SEED_RUNS):
            run = post_json(session, api + "runs/create", {"experiment_id": experiment_id, "start_time": now})
            run_id = run["run"]["info"]["run_id"]
            run_ids.append(run_id)
            post_json(
                session,
                api + "runs/log-batch",
                {
                    "run_id": run_id,
                    "metrics": [{"key": f"m{k}", "value": i * k, "timestamp": now, "step": 0} for k in range(10)],
                    "params": [{"key": f"p{k}", "value": str(i)} for k in range(5)],
                },
            )
        run = post_json(session, api + "runs/create", {"experiment_id": experiment_id, "start_time": now})
    target.experiment_id, target.run_id, target.read_run_id = experiment_id, run["run"]["info"]["run_id"], run_ids[0]


def request_function(operation: str, target: Target) -> Callable[[requests.Session, int], int]:
    """One request of ``operation`` (the status code), the ``i``-th of its cell."""
    url = f"{target.url}/api/2.0/mlflow/"
    run_id, experiment_id, read_run_id = target.run_id, target.experiment_id, target.read_run_id

    def log_metric(session: requests.Session, i: int) -> int:
        body = {
            "run_id": run_id,
            "key": "loss",
            "value": 1.0 / (i + 1),
            "timestamp": int(time.time() * 1000),
            "step": next(target.steps),
        }
        return session.post(url + "runs/log-metric", json=body, timeout=30).status_code

    def log_batch(session: requests.Session, i: int) -> int:
        now = int(time.time() * 1000)
        step = next(target.steps)
        metrics = [{"key": f"b{k}", "value": float(k), "timestamp": now, "step": step} for k in range(BATCH_METRICS)]
        return session.post(url + "runs/log-batch", json={"run_id": run_id, "metrics": metrics}, timeout=30).status_code

    def search_runs(session: requests.Session, i: int) -> int:
        body = {"experiment_ids": [experiment_id], "max_results": 100, "filter": "metrics.m1 >= 0"}
        return session.post(url + "runs/search", json=body, timeout=30).status_code

    def get_run(session: requests.Session, i: int) -> int:
        return session.get(url + "runs/get", params={"run_id": read_run_id}, timeout=30).status_code

    calls: dict[str, Callable[[requests.Session, int], int]] = {
        "log_metric": log_metric,
        "log_batch": log_batch,
        "search_runs": search_runs,
        "get_run": get_run,
    }
    return calls[operation]


@dataclasses.dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_load(
    target: Target,
    operation: str,
    clients: int,
    seconds: float,
    max_requests: int,
    probe: Callable[[], Any] = lambda: None,
    warmup: float = 0.0,
) -> tuple[LoadResult, Any, Any]:
    """``clients`` threads, each with its own session, until ``seconds`` pass or ``max_requests`` are sent.

    Every client sends requests for ``warmup`` seconds first, at least one (not counted: connections, pool
    growth, token verification); then ``probe`` runs
    in this thread, the clock starts, and ``probe`` runs again when every client is done. Returns the result
    and the two probes.
    """
    call = request_function(operation, target)
    lock = threading.Lock()
    latencies: list[float] = []
    errors = 0
    issued = 0
    warmups = 0
    warm_until = time.monotonic() + warmup
    warm = threading.Barrier(clients + 1, timeout=120)
    deadline = [0.0]

    def worker(client: int) -> None:
        nonlocal errors, issued, warmups
        session = target.session(client)
        try:
            while True:
                with lock:
                    warmups += 1
                    i = WARMUP_INDEX + warmups
                with contextlib.suppress(requests.RequestException):
                    call(session, i)
                if time.monotonic() >= warm_until:
                    break
            warm.wait()
            warm.wait()  # the main thread has probed and set the deadline
            while time.monotonic() < deadline[0]:
                with lock:
                    if issued >= max_requests:
                        return
                    issued += 1
                    i = issued
                started = time.perf_counter()
                try:
                    status = call(session, i)
                except requests.RequestException:
                    status = 0
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    if status != 200:
                        errors += 1
        finally:
            session.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [pool.submit(worker, client) for client in range(clients)]
        warm.wait()
        before = probe()
        started = time.monotonic()
        deadline[0] = started + seconds
        warm.wait()
        for future in futures:
            future.result()
    elapsed = time.monotonic() - started
    after = probe()
    ordered = sorted(latencies) or [0.0]
    result = LoadResult(
        requests=len(latencies),
        errors=errors,
        seconds=elapsed,
        p50_ms=statistics.median(ordered) * 1000,
        p95_ms=ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000,
    )
    return result, before, after


@dataclasses.dataclass(frozen=True)
class Probe:
    server_cpu: float
    db_cpu: float
    log_offset: int
    sts_requests: int


@dataclasses.dataclass
class Cell:
    """One target, operation and client count in one round."""

    target: str
    operation: str
    clients: int
    round: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float
    server_cpu_ms: float  # over the whole cell
    db_cpu_ms: float
    new_connections: int
    sts_calls: int
    open_connections_after: int

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def server_cpu_per_request(self) -> float:
        return self.server_cpu_ms / self.requests if self.requests else 0.0

    @property
    def db_cpu_per_request(self) -> float:
        return self.db_cpu_ms / self.requests if self.requests else 0.0


def measure_cell(
    target: Target,
    operation: str,
    clients: int,
    round_: int,
    seconds: float,
    watch: DatabaseWatch,
    sts: StsServer,
) -> Cell:
    def probe() -> Probe:
        table = proc_table()
        return Probe(
            server_cpu=session_cpu(target.handle.process.pid, table),
            db_cpu=postmaster_cpu(watch.postmaster, table),
            log_offset=watch.log_offset(),
            sts_requests=sts.requests_seen(),
        )

    result, before, after = run_load(
        target, operation, clients, seconds, CELL_MAX_REQUESTS, probe, warmup=CELL_WARMUP_SECONDS
    )
    assert isinstance(before, Probe)
    assert isinstance(after, Probe)
    return Cell(
        target=target.name,
        operation=operation,
        clients=clients,
        round=round_,
        requests=result.requests,
        errors=result.errors,
        seconds=result.seconds,
        p50_ms=result.p50_ms,
        p95_ms=result.p95_ms,
        server_cpu_ms=(after.server_cpu - before.server_cpu) * 1000,
        db_cpu_ms=(after.db_cpu - before.db_cpu) * 1000,
        new_connections=watch.connections_between(before.log_offset, after.log_offset, target.db_user),
        sts_calls=after.sts_requests - before.sts_requests,
        open_connections_after=watch.open_connections([target.db_user])[target.db_user],
    )


# --------------------------------------------------------------------------------------------------
# Services
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Stack:
    postgres: PostgresServer
    s3: S3Server
    log_dir: Path
    bucket: str
    admin_password: str


def server_env(
    stack: Stack,
    account: DbAccount,
    *,
    auth: bool,
    workers: int,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The contract variables as the construct sets them by default (pooled), plus ``overrides``."""
    return contract_env(
        account,
        f"s3://{stack.bucket}/mlflow",
        stack.s3,
        admin_password=stack.admin_password if auth else None,
        overrides={
            contract.ALLOWED_HOSTS: ALLOWED_HOSTS,
            contract.WORKERS: str(workers),
            contract.AUTH_CACHE_TTL_SECONDS: str(AUTH_CACHE_TTL_SECONDS),
            **(overrides or {}),
        },
    )


@contextlib.contextmanager
def server(stack: Stack, env: Mapping[str, str], name: str) -> Iterator[tuple[EntrypointProcess, float]]:
    handle = run_entrypoint(env, stack.log_dir, name=name)
    try:
        seconds = handle.wait_healthy(240)
        yield handle, seconds
    finally:
        handle.stop()


# --------------------------------------------------------------------------------------------------
# Large artifacts
# --------------------------------------------------------------------------------------------------


def _write_random(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    block = os.urandom(8 * MiB)
    with path.open("wb") as handle:
        for i in range(size // (8 * MiB)):
            chunk = hashlib.sha256(i.to_bytes(8, "little")).digest() + block[32:]  # cheap, distinct chunks
            handle.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(8 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


@dataclasses.dataclass
class ArtifactResult:
    size_mib: int
    proxy_upload: float
    proxy_download: float
    direct_upload: float
    direct_download: float
    chosen_because: str


def artifact_benchmark(stack: Stack, gateway: ApiGateway, work: Path) -> ArtifactResult:
    """Upload and download one file through the API-Gateway-limits proxy (MLflow client, multipart
    over presigned URLs) and directly to the S3 emulator (boto3); pick the largest size that fits."""
    from mlflow import MlflowClient

    s3 = stack.s3.boto3_client()
    # Probe: 64 MiB direct up and down, to project the four transfers at each size.
    probe = work / "probe.bin"
    _write_random(probe, 64 * MiB)
    started = time.monotonic()
    s3.upload_file(str(probe), stack.bucket, "probe/probe.bin")
    s3.download_file(stack.bucket, "probe/probe.bin", str(work / "probe.out"))
    probe_seconds = time.monotonic() - started
    probe.unlink()
    (work / "probe.out").unlink()
    # Proxy path assumed up to 3x slower than direct in the projection.
    size_mib = ARTIFACT_SIZES_MIB[-1]
    for candidate in ARTIFACT_SIZES_MIB:
        projected = probe_seconds * candidate / 64 * (1 + 3)
        if projected <= ARTIFACT_BUDGET_SECONDS:
            size_mib = candidate
            break
    reason = (
        f"64 MiB direct up+down took {probe_seconds:.1f} s; {size_mib} MiB is the largest of "
        f"{', '.join(map(str, ARTIFACT_SIZES_MIB))} MiB projected to fit {ARTIFACT_BUDGET_SECONDS:.0f} s"
    )
    log(f"large artifacts: {reason}")
    path = work / "weights.bin"
    digest = _write_random(path, size_mib * MiB)

    started = time.monotonic()
    s3.upload_file(str(path), stack.bucket, "direct/weights.bin")
    direct_upload = time.monotonic() - started
    started = time.monotonic()
    s3.download_file(stack.bucket, "direct/weights.bin", str(work / "direct.bin"))
    direct_download = time.monotonic() - started
    assert _sha256(work / "direct.bin") == digest
    (work / "direct.bin").unlink()
    s3.delete_object(Bucket=stack.bucket, Key="direct/weights.bin")

    saved = {
        key: os.environ.get(key)
        for key in [*API_GATEWAY_CLIENT_ENV, "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"]
    }
    os.environ.update(API_GATEWAY_CLIENT_ENV)
    os.environ["MLFLOW_TRACKING_USERNAME"] = "admin"
    os.environ["MLFLOW_TRACKING_PASSWORD"] = stack.admin_password
    try:
        client = MlflowClient(tracking_uri=gateway.url)
        experiment_id = client.create_experiment(f"bench-artifacts-{time.monotonic_ns()}")
        run_id = client.create_run(experiment_id).info.run_id
        started = time.monotonic()
        client.log_artifact(run_id, str(path), "model")
        proxy_upload = time.monotonic() - started
        download_dir = work / "proxy"
        download_dir.mkdir()
        started = time.monotonic()
        downloaded = Path(client.download_artifacts(run_id, "model/weights.bin", str(download_dir)))
        proxy_download = time.monotonic() - started
        assert _sha256(downloaded) == digest
        downloaded.unlink()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        path.unlink(missing_ok=True)
    return ArtifactResult(size_mib, proxy_upload, proxy_download, direct_upload, direct_download, reason)


# --------------------------------------------------------------------------------------------------
# Synthesis and cost
# --------------------------------------------------------------------------------------------------


def synthesis_and_cost() -> tuple[float, dict[str, float], dict[str, float], float]:
    """(jsii + aws_cdk import seconds, synthesis seconds per example, idle cost per example, managed Small)."""
    started = time.monotonic()
    import aws_cdk  # noqa: F401  (starts the jsii kernel)

    import_seconds = time.monotonic() - started
    cost = _load_cost_script()
    times: dict[str, float] = {}
    costs: dict[str, float] = {}
    for name in cost.EXAMPLES:
        started = time.monotonic()
        templates = cost.synthesize_example(name)
        times[name] = time.monotonic() - started
        costs[name] = float(cost.total(cost.idle_cost(templates)))
    return import_seconds, times, costs, float(cost.managed_small_monthly())


# --------------------------------------------------------------------------------------------------
# Connections after load, fresh IAM tokens
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Drain:
    """What is left of a server's database connections after its last request."""

    open_at_end: int
    seconds_to_zero: float | None  # None: still open when the wait ended
    next_status: int  # the first request after the connections were gone
    next_ms: float


def drain(targets: Sequence[Target], watch: DatabaseWatch, limit: float) -> dict[str, Drain]:
    """A short 8-client log_metric burst per target, then poll ``pg_stat_activity`` until no connection of the
    server's login remains (or ``limit`` seconds pass); then one request each, which must reconnect."""
    ends: dict[str, float] = {}
    open_at_end: dict[str, int] = {}
    for target in targets:
        run_load(target, "log_metric", 8, 1.0, CELL_MAX_REQUESTS)
        ends[target.name] = time.monotonic()
        open_at_end[target.name] = watch.open_connections([target.db_user])[target.db_user]
    users = {target.name: target.db_user for target in targets}
    zero: dict[str, float] = {}
    deadline = max(ends.values()) + limit
    while len(zero) < len(targets) and time.monotonic() < deadline:
        counts = watch.open_connections(list(users.values()))
        now = time.monotonic()
        for name, user in users.items():
            if name not in zero and counts[user] == 0:
                zero[name] = now - ends[name]
        time.sleep(DRAIN_POLL_SECONDS)
    results = {}
    for target in targets:
        with target.session() as session:
            started = time.perf_counter()
            status = request_function("log_metric", target)(session, 10**6)
            elapsed = (time.perf_counter() - started) * 1000
        results[target.name] = Drain(open_at_end[target.name], zero.get(target.name), status, elapsed)
        log(
            f"drain {target.name:8}: {open_at_end[target.name]} open at the end, zero after "
            f"{zero.get(target.name, float('nan')):.1f} s; next request {status} in {elapsed:.0f} ms"
        )
    return results


@dataclasses.dataclass
class FreshToken:
    """A request with a token the server has not seen (one STS call) and the next request with it."""

    first_ms: float
    second_ms: float
    sts_calls: int


def fresh_tokens(target: Target, credentials: Any, sts: StsServer, samples: int) -> list[FreshToken]:
    from mlflow_sagemaker_client.auth.iam_token import IamTokenAuth

    call = request_function("get_run", target)
    out = []
    for _ in range(samples):
        time.sleep(1.1)  # SigV4 dates have one-second resolution: a new second is a new token
        with requests.Session() as session:
            session.auth = IamTokenAuth(credentials)
            before = sts.requests_seen()
            started = time.perf_counter()
            first_status = call(session, 0)
            first = (time.perf_counter() - started) * 1000
            calls = sts.requests_seen() - before
            started = time.perf_counter()
            second_status = call(session, 1)
            second = (time.perf_counter() - started) * 1000
        if first_status == second_status == 200:
            out.append(FreshToken(first, second, calls))
    return out


# --------------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Results:
    machine: dict[str, str]
    quick: bool = False
    rounds: int = ROUNDS
    cell_seconds: float = CELL_SECONDS
    #: The idle timeout the servers ran with and where it came from.
    idle_timeout_seconds: int = contract.DEFAULT_DB_IDLE_TIMEOUT_SECONDS
    idle_timeout_source: str = "the entrypoint's default"
    #: The pooled connections per engine the servers ran with (the entrypoint's default at the time).
    db_pool_size: int = contract.DEFAULT_DB_POOL_SIZE
    loadavg_samples: list[float] = dataclasses.field(default_factory=list)
    calibration_ms: list[float] = dataclasses.field(default_factory=list)
    cdk_import: float = 0.0
    synth: dict[str, float] = dataclasses.field(default_factory=dict)
    costs: dict[str, float] = dataclasses.field(default_factory=dict)
    managed_small: float = 0.0
    cold_empty: float = 0.0
    cold_current: float = 0.0
    cells: list[Cell] = dataclasses.field(default_factory=list)
    #: Added round-trip time in ms (as a string: JSON keys) -> the batched-writes cells.
    batching: dict[str, list[Cell]] = dataclasses.field(default_factory=dict)
    drains: dict[str, Drain] = dataclasses.field(default_factory=dict)
    fresh_tokens: list[FreshToken] = dataclasses.field(default_factory=list)
    #: workers -> (idle (RSS, PSS, processes), busiest, req/s)
    memory: dict[int, tuple[tuple[float, float, int], tuple[float, float, int], float]] = dataclasses.field(
        default_factory=dict
    )
    artifacts: ArtifactResult | None = None
    runtime: float = 0.0

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1)

    @staticmethod
    def from_json(text: str) -> Results:
        raw = json.loads(text)
        raw["cells"] = [Cell(**cell) for cell in raw["cells"]]
        raw["batching"] = {rtt: [Cell(**cell) for cell in cells] for rtt, cells in raw.get("batching", {}).items()}
        raw["drains"] = {name: Drain(**drain) for name, drain in raw["drains"].items()}
        raw["fresh_tokens"] = [FreshToken(**sample) for sample in raw["fresh_tokens"]]
        raw["memory"] = {
            int(workers): (tuple(idle), tuple(busy), throughput)
            for workers, (idle, busy, throughput) in raw["memory"].items()
        }
        raw["artifacts"] = ArtifactResult(**raw["artifacts"]) if raw["artifacts"] else None
        return Results(**raw)


def _iam_setup(sts: StsServer) -> tuple[Keys, list[dict[str, Any]]]:
    """An IAM user in the STS emulator and the mapping rule that makes it an MLflow admin (like ``basic``'s
    admin, so both auth targets take the same permission path)."""
    arn, keys = sts.create_user("bench-client")
    return keys, [{"kind": "iam_user", "arn": arn, "username": IAM_USERNAME, "admin": True}]


@contextlib.contextmanager
def throughput(
    stack: Stack, sts: StsServer, results: Results, *, rounds: int, cell_seconds: float, idle_overrides: dict[str, str]
) -> Iterator[Target]:
    """Start the four servers, measure every cell of PLAN in ``rounds`` interleaved rounds, then the drain.

    Yields the ``basic`` target when done, while the servers still run (the artifacts go through it).
    """
    from botocore.credentials import Credentials

    from mlflow_sagemaker_client.auth.iam_token import IamTokenAuth

    postgres = stack.postgres
    accounts = {name: postgres.new_account(f"bench_{name}") for name in TARGETS}
    keys, rules = _iam_setup(sts)
    iam_port = free_port()
    # The client plugin reads these: where to sign tokens for, and the signing region.
    os.environ["MLFLOW_IAM_STS_ENDPOINT"] = sts.endpoint_url
    os.environ["AWS_REGION"] = REGION
    envs = {
        "bare": server_env(stack, accounts["bare"], auth=False, workers=THROUGHPUT_WORKERS, overrides=idle_overrides),
        "basic": server_env(stack, accounts["basic"], auth=True, workers=THROUGHPUT_WORKERS, overrides=idle_overrides),
        "iam": server_env(
            stack,
            accounts["iam"],
            auth=True,
            workers=THROUGHPUT_WORKERS,
            overrides={
                **idle_overrides,
                contract.PORT: str(iam_port),
                contract.AUTH_IAM_ENABLED: "true",
                contract.AUTH_IAM_AUDIENCES: f"127.0.0.1:{iam_port}",
                contract.AUTH_IAM_PRINCIPALS: json.dumps(rules),
                contract.AUTH_IAM_STS_ENDPOINT: sts.endpoint_url,
            },
        ),
        "previous": server_env(
            stack,
            accounts["previous"],
            auth=True,
            workers=THROUGHPUT_WORKERS,
            overrides={contract.DB_POOL: contract.DB_POOL_NULL, contract.DB_BATCHED_WRITES: "false"},
        ),
    }
    log("cold start on an empty database")
    with server(stack, envs["basic"], "cold-empty") as (_, seconds):
        results.cold_empty = seconds
    admin = ("admin", stack.admin_password)
    credentials = Credentials(keys.access_key, keys.secret_key)
    # One auth object per client slot for the whole run, like one plugin per client process: each keeps its
    # token and makes a new one every TOKEN_REFRESH_SECONDS.
    iam_auths = [IamTokenAuth(credentials) for _ in range(max(clients for _, clients in PLAN))]
    auths: dict[str, Callable[[int], tuple[str, str] | AuthBase | None]] = {
        "bare": lambda _: None,
        "basic": lambda _: admin,
        "iam": lambda client: iam_auths[client],
        "previous": lambda _: admin,
    }
    with contextlib.ExitStack() as stack_of_servers:
        log("cold start on an up-to-date database (basic), then the other three servers")
        handles = {}
        handles["basic"], results.cold_current = stack_of_servers.enter_context(server(stack, envs["basic"], "basic"))
        pending = {name: run_entrypoint(envs[name], stack.log_dir, name=name) for name in ("bare", "iam", "previous")}
        for name, handle in pending.items():
            stack_of_servers.callback(handle.stop)
            handle.wait_healthy(240)
            handles[name] = handle
        targets = {
            name: Target(name, handles[name].url, handles[name], accounts[name].username, auths[name])
            for name in TARGETS
        }
        for target in targets.values():
            prepare_experiment(target)
        watch = DatabaseWatch(postgres)
        stack_of_servers.callback(watch.close)
        log(f"{rounds} rounds of {len(PLAN)} x {len(TARGETS)} cells, {cell_seconds:g} s each")
        for round_ in range(rounds):
            order = TARGETS[round_ % len(TARGETS) :] + TARGETS[: round_ % len(TARGETS)]
            for operation, clients in PLAN:
                for name in order:
                    cell = measure_cell(targets[name], operation, clients, round_, cell_seconds, watch, sts)
                    results.cells.append(cell)
                    log(
                        f"r{round_} {name:8} {operation:11} {clients} cl: {cell.throughput:6.1f} req/s "
                        f"p50 {cell.p50_ms:6.1f} ms, server {cell.server_cpu_per_request:5.1f} ms/req, "
                        f"db {cell.db_cpu_per_request:5.2f} ms/req, {cell.new_connections} new conn, "
                        f"{cell.sts_calls} sts, {cell.errors} errors"
                    )
        log("fresh IAM tokens: the first request of each pays the STS call")
        results.fresh_tokens = fresh_tokens(targets["iam"], credentials, sts, 5)
        log("drain: time until the servers hold no database connection")
        results.drains = drain([targets[name] for name in TARGETS], watch, DRAIN_LIMIT_SECONDS)
        yield targets["basic"]


class LatencyProxy:
    """A TCP proxy that delays every chunk by half of ``rtt_ms`` in each direction (changeable while running)."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        import socket

        self._upstream = (upstream_host, upstream_port)
        self.rtt_ms = 0.0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket

        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._upstream)
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: Any, sink: Any) -> None:
        try:
            while data := source.recv(65536):
                if self.rtt_ms:
                    time.sleep(self.rtt_ms / 2000)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(2)

    def close(self) -> None:
        self._closed.set()
        self._listener.close()


def batching(stack: Stack, sts: StsServer, results: Results, *, rounds: int, cell_seconds: float) -> None:
    """log_batch with and without batched writes, with no added round-trip time and with BATCHING_RTT_MS."""
    postgres = stack.postgres
    proxy = LatencyProxy(postgres.host, postgres.port)
    accounts = {name: postgres.new_account(f"bench_{name}") for name in BATCHING_TARGETS}
    envs = {
        name: server_env(
            stack,
            dataclasses.replace(accounts[name], port=proxy.port),
            auth=False,
            workers=THROUGHPUT_WORKERS,
            overrides={contract.DB_BATCHED_WRITES: "true" if name == "batched" else "false"},
        )
        for name in BATCHING_TARGETS
    }
    with contextlib.ExitStack() as servers:
        servers.callback(proxy.close)
        targets = {}
        for name in BATCHING_TARGETS:
            handle, _ = servers.enter_context(server(stack, envs[name], name))
            targets[name] = Target(name, handle.url, handle, accounts[name].username, lambda _: None)
            prepare_experiment(targets[name])
        watch = DatabaseWatch(postgres)
        servers.callback(watch.close)
        log(f"batched writes: {rounds} rounds of {len(BATCHING_RTT_MS)} x {len(BATCHING_TARGETS)} log_batch cells")
        for round_ in range(rounds):
            for rtt in BATCHING_RTT_MS:
                proxy.rtt_ms = rtt
                order = BATCHING_TARGETS if round_ % 2 == 0 else BATCHING_TARGETS[::-1]
                for name in order:
                    cell = measure_cell(targets[name], "log_batch", 1, round_, cell_seconds, watch, sts)
                    results.batching.setdefault(f"{rtt:g}", []).append(cell)
                    log(
                        f"r{round_} +{rtt:g} ms {name:9}: {cell.throughput:6.1f} req/s p50 {cell.p50_ms:6.1f} ms, "
                        f"server {cell.server_cpu_per_request:5.1f} ms/req, db {cell.db_cpu_per_request:5.2f} ms/req, "
                        f"{cell.errors} errors"
                    )


def memory(stack: Stack, results: Results, worker_counts: Sequence[int]) -> None:
    account = stack.postgres.new_account("bench_memory")
    admin = ("admin", stack.admin_password)
    for workers in worker_counts:
        env = server_env(stack, account, auth=True, workers=workers)
        with server(stack, env, f"mem-{workers}") as (handle, _):
            time.sleep(3)
            idle = tree_memory_mib(handle)
            target = Target(f"mem{workers}", handle.url, handle, account.username, lambda _: admin)
            prepare_experiment(target)
            peak: list[tuple[float, float, int]] = [idle]
            stop = threading.Event()

            def sample(
                h: EntrypointProcess = handle,
                out: list[tuple[float, float, int]] = peak,
                done: threading.Event = stop,
            ) -> None:
                while not done.wait(0.5):
                    out.append(tree_memory_mib(h))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            load, _, _ = run_load(target, "log_batch", 8, LOAD_SECONDS / 2, 10_000)
            load2, _, _ = run_load(target, "search_runs", 8, LOAD_SECONDS / 2, 10_000)
            stop.set()
            sampler.join()
            busiest = max(peak, key=lambda m: m[0])
            rate = (load.requests + load2.requests) / (load.seconds + load2.seconds)
            results.memory[workers] = (idle, busiest, rate)
            log(f"workers {workers}: idle RSS {idle[0]:.0f} MiB, under load {busiest[0]:.0f} MiB")


def run(
    *,
    skip_artifacts: bool = False,
    quick: bool = False,
    rounds: int | None = None,
    cell_seconds: float | None = None,
    idle_timeout: int | None = None,
) -> Results:
    from benchmarks.task_size import calibration_ms

    wall = time.monotonic()
    results = Results(machine=machine(), quick=quick)
    results.rounds = rounds or (QUICK_ROUNDS if quick else ROUNDS)
    results.cell_seconds = cell_seconds or (QUICK_CELL_SECONDS if quick else CELL_SECONDS)
    idle_overrides = {}
    if idle_timeout is not None:
        results.idle_timeout_seconds = idle_timeout
        results.idle_timeout_source = f"set for this run ({contract.DB_IDLE_TIMEOUT_SECONDS}={idle_timeout})"
        idle_overrides[contract.DB_IDLE_TIMEOUT_SECONDS] = str(idle_timeout)
    with LoadSampler() as sampler:
        results.calibration_ms.append(calibration_ms())
        log("synthesizing the examples")
        results.cdk_import, results.synth, results.costs, results.managed_small = synthesis_and_cost()
        work = Path(tempfile.mkdtemp(prefix="mlflow-bench-"))
        with PostgresServer.start() as postgres, S3Server.start() as s3, StsServer.start() as sts:
            stack = Stack(
                postgres, s3, work / "logs", s3.create_bucket("bench-artifacts"), "Adm1n%" + os.urandom(9).hex()
            )
            with throughput(
                stack,
                sts,
                results,
                rounds=results.rounds,
                cell_seconds=results.cell_seconds,
                idle_overrides=idle_overrides,
            ) as basic:
                if not (skip_artifacts or quick):
                    with ApiGateway.start(basic.handle.port, ALB_DNS_NAME) as gateway:
                        results.artifacts = artifact_benchmark(stack, gateway, work)
            batching(stack, sts, results, rounds=results.rounds, cell_seconds=results.cell_seconds)
            memory(stack, results, QUICK_WORKER_COUNTS if quick else WORKER_COUNTS)
        results.calibration_ms.append(calibration_ms())
    results.loadavg_samples = sampler.samples
    results.runtime = time.monotonic() - wall
    return results


# --------------------------------------------------------------------------------------------------
# Figures from the cells
# --------------------------------------------------------------------------------------------------

#: SecureMlflowService's default task memory and workers (tracking_server/service.py), which the memory table
#: checks for headroom.
TASK_MEMORY_MIB = 1024
DEFAULT_WORKERS = 1
#: The goals of issue 13 (ratios in one run on this machine; no test asserts them).
GOAL_SPEEDUP_OVER_PREVIOUS = 3.0
GOAL_AUTH_OVERHEAD = 1.10
GOAL_SECONDS_TO_ZERO = 60.0
GOAL_SERVER_CPU_MS = 6.0


def _cells(results: Results, target: str, operation: str, clients: int) -> list[Cell]:
    return [c for c in results.cells if c.target == target and c.operation == operation and c.clients == clients]


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclasses.dataclass(frozen=True)
class Summary:
    """Medians over the rounds of one target, operation and client count."""

    rounds: int
    throughput: float
    p50_ms: float
    p95_ms: float
    server_cpu_ms: float
    db_cpu_ms: float
    requests: int
    new_connections: int
    errors: int
    sts_calls: int
    open_connections_after: int

    @property
    def new_per_100(self) -> float:
        return 100 * self.new_connections / self.requests if self.requests else float("nan")


def summary(results: Results, target: str, operation: str, clients: int) -> Summary | None:
    return summarize(_cells(results, target, operation, clients))


def summarize(cells: Sequence[Cell]) -> Summary | None:
    if not cells:
        return None
    return Summary(
        rounds=len(cells),
        throughput=_median([c.throughput for c in cells]),
        p50_ms=_median([c.p50_ms for c in cells]),
        p95_ms=_median([c.p95_ms for c in cells]),
        server_cpu_ms=_median([c.server_cpu_per_request for c in cells]),
        db_cpu_ms=_median([c.db_cpu_per_request for c in cells]),
        requests=sum(c.requests for c in cells),
        new_connections=sum(c.new_connections for c in cells),
        errors=sum(c.errors for c in cells),
        sts_calls=sum(c.sts_calls for c in cells),
        open_connections_after=max(c.open_connections_after for c in cells),
    )


@dataclasses.dataclass(frozen=True)
class Ratio:
    """Throughput of one target over another's: ratio of the medians, and the range of the same-round ratios."""

    value: float
    low: float
    high: float

    def __str__(self) -> str:
        if self.value != self.value:  # NaN
            return "n/a"
        return f"{self.value:.2f} ({self.low:.2f}-{self.high:.2f})"


def ratio(results: Results, numerator: str, denominator: str, operation: str, clients: int) -> Ratio:
    top, bottom = summary(results, numerator, operation, clients), summary(results, denominator, operation, clients)
    if top is None or bottom is None or not bottom.throughput:
        return Ratio(float("nan"), float("nan"), float("nan"))
    by_round = {c.round: c for c in _cells(results, denominator, operation, clients)}
    same_round = [
        c.throughput / by_round[c.round].throughput
        for c in _cells(results, numerator, operation, clients)
        if c.round in by_round and by_round[c.round].throughput
    ]
    return Ratio(top.throughput / bottom.throughput, min(same_round), max(same_round))


def _fmt(value: float, digits: int = 1) -> str:
    return "n/a" if value != value else f"{value:.{digits}f}"


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def goals(results: Results) -> list[tuple[str, str, bool]]:
    """(goal, measured, met) for each goal of issue 13."""
    rows = []
    speedups = {
        (target, clients): ratio(results, target, "previous", "log_metric", clients)
        for target in AUTH_TARGETS
        for clients in (1, 8)
    }
    rows.append(
        (
            f"log_metric through auth >= {GOAL_SPEEDUP_OVER_PREVIOUS:g}x the previous configuration, 1 and 8 clients",
            "; ".join(f"{t} {c} cl: {r.value:.2f}x" for (t, c), r in speedups.items()),
            all(r.value >= GOAL_SPEEDUP_OVER_PREVIOUS for r in speedups.values()),
        )
    )
    overheads = {
        (target, clients): ratio(results, "bare", target, "log_metric", clients)
        for target in AUTH_TARGETS
        for clients in (1, 8)
    }
    rows.append(
        (
            f"auth overhead against bare (bare / auth req/s) <= {GOAL_AUTH_OVERHEAD:.2f}x, log_metric, 1 and 8 clients",
            "; ".join(f"{t} {c} cl: {r.value:.2f}x" for (t, c), r in overheads.items()),
            all(r.value <= GOAL_AUTH_OVERHEAD for r in overheads.values()),
        )
    )
    new = {
        target: (
            sum(c.new_connections for c in results.cells if c.target == target),
            sum(c.requests for c in results.cells if c.target == target),
        )
        for target in POOLED_TARGETS
    }
    rows.append(
        (
            "new database connections per 100 steady-state requests: 0 (pooled targets, every cell)",
            "; ".join(f"{t}: {100 * n / max(r, 1):.2f} ({n} in {r} requests)" for t, (n, r) in new.items()),
            all(n == 0 for n, _ in new.values()),
        )
    )
    drains = {t: results.drains.get(t) for t in POOLED_TARGETS}
    rows.append(
        (
            f"no server connection left {GOAL_SECONDS_TO_ZERO:g} s after the last request "
            f"(idle timeout {results.idle_timeout_seconds} s)",
            "; ".join(
                f"{t}: {_fmt(d.seconds_to_zero) + ' s' if d and d.seconds_to_zero is not None else 'not reached'}"
                for t, d in drains.items()
            ),
            all(
                d is not None and d.seconds_to_zero is not None and d.seconds_to_zero <= GOAL_SECONDS_TO_ZERO
                for d in drains.values()
            ),
        )
    )
    cpu = {
        (target, clients): summary(results, target, "log_metric", clients)
        for target in AUTH_TARGETS
        for clients in (1, 8)
    }
    rows.append(
        (
            f"server CPU per authenticated log_metric <= {GOAL_SERVER_CPU_MS:g} ms",
            "; ".join(f"{t} {c} cl: {s.server_cpu_ms:.1f} ms" for (t, c), s in cpu.items() if s),
            all(s is not None and s.server_cpu_ms <= GOAL_SERVER_CPU_MS for s in cpu.values()),
        )
    )
    return rows


# --------------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------------


def _loadavg_during(results: Results) -> str:
    samples = results.loadavg_samples
    if not samples:
        return "not sampled"
    return (
        f"median {statistics.median(samples):.2f}, min {min(samples):.2f}, max {max(samples):.2f} "
        f"({len(samples)} samples, every 5 s)"
    )


def render_throughput(results: Results) -> list[str]:
    quick = (
        " **Quick run** (`--quick`): fewer and shorter cells than the full run; treat as indicative."
        if (results.quick)
        else ""
    )
    lines = [
        "## Tracking throughput and latency",
        "",
        f"Four servers run side by side, each the server image's entrypoint with {THROUGHPUT_WORKERS} workers (one "
        "per core, the construct's rule) on the local PostgreSQL, and are measured in turn, cell by cell:",
        "",
        "- `bare`: auth off, pooled connections (the default now).",
        f"- `basic`: built-in basic auth, `auth_cache_ttl_seconds = {AUTH_CACHE_TTL_SECONDS}`, the admin user, pooled.",
        "- `iam`: IAM token auth (basic auth beside it), pooled. One `IamTokenAuth` of the client plugin per client "
        "thread for the whole run (a token per client, made again every 5 minutes, like one plugin per client "
        "process); the principal is an IAM user in the STS emulator mapped to an MLflow admin, so `basic` and `iam` "
        "take the same permission path. Tokens are verified at the server's configured STS endpoint: moto with "
        "SigV4 signature checks.",
        f"- `previous`: `basic` with `{contract.DB_POOL}={contract.DB_POOL_NULL}` and "
        f"`{contract.DB_BATCHED_WRITES}=false`, the settings deployed before issue 13: a new connection for every "
        "database session, one statement per row. It runs today's code otherwise, whose "
        "per-worker user cache spares the auth store's session, so a log_metric opens one connection instead "
        "of the two it opened before. The 2026-11-23 run, with the code of then and under other load, "
        "published 15.1 and 23.9 req/s for log_metric through auth at 1 and 8 clients.",
        "",
        f"{results.rounds} rounds; in each, every (operation, clients) row is measured for the four targets one "
        f"after the other (A B C D, the order rotated by one each round), {results.cell_seconds:g} s per cell "
        f"after {CELL_WARMUP_SECONDS:g} s of uncounted requests per client (at least one). Figures are medians "
        "over the rounds. REST calls with `requests`, "
        f"one keep-alive session per client thread. `log_batch` sends {BATCH_METRICS} metrics; `search_runs` "
        f"returns up to 100 of {SEED_RUNS} runs with a metric filter; `get_run` reads a run with 10 metrics and 5 "
        f"params.{quick}",
        "",
        "*Server CPU*: utime + stime of the server's process tree from `/proc`, before and after the cell, per "
        "request. *DB CPU*: the same for the whole PostgreSQL cluster (postmaster, backends, background workers, "
        "and through the postmaster's cutime/cstime the backends that ended during the cell, which is where "
        "NullPool's per-request backends go). The other servers are idle meanwhile. *New conn/100*: connections "
        "the server's login opened during the measured window (PostgreSQL's `log_connections`), per 100 "
        "requests. *Open after*: the server's connections right after the cell (`pg_stat_activity`), the most "
        "over the rounds.",
        "",
        "| operation | clients | target | req/s | p50 ms | p95 ms | server CPU ms/req | DB CPU ms/req | "
        "new conn/100 req | open after | errors |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for operation, clients in PLAN:
        for target in TARGETS:
            s = summary(results, target, operation, clients)
            if s is None:
                continue
            lines.append(
                f"| {operation} | {clients} | {target} | {s.throughput:.1f} | {s.p50_ms:.1f} | {s.p95_ms:.1f} | "
                f"{s.server_cpu_ms:.1f} | {s.db_cpu_ms:.2f} | {s.new_per_100:.2f} | {s.open_connections_after} | "
                f"{s.errors} |"
            )
    lines += [
        "",
        "### Ratios",
        "",
        "Throughput of one target over another's, same run: the ratio of the medians, and in brackets the lowest "
        "and highest ratio of two cells of the same round. Above 1: the first is faster.",
        "",
        "| operation | clients | basic / bare | iam / bare | basic / previous | iam / previous | iam / basic |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    pairs = (("basic", "bare"), ("iam", "bare"), ("basic", "previous"), ("iam", "previous"), ("iam", "basic"))
    for operation, clients in PLAN:
        cells = " | ".join(str(ratio(results, a, b, operation, clients)) for a, b in pairs)
        lines.append(f"| {operation} | {clients} | {cells} |")
    lines += [
        "",
        "### CPU per request",
        "",
        "Server CPU ms / DB CPU ms per request (medians over the rounds, from the table above), the figures that "
        "transfer to a Fargate task's vCPU share and an Aurora cluster's ACUs better than req/s on shared cores:",
        "",
        "| operation | clients | " + " | ".join(TARGETS) + " |",
        "| --- | ---: | " + " | ".join("---:" for _ in TARGETS) + " |",
    ]
    for operation, clients in PLAN:
        values = []
        for target in TARGETS:
            s = summary(results, target, operation, clients)
            values.append(f"{s.server_cpu_ms:.1f} / {s.db_cpu_ms:.2f}" if s else "n/a")
        lines.append(f"| {operation} | {clients} | " + " | ".join(values) + " |")
    lines += render_connections(results)
    lines += render_iam(results)
    lines += ["", "### Goals of issue 13", "", "| goal | measured | |", "| --- | --- | --- |"]
    for goal, measured, ok in goals(results):
        lines.append(f"| {goal} | {measured} | {_met(ok)} |")
    lines += [
        "",
        "Ratios in one run on this machine's 2 shared cores, as the issue asks; no test asserts any timing. The "
        "`previous` target is today's code with NullPool: its per-worker user cache already spares one of the two "
        "connections per request that the deployed configuration opened, so the speed-up over what was deployed "
        "is larger than the ratio against `previous`, but it cannot be measured in the same run.",
        "",
    ]
    return lines


def render_connections(results: Results) -> list[str]:
    lines = [
        "",
        "### Database connections",
        "",
        "New connections over all cells of a target (steady state: the measured windows, after each client's "
        "first request), and what happens after the load: each server gets a 1 s burst of 8 log_metric clients, "
        f"then `pg_stat_activity` is polled every {DRAIN_POLL_SECONDS:g} s until no connection of the server's "
        f"login remains (at most {DRAIN_LIMIT_SECONDS:.0f} s). The servers ran with an idle timeout of "
        f"{results.idle_timeout_seconds} s, {results.idle_timeout_source} (`{contract.DB_IDLE_TIMEOUT_SECONDS}`: "
        "PostgreSQL's `idle_session_timeout`, set per connection in the database URIs; NullPool servers get none). "
        "Then one more log_metric request shows that the next request reconnects.",
        "",
        "| target | requests | new connections | per 100 requests | open at the end of the burst | "
        "seconds until none is open | next request |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for target in TARGETS:
        cells = [c for c in results.cells if c.target == target]
        requests_ = sum(c.requests for c in cells)
        new = sum(c.new_connections for c in cells)
        d = results.drains.get(target)
        zero = "n/a" if d is None else ("not reached" if d.seconds_to_zero is None else f"{d.seconds_to_zero:.1f}")
        nxt = "n/a" if d is None else f"{d.next_status} in {d.next_ms:.0f} ms"
        lines.append(
            f"| {target} | {requests_} | {new} | {100 * new / max(requests_, 1):.2f} | "
            f"{d.open_at_end if d else 'n/a'} | {zero} | {nxt} |"
        )
    per_row = []
    for operation, clients in PLAN:
        for target in POOLED_TARGETS:
            s = summary(results, target, operation, clients)
            if s is not None and s.new_connections:
                per_row.append(
                    f"{target} {operation} at {clients} client{'s' if clients > 1 else ''}: {s.new_connections}"
                )
    if per_row:
        lines += [
            "",
            "Where the pooled servers' new connections were: " + "; ".join(per_row) + ". At 8 clients this is "
            "the pool's overflow: when one worker serves more concurrent requests than "
            f"`{contract.DB_POOL_SIZE}` ({results.db_pool_size}), SQLAlchemy's QueuePool opens overflow "
            "connections and closes each one that comes back to a full pool, so it churns whenever the kernel "
            "hands one worker more than that many of the 8 keep-alive connections. (A separate check outside "
            "this script, one worker and 8 clients, saw about 10 new connections per 100 requests with a pool of 5 "
            "and none with a pool of 10.)",
        ]
    return lines


def render_iam(results: Results) -> list[str]:
    iam_cells = [c for c in results.cells if c.target == "iam"]
    sts_in_windows = sum(c.sts_calls for c in iam_cells)
    tokens = results.fresh_tokens
    lines = [
        "",
        "### What the IAM figures include",
        "",
        "- Included, per request: the client plugin adding its cached token (`X-Mlflow-Iam-Token`), the server "
        "decoding it, hashing it and finding the verified principal in its worker's cache, the principal's "
        "cached user mapping and user lookup, and MLflow's auth app as for `basic`.",
        f"- STS calls during the measured windows: {sts_in_windows} (counted in the emulator's log over "
        f"{sum(c.requests for c in iam_cells)} requests). A token is verified once per worker it reaches, and a "
        "keep-alive session stays on one worker, so the verification falls into the uncounted warm-up of each "
        "client's session"
        + (
            ": the steady state made no STS call."
            if sts_in_windows == 0
            else "; the calls counted here are sessions that reached a worker their token was new to, or tokens "
            "the plugin made again after 5 minutes."
        ),
    ]
    if tokens:
        lines.append(
            f"- A fresh token's first request took a median {_median([t.first_ms for t in tokens]):.0f} ms against "
            f"{_median([t.second_ms for t in tokens]):.0f} ms for the next one ({len(tokens)} tokens, `get_run`, "
            f"{sum(t.sts_calls for t in tokens)} STS calls): the verification against moto on the loopback."
        )
    lines.append(
        "- Not measured: the latency of `sts:GetCallerIdentity` in AWS (the regional endpoint or an STS "
        "interface endpoint), which the first request per token and worker pays, once every 5 minutes per "
        "client (the plugin's refresh) and worker; nor STS's request quotas. The emulator's own CPU is not in "
        "any column."
    )
    return lines


def render_batching(results: Results) -> list[str]:
    if not results.batching:
        return []
    lines = [
        "## Batched writes (log_batch)",
        "",
        f"Two more servers, auth off, {THROUGHPUT_WORKERS} workers, pooled: `batched` (the default, "
        f'`executemany_mode="values_plus_batch"`, see [server image](server-image.md#batched-writes-on-postgresql)) '
        f"and `unbatched` (`{contract.DB_BATCHED_WRITES}=false`). Both reach PostgreSQL through a TCP proxy in the "
        "benchmark process that delays every chunk by half the added round-trip time in each direction: none, "
        "and a round trip of a task to Aurora in another Availability Zone, which this machine lacks. "
        f"`log_batch` of {BATCH_METRICS} metrics into one run at 1 client; {results.rounds} rounds, both targets "
        f"in turn (order alternating), {results.cell_seconds:g} s per cell, medians. Statements per call: 111 "
        "unbatched, 12 batched (counted in PostgreSQL's statement log by "
        "`tests/tracking_server/integration/test_connections.py`).",
        "",
        "| added RTT ms | target | req/s | p50 ms | p95 ms | server CPU ms/req | DB CPU ms/req | errors |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for rtt, cells in results.batching.items():
        for name in BATCHING_TARGETS:
            s = summarize([c for c in cells if c.target == name])
            if s is not None:
                lines.append(
                    f"| {rtt} | {name} | {s.throughput:.1f} | {s.p50_ms:.1f} | {s.p95_ms:.1f} | "
                    f"{s.server_cpu_ms:.1f} | {s.db_cpu_ms:.2f} | {s.errors} |"
                )
    speedups = ", ".join(f"{value:.2f}x with {rtt} ms added" for rtt, value in batching_speedups(results).items())
    return [*lines, "", f"Throughput of `batched` over `unbatched`: {speedups}.", ""]


def batching_speedups(results: Results) -> dict[str, float]:
    """Added RTT (ms) -> log_batch throughput of ``batched`` over ``unbatched`` (ratio of the medians)."""
    speedups = {}
    for rtt, cells in results.batching.items():
        batched, unbatched = (summarize([c for c in cells if c.target == name]) for name in BATCHING_TARGETS)
        if batched and unbatched and unbatched.throughput:
            speedups[rtt] = batched.throughput / unbatched.throughput
    return speedups


def render_closing_note(results: Results) -> list[str]:
    basic1, basic8 = summary(results, "basic", "log_metric", 1), summary(results, "basic", "log_metric", 8)
    prev1, prev8 = summary(results, "previous", "log_metric", 1), summary(results, "previous", "log_metric", 8)
    if not (basic1 and basic8 and prev1 and prev8):
        return []
    met = sum(ok for _, _, ok in goals(results))
    return [
        "### Closing note",
        "",
        f"log_metric through basic auth: {basic1.throughput:.1f} req/s at 1 client and {basic8.throughput:.1f} at 8, "
        f"against {prev1.throughput:.1f} and {prev8.throughput:.1f} for the previous configuration in the same run "
        f"({ratio(results, 'basic', 'previous', 'log_metric', 1).value:.2f}x and "
        f"{ratio(results, 'basic', 'previous', 'log_metric', 8).value:.2f}x); server CPU "
        f"{basic1.server_cpu_ms:.1f} against {prev1.server_cpu_ms:.1f} ms per request, database CPU "
        f"{basic1.db_cpu_ms:.2f} against {prev1.db_cpu_ms:.2f} ms. {met} of {len(goals(results))} goals of issue "
        "13 are met on this machine (table above).",
        "",
        "Defaults that changed with issue 13: pooled engines instead of NullPool "
        f"(`{contract.DB_POOL}` unset; `{contract.DB_POOL_NULL}` is the previous behaviour), "
        f"{contract.DEFAULT_DB_POOL_SIZE} pooled + {contract.DEFAULT_DB_POOL_MAX_OVERFLOW} overflow connections per "
        f"engine and worker ({contract.ENGINES_PER_WORKER} engines per worker: tracking, registry, auth), and an idle "
        f"timeout of {contract.DEFAULT_DB_IDLE_TIMEOUT_SECONDS} s so that a paused Aurora cluster stays paused; "
        f"batched multi-row writes on PostgreSQL (`{contract.DB_BATCHED_WRITES}`; log_batch "
        + ", ".join(f"{value:.2f}x with {rtt} ms added" for rtt, value in batching_speedups(results).items())
        + ", the section above). The "
        "worker count (one per vCPU) and the task size (0.5 vCPU, 1 GB) come from the task-size section below."
        + (
            f" This run used a pool of {results.db_pool_size}; the default became {contract.DEFAULT_DB_POOL_SIZE} "
            "after it, from the overflow churn measured at 8 clients (the connections paragraph above)."
            if results.db_pool_size != contract.DEFAULT_DB_POOL_SIZE
            else ""
        ),
        "",
    ]


def render(results: Results) -> str:
    m = results.machine
    calibration = results.calibration_ms
    mode = (
        f"quick (`--quick`): {results.rounds} rounds x {results.cell_seconds:g} s per cell, no large artifacts"
        if results.quick
        else f"full: {results.rounds} rounds x {results.cell_seconds:g} s per cell"
    )
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by benchmarks/run.py; rerun with `./dev shell python -m benchmarks.run` "
        "(raw figures: benchmarks/results/run.json). -->",
        "",
        "Measured once on one machine with the local stand-ins of the integration tests (PostgreSQL 15 with",
        "`fsync=off`, moto S3, moto STS with signature checks, nginx plus a response-size limiter as API Gateway),",
        "the server image's entrypoint on the host (MLflow with `uvloop` and `httptools`), clients on the same 2",
        "cores as the server. Absolute numbers are rough and machine-bound; ratios within one run are the",
        "meaningful part. Nothing here ran on AWS.",
        "",
        "| machine | |",
        "| --- | --- |",
        f"| date | {m['date']} |",
        f"| CPU | {m['cpu']} |",
        f"| nproc | {m['nproc']} |",
        f"| memory | {m['memory']} |",
        f"| kernel, Python | {m['kernel']}, {m['python']} |",
        f"| MLflow | {m['mlflow']} |",
        f"| 1-min load average at start (other jobs share this machine) | {m.get('loadavg', '?')} |",
        f"| 1-min load average during the run | {_loadavg_during(results)} |",
        "| CPU ms of a fixed Python loop at start, end (`benchmarks/task_size.py`'s calibration; higher: busier) | "
        + (", ".join(f"{c:.0f}" for c in calibration) if calibration else "not measured")
        + " |",
        f"| run | {mode} |",
        f"| total benchmark runtime | {results.runtime:.0f} s |",
        "",
    ]
    lines += render_throughput(results)
    lines += render_batching(results)
    lines += render_closing_note(results)
    lines += [
        "## Server memory",
        "",
        "Sum over the server's process tree (uvicorn supervisor and workers), from `/proc/<pid>/status` (RSS) and",
        "`/proc/<pid>/smaps_rollup` (PSS, which splits shared pages fairly; RSS double-counts them). Idle: 3 s",
        f"after `/health` 200. Under load: the largest sample (every 0.5 s) during {LOAD_SECONDS:g} s of 8 clients",
        "(`log_batch`, then `search_runs`), basic auth on, pooled connections.",
        "",
        "| workers | processes | idle RSS MiB | idle PSS MiB | load RSS MiB | load PSS MiB | load req/s | "
        f"headroom in {TASK_MEMORY_MIB} MiB (RSS) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for workers, (idle, busy, rate) in results.memory.items():
        lines.append(
            f"| {workers} | {idle[2]} | {idle[0]:.0f} | {idle[1]:.0f} | {busy[0]:.0f} | {busy[1]:.0f} | "
            f"{rate:.1f} | {TASK_MEMORY_MIB - busy[0]:.0f} MiB "
            f"({(TASK_MEMORY_MIB - busy[0]) / TASK_MEMORY_MIB:.0%}) |"
        )
    default = results.memory.get(DEFAULT_WORKERS)
    if default:
        fits = default[1][0] < 0.75 * TASK_MEMORY_MIB
        lines += [
            "",
            f"Default task size ({TASK_MEMORY_MIB} MiB, {DEFAULT_WORKERS} worker): under load the tree used "
            f"{default[1][0]:.0f} MiB RSS, "
            + ("so it fits with more than 25 % headroom." if fits else "so it does NOT leave 25 % headroom."),
        ]
    lines += [
        "",
        "## Cold start",
        "",
        "Entrypoint start (database wait, creation, migration under the lock, auth config) to `/health` 200, basic",
        f"auth on, {THROUGHPUT_WORKERS} workers, job execution off, nothing else starting at the same time.",
        "",
        "| database | seconds |",
        "| --- | ---: |",
        f"| empty (creates databases, migrates tracking and auth schemas) | {results.cold_empty:.1f} |",
        f"| up to date (checks revisions only) | {results.cold_current:.1f} |",
        "",
        "## Large artifacts",
        "",
    ]
    lines += render_artifacts(results)
    lines += [
        "## Synthesis time and idle cost of the examples",
        "",
        f"In-process `build(app)` + `app.synth()` (no cdk-nag) after importing `aws_cdk` (jsii kernel start: "
        f"{results.cdk_import:.1f} s). The first synthesis also loads the library's modules. Idle cost from",
        "`scripts/cost.py` (see [Idle cost](cost.md) for the line items).",
        "",
        "| example | synthesis s | idle USD/month |",
        "| --- | ---: | ---: |",
    ]
    for name, seconds in results.synth.items():
        lines.append(f"| `{name}` | {seconds:.1f} | ${results.costs[name]:,.2f} |")
    lines += [f"| managed SageMaker MLflow, Small (730 h) | | ${results.managed_small:,.2f} |", ""]
    return "\n".join(lines)


def render_artifacts(results: Results) -> list[str]:
    a = results.artifacts
    if a is None:
        return ["Skipped in this run (`--skip-artifacts` or `--quick`).", ""]
    size_note = (
        "1 GiB, as asked."
        if a.size_mib >= 1024
        else f"{a.size_mib} MiB, NOT 1 GiB: 1 GiB did not fit the time budget on this machine."
    )
    return [
        f"Size: {size_note} ({a.chosen_because}.)",
        "Proxy path: MLflow client through the API-Gateway-limits proxy (in front of the `basic` server) with the",
        "multipart settings of `docs/server-image.md` (8 MiB parts on presigned URLs; only small JSON requests pass",
        "the proxy). Direct: boto3 `upload_file`/`download_file` against the S3 emulator. moto keeps objects in",
        "memory and is itself a Python process on the same cores, so both paths are slower than real S3.",
        "",
        "| path | upload s | upload MiB/s | download s | download MiB/s |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| via API Gateway proxy (multipart, presigned) | {a.proxy_upload:.1f} | "
        f"{a.size_mib / a.proxy_upload:.1f} | "
        f"{a.proxy_download:.1f} | {a.size_mib / a.proxy_download:.1f} |",
        f"| direct to S3 emulator (boto3) | {a.direct_upload:.1f} | {a.size_mib / a.direct_upload:.1f} | "
        f"{a.direct_download:.1f} | {a.size_mib / a.direct_download:.1f} |",
        f"| ratio proxy / direct (time) | {a.proxy_upload / a.direct_upload:.2f} | | "
        f"{a.proxy_download / a.direct_download:.2f} | |",
        "",
        f"The four transfers took {a.proxy_upload + a.proxy_download + a.direct_upload + a.direct_download:.0f} s "
        f"in all (budget {ARTIFACT_BUDGET_SECONDS:.0f} s, projected from the 64 MiB probe). The direct download "
        "is one boto3 stream from moto; the proxied download fetches 8 MiB ranges on presigned URLs in "
        "parallel, which is why it can beat the direct path here.",
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--results", type=Path, default=RESULTS, help="raw figures (JSON), written after a run")
    parser.add_argument("--render-only", action="store_true", help="rewrite the page from --results, run nothing")
    parser.add_argument("--skip-artifacts", action="store_true", help="skip the large-artifact transfers")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_ROUNDS} rounds of {QUICK_CELL_SECONDS:g} s cells, no large artifacts, one memory size",
    )
    parser.add_argument("--rounds", type=int, help=f"interleaved rounds (default {ROUNDS})")
    parser.add_argument("--cell-seconds", type=float, help=f"seconds per cell (default {CELL_SECONDS:g})")
    parser.add_argument(
        "--idle-timeout",
        type=int,
        help=f"{contract.DB_IDLE_TIMEOUT_SECONDS} for the pooled servers (default: the entrypoint's, "
        f"{contract.DEFAULT_DB_IDLE_TIMEOUT_SECONDS} s)",
    )
    args = parser.parse_args(argv)
    if args.render_only:
        results = Results.from_json(args.results.read_text(encoding="utf-8"))
    else:
        results = run(
            skip_artifacts=args.skip_artifacts,
            quick=args.quick,
            rounds=args.rounds,
            cell_seconds=args.cell_seconds,
            idle_timeout=args.idle_timeout,
        )
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(results.to_json() + "\n", encoding="utf-8")
    # The task-size section comes from benchmarks/task_size.py (a run of its own, as root): keep it.
    from benchmarks.task_size import preserved_section

    section = preserved_section(args.output)
    page = render(results) + ("\n" + section + "\n" if section else "")
    args.output.write_text(page, encoding="utf-8")
    log(f"wrote {args.output} ({results.runtime:.0f} s run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
