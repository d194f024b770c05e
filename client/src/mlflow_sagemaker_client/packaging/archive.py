"""The reproducible ``model.tar.gz``: the model directory's contents at the archive root."""

from __future__ import annotations

import gzip
import hashlib
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

from mlflow_sagemaker_client.packaging.errors import EXIT_MODEL, PackagingError

ARCHIVE_NAME = "model.tar.gz"


def _iter_entries(model_dir: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(model_dir, followlinks=False):
        dirs.sort()
        for name in [*dirs, *sorted(files)]:
            yield Path(root) / name


def write_archive(model_dir: Path, archive: Path) -> str:
    """Write the contents of ``model_dir`` (not the directory itself) to ``archive``; return its sha256.

    The archive is reproducible: entries sorted, timestamps, owners and the gzip header zeroed, and
    modes normalised to 0644 (0755 for directories and executables), so SageMaker's extraction gives any
    user of the serving container read access. Symbolic links are refused.
    """
    with (
        archive.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in _iter_entries(model_dir):
            relative = path.relative_to(model_dir).as_posix()
            if path.is_symlink():
                raise PackagingError(
                    f"the model contains a symbolic link ({relative}): copy the file instead", EXIT_MODEL
                )
            info = tarfile.TarInfo(relative)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if path.is_dir():
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
                continue
            info.size = path.stat().st_size
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            with path.open("rb") as handle:
                tar.addfile(info, handle)
    digest = hashlib.sha256()
    with archive.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


__all__ = ["ARCHIVE_NAME", "write_archive"]
