"""``--output``: checked to be writable before the download, written atomically at the end."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from mlflow_sagemaker_client.packaging.errors import EXIT_DESTINATION, PackagingError


def check_writable(output: Path) -> None:
    """Fail now, with :data:`EXIT_DESTINATION`, unless a file can be created at ``output``.

    A directory, a missing parent that cannot be created, a read-only file system or missing
    permissions are all found by creating (and removing) a temporary file next to ``output``.
    """
    if output.is_dir():
        raise PackagingError(
            f"--output ({output}) is a directory: name the archive file, e.g. {output}/model.tar.gz", EXIT_DESTINATION
        )
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=output.parent, prefix=f".{output.name}.", suffix=".check"):
            pass
        if output.exists() and not os.access(output, os.W_OK):
            raise PermissionError(f"{output} is not writable")
    except OSError as error:
        raise PackagingError(
            f"--output ({output}) is not writable: {error.strerror or error}", EXIT_DESTINATION
        ) from error


def write_output(archive: Path, output: Path) -> None:
    """Copy ``archive`` to ``output`` through a temporary file in the same directory, then rename it."""
    try:
        with tempfile.NamedTemporaryFile(dir=output.parent, prefix=f".{output.name}.", delete=False) as partial:
            temporary = Path(partial.name)
        try:
            shutil.copyfile(archive, temporary)
            os.chmod(temporary, 0o644)
            os.replace(temporary, output)
        finally:
            temporary.unlink(missing_ok=True)
    except OSError as error:
        raise PackagingError(
            f"--output ({output}) could not be written: {error.strerror or error}", EXIT_DESTINATION
        ) from error


__all__ = ["check_writable", "write_output"]
