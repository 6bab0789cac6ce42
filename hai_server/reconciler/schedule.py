"""Pure phase: a :class:`Plan` -> the guarded writes that reserve its starts and suspends, and
the hold reasons and queue positions worth writing. No I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from hai_cli.scheduler.model import REASON_START_FAILED, Hold, Plan
from hai_server.domain import states as st
from hai_server.domain.changes import ChangeSet, write_of
from hai_server.domain.draft import Draft
from hai_server.domain.storage import StorageRow
from hai_server.reconciler.active import begin_suspend
from hai_server.reconciler.launch import start_write, task_mounts

# A start moves every task behind it one place, so at scale most queue positions change on
# every tick. A new hold reason or detail, and a new task's first position, are written at
# once; positions that only moved are written for at most this many tasks a tick, nearest
# the front of their queue first (the places people watch), so a tick's writes stay bounded.
MOVED_POSITIONS_PER_TICK = 2000

Shown = Mapping[int, tuple[str, int | None, str]]


def plan_changes(
    plan: Plan,
    rows: Mapping[int, Any],
    node_gpus: Mapping[str, tuple[int, int]],
    now: float,
    grace_s: float,
    log_root: str,
    envs_root: str = "",
    storage: Sequence[StorageRow] = (),
    groups: Mapping[str, tuple[str, ...]] | None = None,
) -> ChangeSet:
    """Writes for the plan's suspends and starts. ``rows``: the tasks they name, read after
    the plan; a task whose row no longer is what the plan saw is left for the next tick."""
    out = ChangeSet()
    for d in plan.suspends():
        row = rows.get(d.task_id)
        if row is None or row.state not in (st.STARTING, st.RUNNING):
            continue
        t = Draft(row._mapping)
        call = begin_suspend(t, d.reason, d.for_task, now, grace_s)
        write = write_of(t, calls=(call,))
        assert write is not None
        out.writes.append(write)
    for d in plan.starts():
        row = rows.get(d.task_id)
        if row is None or row.state != st.QUEUED:
            continue
        mounts = task_mounts(row, storage, groups or {})
        out.writes.append(start_write(row, d, node_gpus, log_root, now, envs_root, mounts))
    return out


def holds_to_write(holds: list[Hold], shown: Shown) -> list[Hold]:
    """The holds that change what their task shows (see MOVED_POSITIONS_PER_TICK).

    A task backing off after a failed start keeps the detail its failure wrote (the error)."""
    changed, moved = [], []
    for h in holds:
        current = shown.get(h.task_id)
        if current is None:  # no longer queued
            continue
        reason, position, detail = current
        if h.reason == REASON_START_FAILED and reason == REASON_START_FAILED:
            h = dataclasses.replace(h, detail=detail)
        if (reason, detail) != (h.reason, h.detail) or position is None:
            changed.append(h)
        elif position != h.position:
            moved.append(h)
    if len(moved) > MOVED_POSITIONS_PER_TICK:
        moved.sort(key=lambda h: h.position)
        moved = moved[:MOVED_POSITIONS_PER_TICK]
    return changed + moved
