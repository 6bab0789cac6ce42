"""``.hfignore``: which files of a workspace never move (standard library only).

One pattern a line (``#`` comments, blank lines skipped), matched with fnmatch: a pattern
without ``/`` matches any part of a path (a directory name ignores everything under it), a
pattern with ``/`` matches the whole relative path or a directory prefix of it. The defaults
below always apply; ``.hfignore`` in the workspace's root adds to them.
"""

from __future__ import annotations

import fnmatch
import os
import re

DEFAULTS = (
    ".git",
    ".hfai",  # this directory's workspace settings and hash cache
    "__pycache__",
    "*.pyc",
    "*.pyo",
    ".venv",
    ".vscode",
    ".idea",
    ".ipynb_checkpoints",
    ".DS_Store",
    "*.swp",
)
FILE = ".hfignore"


_NEVER = re.compile(r"(?!)")


def _one(patterns: list[str]) -> re.Pattern[str]:
    """One compiled regex for many fnmatch patterns (matching is per file: keep it cheap)."""
    return (
        re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))
        if patterns
        else _NEVER
    )


class Ignore:
    def __init__(self, patterns: tuple[str, ...] = DEFAULTS) -> None:
        self._names = _one([p for p in patterns if "/" not in p])
        self._paths = _one([p.strip("/") for p in patterns if "/" in p])

    def __call__(self, rel: str) -> bool:
        parts = rel.split("/")
        if any(self._names.match(part) for part in parts):
            return True
        if self._paths is _NEVER:
            return False
        return any(self._paths.match("/".join(parts[: i + 1])) for i in range(len(parts)))


def parse(text: str) -> tuple[str, ...]:
    lines = (line.strip() for line in text.splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


def load(root: str, use_file: bool = True) -> Ignore:
    """The defaults plus ``root/.hfignore`` (when present and ``use_file``)."""
    extra: tuple[str, ...] = ()
    if use_file:
        try:
            with open(os.path.join(root, FILE), encoding="utf-8") as fh:
                extra = parse(fh.read())
        except (OSError, UnicodeDecodeError):
            extra = ()
    return Ignore(DEFAULTS + extra)
