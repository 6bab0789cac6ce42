"""Finding, listing and removing environments on disk (reads the metadata files)."""

from __future__ import annotations

import contextlib
import os

from hai_cli.haienv import meta as m
from hai_cli.haienv.errors import HaienvError, NotFound
from hai_cli.haienv.names import PLATFORM_OWNER, check_name, check_owner, ref


def owners(envs_root: str) -> list[str]:
    """The user roots under ``envs_root`` (sorted; directories with valid owner names)."""
    try:
        entries = os.scandir(envs_root)
    except (FileNotFoundError, NotADirectoryError):
        return []
    out = []
    with entries:
        for e in entries:
            with contextlib.suppress(HaienvError):
                if e.is_dir():
                    out.append(check_owner(e.name))
    return sorted(out)


def list_owner(envs_root: str, owner: str) -> list[m.EnvMeta]:
    """The environments of ``owner`` (complete ones: with metadata), by name."""
    root = os.path.join(envs_root, owner)
    try:
        entries = os.scandir(root)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []
    found = []
    with entries:
        for e in entries:
            if e.name.startswith("."):
                continue
            with contextlib.suppress(HaienvError, PermissionError):
                meta = m.read(e.path)
                if meta is not None:
                    found.append(meta)
    return sorted(found, key=lambda x: x.name)


def list_envs(envs_root: str, only: list[str] | None = None) -> list[m.EnvMeta]:
    """Every environment of ``only`` (owners; all of them when None)."""
    out: list[m.EnvMeta] = []
    for owner in only if only is not None else owners(envs_root):
        out += list_owner(envs_root, owner)
    return out


def at(envs_root: str, owner: str, name: str) -> m.EnvMeta | None:
    return m.read(os.path.join(envs_root, check_owner(owner), check_name(name)))


def resolve(envs_root: str, name: str, owner: str | None, me: str) -> m.EnvMeta:
    """The environment ``name`` of ``owner``; without an owner this user's, else the
    platform's, else the first other user's that has one."""
    if owner is not None:
        found = at(envs_root, owner, name)
        if found is None:
            raise NotFound(f"no environment {ref(name, owner)} under {envs_root}")
        return found
    for candidate in [me, PLATFORM_OWNER, *owners(envs_root)]:
        found = at(envs_root, candidate, name)
        if found is not None:
            return found
    raise NotFound(f"no environment {name!r} (looked in {envs_root}; see haienv list -a)")


def build_link(meta: m.EnvMeta) -> str | None:
    """The link ``{root}/{name}`` of a version made by ``haienv build``
    (``{root}/.builds/{name}-{digest}``), when it points at that version."""
    builds = os.path.dirname(meta.prefix)
    if os.path.basename(builds) != ".builds":
        return None
    link = os.path.join(os.path.dirname(builds), meta.name)
    if os.path.islink(link) and os.path.realpath(link) == os.path.realpath(meta.prefix):
        return link
    return None


def remove(meta: m.EnvMeta) -> None:
    """Delete the environment: metadata first, so a half-removed one is never listed; then
    the link of a built one (older built versions stay: tasks may still run in them)."""
    import shutil

    link = build_link(meta)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(meta.prefix, m.META_FILE))
    shutil.rmtree(meta.prefix, ignore_errors=True)
    if os.path.exists(meta.prefix):
        raise HaienvError(f"could not remove all of {meta.prefix}")
    if link is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(link)
