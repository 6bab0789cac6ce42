"""Text other people wrote, made safe to print on a terminal.

Task names, commands, event messages and user names come from users. Printed raw, an ESC or a
C1 CSI (U+009B) drives whoever's terminal shows them (retitles it, clears it, fakes lines) and
a bidi override (U+202E) makes a name read backwards. ``shown`` replaces every such character
with a visible escape (``\\x1b``, ``\\u202e``); plain text, spaces and non-Latin letters pass
unchanged. Used by every CLI and TUI output of user-controlled text.
"""

from __future__ import annotations

import unicodedata

_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def shown(text: object) -> str:
    """``text`` with control, format, separator and lone-surrogate characters escaped."""
    s = "" if text is None else str(text)
    if s.isprintable():  # the fast path: nothing to escape (spaces are printable)
        return s
    return "".join(
        _escape(ch) if ch != " " and unicodedata.category(ch) in _HIDDEN else ch for ch in s
    )
