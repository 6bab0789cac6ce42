"""``hfai.client``: the original SDK's names over :mod:`hai_cli.runtime` (standard library)."""

from __future__ import annotations

from hai_cli.runtime import (
    PlatformUnreachable,
    get_whole_life_state,
    go_suspend,
    receive_suspend_command,
    set_priority,
    set_watchdog_time,
    set_whole_life_state,
)
from hai_cli.scheduler.model import AUTO, Priority

# the original's ``hfai.client.EXP_PRIORITY``: the scheduler's levels by name, and AUTO
EXP_PRIORITY = type(
    "EXP_PRIORITY", (), {p.name: int(p) for p in Priority} | {"AUTO": AUTO, "__slots__": ()}
)


__all__ = [
    "EXP_PRIORITY",
    "PlatformUnreachable",
    "get_whole_life_state",
    "go_suspend",
    "receive_suspend_command",
    "set_priority",
    "set_watchdog_time",
    "set_whole_life_state",
]
