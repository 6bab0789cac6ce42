"""Making an environment with uv: a venv, a link to its base, packages, then the metadata.

The directory is claimed with ``mkdir`` (so two creates of one name cannot both win) and
marked with the creating pid. Anything that stops the create - a uv error, a full disk,
Ctrl-C, SIGTERM - removes the half-made directory; one left by a killed process (its pid is
gone) is cleared by the next create of that name.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from hai_cli.haienv import meta as m
from hai_cli.haienv.errors import BadInput, HaienvError
from hai_cli.haienv.names import check_name, check_owner

BASE_PTH = "_haienv_base.pth"
UV_ENV = {"UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}


@dataclass(frozen=True, slots=True)
class Request:
    name: str
    root: str  # the owner's root directory
    base: m.EnvMeta | None = None
    python: str | None = None
    packages: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False
    search_dirs: tuple[str, ...] = ()
    environment: tuple[tuple[str, str], ...] = ()
    spec: str | None = None
    spec_digest: str | None = None
    prefix: str | None = None  # where to make it (default: root/name; builds use a version)


def uv_bin() -> str:
    """The uv executable: the one the ``uv`` package ships, else one on PATH."""
    with contextlib.suppress(ImportError, FileNotFoundError):
        from uv import find_uv_bin

        return find_uv_bin()
    found = shutil.which("uv")
    if found is None:
        raise HaienvError("uv is not installed (pip install uv)")
    return found


def base_pth(base_site: str) -> str:
    """The .pth line that puts a base's site-packages (and its own .pth files, so its bases
    too) after the environment's own."""
    return f"import site; site.addsitedir({base_site!r})\n"


def venv_version(prefix: str) -> str:
    """X.Y.Z from the venv's ``pyvenv.cfg``."""
    with open(os.path.join(prefix, "pyvenv.cfg"), encoding="utf-8") as fh:
        for line in fh:
            key, _, value = line.partition("=")
            if key.strip() in ("version_info", "version"):
                return value.strip()
    raise HaienvError(f"{prefix}/pyvenv.cfg names no Python version")


def site_packages(prefix: str, version: str) -> str:
    major_minor = ".".join(version.split(".")[:2])
    return os.path.join(prefix, "lib", f"python{major_minor}", "site-packages")


def interpreters(uv: str) -> list[tuple[str, str]]:
    """(version, path) of the Pythons uv finds on this machine (no downloads)."""
    try:
        out = subprocess.run(
            [uv, "python", "list", "--only-installed", "--output-format", "json"],
            capture_output=True, text=True, env={**os.environ, **UV_ENV}, timeout=60,
        )  # fmt: skip
        found = json.loads(out.stdout or "[]")
    except (OSError, ValueError, subprocess.SubprocessError):
        return []
    return [(str(d.get("version")), str(d.get("path"))) for d in found if isinstance(d, dict)]


class _Signals:
    """Signals that stop a create: raised as KeyboardInterrupt, except while a child is being
    started (held until it has a handle, so it can be killed before the cleanup)."""

    holding = False
    pending: int | None = None

    @classmethod
    def handler(cls, signum: int, _frame: object) -> None:
        if cls.holding:
            cls.pending = signum
        else:
            raise KeyboardInterrupt(f"signal {signum}")

    @classmethod
    def check(cls) -> None:
        if cls.pending is not None:
            signum, cls.pending = cls.pending, None
            raise KeyboardInterrupt(f"signal {signum}")


def _run(cmd: Sequence[str], what: str) -> None:
    _Signals.holding = True
    try:
        proc = subprocess.Popen(
            list(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env={**os.environ, **UV_ENV},
        )  # fmt: skip
    finally:
        _Signals.holding = False
    try:
        _Signals.check()
        out, err = proc.communicate()
    except BaseException:
        proc.kill()  # interrupted: uv must be gone before the half-made directory is removed
        proc.wait()
        raise
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (err or out).splitlines() if ln.strip()]
        if len(lines) > 4:  # the first line says what failed, the last one why
            lines = [*lines[:2], "...", lines[-1]]
        detail = "; ".join(lines) if lines else f"exit code {proc.returncode}"
        raise HaienvError(f"{what} failed: {detail}")


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP interrupt the create (so its cleanup runs)."""
    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError):  # not the main thread: leave them
            old[sig] = signal.signal(sig, _Signals.handler)
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        _Signals.pending = None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim(prefix: str) -> None:
    """Make ``prefix`` ours, or say why it cannot be (a duplicate, a create in progress)."""
    try:
        os.mkdir(prefix, 0o755)
    except FileExistsError:
        _clear_leftover(prefix)
        os.mkdir(prefix, 0o755)
    marker = os.path.join(prefix, m.CREATING_FILE)
    try:
        with open(f"{marker}.tmp", "w", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\n")
        os.rename(f"{marker}.tmp", marker)  # appears with its pid in it (an interrupt may follow)
    except OSError:  # e.g. a full disk: the directory is still only ours
        shutil.rmtree(prefix, ignore_errors=True)
        raise


def _clear_leftover(prefix: str) -> None:
    """``prefix`` exists: remove what a stopped create left there, else refuse."""
    name = os.path.basename(prefix)
    if m.read(prefix) is not None:
        raise BadInput(f"environment {name!r} already exists at {prefix}")
    marker = os.path.join(prefix, m.CREATING_FILE)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(f"{marker}.tmp")  # an interrupt came before the marker was in place
    with contextlib.suppress(OSError):
        os.rmdir(prefix)  # empty: a create stopped between its mkdir and its marker
        return
    try:
        with open(marker, encoding="utf-8") as fh:
            pid = int(fh.read().strip() or 0)
    except (OSError, ValueError):
        raise BadInput(f"{prefix} exists and is not an environment; move it away") from None
    if pid and _pid_alive(pid):
        raise BadInput(f"environment {name!r} is being created (pid {pid})")
    shutil.rmtree(prefix)  # left by a create that was killed


def create(req: Request) -> m.EnvMeta:
    """Create the environment ``req`` asks for; nothing is left behind when it fails."""
    check_name(req.name)
    owner = check_owner(os.path.basename(req.root))
    uv = uv_bin()
    prefix = req.prefix or os.path.join(req.root, req.name)
    os.makedirs(os.path.dirname(prefix), exist_ok=True)
    with _interruptible():
        try:
            claim(prefix)
            meta = _build(req, uv, prefix, owner)
            m.write(meta)
            os.unlink(os.path.join(prefix, m.CREATING_FILE))
            return meta
        except BaseException:
            if _ours(prefix):
                shutil.rmtree(prefix, ignore_errors=True)
            raise


def _ours(prefix: str) -> bool:
    """Whether the half-made directory at ``prefix`` is this process's (its marker says so)."""
    try:
        with open(os.path.join(prefix, m.CREATING_FILE), encoding="utf-8") as fh:
            return fh.read().strip() == str(os.getpid())
    except OSError:
        return False


def _build(req: Request, uv: str, prefix: str, owner: str) -> m.EnvMeta:
    python = req.python
    if python is None:
        python = os.path.join(req.base.bin_dir, "python") if req.base else sys.executable
    cmd = [uv, "venv", "--no-config", "--no-project", "--quiet", "--allow-existing"]
    cmd += ["--python", python, "--prompt", req.name, prefix]
    try:
        _run(cmd, "uv venv")
    except HaienvError as exc:
        if req.python is not None:
            found = interpreters(uv)
            have = ", ".join(f"{v} ({p})" for v, p in found[:6]) or "none"
            raise BadInput(
                f"no Python {req.python!r} on this machine (no downloads here); found: {have}"
            ) from None
        raise exc
    version = venv_version(prefix)
    site = site_packages(prefix, version)
    if req.base is not None:
        if req.base.python.split(".")[:2] != version.split(".")[:2]:
            raise BadInput(
                f"Python {version} cannot extend {req.base.ref} (Python {req.base.python}); "
                "drop -p or add --no-extend"
            )
        with open(os.path.join(site, BASE_PTH), "w", encoding="utf-8") as fh:
            fh.write(base_pth(req.base.site_packages))
    if req.packages:
        install(uv, prefix, req.packages, find_links=req.find_links, no_index=req.no_index)
    return m.EnvMeta(
        name=req.name,
        owner=owner,
        prefix=prefix,
        python=version,
        site_packages=site,
        extends=m.Base(req.base.owner, req.base.name, req.base.prefix) if req.base else None,
        search_dirs=req.search_dirs,
        environment=dict(req.environment),
        created_at=time.time(),
        spec=req.spec,
        spec_digest=req.spec_digest,
    )


def install(
    uv: str,
    prefix: str,
    packages: Sequence[str],
    *,
    find_links: Sequence[str] = (),
    no_index: bool = False,
    extra: Sequence[str] = (),
) -> None:
    """``uv pip install`` into the environment at ``prefix`` (never into its base).

    Byte-code is compiled at install time: an environment on shared storage is then complete
    as made (importing from it, e.g. through an environment that extends it, writes nothing
    into it, and the first import of every rank is fast)."""
    cmd = [uv, "pip", "install", "--no-config", "--quiet", "--compile-bytecode", "--python"]
    cmd.append(os.path.join(prefix, "bin", "python"))
    for link in find_links:
        cmd += ["--find-links", link]
    if no_index:
        cmd.append("--no-index")
    _run([*cmd, *extra, *packages], "uv pip install")
