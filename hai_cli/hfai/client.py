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


class EXP_PRIORITY:  # the original's name
    """The priority levels by name, as the original's ``hfai.client.EXP_PRIORITY``."""

    EXTREME_HIGH = 50
    VERY_HIGH = 40
    HIGH = 30
    ABOVE_NORMAL = 20
    NORMAL = 10
    BELOW_NORMAL = 5
    LOW = 0
    AUTO = -1


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
