"""The first process of a container started by :mod:`tests.harness.containers` (standard library only).

``unshare --mount --pid --net --fork --kill-child`` runs this file with the host's Python as root, in fresh
mount, PID and network namespaces. It prepares the root filesystem the way a container runtime does, tells
the test it is ready, waits for the go-ahead (the test first connects the network namespace to the host's
services), then becomes the image's process: ``chroot``, working directory, user and groups, environment,
``execvpe``. That process is PID 1 of its namespace, as in Docker and on Fargate.

Usage: ``python3 container_init.py SPEC.json`` where the spec is written by ``tests.harness.containers``.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import socket
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_IFREQ = "16sH14x"


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack(_IFREQ, b"lo", 0)
        flags = struct.unpack(_IFREQ, fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack(_IFREQ, b"lo", flags | _IFF_UP))


def _prepare_root(spec: dict[str, Any]) -> Path:
    # The container's root: the image's file system under an overlay whose writable layer is a tmpfs, as
    # Docker's overlay2 does with a directory on disk. The image's files are never written to.
    layers = Path(spec["state_dir"]) / "layers"
    layers.mkdir()
    _mount("-t", "tmpfs", "-o", "mode=755,size=4194304k", "tmpfs", str(layers))
    for name in ("upper", "work", "root"):
        (layers / name).mkdir()
    root = layers / "root"
    options = f"lowerdir={spec['image_root']},upperdir={layers / 'upper'},workdir={layers / 'work'}"
    _mount("-t", "overlay", "-o", options, "overlay", str(root))
    _mount("-t", "proc", "-o", "nosuid,nodev,noexec", "proc", str(root / "proc"))
    _mount("-t", "tmpfs", "-o", "nosuid,mode=755,size=65536k", "tmpfs", str(root / "dev"))
    for device in _DEVICES:
        target = root / "dev" / device
        target.touch()
        _mount("--bind", f"/dev/{device}", str(target))
    (root / "dev" / "shm").mkdir()
    _mount("-t", "tmpfs", "-o", "nosuid,nodev,mode=1777,size=65536k", "tmpfs", str(root / "dev" / "shm"))
    for name, target_name in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0")):
        (root / "dev" / name).symlink_to(target_name)
    (root / "dev" / "stdout").symlink_to("/proc/self/fd/1")
    (root / "dev" / "stderr").symlink_to("/proc/self/fd/2")
    if (root / "sys").is_dir():
        _mount("--bind", "/sys", str(root / "sys"))
        _mount("-o", "remount,bind,ro", str(root / "sys"))
    for path in spec["tmpfs"]:
        target = root / path.lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        _mount("-t", "tmpfs", "-o", "nosuid,nodev,mode=1777,size=1048576k", "tmpfs", str(target))
    for bind in spec["binds"]:
        target = root / bind["target"].lstrip("/")
        if Path(bind["source"]).is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()
        _mount("--bind", bind["source"], str(target))
        if bind.get("read_only"):
            _mount("-o", "remount,bind,ro", str(target))
    if spec["read_only"]:
        _mount("-o", "remount,bind,ro", str(root))
    return root


def _wait_for_go(timeout: float) -> None:
    ready, _, _ = select.select([sys.stdin], [], [], timeout)
    if not ready or not sys.stdin.buffer.read(1):
        print("container_init: no go-ahead from the test", file=sys.stderr, flush=True)
        os._exit(125)


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    root = _prepare_root(spec)
    _loopback_up()
    Path(spec["ready_file"]).write_text("ready\n", encoding="utf-8")
    _wait_for_go(float(spec["go_timeout"]))
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.chroot(root)
    os.chdir(spec["workdir"] or "/")
    os.setgroups(spec["groups"])
    os.setgid(spec["gid"])
    os.setuid(spec["uid"])
    argv = spec["argv"]
    os.execvpe(argv[0], argv, spec["env"])  # noqa: S606 - the image's own command, no shell


if __name__ == "__main__":
    main()
