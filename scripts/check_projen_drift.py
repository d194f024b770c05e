"""Fail when ``python .projenrc.py`` would change a committed file.

Runs projen in a scratch copy of the repository (so the working tree is never touched) and compares
every file projen writes with the working tree. The copy holds every file git tracks or would track:
.projenrc.py reads some of them (LICENSE, the READMEs, the serving image's requirements) to generate others.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _repository_files() -> list[str]:
    """Tracked and untracked-but-not-ignored files (what a commit would hold)."""
    result = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    )
    return [name for name in result.stdout.decode().split("\0") if name]


def main() -> int:
    generated = json.loads((REPO_ROOT / ".projen" / "files.json").read_text())["files"]
    with tempfile.TemporaryDirectory(prefix="projen-drift-") as scratch:
        work = Path(scratch)
        for name in sorted({*_repository_files(), *generated}):
            source = REPO_ROOT / name
            if source.exists():
                (work / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, work / name)
        # Post-synthesis install (uv sync/lock) is skipped: the lock file is checked by `uv sync --locked`.
        env = {**os.environ, "PROJEN_DISABLE_POST": "true"}
        result = subprocess.run(
            [sys.executable, ".projenrc.py"], cwd=work, env=env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            print(result.stdout + result.stderr)
            print("projen drift check: .projenrc.py failed")
            return 1
        regenerated = json.loads((work / ".projen" / "files.json").read_text())["files"]
        drifted = [
            name
            for name in sorted(set(generated) | set(regenerated))
            if not (REPO_ROOT / name).exists()
            or not (work / name).exists()
            or (REPO_ROOT / name).read_bytes() != (work / name).read_bytes()
        ]
    if drifted:
        print("projen drift check: these files differ from what .projenrc.py generates:")
        for name in drifted:
            print(f"  {name}")
        print("Run ./dev projen and commit the result.")
        return 1
    print(f"projen drift check: {len(generated)} generated files match .projenrc.py")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
