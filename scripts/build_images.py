"""Build the shipped images daemonless: buildah (vfs storage, chroot isolation) on a debootstrapped base.

    python scripts/build_images.py                 # base, server and serving image
    python scripts/build_images.py server          # base and server image only
    python scripts/build_images.py --json out.json # also write what was built (references, ids, sizes, times)

Docker Hub and ECR Public are not reachable from the machines this project builds on, so the Dockerfiles'
default ``BASE_IMAGE`` (``python:3.11-slim-bookworm``) cannot be pulled. The script makes a stand-in from
Debian's own packages instead and builds each Dockerfile unchanged with ``--build-arg BASE_IMAGE=<it>``:

1. ``debootstrap --variant=minbase bookworm`` into an empty buildah container, then Debian's
   python3 (3.11) as a virtual environment at ``/usr/local``, so that ``/usr/local/bin/python3``,
   ``/usr/local/bin/pip`` and ``/usr/local/lib/python3.11/site-packages`` are where the official image has
   them. docs/server-image.md lists what still differs.
2. ``buildah bud --format docker`` of each build context (the directory, whatever files it has;
   ``.dockerignore`` applies as usual), committing one layer on top of the base.

Everything is cached under ``--cache-dir`` (default ``~/.cache/mlflow-sagemaker-constructs/images``): the
buildah storage, the downloaded Debian packages and a key per image. A key is the hash of an image's
inputs: the base recipe below for the base; the base image id, every file of the build context and the
build arguments for an image. An image whose key is already tagged is not built again; of the older images
of the same name, the two newest are kept (other work trees may share the cache) and the rest removed.
Without a cache directory the script works from nothing. Builds from two processes are serialised by a
lock file, so a second call waits for the first and then finds its images cached.

``--layers`` only when the base came from the cache, that is when this cache is being reused: an edit of
the server code then rebuilds only the steps after ``pip install``. With the vfs driver every layer is a
full copy of the root filesystem, committed by walking it, so on a fresh machine (CI), where no later
build reuses them, the images are built without layers: one working container and one commit each. The
images build concurrently: both only need the base, and a ``pip install`` leaves a core idle while it
downloads.

Build-time only, never in the images: the host's CA bundle and a pip configuration naming it are mounted
over ``/etc/xdg`` in the ``RUN`` steps (machines that reach PyPI through a TLS-intercepting proxy need it;
elsewhere it is an ordinary CA bundle). ``PIP_INDEX_URL``, when set, goes into that configuration too.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = REPO_ROOT / "src" / "mlflow_sagemaker_constructs"

#: Build contexts of the shipped images, by short name.
CONTEXTS: Mapping[str, Path] = {
    "server": PACKAGE_DIR / "tracking_server" / "server",
    "serving": PACKAGE_DIR / "serving" / "image",
}
REPOSITORY = "localhost/mlflow-sagemaker-constructs"
DEFAULT_CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / (
    "mlflow-sagemaker-constructs/images"
)

# The base: what the Dockerfiles' BASE_IMAGE (python:3.11-slim-bookworm) provides, from Debian packages.
SUITE = "bookworm"
DEBIAN_MIRROR = os.environ.get("MSC_DEBIAN_MIRROR", "http://deb.debian.org/debian")
DEBIAN_SECURITY_MIRROR = os.environ.get("MSC_DEBIAN_SECURITY_MIRROR", "http://deb.debian.org/debian-security")
#: pip of the official python:3.11 images (the version CPython 3.11's ensurepip bundles).
BASE_PIP_VERSION = "24.0"
BASE_PYTHON = "3.11"
BASE_TAG = f"python-{BASE_PYTHON}-slim-{SUITE}"
#: Part of the base's key: bump it when the base's build changes outside BASE_RECIPE (e.g. build_base below).
BASE_REVISION = 2
#: Rebuild a cached base older than this, to pick up Debian's security updates like the official image does.
BASE_MAX_AGE_DAYS = 7
BASE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
}
# Runs inside the debootstrapped root (chroot isolation, host network), as root.
BASE_RECIPE = r"""
set -eu
export DEBIAN_FRONTEND=noninteractive
# Like debian:bookworm-slim: packages installed from now on bring no documentation, manual pages or
# translations, and what debootstrap installed loses them too.
cat > /etc/dpkg/dpkg.cfg.d/slim <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
find /usr/share/doc -mindepth 1 -not -type d -not -name copyright -delete
find /usr/share/doc -mindepth 1 -type d -empty -delete
find /usr/share/locale -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
rm -rf /usr/share/man/* /usr/share/info/* /usr/share/lintian
cat > /etc/apt/sources.list <<EOF
deb $DEBIAN_MIRROR $SUITE main
deb $DEBIAN_MIRROR $SUITE-updates main
deb $DEBIAN_SECURITY_MIRROR $SUITE-security main
EOF
apt-get update -qq
apt-get upgrade -y -qq
# What python:3.11-slim-bookworm adds to debian:bookworm-slim, with Debian's CPython 3.11 instead of one
# built from source into /usr/local.
apt-get install -y -qq --no-install-recommends ca-certificates netbase tzdata python3 python3-venv
# A virtual environment at /usr/local puts python3, pip and site-packages where the official image has them.
python3 -m venv /usr/local
/usr/local/bin/python3 -m pip install --no-cache-dir --disable-pip-version-check --quiet "pip==$PIP_VERSION"
rm -f /usr/local/bin/activate* /usr/local/bin/Activate.ps1
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt/* /var/log/dpkg.log /var/cache/debconf/*-old \
  /root/.cache
: > /etc/resolv.conf
: > /etc/hostname
/usr/local/bin/python3 --version
/usr/local/bin/pip --version
"""

#: Older images kept per repository besides the current one.
KEEP_OLDER_IMAGES = 2
#: The CA bundle pip trusts in RUN steps at build time (never committed), and where its configuration goes.
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
BUILD_CONFIG_DIR = "/etc/xdg"


class BuildError(RuntimeError):
    pass


@dataclasses.dataclass
class Timings:
    steps: list[tuple[str, float]] = dataclasses.field(default_factory=list)
    out: TextIO = sys.stderr

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        self.log(f"{name} ...")
        try:
            yield
        finally:
            seconds = time.monotonic() - started
            self.steps.append((name, seconds))
            self.log(f"{name}: {seconds:.1f} s")

    def log(self, message: str) -> None:
        print(f"[images] {message}", file=self.out, flush=True)


@dataclasses.dataclass(frozen=True)
class BuiltImage:
    name: str
    reference: str
    image_id: str
    size_bytes: int
    built: bool
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Buildah:
    """``buildah`` with this cache's own storage, the vfs driver and chroot isolation."""

    def __init__(self, cache_dir: Path, log: TextIO) -> None:
        self.storage = cache_dir / "storage"
        self.runroot = cache_dir / "run"
        self.log = log
        executable = shutil.which("buildah")
        if executable is None:
            raise BuildError("buildah is missing: apt-get install buildah (./dev installs it)")
        self.executable = executable

    def command(self, *args: str) -> list[str]:
        return [
            self.executable,
            "--root",
            str(self.storage),
            "--runroot",
            str(self.runroot),
            "--storage-driver",
            "vfs",
            *args,
        ]

    def run(self, *args: str, capture: bool = True, timeout: float = 3600) -> str:
        """Run buildah; its output goes to the log unless captured. Raise with the output when it fails."""
        env = {**os.environ, "BUILDAH_ISOLATION": "chroot", "STORAGE_DRIVER": "vfs"}
        if capture:
            result = subprocess.run(
                self.command(*args), capture_output=True, text=True, env=env, timeout=timeout, check=False
            )
            if result.returncode != 0:
                raise BuildError(f"buildah {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
            return result.stdout
        process = subprocess.run(
            self.command(*args), stdout=self.log, stderr=subprocess.STDOUT, env=env, timeout=timeout, check=False
        )
        if process.returncode != 0:
            raise BuildError(f"buildah {' '.join(args)} failed ({process.returncode}); its output is above")
        return ""

    def images(self) -> list[dict[str, Any]]:
        data = json.loads(self.run("images", "--json") or "[]")
        return list(data)

    def image(self, reference: str) -> dict[str, Any] | None:
        for image in self.images():
            if reference in (image.get("names") or []):
                return dict(image)
        return None

    def inspect(self, reference: str) -> dict[str, Any]:
        return dict(json.loads(self.run("inspect", "--type", "image", reference)))

    def size(self, reference: str) -> int:
        """Bytes of the image's layers, uncompressed, as its manifest lists them."""
        manifest = json.loads(self.inspect(reference).get("Manifest") or "{}")
        return sum(int(layer.get("size", 0)) for layer in manifest.get("layers", []))

    def built(self, name: str, reference: str, built: bool, seconds: float) -> BuiltImage | None:
        image = self.image(reference)
        if image is None:
            return None
        return BuiltImage(name, reference, str(image["id"]), self.size(reference), built, round(seconds, 1))


def _sha256(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def context_files(context: Path) -> list[Path]:
    """Every file of a build context except Python bytecode caches, sorted."""
    files = []
    for path in sorted(context.rglob("*")):
        if "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo") or not path.is_file():
            continue
        files.append(path)
    return files


def image_key(context: Path, base_id: str, build_args: Mapping[str, str]) -> str:
    parts = [base_id.encode(), json.dumps(sorted(build_args.items())).encode()]
    for path in context_files(context):
        parts += [path.relative_to(context).as_posix().encode(), path.read_bytes()]
    return _sha256(*parts)[:16]


def base_key() -> str:
    recipe = json.dumps(
        {
            "recipe": BASE_RECIPE,
            "revision": BASE_REVISION,
            "suite": SUITE,
            "mirror": DEBIAN_MIRROR,
            "security": DEBIAN_SECURITY_MIRROR,
            "pip": BASE_PIP_VERSION,
            "env": BASE_ENV,
            "arch": platform.machine(),
        },
        sort_keys=True,
    )
    return _sha256(recipe.encode())[:16]


@contextlib.contextmanager
def locked(path: Path, timeout: float, timings: Timings) -> Iterator[None]:
    """An exclusive lock on ``path``: one build per cache directory at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        deadline = time.monotonic() + timeout
        waited = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    timings.log(f"waiting for another build holding {path}")
                    waited = True
                if time.monotonic() > deadline:
                    raise BuildError(f"another build held {path} for more than {timeout:.0f} s") from None
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_old_tags(buildah: Buildah, repository: str, keep: str, timings: Timings) -> None:
    """Remove this repository's images but ``keep`` and the newest others (other work trees sharing the cache
    may still run them), oldest first."""
    others = sorted(
        (
            (float(image.get("created", 0)), name)
            for image in buildah.images()
            for name in image.get("names") or []
            if name.startswith(f"{repository}:") and name != keep
        ),
        reverse=True,
    )
    for _, name in others[KEEP_OLDER_IMAGES:]:
        with timings.step(f"removing the old image {name}"), contextlib.suppress(BuildError):
            buildah.run("rmi", "--force", name)


def _remove_leftover_containers(buildah: Buildah, timings: Timings) -> None:
    """Working containers of an interrupted build (only builds create containers in this storage, and only
    under the lock; the tests run images from their layers)."""
    leftovers = buildah.run("containers", "--quiet").split()
    if leftovers:
        with timings.step(f"removing {len(leftovers)} working container(s) of an interrupted build"):
            buildah.run("rm", "--all")


def build_base(buildah: Buildah, cache_dir: Path, timings: Timings, refresh: bool) -> BuiltImage:
    """The debootstrapped stand-in for python:3.11-slim-bookworm."""
    repository = f"{REPOSITORY}/{BASE_TAG}"
    reference = f"{repository}:{base_key()}"
    started = time.monotonic()
    existing = buildah.image(reference)
    if existing is not None and not refresh:
        age_days = (time.time() - float(existing.get("created", 0))) / 86400
        cached = buildah.built("base", reference, False, 0.0)
        if cached is not None and age_days <= BASE_MAX_AGE_DAYS:
            timings.log(f"base {reference} is cached ({age_days:.1f} days old)")
            return cached
        timings.log(f"base {reference} is {age_days:.1f} days old: rebuilding for Debian's updates")
    debootstrap = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None
    )
    if debootstrap is None:
        raise BuildError("debootstrap is missing: apt-get install debootstrap (./dev installs it)")
    debs = cache_dir / "debootstrap-debs"
    apt_archives = cache_dir / "apt-archives"
    debs.mkdir(parents=True, exist_ok=True)
    (apt_archives / "partial").mkdir(parents=True, exist_ok=True)
    container = buildah.run("from", "--name", f"msc-base-{os.getpid()}", "scratch").strip()
    try:
        root = Path(buildah.run("mount", container).strip())
        with timings.step(f"debootstrap --variant=minbase {SUITE}"):
            result = subprocess.run(
                [
                    debootstrap,
                    "--variant=minbase",
                    f"--cache-dir={debs}",
                    SUITE,
                    str(root),
                    DEBIAN_MIRROR,
                ],
                stdout=buildah.log,
                stderr=subprocess.STDOUT,
                timeout=1800,
                check=False,
            )
            if result.returncode != 0:
                raise BuildError(f"debootstrap failed ({result.returncode}); its output is above")
            # debootstrap leaves its packages in the root as well; the cache above keeps them.
            for leftover in (root / "var/cache/apt/archives").glob("*.deb"):
                leftover.unlink()
            # The mount point of the build-time pip configuration (see _build_volumes).
            (root / BUILD_CONFIG_DIR.lstrip("/")).mkdir(parents=True, exist_ok=True)
        with (
            timings.step("base: Debian updates, python3 as a venv at /usr/local, pip " + BASE_PIP_VERSION),
            tempfile.TemporaryDirectory(prefix="msc-base-") as scratch,
        ):
            recipe = Path(scratch) / "recipe.sh"
            recipe.write_text(BASE_RECIPE, encoding="utf-8")
            buildah.run(
                "run",
                "--isolation",
                "chroot",
                *_build_volumes(Path(scratch)),
                "-v",
                f"{recipe}:/run/base-recipe.sh:ro",
                "-v",
                f"{apt_archives}:/var/cache/apt/archives",
                "--env",
                f"DEBIAN_MIRROR={DEBIAN_MIRROR}",
                "--env",
                f"DEBIAN_SECURITY_MIRROR={DEBIAN_SECURITY_MIRROR}",
                "--env",
                f"SUITE={SUITE}",
                "--env",
                f"PIP_VERSION={BASE_PIP_VERSION}",
                container,
                "--",
                "/bin/sh",
                "/run/base-recipe.sh",
                capture=False,
            )
        with timings.step("base: commit"):
            config: list[str] = ["config", "--cmd", "python3"]
            for name, value in BASE_ENV.items():
                config += ["--env", f"{name}={value}"]
            config += [
                "--label",
                f"org.opencontainers.image.title={BASE_TAG}",
                "--label",
                "org.opencontainers.image.description=Stand-in for python:3.11-slim-bookworm: "
                "debootstrap minbase and Debian's python3 as a venv at /usr/local",
                container,
            ]
            buildah.run(*config)
            buildah.run("commit", "--format", "docker", "--rm", container, reference)
            container = ""
    finally:
        if container:
            with contextlib.suppress(BuildError):
                buildah.run("rm", container)
    _remove_old_tags(buildah, repository, reference, timings)
    built = buildah.built("base", reference, True, time.monotonic() - started)
    if built is None:
        raise BuildError(f"{reference} is missing after its commit")
    return built


def _build_volumes(scratch: Path) -> list[str]:
    """Build-time mounts: pip's site configuration naming the host's CA bundle.

    They go over ``/etc/xdg``, which pip reads (``/etc/xdg/pip/pip.conf``) and the base has as an empty
    directory: buildah leaves the mount point of a ``-v`` in the committed image when it did not exist, so
    only an existing directory keeps the images free of build-time files.
    """
    if not HOST_CA_BUNDLE.is_file():
        return []
    xdg = scratch / "xdg"
    (xdg / "pip").mkdir(parents=True)
    shutil.copyfile(HOST_CA_BUNDLE, xdg / "pip" / "ca-bundle.crt")
    lines = ["[global]", f"cert = {BUILD_CONFIG_DIR}/pip/ca-bundle.crt"]
    index_url = os.environ.get("PIP_INDEX_URL")
    if index_url:
        lines.append(f"index-url = {index_url}")
    (xdg / "pip" / "pip.conf").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ["-v", f"{xdg}:{BUILD_CONFIG_DIR}:ro"]


def build_image(
    buildah: Buildah, name: str, context: Path, base: BuiltImage, timings: Timings, no_cache: bool, layers: bool
) -> BuiltImage:
    """``buildah bud`` of ``context``'s Dockerfile, unchanged, on ``base``."""
    build_args = {"BASE_IMAGE": base.reference}
    repository = f"{REPOSITORY}/{name}"
    reference = f"{repository}:{image_key(context, base.image_id, build_args)}"
    cached = None if no_cache else buildah.built(name, reference, False, 0.0)
    if cached is not None:
        timings.log(f"{name}: {reference} is cached")
        return cached
    started = time.monotonic()
    with (
        timings.step(
            f"{name}: buildah bud {context.relative_to(REPO_ROOT) if context.is_relative_to(REPO_ROOT) else context}"
        ),
        tempfile.TemporaryDirectory(prefix=f"msc-{name}-") as scratch,
    ):
        args = ["bud", f"--layers={str(layers).lower()}", "--format", "docker", "--isolation", "chroot", "--pull=false"]
        if no_cache:
            args.append("--no-cache")
        for arg, value in build_args.items():
            args += ["--build-arg", f"{arg}={value}"]
        args += [*_build_volumes(Path(scratch)), "-f", str(context / "Dockerfile"), "-t", reference, str(context)]
        buildah.run(*args, capture=False)
    _remove_old_tags(buildah, repository, reference, timings)
    built = buildah.built(name, reference, True, time.monotonic() - started)
    if built is None:
        raise BuildError(f"{reference} is missing after the build")
    return built


def build(
    names: Sequence[str],
    cache_dir: Path,
    *,
    refresh_base: bool = False,
    no_cache: bool = False,
    lock_timeout: float = 3600,
    log: TextIO = sys.stderr,
) -> dict[str, Any]:
    """Build the base and the named images; return what was built, with timings."""
    timings = Timings(out=log)
    started = time.monotonic()
    cache_dir = cache_dir.resolve()
    cache_dir.mkdir(parents=True, exist_ok=True)
    buildah = Buildah(cache_dir, log)
    with locked(cache_dir / "build.lock", lock_timeout, timings):
        _remove_leftover_containers(buildah, timings)
        base = build_base(buildah, cache_dir, timings, refresh_base)
        layers = not base.built
        timings.log(
            f"layers: {'on (the cache is reused)' if layers else 'off (a fresh cache: nothing would reuse them)'}"
        )
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
            futures = {
                name: pool.submit(build_image, buildah, name, CONTEXTS[name], base, timings, no_cache, layers)
                for name in names
            }
            images = {name: future.result() for name, future in futures.items()}
    total = time.monotonic() - started
    timings.log(f"total: {total:.1f} s")
    for image in (base, *images.values()):
        state = f"built in {image.seconds:.1f} s" if image.built else "cached"
        timings.log(f"{image.name}: {image.reference} {image.size_bytes / 1e6:.0f} MB ({state})")
    return {
        "cache_dir": str(cache_dir),
        "storage": [*buildah.command()[1:]],
        "base": base.as_json(),
        "images": {name: image.as_json() for name, image in images.items()},
        "steps": [{"step": step, "seconds": round(seconds, 1)} for step, seconds in timings.steps],
        "total_seconds": round(total, 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "images", nargs="*", metavar="IMAGE", help=f"images to build: {', '.join(CONTEXTS)} (default: all)"
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(os.environ.get("MSC_IMAGE_CACHE_DIR") or DEFAULT_CACHE_DIR)
    )
    parser.add_argument("--json", type=Path, help="write what was built to this file")
    parser.add_argument("--refresh-base", action="store_true", help="rebuild the base even if it is cached")
    parser.add_argument("--no-cache", action="store_true", help="rebuild every image step")
    parser.add_argument("--lock-timeout", type=float, default=3600, help="seconds to wait for another build")
    args = parser.parse_args(argv)
    names = list(dict.fromkeys(args.images)) or list(CONTEXTS)
    unknown = [name for name in names if name not in CONTEXTS]
    if unknown:
        parser.error(f"unknown image(s) {unknown}: choose from {', '.join(CONTEXTS)}")
    try:
        result = build(
            names,
            args.cache_dir,
            refresh_base=args.refresh_base,
            no_cache=args.no_cache,
            lock_timeout=args.lock_timeout,
        )
    except BuildError as error:
        print(f"[images] FAILED: {error}", file=sys.stderr, flush=True)
        return 1
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
