"""Versioned builds from specs (``haienv build``): what hai-up runs for the platform's base
environments, idempotent and safe for the tasks that use the current version.

Layout in an owner's root::

    {root}/{name}                   -> .builds/{name}-{digest}   (relative symlink: current)
    {root}/.builds/{name}-{digest}/    a venv; haienv.json records spec_digest

An unchanged spec (same digest) is skipped. A changed one is made beside the current version
and the link is then replaced in one rename, so a reader sees the old version or the new one,
never a half-made one; a failed build removes its own directory and leaves the link alone.
Older versions are kept: a running task resolved the link when it started (its ``VIRTUAL_ENV``
is the versioned directory), and an environment extending the base names the versioned
site-packages in its ``.pth``; removing them is the operator's call.

:func:`spec_digest` and :func:`plan` are pure; the rest does the file work.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

from hai_cli.haienv import meta as m
from hai_cli.haienv.errors import HaienvError
from hai_cli.haienv.spec import EnvSpec

BUILDS_DIR = ".builds"
LOCK_FILE = ".lock"
DIGEST_FORMAT = 1
Kind = Literal["absent", "link", "dir", "other"]
Action = Literal["build", "skip", "rebuild", "refuse"]


def default_python() -> str:
    """The interpreter a spec without ``python`` is built with (this one), as it is named in
    the digest: a new image with another Python rebuilds the environments."""
    return f"{sys.executable} {platform.python_version()}"


def spec_digest(spec: EnvSpec, default_python: str) -> str:
    """Hash of what the environment is made from: every value of the spec (not its comments
    or layout) and the builder's interpreter, the one used when the spec names none. It is
    part of it even when the spec names a version: a new image (another Python) rebuilds,
    rather than keep an environment whose interpreter may be gone."""
    data = {
        "format": DIGEST_FORMAT,
        "name": spec.name,
        "python": spec.python,
        "builder": default_python,
        "packages": list(spec.packages),
        "search_dirs": list(spec.search_dirs),
        "find_links": list(spec.find_links),
        "no_index": spec.no_index,
        "environment": dict(sorted(spec.environment.items())),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Current:
    """What ``{root}/{name}`` is now: its kind and, when it leads to one, the environment."""

    kind: Kind
    meta: m.EnvMeta | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    action: Action
    why: str


def plan(name: str, digest: str, current: Current) -> Plan:
    """What a build of ``name`` with ``digest`` does, given what is there (pure)."""
    meta = current.meta
    if current.kind == "absent":
        return Plan("build", "no environment of that name yet")
    if meta is not None and meta.spec_digest == digest:
        return Plan("skip", f"spec unchanged (digest {digest})")
    if current.kind == "link":
        if meta is None:
            return Plan("build", "the link leads to no environment (its version was removed)")
        return Plan("rebuild", f"spec changed (digest {meta.spec_digest or '-'} -> {digest})")
    made = "made by haienv create, not by a build" if meta else "not an environment"
    return Plan(
        "refuse",
        f"{name} exists and is {made}; remove it (haienv remove {name}) for builds to manage it",
    )


def version_dir(root: str, name: str, digest: str) -> str:
    return os.path.join(root, BUILDS_DIR, f"{name}-{digest}")


def inspect(root: str, name: str) -> Current:
    """What ``{root}/{name}`` is (reads the link and the metadata it leads to)."""
    path = os.path.join(root, name)
    if os.path.islink(path):
        try:
            return Current("link", m.read(path))
        except HaienvError:
            return Current("link")
    if os.path.isdir(path):
        try:
            return Current("dir", m.read(path))
        except HaienvError:
            return Current("dir")
    return Current("other") if os.path.lexists(path) else Current("absent")


def switch(root: str, name: str, target: str) -> None:
    """Point ``{root}/{name}`` at ``target`` in one rename (it must be absent or a link)."""
    link = os.path.join(root, name)
    tmp = os.path.join(root, f".{name}.link-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    os.symlink(os.path.relpath(target, root), tmp)
    try:
        os.replace(tmp, link)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def locked(root: str) -> Iterator[None]:
    """One build at a time in ``root`` (another waits, then finds the work done)."""
    builds = os.path.join(root, BUILDS_DIR)
    os.makedirs(builds, exist_ok=True)
    with open(os.path.join(builds, LOCK_FILE), "a", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _os_error(exc: OSError) -> str:
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


@dataclass(frozen=True, slots=True)
class Result:
    """One spec's outcome: built, rebuilt, skipped or failed (``error`` says why)."""

    name: str
    owner: str
    status: Literal["built", "rebuilt", "skipped", "failed"]
    digest: str
    prefix: str | None = None  # the current version after the build
    previous: str | None = None  # the version it replaced (rebuilt)
    seconds: float = 0.0
    error: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def line(self) -> str:
        ref = f"{self.name}[{self.owner}]"
        if self.status == "failed":
            return f"{ref}: build failed: {self.error}"
        if self.status == "skipped":
            return f"{ref}: unchanged (digest {self.digest}), kept {self.prefix}"
        was = f", replacing {self.previous}" if self.previous else ""
        return f"{ref}: {self.status} in {self.seconds:.1f} s at {self.prefix}{was}"


def build(
    spec: EnvSpec,
    root: str,
    source: str | None = None,
    *,
    find_links: Sequence[str] = (),
    no_index: bool = False,
) -> Result:
    """Bring ``{root}/{spec.name}`` to ``spec`` (see the module). Bad specs are the caller's
    (parse first); a failing build is a ``failed`` result, never a half-made version."""
    from hai_cli.haienv import create as cr

    owner = os.path.basename(root)
    digest = spec_digest(spec, default_python())
    start = time.monotonic()
    with locked(root):
        current = inspect(root, spec.name)
        decided = plan(spec.name, digest, current)
        old = current.meta.prefix if current.meta else None
        if decided.action == "skip":
            return Result(spec.name, owner, "skipped", digest, prefix=old)
        if decided.action == "refuse":
            return Result(spec.name, owner, "failed", digest, prefix=old, error=decided.why)
        target = version_dir(root, spec.name, digest)
        try:
            made = m.read(target)
            if made is None and os.path.lexists(target):
                # half made by a build that was killed: under the lock nobody else builds (a
                # pid in its marker means nothing here: builds run in other pid namespaces)
                shutil.rmtree(target)
            if made is None or made.spec_digest != digest:  # else: made before, switch back
                cr.create(
                    cr.Request(
                        name=spec.name,
                        root=root,
                        python=spec.python,
                        packages=spec.packages,
                        find_links=tuple(find_links) + spec.find_links,
                        no_index=no_index or spec.no_index,
                        search_dirs=spec.search_dirs,
                        environment=tuple(spec.environment.items()),
                        spec=source,
                        spec_digest=digest,
                        prefix=target,
                    )
                )
            switch(root, spec.name, target)
        except (HaienvError, OSError) as exc:
            why = str(exc) if isinstance(exc, HaienvError) else _os_error(exc)
            return Result(
                spec.name, owner, "failed", digest, prefix=old, error=" ".join(why.split())
            )
    status = "rebuilt" if decided.action == "rebuild" else "built"
    return Result(
        spec.name, owner, status, digest, prefix=target, previous=old,
        seconds=time.monotonic() - start,
    )  # fmt: skip
