"""Cold start of the built server image: container start to the first ``/health`` 200, empty database.

Run with ``./dev shell python -m benchmarks.image_cold_start [--runs 3] [--without-bytecode]`` from the
repository root. It builds the images if needed (``scripts/build_images.py``, cached), then starts the server
image ``--runs`` times against a fresh database each time (local PostgreSQL and S3 emulation, read-only root
with a tmpfs at ``/tmp``, as the image tests run it; see ``tests/harness/containers.py``), and prints each
cold start with the entrypoint's own "databases ready" line. ``--without-bytecode`` adds runs with
``PYTHONPYCACHEPREFIX`` pointed at an empty directory, which is what the image would do without its
precompiled ``.pyc`` files. Every wait is bounded; nothing asserts on these numbers.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.harness.containers import Images, build_images, run_container
from tests.harness.services import PostgresServer, S3Server, contract_env

from mlflow_sagemaker_constructs.tracking_server.server import contract

START_TIMEOUT_SECONDS = 600


def cold_start(images: Images, postgres: PostgresServer, s3: S3Server, run: int, bytecode: bool) -> tuple[float, str]:
    account = postgres.new_account(f"mlflow_cold_{run}")
    bucket = s3.create_bucket(f"cold-{run}")
    overrides = {contract.PORT: str(contract.DEFAULT_PORT)}
    if not bytecode:
        overrides["PYTHONPYCACHEPREFIX"] = "/tmp/no-precompiled-bytecode"
    env = contract_env(
        account, f"s3://{bucket}/mlflow", s3, admin_password="Adm1n%cold-start-benchmark", overrides=overrides
    )
    with tempfile.TemporaryDirectory(prefix="msc-cold-start-") as logs:
        container = run_container(
            images,
            "server",
            Path(logs),
            env=env,
            read_only=True,
            tmpfs=["/tmp"],
            host_ports=[account.port, s3.port],
            publish=[contract.DEFAULT_PORT],
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            while time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(f"{container.url(contract.DEFAULT_PORT)}/health", timeout=2):  # noqa: S310
                        break
                except OSError:
                    if not container.running():
                        raise RuntimeError(f"the server exited:\n{container.logs()}") from None
                    time.sleep(0.2)
            else:
                raise RuntimeError(f"no /health 200 within {START_TIMEOUT_SECONDS} s")
            seconds = time.monotonic() - container.started_at
            ready = next((line for line in container.logs().splitlines() if "databases ready in" in line), "")
            return seconds, ready
        finally:
            container.stop(grace_seconds=15)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--without-bytecode", action="store_true", help="also measure without precompiled .pyc")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="msc-cold-start-build-") as build_dir:
        images = build_images(("server",), Path(build_dir) / "build.log")
    print(f"image {images.reference('server')}: {images.size_bytes('server') / 1e6:.0f} MB uncompressed")
    modes = [True] * args.runs + ([False] * args.runs if args.without_bytecode else [])
    results: dict[bool, list[float]] = {True: [], False: []}
    with PostgresServer.start() as postgres, S3Server.start() as s3:
        for run, bytecode in enumerate(modes):
            seconds, ready = cold_start(images, postgres, s3, run, bytecode)
            results[bytecode].append(seconds)
            label = "with bytecode" if bytecode else "without bytecode"
            print(f"run {run + 1} ({label}): {seconds:.1f} s to /health 200; {ready}", flush=True)
    for bytecode, values in results.items():
        if values:
            label = "with bytecode" if bytecode else "without bytecode"
            print(f"{label}: median {statistics.median(values):.1f} s over {len(values)} run(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
