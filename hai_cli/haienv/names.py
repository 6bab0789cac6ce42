"""Environment and owner names, and ``NAME[owner]`` references (pure)."""

from __future__ import annotations

import re

from hai_cli.haienv.errors import BadInput

MAX_NAME = 64
PLATFORM_OWNER = "platform"  # the owner of the platform's base environments
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_OWNER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._+-]*$")  # user names may start with '_'
_REF = re.compile(r"^(?P<name>[^\[\]]*)\[(?P<owner>[^\[\]]*)\]$")


class BadName(BadInput):
    """A name or reference that cannot name an environment."""


def check_name(name: str, what: str = "environment name") -> str:
    """``name`` if it is a valid environment (or owner) name, else :class:`BadName`.

    1 to 64 characters: letters, digits, ``.``, ``_``, ``+``, ``-``; starting with a letter or
    a digit; no ``..`` (so never ``/``, spaces, control characters, ``[`` or ``=``).
    """
    if not isinstance(name, str) or not name:
        raise BadName(f"empty {what}")
    if len(name) > MAX_NAME:
        raise BadName(f"{what} {name[:40]!r}... is {len(name)} characters; at most {MAX_NAME}")
    pattern = _OWNER if what.startswith("owner") else _NAME
    if not pattern.fullmatch(name) or ".." in name:
        raise BadName(
            f"bad {what} {name!r}: use letters, digits, '.', '_', '+' and '-', starting with a "
            "letter or digit (no '/', '..', spaces or control characters)"
        )
    return name


def check_owner(owner: str) -> str:
    return check_name(owner, "owner name")


def parse_ref(ref: str) -> tuple[str, str | None]:
    """``NAME`` or ``NAME[owner]`` -> (name, owner or None), both checked."""
    m = _REF.fullmatch(ref)
    if m is None:
        return check_name(ref), None
    return check_name(m["name"]), check_owner(m["owner"])


def ref(name: str, owner: str | None) -> str:
    """The display form ``NAME[owner]`` (``NAME`` without an owner)."""
    return f"{name}[{owner}]" if owner else name
