"""User-controlled text printed on a terminal: control, C1, bidi and separator characters come
out as visible escapes; ordinary text (accents, CJK, spaces) is unchanged."""

from __future__ import annotations

import pytest

from hai_cli.safe_text import shown

CASES = [
    ("plain name", "plain name"),
    ("résumé 训练", "résumé 训练"),
    ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
    ("\x1b[2J", "\\x1b[2J"),
    ("a\u009b31mb", "a\\x9b31mb"),
    ("evil\u202etxt.exe", "evil\\u202etxt.exe"),
    ("a\u2066b\u2069", "a\\u2066b\\u2069"),
    ("nul\x00", "nul\\x00"),
    ("cr\rlf\n", "cr\\x0dlf\\x0a"),
    ("\ud800", "\\ud800"),
    (None, ""),
    (42, "42"),
]


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_shown(raw: object, expected: str) -> None:
    assert shown(raw) == expected


def test_shown_output_has_no_terminal_control_left() -> None:
    out = shown("".join(map(chr, range(0x00, 0xA0))) + "\u200e\u202a\u202e\u2028\u2029\ufeff")
    assert out.isprintable()
