"""Progress bars for downloads and uploads: tqdm on stderr, only when stderr is a terminal.

tqdm was chosen over rich by weight (one 0.35 MB package against rich's 7 MB with pygments,
markdown-it-py and mdurl) and because MLflow's own artifact progress bars use it too. Logs of CI jobs
and training jobs (not a terminal) and ``--quiet`` get no bar.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TextIO


class Progress(Protocol):
    """What the command reports progress to: a number of bytes done so far, or more bytes done."""

    def advance(self, done: int) -> None: ...

    def reach(self, done: int) -> None: ...


class _Silent:
    def advance(self, done: int) -> None:
        pass

    def reach(self, done: int) -> None:
        pass


class _Bar:
    def __init__(self, description: str, total: int | None, stream: TextIO) -> None:
        from tqdm import tqdm

        self._lock = threading.Lock()
        self._bar = tqdm(
            total=total,
            desc=description,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            file=stream,
            leave=True,
            dynamic_ncols=True,
            mininterval=0.2,
        )

    def advance(self, done: int) -> None:
        with self._lock:
            self._bar.update(done)

    def reach(self, done: int) -> None:
        with self._lock:
            if self._bar.total is not None and done > self._bar.total:
                # MLflow adds a file or two of its own (registered_model_meta) to what it lists.
                self._bar.total = done
            if done > self._bar.n:
                self._bar.update(done - self._bar.n)

    def close(self, completed: bool) -> None:
        with self._lock:
            if completed and self._bar.total is not None and self._bar.n != self._bar.total:
                self._bar.total = self._bar.n
                self._bar.refresh()
            self._bar.close()


def shows_progress(quiet: bool, stream: TextIO | None = None) -> bool:
    """Bars are drawn unless ``--quiet``, and only on a terminal."""
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    return not quiet and callable(isatty) and bool(isatty())


@contextmanager
def progress_bar(description: str, total: int | None, enabled: bool) -> Iterator[Progress]:
    """A byte progress bar on stderr when ``enabled``, else a progress sink that draws nothing."""
    if not enabled:
        yield _Silent()
        return
    bar = _Bar(description, total, sys.stderr)
    try:
        yield bar
    except BaseException:
        bar.close(completed=False)
        raise
    bar.close(completed=True)


def _size_of(directory: Path) -> int:
    total = 0
    for path in directory.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
        except OSError:  # a temporary file renamed or removed while walking
            continue
    return total


@contextmanager
def watch_directory(directory: Path, progress: Progress, interval: float = 0.2) -> Iterator[None]:
    """Report the bytes written under ``directory`` to ``progress`` while the block runs.

    MLflow's download API takes no progress callback; the files it writes are watched instead, so the
    bar works for every artifact store (proxied HTTP, S3, ...).
    """
    if isinstance(progress, _Silent):
        yield
        return
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(interval):
            progress.reach(_size_of(directory))

    thread = threading.Thread(target=poll, name="download-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
        progress.reach(_size_of(directory))


def upload_callback(progress: Progress) -> Callable[[int], None]:
    """A boto3 transfer ``Callback``: called with the bytes sent since its last call."""
    return progress.advance


__all__ = ["Progress", "progress_bar", "shows_progress", "upload_callback", "watch_directory"]
