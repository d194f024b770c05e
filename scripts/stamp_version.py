"""Stamp a release version into both distributions for the build, put the committed files back, check the result.

``stamp VERSION``: back up pyproject.toml and client/pyproject.toml into dist/, then write VERSION as the
``[project] version`` of both and as the constructs' pin of the client in its ``client`` extra.
``restore``: put the backed-up files back (nothing to do without a backup).
``verify DIR``: DIR holds exactly one sdist and one wheel of each distribution, all of one version, and the
constructs' wheel pins the client to that version.

The package task of the release (.projenrc.py) runs ``stamp``, ``uv build --all-packages``, ``verify`` and
``restore``; projen's own ``uv version`` would stamp one pyproject and leave the pin behind.
"""

from __future__ import annotations

import re
import shutil
import sys
import tarfile
import tomllib
import zipfile
from email.parser import HeaderParser
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BACKUP_DIR = REPO_ROOT / "dist" / "committed-pyproject"
CONSTRUCTS = "mlflow-sagemaker-constructs"
CLIENT = "mlflow-sagemaker-client"
FILES = {CONSTRUCTS: Path("pyproject.toml"), CLIENT: Path("client/pyproject.toml")}
_VERSION_LINE = re.compile(r'^version = "[^"]*"$', re.MULTILINE)
_CLIENT_PIN = re.compile(rf'"{CLIENT}==[^"]*"')


def _stamp(version: str) -> None:
    BACKUP_DIR.mkdir(parents=True, exist_ok=True)
    for relative in FILES.values():
        backup = BACKUP_DIR / relative
        backup.parent.mkdir(parents=True, exist_ok=True)
        if not backup.exists():
            shutil.copy2(REPO_ROOT / relative, backup)
    for name, relative in FILES.items():
        path = REPO_ROOT / relative
        text, count = _VERSION_LINE.subn(f'version = "{version}"', path.read_text(encoding="utf-8"), count=1)
        if count != 1:
            raise SystemExit(f"{relative}: no [project] version line")
        if name == CONSTRUCTS:
            text, pins = _CLIENT_PIN.subn(f'"{CLIENT}=={version}"', text)
            if pins != 1:
                raise SystemExit(f"{relative}: expected one pin of {CLIENT}, found {pins}")
        path.chmod(path.stat().st_mode | 0o200)  # projen writes generated files read-only
        path.write_text(text, encoding="utf-8")
        stamped = tomllib.loads(text)["project"]
        if stamped["version"] != version:
            raise SystemExit(f"{relative}: version is {stamped['version']!r} after stamping")
    print(f"stamped {version} into {', '.join(str(p) for p in FILES.values())}")


def _restore() -> None:
    if not BACKUP_DIR.exists():
        return
    for relative in FILES.values():
        backup = BACKUP_DIR / relative
        if backup.exists():
            target = REPO_ROOT / relative
            target.chmod(target.stat().st_mode | 0o200)
            shutil.copy2(backup, target)
    shutil.rmtree(BACKUP_DIR)
    print("restored the committed pyproject files")


def _metadata(path: Path) -> dict[str, list[str]]:
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
            raw = wheel.read(name).decode()
    else:
        with tarfile.open(path) as sdist:
            (member,) = [m for m in sdist.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")]
            handle = sdist.extractfile(member)
            assert handle is not None
            raw = handle.read().decode()
    message = HeaderParser().parsestr(raw)
    return {key: message.get_all(key) or [] for key in set(message.keys())}


def _verify(directory: Path) -> None:
    found: dict[tuple[str, str], str] = {}
    requires: list[str] = []
    for path in sorted([*directory.glob("*.whl"), *directory.glob("*.tar.gz")]):
        metadata = _metadata(path)
        kind = "wheel" if path.suffix == ".whl" else "sdist"
        key = (metadata["Name"][0], kind)
        if key in found:
            raise SystemExit(f"two {kind}s of {key[0]} in {directory}")
        found[key] = metadata["Version"][0]
        if key == (CONSTRUCTS, "wheel"):
            requires = metadata.get("Requires-Dist", [])
    expected = {(name, kind) for name in FILES for kind in ("wheel", "sdist")}
    if set(found) != expected:
        raise SystemExit(f"{directory} holds {sorted(found)}, expected {sorted(expected)}")
    versions = set(found.values())
    if len(versions) != 1:
        raise SystemExit(f"the distributions have different versions: {found}")
    (version,) = versions
    pins = [r for r in requires if r.replace(" ", "").startswith(f"{CLIENT}=={version}")]
    if not pins:
        raise SystemExit(f"{CONSTRUCTS} {version} does not pin {CLIENT}=={version}: {requires}")
    print(f"{directory}: sdist and wheel of {CONSTRUCTS} and {CLIENT}, all version {version}")


def main(argv: list[str]) -> int:
    match argv:
        case ["stamp", version]:
            _stamp(version)
        case ["restore"]:
            _restore()
        case ["verify", directory]:
            _verify(Path(directory))
        case _:
            print(__doc__)
            return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
