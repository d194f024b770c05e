"""Task size: throughput, CPU and memory of the server at 0.25, 0.5 and 1 vCPU (issue 18).

Run with ``./dev shell python -m benchmarks.task_size`` from the repository root (as root, for the cgroup);
it rewrites the task-size section of ``docs/benchmarks.md`` between its markers and keeps the rest of the page.

Method. The server is the image's entrypoint on the host, run as the integration tests run it
(``tests/harness/services.py`` ``run_entrypoint``), pooled, against local PostgreSQL and moto S3, with built-in
authentication and a non-admin user who owns the experiment (so every request also checks permissions, as in
production). Its process tree is put into a CPU cgroup whose CFS quota is the Fargate task's vCPU share of one
core (25, 50 or 100 ms per 100 ms period; Fargate enforces task CPU as a hard limit the same way); children inherit
the cgroup. Clients run outside the cgroup on the same 2 cores. For every cell the server's CPU time (``/proc``
utime + stime of its process tree) and the PostgreSQL backends' CPU time are read before and after, so the CPU
cost per request does not depend on the share of the cores the server got; the quota-bound capacity is then
``quota / CPU per request``. The measured req/s is what the quota allowed while other jobs shared the machine;
``throttled`` says whether the quota (and not the machine) was the limit. Other jobs still slow each instruction
down, which a calibration loop at the start and end records.

No test asserts these numbers; they size the default task (``SecureMlflowService`` ``cpu``, ``memory_limit_mib``,
``workers``) and feed the cost per million requests in ``scripts/cost.py``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import datetime
import json
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import requests
from tests.harness.services import (
    ApiGateway,
    DbAccount,
    EntrypointProcess,
    PostgresServer,
    S3Server,
    contract_env,
    run_entrypoint,
)

from benchmarks.run import post_json, process_cpu, session_pids, tree_memory_mib
from mlflow_sagemaker_constructs.tracking_server.server import contract

REPO_ROOT = Path(__file__).resolve().parent.parent
PAGE = REPO_ROOT / "docs" / "benchmarks.md"
RESULTS = REPO_ROOT / "benchmarks" / "results" / "task_size.json"
BEGIN = "<!-- task-size:begin (benchmarks/task_size.py) -->"
END = "<!-- task-size:end -->"
#: The Host the API-Gateway stand-in sends (the bytes-per-request measurement goes through it).
GATEWAY_HOST = "tracking.mlflow.internal"
ALLOWED_HOSTS = f"127.0.0.1:*,localhost:*,{GATEWAY_HOST}"
#: Mix requests sent through the API-Gateway stand-in to measure bytes on the wire per request.
BYTES_SAMPLE = 200
#: (vCPU, workers) measured. One worker per 0.5 vCPU or less: a second worker costs about 380 MiB and cannot
#: run in parallel on a quarter or half of a core anyway.
CONFIGS: tuple[tuple[float, int], ...] = ((0.25, 1), (0.5, 1), (1.0, 1), (1.0, 2))
CFS_PERIOD_US = 100_000
OPERATIONS = ("log_metric", "log_batch", "get_run", "search_runs", "mix")
#: The mix of an active team, per 20 requests: training jobs logging (single metrics and batches of 10),
#: people reading runs in the UI, and a search now and then.
MIX = ("log_metric",) * 12 + ("log_batch10",) * 4 + ("get_run",) * 3 + ("search_runs",)
CLIENTS = 8
CELL_SECONDS = 4.0
#: Every operation is measured in this many rounds, interleaved, so that a burst of other jobs on the shared
#: cores skews one round, not one operation; the page shows medians and the least-contended (minimum) CPU cost.
ROUNDS = 3
BATCH_METRICS = 100
SEED_RUNS = 50
#: An active user's average demand (requests per second): a training job logging about once a second, or a
#: person browsing the UI. The team of the issue is 25 such users, the managed Small size's "25 TPS".
REQUESTS_PER_ACTIVE_USER = 1.0
TEAM = 25
#: Autoscaling's CPU target (SecureMlflowService.scale_on_cpu_percent): a task serves this share of its quota
#: before another one is started.
SCALE_TARGET = 0.60
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[task-size {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# CPU limit (cgroup v1 cpu controller, or v2 cpu.max)
# --------------------------------------------------------------------------------------------------


class CpuLimit:
    """A CPU cgroup with a CFS quota of ``vcpu`` cores; processes added to it (and their children) are capped."""

    V1_ROOT = Path("/sys/fs/cgroup/cpu")
    V2_ROOT = Path("/sys/fs/cgroup")

    def __init__(self, vcpu: float) -> None:
        self.vcpu = vcpu
        name = f"mlflow-task-size-{os.getpid()}-{int(vcpu * 1000)}"
        quota = int(vcpu * CFS_PERIOD_US)
        if (self.V1_ROOT / "cpu.cfs_quota_us").exists():
            self.path = self.V1_ROOT / name
            self.path.mkdir()
            (self.path / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
            (self.path / "cpu.cfs_quota_us").write_text(str(quota))
            self.kind = "cgroup v1 cpu.cfs_quota_us"
        elif "cpu" in (self.V2_ROOT / "cgroup.controllers").read_text().split():
            self.path = self.V2_ROOT / name
            self.path.mkdir()
            (self.path / "cpu.max").write_text(f"{quota} {CFS_PERIOD_US}")
            self.kind = "cgroup v2 cpu.max"
        else:  # pragma: no cover - depends on the machine
            raise RuntimeError("no writable CPU cgroup controller: run as root on a machine with cgroups")

    def add(self, pid: int) -> None:
        (self.path / "cgroup.procs").write_text(str(pid))

    def throttling(self) -> tuple[int, int]:
        """(periods, throttled periods) so far."""
        values = dict(line.split() for line in (self.path / "cpu.stat").read_text().splitlines() if " " in line)
        return int(values.get("nr_periods", 0)), int(values.get("nr_throttled", 0))

    def remove(self) -> None:
        # Whatever is left (nothing, once the server stopped) goes back to the parent; then the group goes.
        parent = self.path.parent / "cgroup.procs"
        with contextlib.suppress(OSError):
            for pid in (self.path / "cgroup.procs").read_text().split():
                with contextlib.suppress(OSError):
                    parent.write_text(pid)
        with contextlib.suppress(OSError):
            self.path.rmdir()


def _tree_cpu(handle: EntrypointProcess) -> float:
    return sum(process_cpu(pid) for pid in session_pids(handle.process.pid))


def _db_cpu(postgres: PostgresServer, user: str) -> dict[int, float]:
    return {pid: process_cpu(pid) for pid, _ in postgres.backends(user)}


# --------------------------------------------------------------------------------------------------
# Load
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Fixture:
    url: str
    auth: tuple[str, str]
    experiment_id: str
    run_id: str
    read_run_id: str


def prepare(url: str, admin: tuple[str, str]) -> Fixture:
    """A non-admin user who owns an experiment with SEED_RUNS runs (10 metrics, 5 params each)."""
    api = f"{url}/api/2.0/mlflow"
    username, password = f"bench-{secrets.token_hex(3)}", secrets.token_urlsafe(16)
    with requests.Session() as session:
        session.auth = admin
        post_json(session, f"{api}/users/create", {"username": username, "password": password})
    with requests.Session() as session:
        session.auth = (username, password)
        experiment_id = str(
            post_json(session, f"{api}/experiments/create", {"name": f"size-{username}"})["experiment_id"]
        )
        now = int(time.time() * 1000)
        run_ids = []
        for i in range(SEED_RUNS):
            run = post_json(session, f"{api}/runs/create", {"experiment_id": experiment_id, "start_time": now})
            run_id = str(run["run"]["info"]["run_id"])
            run_ids.append(run_id)
            post_json(
                session,
                f"{api}/runs/log-batch",
                {
                    "run_id": run_id,
                    "metrics": [{"key": f"m{k}", "value": i * k, "timestamp": now, "step": 0} for k in range(10)],
                    "params": [{"key": f"p{k}", "value": str(i)} for k in range(5)],
                },
            )
        target = post_json(session, f"{api}/runs/create", {"experiment_id": experiment_id, "start_time": now})
    return Fixture(url, (username, password), experiment_id, str(target["run"]["info"]["run_id"]), run_ids[0])


def _calls(fixture: Fixture) -> dict[str, Callable[[requests.Session, int], int]]:
    api = f"{fixture.url}/api/2.0/mlflow/"

    def log_metric(session: requests.Session, i: int) -> int:
        body = {"run_id": fixture.run_id, "key": "loss", "value": 1 / (i + 1), "timestamp": i, "step": i}
        return session.post(api + "runs/log-metric", json=body, timeout=60).status_code

    def log_batch(n: int) -> Callable[[requests.Session, int], int]:
        def call(session: requests.Session, i: int) -> int:
            metrics = [{"key": f"b{k}", "value": float(k), "timestamp": i, "step": i} for k in range(n)]
            body = {"run_id": fixture.run_id, "metrics": metrics}
            return session.post(api + "runs/log-batch", json=body, timeout=60).status_code

        return call

    def get_run(session: requests.Session, i: int) -> int:
        return session.get(api + "runs/get", params={"run_id": fixture.read_run_id}, timeout=60).status_code

    def search_runs(session: requests.Session, i: int) -> int:
        body = {"experiment_ids": [fixture.experiment_id], "max_results": 100, "filter": "metrics.m1 >= 0"}
        return session.post(api + "runs/search", json=body, timeout=60).status_code

    calls: dict[str, Callable[[requests.Session, int], int]] = {
        "log_metric": log_metric,
        "log_batch": log_batch(BATCH_METRICS),
        "log_batch10": log_batch(10),
        "get_run": get_run,
        "search_runs": search_runs,
    }

    def mix(session: requests.Session, i: int) -> int:
        return calls[MIX[i % len(MIX)]](session, i)

    calls["mix"] = mix
    return calls


@dataclasses.dataclass
class Cell:
    operation: str
    clients: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float
    server_cpu_ms: float  # per request
    db_cpu_ms: float  # per request
    throttled_share: float  # share of CFS periods in which the quota was exhausted
    round: int = 0

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_cell(
    call: Callable[[requests.Session, int], int],
    fixture: Fixture,
    clients: int,
    seconds: float,
    measure: Callable[[], tuple[float, dict[int, float], tuple[int, int]]],
) -> tuple[int, int, float, list[float], tuple[float, dict[int, float], tuple[int, int]], tuple[Any, ...]]:
    """``clients`` threads (one warm session each) calling ``call`` for ``seconds``."""
    lock = threading.Lock()
    latencies: list[float] = []
    errors = 0
    counter = [0]
    warm = threading.Barrier(clients + 1, timeout=300)
    deadline = [0.0]

    def worker() -> None:
        nonlocal errors
        with requests.Session() as session:
            session.auth = fixture.auth
            with contextlib.suppress(requests.RequestException):
                call(session, 0)
            warm.wait()
            warm.wait()
            while time.monotonic() < deadline[0]:
                with lock:
                    counter[0] += 1
                    i = counter[0]
                started = time.perf_counter()
                try:
                    status = call(session, i)
                except requests.RequestException:
                    status = 0
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    errors += status != 200

    with concurrent.futures.ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [pool.submit(worker) for _ in range(clients)]
        warm.wait()
        before = measure()
        started = time.monotonic()
        deadline[0] = started + seconds
        warm.wait()
        for future in futures:
            future.result()
        elapsed = time.monotonic() - started
        after = measure()
    return len(latencies), errors, elapsed, latencies, before, after


def measured_cell(
    operation: str,
    fixture: Fixture,
    clients: int,
    handle: EntrypointProcess,
    postgres: PostgresServer,
    db_user: str,
    limit: CpuLimit,
) -> Cell:
    call = _calls(fixture)[operation]

    def measure() -> tuple[float, dict[int, float], tuple[int, int]]:
        return _tree_cpu(handle), _db_cpu(postgres, db_user), limit.throttling()

    count, errors, elapsed, latencies, before, after = run_cell(call, fixture, clients, CELL_SECONDS, measure)
    server_cpu = after[0] - before[0]
    db_cpu = sum(cpu - before[1].get(pid, 0.0) for pid, cpu in after[1].items())
    periods = after[2][0] - before[2][0]
    throttled = after[2][1] - before[2][1]
    ordered = sorted(latencies) or [0.0]
    return Cell(
        operation=operation,
        clients=clients,
        requests=count,
        errors=errors,
        seconds=elapsed,
        p50_ms=statistics.median(ordered) * 1000,
        p95_ms=ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000,
        server_cpu_ms=server_cpu * 1000 / count if count else 0.0,
        db_cpu_ms=db_cpu * 1000 / count if count else 0.0,
        throttled_share=throttled / periods if periods else 0.0,
    )


# --------------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Config:
    vcpu: float
    workers: int
    cold_start_empty: float = 0.0
    cold_start_current: float = 0.0
    idle_rss: float = 0.0
    idle_pss: float = 0.0
    peak_rss: float = 0.0
    peak_pss: float = 0.0
    processes: int = 0
    cells: list[Cell] = dataclasses.field(default_factory=list)
    #: Mean bytes per mix request through the API-Gateway stand-in (request received + response sent, headers
    #: included): what a load balancer processes (its LCU "processed bytes").
    bytes_per_request: float = 0.0

    def rounds(self, operation: str, clients: int = CLIENTS) -> list[Cell]:
        return [c for c in self.cells if c.operation == operation and c.clients == clients]

    def median(self, operation: str, field: str, clients: int = CLIENTS) -> float:
        values = [float(getattr(c, field)) for c in self.rounds(operation, clients)]
        return statistics.median(values) if values else 0.0

    def minimum(self, operation: str, field: str, clients: int = CLIENTS) -> float:
        values = [float(getattr(c, field)) for c in self.rounds(operation, clients)]
        return min(values) if values else 0.0


def measure_bytes(fixture: Fixture, port: int) -> float:
    """Mean request + response bytes of the mix through the API-Gateway stand-in (nginx's access log)."""
    with ApiGateway.start(port, GATEWAY_HOST) as gateway:
        through = dataclasses.replace(fixture, url=gateway.url)
        call = _calls(through)["mix"]
        with requests.Session() as session:
            session.auth = fixture.auth
            statuses = {call(session, i) for i in range(BYTES_SAMPLE)}
        if statuses != {200}:
            raise RuntimeError(f"mix through the gateway answered {sorted(statuses)}")
        rows = gateway.requests_seen()
    return statistics.mean(request + response for _, _, _, request, response in rows)


@contextlib.contextmanager
def limited_server(
    env: Mapping[str, str], log_dir: Path, name: str, vcpu: float
) -> Iterator[tuple[EntrypointProcess, CpuLimit, float]]:
    limit = CpuLimit(vcpu)
    handle = run_entrypoint(env, log_dir, name=name)
    try:
        # Right after the fork: the entrypoint has not imported anything yet, and every process it starts
        # (the MLflow server, uvicorn's workers) inherits the cgroup.
        limit.add(handle.process.pid)
        seconds = handle.wait_healthy(900)
        yield handle, limit, seconds
    finally:
        handle.stop()
        limit.remove()


def measure_config(
    vcpu: float, workers: int, postgres: PostgresServer, s3: S3Server, bucket: str, log_dir: Path
) -> Config:
    config = Config(vcpu, workers)
    account: DbAccount = postgres.new_account(f"size_{int(vcpu * 100)}_{workers}_{secrets.token_hex(2)}")
    password = f"Adm1n%{secrets.token_urlsafe(12)}"
    env = contract_env(
        account,
        f"s3://{bucket}/{account.database}",
        s3,
        admin_password=password,
        overrides={
            contract.ALLOWED_HOSTS: ALLOWED_HOSTS,
            contract.WORKERS: str(workers),
            contract.AUTH_CACHE_TTL_SECONDS: "60",
            contract.DB_WAIT_SECONDS: "120",
        },
    )
    name = f"size-{vcpu:g}-{workers}"
    log(f"{name}: cold start on an empty database (creates and migrates both schemas) at {vcpu:g} vCPU")
    with limited_server(env, log_dir, name, vcpu) as (handle, limit, seconds):
        config.cold_start_empty = seconds
        log(f"{name}: healthy after {seconds:.1f} s")
        time.sleep(3)
        config.idle_rss, config.idle_pss, config.processes = tree_memory_mib(handle)
        fixture = prepare(handle.url, ("admin", password))
        config.bytes_per_request = measure_bytes(fixture, handle.port)
        log(f"{name}: {config.bytes_per_request:.0f} bytes per mix request on the wire")
        peaks: list[tuple[float, float, int]] = [(config.idle_rss, config.idle_pss, config.processes)]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.5):
                peaks.append(tree_memory_mib(handle))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            for round_ in range(ROUNDS):
                for operation in OPERATIONS:
                    cell = measured_cell(operation, fixture, CLIENTS, handle, postgres, account.username, limit)
                    cell.round = round_
                    config.cells.append(cell)
                    log(
                        f"{name} round {round_} {operation:11} {CLIENTS} clients: {cell.throughput:6.1f} req/s, "
                        f"server {cell.server_cpu_ms:6.1f} ms, db {cell.db_cpu_ms:5.2f} ms CPU/request, p50 "
                        f"{cell.p50_ms:6.0f} ms, throttled {cell.throttled_share:.0%}, errors {cell.errors}"
                    )
                cell = measured_cell("mix", fixture, 1, handle, postgres, account.username, limit)
                cell.round = round_
                config.cells.append(cell)
                log(f"{name} round {round_} mix 1 client: {cell.throughput:.1f} req/s, p50 {cell.p50_ms:.0f} ms")
        finally:
            stop.set()
            sampler.join()
        busiest = max(peaks, key=lambda m: m[0])
        config.peak_rss, config.peak_pss = busiest[0], busiest[1]
    log(f"{name}: restart on the now current database")
    with limited_server(env, log_dir, name + "-restart", vcpu) as (_, _, seconds):
        config.cold_start_current = seconds
    log(f"{name}: restart healthy after {seconds:.1f} s")
    return config


def run(sizes: tuple[tuple[float, int], ...] = CONFIGS) -> dict[str, Any]:
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="mlflow-task-size-"))
    configs: list[Config] = []
    loadavg = Path("/proc/loadavg").read_text().split()[0]
    calibration_start = calibration_ms()
    with PostgresServer.start() as postgres, S3Server.start() as s3:
        bucket = s3.create_bucket("task-size")
        for vcpu, workers in sizes:
            configs.append(measure_config(vcpu, workers, postgres, s3, bucket, work / "logs"))
    import mlflow

    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "loadavg_at_start": loadavg,
        "loadavg_at_end": Path("/proc/loadavg").read_text().split()[0],
        "calibration_ms": [round(calibration_start), round(calibration_ms())],
        "mlflow": mlflow.__version__,
        "limit": _limit_kind(),
        "runtime_seconds": round(time.monotonic() - started),
        "configs": [dataclasses.asdict(c) for c in configs],
    }


def calibration_ms() -> float:
    """CPU milliseconds of a fixed pure-Python loop: how fast one core of this machine ran Python just now.

    Other jobs on the shared cores slow every process's instructions down (caches, the SMT sibling), which
    inflates CPU time per request too; the page shows this index next to the figures so runs can be compared.
    """
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        total = 0
        for i in range(2_000_000):
            total += i * i % 7
        best = min(best, (time.process_time() - started) * 1000)
    return best


def _limit_kind() -> str:
    if (CpuLimit.V1_ROOT / "cpu.cfs_quota_us").exists():
        return "cgroup v1 cpu.cfs_quota_us"
    return "cgroup v2 cpu.max"


# --------------------------------------------------------------------------------------------------
# The section of docs/benchmarks.md
# --------------------------------------------------------------------------------------------------


def _load(data: Mapping[str, Any]) -> list[Config]:
    configs = []
    for raw in data["configs"]:
        cells = [Cell(**cell) for cell in raw["cells"]]
        configs.append(Config(**{**raw, "cells": cells}))
    return configs


def capacity(config: Config, operation: str = "mix") -> float:
    """Requests per second the quota allows at the median CPU cost per request (CPU-bound projection)."""
    cpu_ms = config.median(operation, "server_cpu_ms")
    return config.vcpu * 1000 / cpu_ms if cpu_ms else 0.0


def render(data: Mapping[str, Any]) -> str:
    configs = _load(data)
    calibration = data.get("calibration_ms", ["?", "?"])
    lines = [
        BEGIN,
        "## Task size",
        "",
        "Generated by `benchmarks/task_size.py` (`./dev shell python -m benchmarks.task_size`, as root for the",
        f"cgroup); measured {data['date']}, MLflow {data['mlflow']}, {data['nproc']} cores shared with other jobs",
        f"(1-minute load average {data['loadavg_at_start']} at the start, {data['loadavg_at_end']} at the end), "
        f"{data['runtime_seconds']} s in all.",
        "",
        "**Method.** The server image's entrypoint on the host as the integration tests run it (pooled connections,",
        "built-in auth with the 60 s cache, proxied S3 artifacts on moto, local PostgreSQL 15), its whole process",
        f"tree in a CPU cgroup ({data['limit']}) with a quota of 0.25, 0.5 or 1 core per "
        f"{CFS_PERIOD_US // 1000} ms period: the vCPU",
        "share of a Fargate task, which Fargate enforces as a hard limit. Requests come from a non-admin user who",
        f"owns the experiment (each request also checks permissions), {CLIENTS} client threads outside the cgroup,",
        f"{CELL_SECONDS:g} s per cell, {ROUNDS} interleaved rounds. Server CPU per request is the process tree's",
        "utime + stime from `/proc` over the cell; database CPU per request is that of the PostgreSQL backends serving",
        "the server's login. *Capacity* is the quota divided by the median server CPU per request: what one task",
        "serves when its quota, not the machine, is the limit (*throttled*: share of CFS periods in which the quota",
        "ran out). The *mix* is, per 20 requests, 12 `log_metric`, 4 `log_batch` of 10 metrics, 3 `runs/get` and 1",
        f"`runs/search` (up to 100 of {SEED_RUNS} runs with a metric filter); `log_batch` alone sends "
        f"{BATCH_METRICS} metrics.",
        "",
        "CPU time per request is not independent of the machine's load: other jobs on the same cores slow every",
        "instruction (shared caches, the SMT sibling). A fixed pure-Python loop took "
        f"{calibration[0]} ms of CPU at the start",
        f"and {calibration[1]} ms at the end of this run (`calibration_ms`; compare runs by it). Figures measured on a",
        "busy machine overstate the CPU cost, so the capacities below are conservative.",
        "",
        "| vCPU | workers | operation | req/s measured (median) | throttled | server CPU ms/req (median, min) | "
        "DB CPU ms/req | capacity req/s | p50 ms | errors |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for config in configs:
        for operation in OPERATIONS:
            cells = config.rounds(operation)
            if not cells:
                continue
            cpu = config.median(operation, "server_cpu_ms")
            lines.append(
                f"| {config.vcpu:g} | {config.workers} | {operation} | "
                f"{statistics.median(c.throughput for c in cells):.1f} | "
                f"{config.median(operation, 'throttled_share'):.0%} | "
                f"{cpu:.1f}, {config.minimum(operation, 'server_cpu_ms'):.1f} | "
                f"{config.median(operation, 'db_cpu_ms'):.2f} | {capacity(config, operation):.0f} | "
                f"{config.median(operation, 'p50_ms'):.0f} | {sum(c.errors for c in cells)} |"
            )
    lines += [
        "",
        "Memory (sum over the process tree; RSS double-counts pages the processes share, PSS splits them), cold",
        "starts (entrypoint start to `/health` 200 under the quota; *empty*: creates and migrates both schemas, the",
        "first deployment; *current*: a restart or a scale-out task) and what one task serves of the mix:",
        "",
        "| vCPU | workers | processes | idle RSS MiB | peak RSS MiB | peak PSS MiB | cold start empty s | "
        "cold start current s | mix capacity req/s | mix p50 ms, 1 client | bytes/request | active users at "
        f"{SCALE_TARGET:.0%} CPU |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for config in configs:
        users = capacity(config) * SCALE_TARGET / REQUESTS_PER_ACTIVE_USER
        lines.append(
            f"| {config.vcpu:g} | {config.workers} | {config.processes} | {config.idle_rss:.0f} | "
            f"{config.peak_rss:.0f} | {config.peak_pss:.0f} | {config.cold_start_empty:.0f} | "
            f"{config.cold_start_current:.0f} | {capacity(config):.0f} | "
            f"{config.median('mix', 'p50_ms', clients=1):.0f} | "
            f"{f'{config.bytes_per_request:.0f}' if config.bytes_per_request else 'not measured'} | {users:.0f} |"
        )
    lines += [
        "",
        f"*Active users* assumes {REQUESTS_PER_ACTIVE_USER:g} request per second per active user (a training job "
        "logging about once a",
        f"second, or a person clicking through the UI) and autoscaling's {SCALE_TARGET:.0%} CPU target: "
        "the load at which a second",
        "task is started. *Bytes/request*: the mix through the API-Gateway stand-in (nginx), request as received",
        "plus response as sent, headers included: what a load balancer bills as processed bytes.",
        "",
        "The default task (0.5 vCPU, 1 GB, one worker, Graviton) was chosen from this table; why, and how",
        "autoscaling covers a team of about 25 and bursts: "
        "[Task size and autoscaling](constructs/secure-mlflow-service.md#task-size-and-autoscaling).",
        "",
        END,
    ]
    return "\n".join(lines)


def write_section(page_path: Path, section: str) -> None:
    """Replace the task-size section of ``page_path`` (or append it)."""
    page = page_path.read_text(encoding="utf-8") if page_path.exists() else ""
    if BEGIN in page and END in page:
        head, rest = page.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        page = head + section + tail
    else:
        page = page.rstrip("\n") + "\n\n" + section + "\n"
    page_path.write_text(page, encoding="utf-8")


def preserved_section(page_path: Path) -> str:
    """The task-size section of ``page_path`` as it is, for ``benchmarks/run.py`` to keep when it rewrites the page."""
    if not page_path.exists():
        return ""
    page = page_path.read_text(encoding="utf-8")
    if BEGIN not in page or END not in page:
        return ""
    return BEGIN + page.split(BEGIN, 1)[1].split(END, 1)[0] + END


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--page", type=Path, default=PAGE)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--render-only", action="store_true", help="rewrite the section from --results only")
    parser.add_argument(
        "--sizes", nargs="+", metavar="VCPU:WORKERS", help="sizes to measure (default: 0.25:1 0.5:1 1:1 1:2)"
    )
    args = parser.parse_args(argv)
    if args.render_only:
        data = json.loads(args.results.read_text(encoding="utf-8"))
    else:
        sizes = tuple((float(v), int(w)) for v, w in (s.split(":") for s in args.sizes)) if args.sizes else CONFIGS
        data = run(sizes)
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        log(f"wrote {args.results} after {data['runtime_seconds']} s")
    write_section(args.page, render(data))
    log(f"wrote the task-size section of {args.page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
