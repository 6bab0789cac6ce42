"""The rules for workspace names and the relative paths of their files (standard library only).

Shared by the CLI and the server: the server applies them to every path it receives, before
it touches the disk (and then walks directories without following symlinks).
"""

from __future__ import annotations

import os
import re

META = ".hfai"  # a workspace's own folder (the original's name)
CONFIG = "workspace.yml"  # its settings file, in META
MAX_PATH_BYTES = 4096
MAX_PART_BYTES = 255
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


# names the platform uses next to workspaces in {workspaces root}/{user}/ (Jupyter keeps
# notebooks and settings in {workspace}/{user}/jupyter, as the original did)
RESERVED = frozenset({"jupyter"})


def workspace_name(name: object) -> str:
    """A workspace NAME: 1-64 of letters, digits, ``. _ -``, not starting with ``.``/``-``,
    and not a reserved name."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"bad workspace name {name!r}: 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if name.lower() in RESERVED:
        raise ValueError(
            f"bad workspace name {name!r}: reserved (Jupyter keeps its notebooks in "
            f"{{workspace}}/{{user}}/{name.lower()}); choose another name"
        )
    return name


def config_file(start: str) -> str | None:
    """The settings file of the workspace ``start`` is in (in ``start`` or a parent), or None:
    the cheap test a submission makes before it imports the sync machinery."""
    here = os.path.abspath(start)
    while True:
        candidate = os.path.join(here, META, CONFIG)
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def sha256_hex(value: object) -> str:
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise ValueError("a content hash is 64 lowercase hex digits (sha256)")
    return value


def rel_path(path: object) -> str:
    """A file's path inside a workspace: relative, ``/``-separated, no ``.``/``..``/empty
    parts, no control characters (NUL included), no backslash; at most 4096 bytes."""
    if not isinstance(path, str) or not path:
        raise ValueError("a workspace path must be a non-empty string")
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise ValueError(f"path longer than {MAX_PATH_BYTES} bytes")
    bad = next((ch for ch in path if ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F), None)
    if bad is not None:
        raise ValueError(f"path {path[:80]!r} contains the control character U+{ord(bad):04X}")
    if "\\" in path:
        raise ValueError(f"path {path[:80]!r} contains a backslash")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in path):
        raise ValueError(f"path {path[:80]!r} is not valid UTF-8")
    if path.startswith("/"):
        raise ValueError(f"path {path[:80]!r} is absolute: workspace paths are relative")
    for part in path.split("/"):
        if part in ("", ".", ".."):
            raise ValueError(f"path {path[:80]!r} has an empty, '.' or '..' part")
        if len(part.encode()) > MAX_PART_BYTES:
            raise ValueError(f"a part of path {path[:80]!r} is longer than {MAX_PART_BYTES} bytes")
    return path
