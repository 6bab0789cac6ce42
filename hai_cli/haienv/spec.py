"""Environment specs (``environments/*.toml``): parsed and checked, errors name line and key.

A spec::

    name = "base"                 # the environment's name (optional: the file's stem)
    python = "3.11"               # optional: a version, a name on PATH or a path
    packages = ["numpy>=1.26"]    # optional: requirements installed with uv
    search_dirs = ["/opt/lib"]    # optional: extra PYTHONPATH entries
    find_links = ["/wheels"]      # optional: local wheel directories for the install
    no_index = false              # optional: install from find_links only
    [environment]                 # optional: extra variables set on activation
    OMP_NUM_THREADS = "4"
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

from hai_cli.haienv.errors import BadInput
from hai_cli.haienv.names import check_name

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
KNOWN = ("name", "python", "packages", "search_dirs", "find_links", "no_index", "environment")


class SpecError(BadInput):
    """A spec file that does not parse or has a bad value."""


@dataclass(frozen=True, slots=True)
class EnvSpec:
    name: str
    python: str | None = None
    packages: tuple[str, ...] = ()
    search_dirs: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False
    environment: dict[str, str] = field(default_factory=dict)


def key_line(text: str, key: str) -> int | None:
    """The line (1-based) where ``key`` is set in TOML ``text``, when it can be found."""
    pattern = re.compile(rf"^\s*(?:\"{re.escape(key)}\"|'{re.escape(key)}'|{re.escape(key)})\s*=")
    header = re.compile(rf"^\s*\[\s*{re.escape(key)}\s*\]")
    for i, line in enumerate(text.splitlines(), 1):
        if pattern.match(line) or header.match(line):
            return i
    return None


def parse_spec(text: str, source: str = "spec", default_name: str | None = None) -> EnvSpec:
    """Parse a spec's TOML ``text``; ``source`` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = found[1] if found else str(max(text.count("\n"), 1))
        raise SpecError(f"{source}:{line}: not valid TOML: {exc}") from None

    def bad(key: str, why: str) -> SpecError:
        line = key_line(text, key)
        where = f"{source}:{line}" if line else source
        return SpecError(f"{where}: key {key!r} {why}")

    for key in data:
        if key not in KNOWN:
            raise bad(key, f"is not a spec key (known: {', '.join(KNOWN)})")
    name = data.get("name", default_name)
    if not isinstance(name, str):
        raise bad("name", "must be a string" if "name" in data else "is missing")
    try:
        check_name(name)
    except BadInput as exc:
        raise bad("name", f"is bad: {exc}") from None
    python = data.get("python")
    if python is not None and (not isinstance(python, str) or not _printable(python)):
        raise bad("python", "must be a version, a name or a path (a string)")
    no_index = data.get("no_index", False)
    if not isinstance(no_index, bool):
        raise bad("no_index", "must be true or false")
    env = data.get("environment", {})
    if not isinstance(env, dict):
        raise bad("environment", 'must be a table of NAME = "value"')
    for k, v in env.items():
        if not _KEY.fullmatch(k):
            raise bad("environment", f"has a bad variable name {k!r}")
        if not isinstance(v, str) or "\x00" in v:
            raise bad("environment", f"value of {k} must be a string without NUL")
    return EnvSpec(
        name=name,
        python=python,
        packages=_strings(data, "packages", bad),
        search_dirs=_strings(data, "search_dirs", bad, absolute=True),
        find_links=_strings(data, "find_links", bad),
        no_index=no_index,
        environment=dict(env),
    )


def _printable(text: str) -> bool:
    return bool(text) and text.isprintable()


def _strings(data: dict[str, Any], key: str, bad: Any, absolute: bool = False) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and _printable(v) for v in value):
        raise bad(key, "must be a list of non-empty strings")
    if absolute and not all(v.startswith("/") for v in value):
        raise bad(key, "must list absolute paths")
    return tuple(value)
