"""Short human durations, shared by the CLI, the TUI and Studio (standard library only)."""

from __future__ import annotations


def duration(seconds: float) -> str:
    """A short duration: 42s, 5m07s, 17m, 3h05m, 2d04h."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s" if s < 600 else f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"
