"""Benchmarks of the server image's entrypoint and the example apps on this machine (issue 9).

Run with ``./dev shell python -m benchmarks.run`` from the repository root; writes ``docs/benchmarks.md``.
Everything runs locally (PostgreSQL, moto S3, the API-Gateway-limits proxy, the MLflow entrypoint; see
``tests/harness/services.py``), every loop is bounded in count and in time, and the whole run is
meant to stay under 15 minutes on 2 cores. No test asserts any of these numbers.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import datetime
import hashlib
import importlib.util
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
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

from mlflow_sagemaker_constructs.tracking_server.server import contract

REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUT = REPO_ROOT / "docs" / "benchmarks.md"
MiB = 1024 * 1024
ALB_DNS_NAME = "internal-mlflow-123.us-east-1.elb.amazonaws.com"
ALLOWED_HOSTS = f"{ALB_DNS_NAME},127.0.0.1:*,localhost:*"
CONCURRENCY = (1, 8, 32)
OPERATIONS = ("log_metric", "log_batch", "search_runs")
#: Per throughput cell: at most this many seconds and requests.
CELL_SECONDS = 3.0
CELL_MAX_REQUESTS = 3000
WORKER_COUNTS = (1, 2, 4)
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
        "loadavg": Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?",
    }


# --------------------------------------------------------------------------------------------------
# Process memory via /proc
# --------------------------------------------------------------------------------------------------


def session_pids(session_id: int) -> list[int]:
    """Every process in the session ``session_id`` (the entrypoint runs in its own session)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[3]) == session_id:  # field 6 of stat: session
                pids.append(int(entry.name))
    return pids


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
# Tracking load
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Target:
    name: str
    url: str
    auth: tuple[str, str] | None


def _session(target: Target) -> requests.Session:
    session = requests.Session()
    if target.auth is not None:
        session.auth = target.auth
    return session


def _post(session: requests.Session, target: Target, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
    response = session.post(f"{target.url}/api/2.0/mlflow/{path}", json=body, timeout=30)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def prepare_experiment(target: Target) -> tuple[str, str]:
    """An experiment with SEED_RUNS runs (10 metrics, 5 params each) and a run to log into."""
    session = _session(target)
    name = f"bench-{target.name}-{time.monotonic_ns()}"
    experiment_id = str(_post(session, target, "experiments/create", {"name": name})["experiment_id"])
    now = int(time.time() * 1000)
    for i in range(SEED_RUNS):
        run_id = _post(session, target, "runs/create", {"experiment_id": experiment_id, "start_time": now})["run"][
            "info"
        ]["run_id"]
        _post(
            session,
            target,
            "runs/log-batch",
            {
                "run_id": run_id,
                "metrics": [{"key": f"m{k}", "value": i * k, "timestamp": now, "step": 0} for k in range(10)],
                "params": [{"key": f"p{k}", "value": str(i)} for k in range(5)],
            },
        )
    run_id = _post(session, target, "runs/create", {"experiment_id": experiment_id, "start_time": now})["run"]["info"][
        "run_id"
    ]
    return experiment_id, run_id


def _request_factory(
    operation: str, target: Target, experiment_id: str, run_id: str
) -> Callable[[requests.Session, int], int]:
    url = f"{target.url}/api/2.0/mlflow/"

    def log_metric(session: requests.Session, i: int) -> int:
        body = {
            "run_id": run_id,
            "key": "loss",
            "value": 1.0 / (i + 1),
            "timestamp": int(time.time() * 1000),
            "step": i,
        }
        return session.post(url + "runs/log-metric", json=body, timeout=30).status_code

    def log_batch(session: requests.Session, i: int) -> int:
        now = int(time.time() * 1000)
        metrics = [{"key": f"b{k}", "value": float(k), "timestamp": now, "step": i} for k in range(BATCH_METRICS)]
        return session.post(url + "runs/log-batch", json={"run_id": run_id, "metrics": metrics}, timeout=30).status_code

    def search_runs(session: requests.Session, i: int) -> int:
        body = {"experiment_ids": [experiment_id], "max_results": 100, "filter": "metrics.m1 >= 0"}
        return session.post(url + "runs/search", json=body, timeout=30).status_code

    return {"log_metric": log_metric, "log_batch": log_batch, "search_runs": search_runs}[operation]


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
    target: Target, operation: str, clients: int, experiment_id: str, run_id: str, seconds: float, max_requests: int
) -> LoadResult:
    """``clients`` threads, each with its own session, until ``seconds`` pass or ``max_requests`` are sent."""
    call = _request_factory(operation, target, experiment_id, run_id)
    lock = threading.Lock()
    latencies: list[float] = []
    errors = 0
    issued = 0
    # Every client warms its connection first (not counted); the clock starts when all are warm.
    warm = threading.Barrier(clients + 1, timeout=120)
    deadline = [0.0]

    def worker() -> None:
        nonlocal errors, issued
        session = _session(target)
        try:
            with contextlib.suppress(requests.RequestException):
                call(session, 0)
            warm.wait()
            warm.wait()  # the main thread has set the deadline
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
        futures = [pool.submit(worker) for _ in range(clients)]
        warm.wait()
        started = time.monotonic()
        deadline[0] = started + seconds
        warm.wait()
        for future in futures:
            future.result()
    elapsed = time.monotonic() - started
    ordered = sorted(latencies) or [0.0]
    return LoadResult(
        requests=len(latencies),
        errors=errors,
        seconds=elapsed,
        p50_ms=statistics.median(ordered) * 1000,
        p95_ms=ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000,
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


def server_env(stack: Stack, account: DbAccount, *, auth: bool, workers: int) -> dict[str, str]:
    return contract_env(
        account,
        f"s3://{stack.bucket}/mlflow",
        stack.s3,
        admin_password=stack.admin_password if auth else None,
        overrides={
            contract.DB_POOL: contract.DB_POOL_NULL,
            contract.ALLOWED_HOSTS: ALLOWED_HOSTS,
            contract.WORKERS: str(workers),
            contract.AUTH_CACHE_TTL_SECONDS: "60",
        },
    )


@contextlib.contextmanager
def server(stack: Stack, env: Mapping[str, str], name: str) -> Iterator[tuple[EntrypointProcess, float]]:
    handle = run_entrypoint(env, stack.log_dir, name=name)
    try:
        seconds = handle.wait_healthy(180)
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
# The run
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Results:
    machine: dict[str, str]
    cdk_import: float = 0.0
    synth: dict[str, float] = dataclasses.field(default_factory=dict)
    costs: dict[str, float] = dataclasses.field(default_factory=dict)
    managed_small: float = 0.0
    cold_empty: float = 0.0
    cold_current: float = 0.0
    load: dict[tuple[str, str, int], LoadResult] = dataclasses.field(default_factory=dict)
    memory: dict[int, tuple[tuple[float, float, int], tuple[float, float, int], float]] = dataclasses.field(
        default_factory=dict
    )
    artifacts: ArtifactResult | None = None
    runtime: float = 0.0


def run(skip_artifacts: bool = False) -> Results:
    wall = time.monotonic()
    results = Results(machine=machine())
    log("synthesizing the examples")
    results.cdk_import, results.synth, results.costs, results.managed_small = synthesis_and_cost()
    work = Path(tempfile.mkdtemp(prefix="mlflow-bench-"))
    with PostgresServer.start() as postgres, S3Server.start() as s3:
        stack = Stack(postgres, s3, work / "logs", s3.create_bucket("bench-artifacts"), "Adm1n%" + os.urandom(9).hex())
        auth_account = postgres.new_account("bench_auth")
        bare_account = postgres.new_account("bench_bare")

        log("cold start on an empty database")
        with server(stack, server_env(stack, auth_account, auth=True, workers=2), "cold-empty") as (_, seconds):
            results.cold_empty = seconds
        log("cold start on an up-to-date database; then the tracking load")
        auth_env = server_env(stack, auth_account, auth=True, workers=2)
        with (
            server(stack, auth_env, "auth") as (auth_handle, seconds),
            server(stack, server_env(stack, bare_account, auth=False, workers=2), "bare") as (bare_handle, _),
            ApiGateway.start(auth_handle.port, ALB_DNS_NAME) as gateway,
        ):
            results.cold_current = seconds
            auth = ("admin", stack.admin_password)
            targets = [
                Target("bare", bare_handle.url, None),
                Target("auth", auth_handle.url, auth),
                Target("gateway", gateway.url, auth),
            ]
            for target in targets:
                experiment_id, run_id = prepare_experiment(target)
                for operation in OPERATIONS:
                    for clients in CONCURRENCY:
                        result = run_load(
                            target, operation, clients, experiment_id, run_id, CELL_SECONDS, CELL_MAX_REQUESTS
                        )
                        results.load[(target.name, operation, clients)] = result
                        log(
                            f"{target.name:8} {operation:12} {clients:2} clients: {result.throughput:7.1f} req/s "
                            f"p50 {result.p50_ms:6.1f} ms p95 {result.p95_ms:6.1f} ms errors {result.errors}"
                        )
            if not skip_artifacts:
                results.artifacts = artifact_benchmark(stack, gateway, work)

        for workers in WORKER_COUNTS:
            env = server_env(stack, auth_account, auth=True, workers=workers)
            with server(stack, env, f"mem-{workers}") as (handle, _):
                time.sleep(3)
                idle = tree_memory_mib(handle)
                target = Target(f"mem{workers}", handle.url, ("admin", stack.admin_password))
                experiment_id, run_id = prepare_experiment(target)
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
                load = run_load(target, "log_batch", 8, experiment_id, run_id, LOAD_SECONDS / 2, 10_000)
                load2 = run_load(target, "search_runs", 8, experiment_id, run_id, LOAD_SECONDS / 2, 10_000)
                stop.set()
                sampler.join()
                busiest = max(peak, key=lambda m: m[0])
                throughput = (load.requests + load2.requests) / (load.seconds + load2.seconds)
                results.memory[workers] = (idle, busiest, throughput)
                log(f"workers {workers}: idle RSS {idle[0]:.0f} MiB, under load {busiest[0]:.0f} MiB")
    results.runtime = time.monotonic() - wall
    return results


# --------------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------------

#: SecureMlflowService's default task memory and workers (tracking_server/service.py), which the memory table
#: checks for headroom.
TASK_MEMORY_MIB = 1024
DEFAULT_WORKERS = 1


def render(results: Results) -> str:
    m = results.machine
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by benchmarks/run.py; rerun with `./dev shell python -m benchmarks.run`. -->",
        "",
        "Measured once on one machine with the local stand-ins of the integration tests (PostgreSQL 15 with",
        "`fsync=off`, moto S3, nginx plus a response-size limiter as API Gateway), the server image's",
        "entrypoint on the host (MLflow with `uvloop`), clients on the same 2 cores as the server. Absolute",
        "numbers are rough and machine-bound; ratios are the meaningful part. Nothing here ran on AWS.",
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
        f"| total benchmark runtime | {results.runtime:.0f} s |",
        "",
        "## Tracking throughput and latency",
        "",
        f"REST calls with `requests` (one session per client thread), {CELL_SECONDS:g} s or "
        f"{CELL_MAX_REQUESTS} requests per cell, 2 workers, PostgreSQL tracking store (NullPool as deployed).",
        f"`log_batch` sends {BATCH_METRICS} metrics; `search_runs` returns up to 100 of {SEED_RUNS} runs with a "
        "metric filter. `bare`: auth off; `auth`: built-in basic auth, `auth_cache_ttl_seconds = 60`, admin user;",
        "`gateway`: `auth` behind the API-Gateway-limits proxy (nginx + buffering limiter).",
        "",
        "| target | operation | clients | req/s | p50 ms | p95 ms | errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for (target, operation, clients), r in results.load.items():
        lines.append(
            f"| {target} | {operation} | {clients} | {r.throughput:.1f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} "
            f"| {r.errors} |"
        )
    lines += ["", "Overhead as a throughput ratio (bare / other; 1.00 = no overhead):", ""]
    lines += ["| operation | clients | bare / auth | bare / gateway |", "| --- | ---: | ---: | ---: |"]
    for operation in OPERATIONS:
        for clients in CONCURRENCY:
            bare = results.load.get(("bare", operation, clients))
            auth = results.load.get(("auth", operation, clients))
            gateway = results.load.get(("gateway", operation, clients))
            if bare and auth and gateway and auth.throughput and gateway.throughput:
                lines.append(
                    f"| {operation} | {clients} | {bare.throughput / auth.throughput:.2f} | "
                    f"{bare.throughput / gateway.throughput:.2f} |"
                )
    lines += [
        "",
        "## Server memory",
        "",
        "Sum over the server's process tree (uvicorn supervisor and workers), from `/proc/<pid>/status` (RSS) and",
        "`/proc/<pid>/smaps_rollup` (PSS, which splits shared pages fairly; RSS double-counts them). Idle: 3 s",
        f"after `/health` 200. Under load: the largest sample (every 0.5 s) during {LOAD_SECONDS:g} s of 8 clients",
        "(`log_batch`, then `search_runs`), auth on.",
        "",
        "| workers | processes | idle RSS MiB | idle PSS MiB | load RSS MiB | load PSS MiB | load req/s | "
        f"headroom in {TASK_MEMORY_MIB} MiB (RSS) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for workers, (idle, busy, throughput) in results.memory.items():
        lines.append(
            f"| {workers} | {idle[2]} | {idle[0]:.0f} | {idle[1]:.0f} | {busy[0]:.0f} | {busy[1]:.0f} | "
            f"{throughput:.1f} | {TASK_MEMORY_MIB - busy[0]:.0f} MiB "
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
        "Entrypoint start (database wait, creation, migration under the lock, auth config) to `/health` 200, auth on,",
        "2 workers, job execution off.",
        "",
        "| database | seconds |",
        "| --- | ---: |",
        f"| empty (creates databases, migrates tracking and auth schemas) | {results.cold_empty:.1f} |",
        f"| up to date (checks revisions only) | {results.cold_current:.1f} |",
        "",
        "## Large artifacts",
        "",
    ]
    a = results.artifacts
    if a is None:
        lines += ["Skipped (`--skip-artifacts`).", ""]
    else:
        size_note = (
            "1 GiB, as asked."
            if a.size_mib >= 1024
            else f"{a.size_mib} MiB, NOT 1 GiB: 1 GiB did not fit the time budget on this machine."
        )
        lines += [
            f"Size: {size_note} ({a.chosen_because}.)",
            "Proxy path: MLflow client through the API-Gateway-limits proxy with the multipart settings of",
            "`docs/server-image.md` (8 MiB parts on presigned URLs; only small JSON requests pass the proxy). Direct:",
            "boto3 `upload_file`/`download_file` against the S3 emulator. moto keeps objects in memory and is itself",
            "a Python process on the same cores, so both paths are slower than real S3.",
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--skip-artifacts", action="store_true", help="skip the large-artifact transfers")
    args = parser.parse_args(argv)
    results = run(skip_artifacts=args.skip_artifacts)
    # The task-size section comes from benchmarks/task_size.py (a run of its own, as root): keep it.
    from benchmarks.task_size import preserved_section

    section = preserved_section(args.output)
    page = render(results) + ("\n" + section + "\n" if section else "")
    args.output.write_text(page, encoding="utf-8")
    log(f"wrote {args.output} in {results.runtime:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
