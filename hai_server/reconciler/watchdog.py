"""Pure rules of the hang watchdog: is a running attempt hung, or is one of its nodes dead?

Two signals come from every rank's wrapper (``hai_cli.rankrun``) through the control
directory, ``control/heartbeat.<rank>`` = "<pulse time> <time of the command's last output>":

* the **pulse** is written every ``heartbeat_s`` by a thread of the wrapper, whatever the
  command does: it proves the rank's wrapper, and so its node and its storage, are alive;
* the **last output** is when the command last printed a byte.

So, for a rank the backend reports running:

=====================================  ==============================================
pulse fresh, rank 0 printed recently    healthy
pulse fresh, rank 0 silent >= limit     **hung** (the process, not its node): event
                                        ``watchdog`` and the configured action
pulse older than heartbeat_timeout_s    **dead node** (or a dead wrapper): event
                                        ``heartbeat_lost``, requeued like a node failure;
                                        never counted as a hang
no pulse ever (an old wrapper)          cannot tell: nothing is done
=====================================  ==============================================

The output watched is rank 0's (the lowest running rank's), as in the original platform:
ranks other than 0 often print nothing at all, and a rank that hangs stalls rank 0 in its
next collective. The limit is the one set from code (``set_watchdog_time``), else the task's
``--watchdog``, else the platform's default; 0 turns the watchdog off. An event fires once
per hang (``hung_at``); when rank 0 prints again it is cleared with ``watchdog_resumed``.
No I/O and no clock: ``now`` is an argument (table tests run on a virtual clock).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from hai_server.backends.base import RankPulse

Action = Literal["notify", "stop", "restart"]
ACTIONS: tuple[Action, ...] = ("notify", "stop", "restart")
MAX_WATCHDOG_S = 30 * 86400  # a longer limit (from code) is taken as this


@dataclass(frozen=True, slots=True)
class WatchdogPolicy:
    default_s: float = 1800.0
    action: Action = "notify"
    heartbeat_timeout_s: float = 60.0


@dataclass(frozen=True, slots=True)
class WatchVerdict:
    kind: Literal["quiet", "hung", "resumed", "dead"] = "quiet"
    action: Action | None = None  # for "hung": what to do
    event: tuple[str, str] | None = None  # (kind, message) to record
    ranks: tuple[int, ...] = ()  # the hung rank, or the ranks without pulse


def limit_s(task_s: int | None, code_s: int | None, default_s: float) -> float:
    """The silence allowed: from code, else the task's, else the default (0: off)."""
    if code_s is not None:
        return float(min(max(code_s, 0), MAX_WATCHDOG_S))
    if task_s is not None:
        return float(task_s)
    return default_s


def _secs(value: float) -> str:
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


def watch(
    *,
    running: Sequence[tuple[int, str]],
    pulses: Sequence[RankPulse] | None,
    started_at: float,
    hung_at: float | None,
    task_s: int | None,
    code_s: int | None,
    now: float,
    policy: WatchdogPolicy,
) -> WatchVerdict:
    """The verdict on one running attempt. ``running``: (rank, node) of the ranks the backend
    reports running; ``hung_at``: when the watchdog last fired for this task (an earlier
    attempt's does not count)."""
    if pulses is None or not running:
        return WatchVerdict()
    by_rank = {p.rank: p for p in pulses}
    beating = [(rank, node) for rank, node in running if rank in by_rank]
    if not beating:  # nothing beats yet (just started, or a wrapper without heartbeats)
        return WatchVerdict()
    dead = [
        (rank, node)
        for rank, node in beating
        if now - by_rank[rank].heartbeat_at > policy.heartbeat_timeout_s
    ]
    if dead:
        names = ", ".join(f"rank {r} on {n}" for r, n in dead)
        age = max(now - by_rank[r].heartbeat_at for r, _ in dead)
        return WatchVerdict(
            "dead",
            event=(
                "heartbeat_lost",
                f"{names}: no heartbeat for {_secs(age)} (limit "
                f"{_secs(policy.heartbeat_timeout_s)}): its node or wrapper is gone, not a "
                "hang; stopping the attempt to requeue it",
            ),
            ranks=tuple(r for r, _ in dead),
        )
    fired = hung_at is not None and hung_at >= started_at
    limit = limit_s(task_s, code_s, policy.default_s)
    rank, node = min(beating)
    pulse = by_rank[rank]
    silent = now - pulse.output_at
    if fired and (limit <= 0 or pulse.output_at > (hung_at or 0.0)):
        return WatchVerdict(  # printed since the watchdog fired (or turned off): cleared
            "resumed",
            event=(
                "watchdog_resumed",
                f"rank {rank} printed again" if limit > 0 else "watchdog turned off",
            ),
            ranks=(rank,),
        )
    if limit > 0 and silent >= limit and not fired:
        return WatchVerdict(
            "hung",
            action=policy.action,
            event=(
                "watchdog",
                f"rank {rank} on {node} printed nothing for {_secs(silent)} (watchdog "
                f"{_secs(limit)}) while its heartbeat goes on ({_secs(now - pulse.heartbeat_at)}"
                f" ago): the process is hung, not its node; action: {policy.action}",
            ),
            ranks=(rank,),
        )
    return WatchVerdict()
