"""Build the platform and train images with python-on-whales, on an engine with no registry.

Pipeline, each step skipped when its output already exists (cache under ``$HAI_UP_CACHE``,
default ``~/.cache/hai-up``):

1. base root filesystem: ``debootstrap --variant=minbase`` of Debian bookworm with python3,
   PostgreSQL 15 and redis-server, kept as ``rootfs/bookworm-<key>.tar.zst``;
2. ``docker import`` of that tarball as ``hai-rootfs:bookworm`` (labelled with its key);
3. a wheelhouse made on the host (pip cannot verify TLS inside a build here): the
   dependencies keyed by a hash of pyproject.toml, the project's own wheel keyed by a hash of
   its sources;
4. the platform and train images, classic builder (``DOCKER_BUILDKIT=0``), ``--network none``,
   ``pip install --no-index``; each image carries the hash of everything that went into it
   (``hai.build-key`` label) so an unchanged tree is never rebuilt.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from python_on_whales import DockerClient, DockerException
from python_on_whales.utils import run as whales_run

from hai_up.errors import UpError

ROOTFS_TAG = "hai-rootfs:bookworm"
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
ROOTFS_PACKAGES = "python3,python3-venv,ca-certificates,postgresql,redis-server"
KEY_LABEL = "hai.build-key"
IMAGE_PYTHON = (3, 11, 2)  # bookworm's python3: the wheels and markers must match it
IMAGE_GLIBC = (2, 36)  # bookworm's glibc: the newest manylinux tag its wheels may carry
SOURCE_PACKAGES = ("hai_cli", "hai_server", "hai_up")


def cache_dir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    raw = env.get("HAI_UP_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "hai-up")
    return Path(raw).absolute()


def project_root() -> Path:
    """The source tree hai-up builds from (it holds pyproject.toml and images/)."""
    root = Path(__file__).resolve().parents[1]
    if not (root / "pyproject.toml").is_file() or not (root / "images").is_dir():
        raise UpError(
            f"cannot build images: {root} is not a source checkout (no pyproject.toml or "
            "images/); build from the repository or set BUILD_IMAGES=false with prebuilt images",
            2,
        )
    return root


class Progress:
    """One line per step, with its elapsed time."""

    def __init__(self, prefix: str = "hai-up") -> None:
        self.prefix = prefix

    def say(self, text: str) -> None:
        print(f"{self.prefix}: {text}", flush=True)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        self.say(f"{name} ...")
        yield
        self.say(f"{name}: done in {time.monotonic() - start:.1f} s")


def _hash_files(paths: list[Path], root: Path, extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for path in sorted(paths):
        h.update(str(path.relative_to(root)).encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _source_files(root: Path) -> list[Path]:
    files: list[Path] = [root / "pyproject.toml"]
    for pkg in SOURCE_PACKAGES:
        for path in (root / pkg).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.append(path)
    for name in ("README.md", "LICENSE"):
        if (root / name).is_file():
            files.append(root / name)
    return files


def deps_key(root: Path) -> str:
    return _hash_files([root / "pyproject.toml"], root, "deps")


def source_key(root: Path) -> str:
    return _hash_files(_source_files(root), root, "src")


def rootfs_key() -> str:
    return hashlib.sha256(f"{DEBIAN_SUITE} {ROOTFS_PACKAGES}".encode()).hexdigest()[:12]


def _need_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise UpError(f"cannot build images: {name} not found (apt-get install {package})", 2)
    return path


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise UpError(f"{what} failed (exit {proc.returncode}):\n{tail}", 1)


def _unmount_under(root: Path) -> None:
    """Unmount whatever debootstrap left mounted under ``root`` (before packing or removal)."""
    prefix = str(root.resolve())
    try:
        with open("/proc/mounts", encoding="utf-8") as fh:
            points = [line.split()[1].encode().decode("unicode_escape") for line in fh]
    except OSError:
        return
    inside = [p for p in points if p == prefix or p.startswith(prefix + "/")]
    for point in sorted(inside, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def rootfs_tarball(cache: Path, progress: Progress) -> Path:
    """The debootstrapped root filesystem as a cached .tar.zst."""
    out = cache / "rootfs" / f"{DEBIAN_SUITE}-{rootfs_key()}.tar.zst"
    if out.is_file():
        progress.say(f"base root filesystem: cached ({out})")
        return out
    debootstrap = _need_tool("debootstrap", "debootstrap")
    zstd = _need_tool("zstd", "zstd")
    if os.geteuid() != 0:
        raise UpError("cannot build the base root filesystem: debootstrap needs root", 2)
    out.parent.mkdir(parents=True, exist_ok=True)
    with progress.step(f"debootstrap {DEBIAN_SUITE} (minbase + {ROOTFS_PACKAGES})"):
        work = Path(tempfile.mkdtemp(prefix="rootfs-", dir=out.parent))
        try:
            root = work / "root"
            _run(
                [
                    debootstrap,
                    "--variant=minbase",
                    f"--include={ROOTFS_PACKAGES}",
                    DEBIAN_SUITE,
                    str(root),
                    DEBIAN_MIRROR,
                ],
                "debootstrap",
            )
            _unmount_under(root)
            for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for entry in (root / junk).glob("*"):
                    if entry.is_file():
                        entry.unlink()
            tmp = out.with_suffix(".tmp")
            _run(
                [
                    "sh",
                    "-c",
                    'tar --numeric-owner --one-file-system -C "$1" -cf - . | "$2" -q -T0 -3 -f -o "$3"',
                    "sh",
                    str(root),
                    zstd,
                    str(tmp),
                ],
                "packing the root filesystem",
            )
            os.replace(tmp, out)
        finally:
            _unmount_under(work)
            shutil.rmtree(work, ignore_errors=True)
    return out


def _image_key(docker: DockerClient, tag: str) -> str | None:
    """The build key of an image on the engine, "" when unlabelled, None when absent."""
    try:
        image = docker.image.inspect(tag)
    except DockerException:
        return None
    labels = image.config.labels or {}
    return labels.get(KEY_LABEL, "")


def import_rootfs(docker: DockerClient, cache: Path, progress: Progress) -> str:
    key = rootfs_key()
    if _image_key(docker, ROOTFS_TAG) == key:
        progress.say(f"{ROOTFS_TAG}: present")
        return ROOTFS_TAG
    tarball = rootfs_tarball(cache, progress)
    zstd = _need_tool("zstd", "zstd")
    with progress.step(f"docker import {ROOTFS_TAG}"):
        plain = Path(tempfile.mkdtemp(prefix="import-", dir=cache)) / "rootfs.tar"
        try:
            _run([zstd, "-q", "-d", "-f", str(tarball), "-o", str(plain)], "unpacking the rootfs")
            docker.image.import_(
                plain,
                tag=ROOTFS_TAG,
                changes=[f"LABEL {KEY_LABEL}={key}", "ENV LANG=C.UTF-8"],
            )
        finally:
            shutil.rmtree(plain.parent, ignore_errors=True)
    return ROOTFS_TAG


def _pip_python() -> str:
    """A Python with pip (only to download wheels: the target is given explicitly)."""
    for candidate in (sys.executable, shutil.which("python3")):
        if not candidate:
            continue
        probe = subprocess.run(
            [candidate, "-c", "import pip"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0:
            return candidate
    raise UpError("cannot make the wheelhouse: no Python with pip found on the host", 2)


def _uv() -> list[str]:
    path = shutil.which("uv")
    if path:
        return [path]
    for python in (sys.executable, shutil.which("python3")):
        if (
            python
            and subprocess.run(
                [python, "-m", "uv", "--version"], capture_output=True, check=False
            ).returncode
            == 0
        ):
            return [python, "-m", "uv"]
    raise UpError("cannot make the wheelhouse: uv not found (python3 -m pip install uv)", 2)


def _target_platforms() -> list[str]:
    """Every manylinux tag bookworm's glibc accepts, for pip's --platform."""
    arch = os.uname().machine
    tags = [f"manylinux_{IMAGE_GLIBC[0]}_{minor}_{arch}" for minor in range(IMAGE_GLIBC[1], 4, -1)]
    tags += [f"manylinux2014_{arch}", f"manylinux2010_{arch}", f"manylinux1_{arch}"]
    return tags


def wheelhouse(root: Path, cache: Path, progress: Progress) -> tuple[Path, Path]:
    """(dependency wheels dir, project wheel dir), each cached under its own key.

    Dependencies are resolved for the image's interpreter, not the host's: markers such as
    ``python_full_version < '3.11.3'`` (redis -> async-timeout) must see bookworm's 3.11.2,
    which pip cannot pretend to be; uv resolves for it, pip downloads the binary wheels.
    """
    deps = cache / "wheels" / f"deps-{deps_key(root)}"
    project = cache / "wheels" / f"project-{source_key(root)}"
    if deps.is_dir():
        os.utime(deps)
        progress.say(f"dependency wheels: cached ({deps.name})")
    else:
        python = _pip_python()
        version = ".".join(map(str, IMAGE_PYTHON))
        with progress.step(f"downloading dependency wheels for Python {version} on the host"):
            deps.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix="deps-", dir=deps.parent))
            try:
                pins = tmp / "requirements.txt"
                _run(
                    [
                        *_uv(),
                        "pip",
                        "compile",
                        "-q",
                        "--no-header",
                        "--python-version",
                        version,
                        "--python-platform",
                        f"{os.uname().machine}-manylinux_{IMAGE_GLIBC[0]}_{IMAGE_GLIBC[1]}",
                        "-o",
                        str(pins),
                        str(root / "pyproject.toml"),
                    ],
                    "uv pip compile (dependencies for the image)",
                )
                platforms = [arg for tag in _target_platforms() for arg in ("--platform", tag)]
                _run(
                    [
                        python,
                        "-m",
                        "pip",
                        "download",
                        "-q",
                        "--no-deps",
                        "--only-binary=:all:",
                        "--python-version",
                        f"{IMAGE_PYTHON[0]}{IMAGE_PYTHON[1]}",
                        "--implementation",
                        "cp",
                        "--abi",
                        f"cp{IMAGE_PYTHON[0]}{IMAGE_PYTHON[1]}",
                        *platforms,
                        "--dest",
                        str(tmp),
                        "-r",
                        str(pins),
                    ],
                    "pip download (dependencies)",
                )
                pins.unlink()
                os.replace(tmp, deps)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    if project.is_dir():
        os.utime(project)
        progress.say(f"project wheel: cached ({project.name})")
    else:
        python = _pip_python()
        with progress.step("building the project wheel"):
            project.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix="project-", dir=project.parent))
            try:
                _run(
                    [
                        python,
                        "-m",
                        "pip",
                        "wheel",
                        "-q",
                        "--no-deps",
                        "--wheel-dir",
                        str(tmp),
                        str(root),
                    ],
                    "pip wheel (project)",
                )
                os.replace(tmp, project)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    return deps, project


def _link_tree(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for entry in src.iterdir():
        if entry.is_file():
            try:
                os.link(entry, dst / entry.name)
            except OSError:
                shutil.copy2(entry, dst / entry.name)


@dataclass(frozen=True)
class ImageSpec:
    tag: str
    kind: str  # "platform" or "train"


def _build(
    docker: DockerClient,
    spec: ImageSpec,
    key: str,
    root: Path,
    deps: Path,
    project: Path,
    cache: Path,
    progress: Progress,
) -> None:
    with progress.step(f"building {spec.kind} image {spec.tag}"):
        context = Path(tempfile.mkdtemp(prefix=f"ctx-{spec.kind}-", dir=cache))
        try:
            for entry in (root / "images" / spec.kind).iterdir():
                if entry.is_file():
                    shutil.copy2(entry, context / entry.name)
            specs = context / "environments"  # the base environments' specs (COPY'd)
            specs.mkdir()
            for entry in _spec_files(root):
                shutil.copy2(entry, specs / entry.name)
            _link_tree(deps, context / "wheels" / "deps")
            _link_tree(project, context / "wheels" / "project")
            cmd = [
                *docker.client_config.docker_cmd,
                "build",
                "--rm",
                "--force-rm",
                "--network",
                "none",
                "--build-arg",
                f"ROOTFS={ROOTFS_TAG}",
                "--label",
                f"{KEY_LABEL}={key}",
                "--tag",
                spec.tag,
                str(context),
            ]
            try:
                whales_run(cmd, env={"DOCKER_BUILDKIT": "0"})
            except DockerException as exc:
                tail = "\n".join(
                    ((exc.stderr or "") + (exc.stdout or "")).strip().splitlines()[-15:]
                )
                raise UpError(f"building {spec.tag} failed:\n{tail}", 1) from None
        finally:
            shutil.rmtree(context, ignore_errors=True)


def _spec_files(root: Path) -> list[Path]:
    """``environments/*.toml``: baked into both images at /opt/hai/environments."""
    return sorted(p for p in (root / "environments").glob("*.toml") if p.is_file())


def build_key(root: Path, kind: str) -> str:
    files = [p for p in (root / "images" / kind).iterdir() if p.is_file()]
    files += _spec_files(root)
    return _hash_files(files, root, f"{kind} {rootfs_key()} {source_key(root)}")


def ensure_images(
    docker: DockerClient,
    specs: list[ImageSpec],
    *,
    build: bool,
    rebuild_stale: bool,
    progress: Progress | None = None,
    cache: Path | None = None,
) -> list[str]:
    """Make sure every image exists (and is current when ``rebuild_stale``); the tags built.

    ``build`` False: only check presence, a missing image is an error naming it.
    """
    progress = progress or Progress()
    missing = [s for s in specs if _image_key(docker, s.tag) is None]
    if not build:
        if missing:
            names = ", ".join(s.tag for s in missing)
            raise UpError(
                f"image(s) not on the engine: {names}; BUILD_IMAGES=false, so load them "
                "(docker load) or set BUILD_IMAGES=true",
                2,
            )
        return []
    root = project_root()
    todo: list[tuple[ImageSpec, str]] = []
    for spec in specs:
        key = build_key(root, spec.kind)
        current = _image_key(docker, spec.tag)
        if current is None or (rebuild_stale and current != key):
            todo.append((spec, key))
        else:
            state = (
                "current" if current == key else "present (older build, kept; upgrade rebuilds it)"
            )
            progress.say(f"image {spec.tag}: {state}")
    if not todo:
        return []
    cache = cache or cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    # the wheelhouse (network, host) while debootstrap and import run (disk, engine)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="wheelhouse") as pool:
        wheels = pool.submit(wheelhouse, root, cache, progress)
        import_rootfs(docker, cache, progress)
        deps, project = wheels.result()
    for spec, key in todo:
        _build(docker, spec, key, root, deps, project, cache, progress)
    # our own garbage only: earlier builds of these tags, now untagged
    with progress.step("removing earlier builds of these images (dangling, ours only)"):
        docker.image.prune(filters=[("label", KEY_LABEL)])
    _prune_wheel_cache(cache / "wheels", keep={deps.name, project.name})
    return [spec.tag for spec, _ in todo]


def _prune_wheel_cache(wheels: Path, keep: set[str], max_age_s: float = 7 * 86400) -> None:
    """Drop wheel sets unused for a week (another checkout may still use a recent one)."""
    now = time.time()
    for entry in wheels.glob("*-*"):
        if entry.name in keep or not entry.is_dir():
            continue
        if now - entry.stat().st_mtime > max_age_s:
            shutil.rmtree(entry, ignore_errors=True)
