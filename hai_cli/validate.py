"""What a user may send: the one set of rules the API and the CLI apply to every field.

Pure functions over plain values (standard library only): each returns the cleaned value or
raises ``ValueError`` with one precise sentence naming the field. The server turns that into
a 422, the CLI into ``error: ...`` and exit 2.

Limits follow what the values become: argv and env reach ``execve`` (no NUL anywhere, one
string at most ``MAX_ARG_BYTES``, as Linux's MAX_ARG_STRLEN; all of them well under
ARG_MAX), names and labels are shown to other people in terminals (no control, format or
bidi characters), numbers go into 32-bit INTEGER columns.
"""

from __future__ import annotations

import math
import re
import unicodedata

MAX_INT32 = 2**31 - 1
MAX_ARG_BYTES = 128 * 1024 - 1  # Linux MAX_ARG_STRLEN, less the NUL
MAX_ARGV = 4096
MAX_ARGV_BYTES = 512 * 1024
MAX_ENV = 256
MAX_ENV_VALUE_BYTES = 32 * 1024
MAX_ENV_BYTES = 256 * 1024
MAX_NAME = 255
MAX_PATH_BYTES = 4095  # Linux PATH_MAX, less the NUL
MAX_IMAGE = 512
MAX_NODES = 10000
MAX_SUSPEND_AFTER_S = 366 * 86400.0
MAX_WATCHDOG_S = 30 * 86400  # the hang watchdog's limit per task (0: off)
KINDS = ("python", "bash", "exec")

_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$")
# Unicode categories never meant to be shown as text: controls (C0, DEL, C1), format
# characters (bidi overrides and isolates, zero-width ones, BOM), lone surrogates, and the
# line and paragraph separators.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def hidden_char(text: str) -> str | None:
    """The first character of ``text`` that is not plain visible text (or a space), if any."""
    for ch in text:
        if ch != " " and unicodedata.category(ch) in _HIDDEN:
            return ch
    return None


def _utf8_len(what: str, text: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError(f"{what} is not valid Unicode text (a lone surrogate)") from None


def _no_nul(what: str, text: str) -> None:
    if "\x00" in text:
        raise ValueError(f"{what} contains a NUL byte, which no process argument can carry")


def display_name(what: str, value: str, max_len: int = MAX_NAME) -> str:
    """A name people see in tables: 1..max_len characters, none of them hidden or control."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string")
    if not value.strip():
        raise ValueError(f"{what} must not be empty")
    if len(value) > max_len:
        raise ValueError(f"{what} is {len(value)} characters long; at most {max_len}")
    bad = hidden_char(value)
    if bad is not None:
        raise ValueError(
            f"{what} contains the control or formatting character U+{ord(bad):04X}; "
            "use visible characters only"
        )
    _utf8_len(what, value)
    return value


def argv(values: object) -> list[str]:
    """The command: 1..MAX_ARGV strings without NUL, each and all within execve's limits."""
    if not isinstance(values, list) or not values:
        raise ValueError("argv must be a non-empty list of strings")
    if len(values) > MAX_ARGV:
        raise ValueError(f"argv has {len(values)} elements; at most {MAX_ARGV}")
    total = 0
    for i, arg in enumerate(values):
        if not isinstance(arg, str):
            raise ValueError(f"argv[{i}] must be a string")
        _no_nul(f"argv[{i}]", arg)
        size = _utf8_len(f"argv[{i}]", arg)
        if size > MAX_ARG_BYTES:
            raise ValueError(f"argv[{i}] is {size} bytes long; at most {MAX_ARG_BYTES}")
        total += size + 1
    if not values[0]:
        raise ValueError("argv[0] (the program) must not be empty")
    if total > MAX_ARGV_BYTES:
        raise ValueError(f"argv is {total} bytes in all; at most {MAX_ARGV_BYTES}")
    return list(values)


def env(values: object) -> dict[str, str]:
    """Environment variables: shell-style names, values without NUL, bounded sizes."""
    if not isinstance(values, dict):
        raise ValueError("env must be an object of NAME: value strings")
    if len(values) > MAX_ENV:
        raise ValueError(f"env has {len(values)} variables; at most {MAX_ENV}")
    total = 0
    for key, value in values.items():
        if not isinstance(key, str) or not _ENV_KEY.fullmatch(key):
            raise ValueError(
                f"bad environment variable name {key!r}: use letters, digits and _ "
                "(not starting with a digit, at most 255)"
            )
        if not isinstance(value, str):
            raise ValueError(f"environment variable {key} must be a string")
        _no_nul(f"environment variable {key}", value)
        size = _utf8_len(f"environment variable {key}", value)
        if size > MAX_ENV_VALUE_BYTES:
            raise ValueError(
                f"environment variable {key} is {size} bytes long; at most {MAX_ENV_VALUE_BYTES}"
            )
        total += len(key) + size + 2
    if total > MAX_ENV_BYTES:
        raise ValueError(f"env is {total} bytes in all; at most {MAX_ENV_BYTES}")
    return dict(values)


def workdir(value: object) -> str:
    """An absolute path without control characters, at most PATH_MAX."""
    if not isinstance(value, str) or not value.startswith("/"):
        raise ValueError("workdir must be an absolute path")
    bad = hidden_char(value)
    if bad is not None:
        raise ValueError(f"workdir contains the control character U+{ord(bad):04X}")
    size = _utf8_len("workdir", value)
    if size > MAX_PATH_BYTES:
        raise ValueError(f"workdir is {size} bytes long; at most {MAX_PATH_BYTES}")
    return value


def whole(what: str, value: object, low: int, high: int) -> int:
    """A whole number within [low, high] (booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be a whole number")
    if not low <= value <= high:
        raise ValueError(f"{what} must be between {low} and {high}, got {value}")
    return value


def seconds(what: str, value: object, high: float) -> float:
    """A finite, non-negative number of seconds up to ``high``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number of seconds")
    if not math.isfinite(value) or not 0 <= value <= high:
        raise ValueError(f"{what} must be between 0 and {high:.0f} seconds, got {value}")
    return float(value)


def kind(value: object) -> str:
    if value not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    return str(value)


def image(value: object) -> str:
    """A container image reference: registry/name:tag@digest characters only."""
    if not isinstance(value, str) or not _IMAGE.fullmatch(value) or len(value) > MAX_IMAGE:
        raise ValueError(
            f"bad image {value!r}: letters, digits and . _ / : @ + -, at most {MAX_IMAGE}"
        )
    return value


def program_path(path: str) -> str:
    """A file name the CLI sends: it must be text the API can carry (UTF-8)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            f"the path {path.encode('utf-8', 'surrogateescape')!r} is not valid UTF-8; "
            "the API carries text only: rename the file or reach it through a UTF-8 symlink"
        ) from None
    _no_nul("the path", path)
    return path
