"""A plain, fast text table for the hottest command (``hai-cli list``).

Rich costs ~130 ms to import, half the latency budget of ``hai-cli list``; this module uses
nothing but the standard library. Colours only on a terminal, and never with NO_COLOR.
"""

from __future__ import annotations

import os
import sys

COLORS = {
    "queued": "33",
    "starting": "36",
    "running": "32",
    "suspending": "35",
    "suspended": "35",
    "succeeded": "1;32",
    "failed": "1;31",
    "stopped": "2",
}


def use_color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def format_table(
    headers: list[str],
    rows: list[list[str]],
    *,
    width: int = 80,
    shrink: int = 1,
    right: frozenset[int] = frozenset(),
    color_col: int | None = None,
) -> str:
    """Columns separated by two spaces; column ``shrink`` is cut with … to fit ``width``."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    total = sum(widths) + 2 * (len(widths) - 1)
    if total > width:
        widths[shrink] = max(len(headers[shrink]), widths[shrink] - (total - width))
    color = use_color()

    def line(cells: list[str], header: bool = False) -> str:
        out = []
        for i, cell in enumerate(cells):
            w = widths[i]
            text = cell if len(cell) <= w else cell[: max(w - 1, 0)] + "…"
            text = text.rjust(w) if i in right else text.ljust(w)
            if color and not header and i == color_col and cell in COLORS:
                text = f"\x1b[{COLORS[cell]}m{text}\x1b[0m"
            out.append(text)
        return "  ".join(out).rstrip()

    lines = [line(headers, header=True)]
    lines += [line(r) for r in rows]
    return "\n".join(lines)
