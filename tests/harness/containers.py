"""Run the shipped images without a container engine (no Docker daemon, and ``podman run`` does not work here).

* :func:`build_images` builds the images with ``scripts/build_images.py`` (cached, see there) and returns
  :class:`Images`: their references, the buildah command that reaches their storage, and their sizes.
* :meth:`Images.config` reads an image's configuration (entrypoint, command, environment, user, working
  directory, health check), as a container runtime would.
* :meth:`Images.image_root` is an image's root filesystem in the build storage (read-only by convention).
* :func:`run_container` runs the image's process the way Docker or Fargate would: its own mount, PID and
  network namespaces, PID 1 in its namespace, the image's user, working directory and environment plus the
  task's. The root filesystem is the image's under an overlay whose writable layer is a tmpfs (discarded
  when the container stops; nothing is copied), optionally read-only with tmpfs volumes (``/tmp``); then
  ``/proc``, a minimal ``/dev`` with a ``/dev/shm`` tmpfs, ``/sys`` read-only. The network namespace has
  only a loopback interface, like a task's own network interface: host ports the container needs
  (database, S3 emulation) are relayed into it at the same numbers on 127.0.0.1, and its ports are
  published on free ports of the host's 127.0.0.1. Nothing listens anywhere but on loopback.
* :class:`Container` has ``exec`` (``nsenter``, like ``docker exec``), the container's processes and their
  users, and ``stop`` with ``docker stop`` semantics (SIGTERM to PID 1, SIGKILL after a grace period).

Needs root, ``buildah``, ``unshare`` and ``nsenter`` (util-linux); ``./dev`` installs what is missing.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "scripts" / "build_images.py"
CONTAINER_INIT = Path(__file__).resolve().parent / "container_init.py"
LOCALHOST = "127.0.0.1"
_CLONE_NEWNET = 0x40000000
_HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"


class ContainerError(RuntimeError):
    pass


# --------------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ImageConfig:
    """What a container runtime reads from an image (Docker image config)."""

    entrypoint: list[str]
    cmd: list[str]
    env: dict[str, str]
    user: str
    workdir: str
    exposed_ports: list[str]
    healthcheck: list[str]
    labels: dict[str, str]

    @classmethod
    def from_inspect(cls, inspected: Mapping[str, Any]) -> ImageConfig:
        config = inspected.get("Docker", {}).get("config", {}) or {}
        env = dict(item.split("=", 1) for item in config.get("Env") or [])
        return cls(
            entrypoint=list(config.get("Entrypoint") or []),
            cmd=list(config.get("Cmd") or []),
            env=env,
            user=str(config.get("User") or ""),
            workdir=str(config.get("WorkingDir") or ""),
            exposed_ports=sorted(config.get("ExposedPorts") or {}),
            healthcheck=list((config.get("Healthcheck") or {}).get("Test") or []),
            labels=dict(config.get("Labels") or {}),
        )


@dataclasses.dataclass(frozen=True)
class Images:
    """The images built by ``scripts/build_images.py`` and the storage they are in."""

    build: dict[str, Any]
    log: Path

    @property
    def buildah_command(self) -> list[str]:
        return ["buildah", *self.build["storage"]]

    def reference(self, name: str) -> str:
        return str(self.build["images"][name]["reference"] if name != "base" else self.build["base"]["reference"])

    def size_bytes(self, name: str) -> int:
        return int(self.build["images"][name]["size_bytes"])

    def buildah(self, *args: str, timeout: float = 600) -> str:
        result = subprocess.run(
            [*self.buildah_command, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise ContainerError(f"buildah {' '.join(args)} failed: {result.stderr}")
        return result.stdout

    def inspect(self, name: str) -> dict[str, Any]:
        return dict(json.loads(self.buildah("inspect", "--type", "image", self.reference(name))))

    def config(self, name: str) -> ImageConfig:
        return ImageConfig.from_inspect(self.inspect(name))

    def image_root(self, name: str) -> Path:
        """The image's complete root filesystem, read-only by convention: never write to it.

        With the vfs driver every layer directory holds the whole file system up to that layer, so the
        image's top layer (containers/storage's ``vfs-images/images.json`` names it) is the image's root.
        Containers start from it through an overlay mount (:func:`run_container`) instead of a copy.
        """
        storage = Path(self.build["storage"][self.build["storage"].index("--root") + 1])
        image_id = self.image_id(name)
        records = json.loads((storage / "vfs-images" / "images.json").read_text(encoding="utf-8"))
        layer = next((record["layer"] for record in records if str(record["id"]).startswith(image_id)), None)
        root = storage / "vfs" / "dir" / str(layer)
        if layer is None or not (root / "etc").is_dir():
            raise ContainerError(f"no vfs layer directory for {self.reference(name)} ({image_id}) in {storage}")
        return root

    def image_id(self, name: str) -> str:
        return str(self.build["images"][name]["image_id"] if name != "base" else self.build["base"]["image_id"])


def build_images(names: Sequence[str], log: Path, timeout: float = 3600) -> Images:
    """Build (or find cached) the named images with ``scripts/build_images.py``; its output goes to ``log``."""
    missing = [tool for tool in ("buildah", "debootstrap", "unshare", "nsenter") if not _which(tool)]
    if missing:
        raise ContainerError(f"missing {missing}: apt-get install buildah debootstrap util-linux (./dev does)")
    result_file = log.with_suffix(".json")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.run(
            [sys.executable, str(BUILD_SCRIPT), *names, "--json", str(result_file)],
            stdout=subprocess.DEVNULL,
            stderr=out,
            timeout=timeout,
            check=False,
        )
    if process.returncode != 0:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-60:])
        raise ContainerError(f"building the images failed ({process.returncode}); {log}:\n{tail}")
    return Images(build=json.loads(result_file.read_text(encoding="utf-8")), log=log)


def _which(tool: str) -> str | None:
    return shutil.which(tool) or next(
        (str(Path(d) / tool) for d in ("/usr/sbin", "/sbin") if (Path(d) / tool).exists()), None
    )


# --------------------------------------------------------------------------------------------------
# Network namespace plumbing
# --------------------------------------------------------------------------------------------------


_libc = ctypes.CDLL(None, use_errno=True)


def socket_in_netns(netns_fd: int) -> socket.socket:
    """A TCP socket created inside the network namespace ``netns_fd``.

    ``setns`` changes the namespace of the calling thread only, so a short-lived thread enters it and
    creates the socket, which stays in that namespace wherever it is used.
    """
    created: list[socket.socket] = []
    errors: list[str] = []

    def create() -> None:
        if _libc.setns(netns_fd, _CLONE_NEWNET) != 0:
            errors.append(os.strerror(ctypes.get_errno()))
            return
        created.append(socket.socket(socket.AF_INET, socket.SOCK_STREAM))

    thread = threading.Thread(target=create, name="netns-socket", daemon=True)
    thread.start()
    thread.join(10)
    if not created:
        raise ContainerError(f"cannot create a socket in the container's network namespace: {errors}")
    return created[0]


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


class _Relay:
    """Accepts on ``listener`` and connects each connection through ``connect`` (both directions pumped)."""

    def __init__(self, listener: socket.socket, connect: Any, name: str) -> None:
        self.listener = listener
        self.connect = connect
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.5)
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            try:
                upstream = self.connect()
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()

    def close(self) -> None:
        self.closed.set()
        self.thread.join(5)
        self.listener.close()


# --------------------------------------------------------------------------------------------------
# Containers
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Container:
    """A running container: ``unshare`` (the runtime) and the image's process, PID 1 inside."""

    name: str
    config: ImageConfig
    process: subprocess.Popen[bytes]
    init_pid: int
    env: dict[str, str]
    uid: int
    gid: int
    read_only: bool
    ports: dict[int, int]
    log_file: Path
    started_at: float
    _cleanup: contextlib.ExitStack
    _stopped: list[int | None] = dataclasses.field(default_factory=list)

    def url(self, container_port: int) -> str:
        return f"http://{LOCALHOST}:{self.ports[container_port]}"

    def logs(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace") if self.log_file.exists() else ""

    def running(self) -> bool:
        return self.process.poll() is None

    def exec(
        self,
        argv: Sequence[str],
        *,
        user: tuple[int, int] | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the container (``docker exec``): its namespaces, root, working directory and
        environment, as the container's user unless ``user`` is given."""
        uid, gid = user or (self.uid, self.gid)
        command = [
            "nsenter",
            f"--target={self.init_pid}",
            "--mount",
            "--pid",
            "--net",
            "--root",
            "--wd",
            f"--setuid={uid}",
            f"--setgid={gid}",
            "--",
            *argv,
        ]
        return subprocess.run(
            command, env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=timeout, check=False
        )

    def processes(self) -> list[tuple[int, int, str]]:
        """(host pid, real uid, command line) of every process in the container's PID namespace."""
        found = []
        pids = [self.init_pid]
        while pids:
            pid = pids.pop()
            with contextlib.suppress(OSError):
                status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
                uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
                found.append((pid, uid, cmdline))
                for task in Path(f"/proc/{pid}/task").iterdir():
                    children = (task / "children").read_text(encoding="utf-8").split()
                    pids.extend(int(child) for child in children)
        return found

    def stop(self, grace_seconds: float = 30) -> int | None:
        """``docker stop``: SIGTERM to PID 1, SIGKILL to everything after ``grace_seconds``.

        Returns the exit status of PID 1 when it exited on its own within the grace period, else None.
        Stopping a stopped container returns the same again.
        """
        if self._stopped:
            return self._stopped[0]
        status: int | None = None
        try:
            if self.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.init_pid, signal.SIGTERM)
                try:
                    status = self.process.wait(timeout=grace_seconds)
                except subprocess.TimeoutExpired:
                    status = None
            else:
                status = self.process.returncode
        finally:
            _kill(self.process)
            self._cleanup.close()
            self._stopped.append(status)
        return status

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop(grace_seconds=10)


def _resolve_user(root: Path, user: str) -> tuple[int, int, list[int], str]:
    """uid, gid, supplementary groups and home directory of ``user`` (``name``, ``uid`` or ``uid:gid``)."""
    name, _, group = (user or "0").partition(":")
    passwd = [
        line.split(":") for line in (root / "etc/passwd").read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    entry = next((fields for fields in passwd if name in (fields[0], fields[2])), None)
    if entry is None and not name.isdigit():
        raise ContainerError(f"user {name!r} is not in the image's /etc/passwd")
    uid = int(entry[2]) if entry else int(name)
    gid = int(group) if group.isdigit() else int(entry[3]) if entry else uid
    home = entry[5] if entry else "/"
    groups = [gid]
    if entry is not None:
        for line in (root / "etc/group").read_text(encoding="utf-8").splitlines():
            fields = line.split(":")
            if len(fields) == 4 and entry[0] in fields[3].split(","):
                groups.append(int(fields[2]))
    return uid, gid, sorted(set(groups)), home


def _argv(config: ImageConfig, entrypoint: Sequence[str] | None, args: Sequence[str] | None) -> list[str]:
    if entrypoint is not None:
        return [*entrypoint, *(args or [])]
    return [*config.entrypoint, *(config.cmd if args is None else args)]


def _kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the runtime's process group: ``unshare --kill-child`` takes PID 1 and its namespace with it.

    Once ``unshare`` has exited, PID 1 has too, and the kernel has killed the rest of its PID namespace:
    nothing is left to kill (and the group id may already be someone else's).
    """
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)


def _listen(sock: socket.socket, port: int) -> socket.socket:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOCALHOST, port))
    sock.listen(64)
    return sock


def run_container(
    images: Images,
    name: str,
    log_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
    entrypoint: Sequence[str] | None = None,
    args: Sequence[str] | None = None,
    user: str | None = None,
    read_only: bool = False,
    tmpfs: Sequence[str] = (),
    binds: Sequence[tuple[Path, str]] = (),
    host_ports: Sequence[int] = (),
    publish: Sequence[int] = (),
    start_timeout: float = 60,
) -> Container:
    """Start image ``name`` (see the module docstring).

    As in Docker and ECS, ``entrypoint`` replaces the image's ENTRYPOINT (and then its CMD, unless ``args``
    are given), ``args`` replace the image's CMD, ``binds`` are
    read-only (host path, container path) mounts, ``host_ports`` are reachable inside the container on
    127.0.0.1 at the same numbers, ``publish`` are container ports to publish on the host's loopback."""
    for tool in ("unshare", "nsenter", "mount"):
        if not _which(tool):
            raise ContainerError(f"{tool} is missing (util-linux)")
    config = images.config(name)
    cleanup = contextlib.ExitStack()
    try:
        root = images.image_root(name)
        state = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix=f"msc-container-{name}-")))
        uid, gid, groups, home = _resolve_user(root, user if user is not None else config.user)
        full_env = {**config.env, **(env or {})}
        full_env.setdefault("HOME", home)
        full_env.setdefault("HOSTNAME", f"msc-{name}")
        hosts = state / "hosts"
        hosts.write_text(_HOSTS, encoding="utf-8")
        hostname = state / "hostname"
        hostname.write_text(f"msc-{name}\n", encoding="utf-8")
        resolv = state / "resolv.conf"
        resolv.write_text("", encoding="utf-8")
        all_binds = [
            {"source": str(hosts), "target": "/etc/hosts", "read_only": True},
            {"source": str(hostname), "target": "/etc/hostname", "read_only": True},
            {"source": str(resolv), "target": "/etc/resolv.conf", "read_only": True},
            *({"source": str(source), "target": target, "read_only": True} for source, target in binds),
        ]
        ready_file = state / "ready"
        spec = {
            "image_root": str(root),
            "state_dir": str(state),
            "read_only": read_only,
            "tmpfs": list(tmpfs),
            "binds": all_binds,
            "ready_file": str(ready_file),
            "go_timeout": start_timeout,
            "workdir": config.workdir,
            "uid": uid,
            "gid": gid,
            "groups": groups,
            "env": full_env,
            "argv": _argv(config, entrypoint, args),
        }
        spec_file = state / "spec.json"
        spec_file.write_text(json.dumps(spec), encoding="utf-8")
        log_dir.mkdir(parents=True, exist_ok=True)
        log_file = log_dir / f"{name}-{secrets.token_hex(3)}.log"
        with log_file.open("wb") as log:
            started_at = time.monotonic()
            process = subprocess.Popen(
                [
                    "unshare",
                    "--mount",
                    "--pid",
                    "--net",
                    "--fork",
                    "--kill-child",
                    "--",
                    sys.executable,
                    "-I",
                    str(CONTAINER_INIT),
                    str(spec_file),
                ],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        cleanup.callback(_kill, process)
        (log_dir / f"{log_file.stem}.pid").write_text(f"{process.pid}\n", encoding="utf-8")
        deadline = time.monotonic() + start_timeout
        while not ready_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise ContainerError(f"the container did not come up:\n{log_file.read_text(errors='replace')}")
            time.sleep(0.05)
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text(encoding="utf-8").split()
        init_pid = int(children[0])
        netns_fd = os.open(f"/proc/{init_pid}/ns/net", os.O_RDONLY)
        cleanup.callback(os.close, netns_fd)
        for port in host_ports:
            inside = _listen(socket_in_netns(netns_fd), port)

            def connect_host(port: int = port) -> socket.socket:
                sock = socket.create_connection((LOCALHOST, port), timeout=10)
                sock.settimeout(None)  # relayed connections may idle (a migration lock is held for seconds)
                return sock

            cleanup.callback(_Relay(inside, connect_host, f"relay-in-{port}").close)
        ports: dict[int, int] = {}
        for container_port in publish:
            listener = _listen(socket.socket(socket.AF_INET, socket.SOCK_STREAM), 0)

            def connect_container(container_port: int = container_port) -> socket.socket:
                sock = socket_in_netns(netns_fd)
                sock.settimeout(10)
                sock.connect((LOCALHOST, container_port))
                sock.settimeout(None)
                return sock

            cleanup.callback(_Relay(listener, connect_container, f"publish-{container_port}").close)
            ports[container_port] = int(listener.getsockname()[1])
        assert process.stdin is not None
        process.stdin.write(b"g")
        process.stdin.close()
        return Container(
            name=name,
            config=config,
            process=process,
            init_pid=init_pid,
            env=full_env,
            uid=uid,
            gid=gid,
            read_only=read_only,
            ports=ports,
            log_file=log_file,
            started_at=started_at,
            _cleanup=cleanup,
        )
    except BaseException:
        cleanup.close()
        raise
