"""The local side of a workspace: its settings file and a hashed scan of its files.

``hai-cli workspace init NAME`` writes ``.hfai/workspace.yml`` (``name``, ``remote``,
``server``) in the directory; every command run inside it (or below it) finds it. The scan
keeps a hash cache in ``.hfai/index.json`` ({path: [size, mtime_ns, sha256]}), so a second
push hashes only the files whose size or mtime changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from hai_cli.control import write_atomic
from hai_cli.workspace import paths
from hai_cli.workspace.diff import Entry
from hai_cli.workspace.ignore import Ignore

META, CONFIG = paths.META, paths.CONFIG
CACHE = "index.json"


@dataclass(frozen=True, slots=True)
class Config:
    root: Path
    name: str
    remote: str
    server: str


def find(start: Path) -> Config | None:
    """The workspace ``start`` is in (its settings file in ``start`` or a parent), or None."""
    found = paths.config_file(str(start))
    if found is None:
        return None
    cfg = Path(found)
    values: dict[str, str] = {}
    with contextlib.suppress(OSError, UnicodeDecodeError):
        for line in cfg.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition(":")
            if sep:
                values[key.strip()] = value.strip()
    name = values.get("name", "")
    try:
        paths.workspace_name(name)
    except ValueError:
        return None
    return Config(cfg.parent.parent, name, values.get("remote", ""), values.get("server", ""))


def write_config(root: Path, name: str, remote: str, server: str) -> Config:
    (root / META).mkdir(exist_ok=True)
    write_atomic(root / META / CONFIG, f"name: {name}\nremote: {remote}\nserver: {server}\n")
    return Config(root, name, remote, server)


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@dataclass(slots=True)
class Scan:
    files: dict[str, Entry]
    skipped: list[str]  # symlinks, special files, names no workspace can hold


def scan(root: Path, ignore: Ignore) -> Scan:
    """Every regular file under ``root`` that ``ignore`` keeps: {path: (sha256, size, x)}."""
    cache_path = root / META / CACHE
    try:
        cache = json.loads(cache_path.read_text())
        cache = cache if isinstance(cache, dict) else {}
    except (OSError, ValueError):
        cache = {}
    fresh: dict[str, list[object]] = {}
    out = Scan({}, [])
    for folder, dirs, names in os.walk(root):
        rel_dir = os.path.relpath(folder, root)
        prefix = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        dirs[:] = sorted(d for d in dirs if not ignore(prefix + d))
        for name in sorted(names) + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            rel = prefix + name
            if ignore(rel):
                continue
            full = os.path.join(folder, name)
            try:
                st = os.lstat(full)
                paths.rel_path(rel)
            except (OSError, ValueError):
                out.skipped.append(rel)
                continue
            if not stat.S_ISREG(st.st_mode):
                out.skipped.append(rel)
                continue
            cached = cache.get(rel)
            if isinstance(cached, list) and cached[:2] == [st.st_size, st.st_mtime_ns]:
                digest = str(cached[2])
            else:
                try:
                    digest = sha256_file(full)
                except OSError:
                    out.skipped.append(rel)
                    continue
            fresh[rel] = [st.st_size, st.st_mtime_ns, digest]
            out.files[rel] = (digest, st.st_size, bool(st.st_mode & 0o100))
    if fresh != cache:
        with contextlib.suppress(OSError):
            (root / META).mkdir(exist_ok=True)
            write_atomic(cache_path, json.dumps(fresh, separators=(",", ":")))
    return out
