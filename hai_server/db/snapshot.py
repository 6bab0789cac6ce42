"""Rows -> the scheduler's :class:`Snapshot`, in one short read (Core rows, no ORM).

Every field of :class:`RunningTask`, :class:`QueuedTask` and :class:`Node` is mapped here, in
one function each (``running_task``, ``queued_task``, ``node``); a round-trip test fails when a
field is added to the model and left unmapped.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hai_cli.scheduler.fairshare import decay
from hai_cli.scheduler.model import Node, QuotaRow, RunningTask, Snapshot
from hai_server.db import models as m
from hai_server.db.queued import QueuedRows, Shown
from hai_server.domain import states as st

NODE_COLUMNS = (
    m.Node.name,
    m.Node.group,
    m.Node.zone,
    m.Node.gpus,
    m.Node.healthy,
    m.Node.cordoned,
)
RUNNING_COLUMNS = (
    m.Task.id,
    m.Task.user_name,
    m.Task.group,
    m.Task.run_priority,
    m.Task.priority,
    m.Task.submitted_at,
    m.Task.started_at,
    m.Task.last_checkpoint_at,
    m.Task.state,
    m.Task.stop_requested,
    m.Task.terminate_sent_at,
    m.Task.suspend_deadline,
    m.Task.ran_s,
    m.Attempt.nodes,
)
_RUNNING = (
    select(*RUNNING_COLUMNS)
    .join(
        m.Attempt,
        (m.Attempt.task_id == m.Task.id) & (m.Attempt.number == m.Task.restart_count),
    )
    .where(m.Task.state.in_(st.ACTIVE))
)
_NODES = select(*NODE_COLUMNS)
_QUOTAS = select(m.Quota.principal, m.Quota.resource, m.Quota.quota, m.Quota.expires_at)
_GROUPS = select(m.UserGroup.user_name, m.UserGroup.group_name)
_USAGE = select(m.Usage.user_name, m.Usage.value, m.Usage.updated_at)
_ROLES = select(m.User.name, m.User.role).where(m.User.role != "internal")  # few rows


def node(row: Any) -> Node:
    return Node(
        name=row.name,
        group=row.group,
        zone=row.zone,
        gpus=row.gpus,
        healthy=row.healthy,
        cordoned=row.cordoned,
    )


def running_task(row: Any, now: float) -> RunningTask:
    """An active task (starting, running, suspending) as the policy sees it."""
    return RunningTask(
        id=row.id,
        user=row.user_name,
        group=row.group,
        priority=row.run_priority if row.run_priority is not None else row.priority,
        nodes=tuple(row.nodes),
        submitted_at=row.submitted_at,
        started_at=row.started_at if row.started_at is not None else now,
        last_checkpoint_at=row.last_checkpoint_at,
        # a stop or a termination under way frees the nodes as surely as a suspend
        suspending=row.state == st.SUSPENDING
        or bool(row.stop_requested)
        or row.terminate_sent_at is not None,
        suspend_deadline=row.suspend_deadline,
        ran_s=row.ran_s or 0.0,
    )


def quota_row(row: Any) -> QuotaRow:
    return QuotaRow(row.principal, row.resource, row.quota, row.expires_at)


async def load_snapshot(s: AsyncSession, now: float, half_life_s: float) -> Snapshot:
    return (await load_snapshot_shown(s, now, half_life_s))[0]


async def load_snapshot_shown(
    s: AsyncSession, now: float, half_life_s: float, queued_rows: QueuedRows | None = None
) -> tuple[Snapshot, Shown]:
    """The snapshot, and the hold reason/position/detail each queued task shows now.

    ``queued_rows`` keeps the queued tasks between calls (see queued.py)."""
    nodes = tuple(node(r) for r in await s.execute(_NODES))
    running = tuple(running_task(r, now) for r in await s.execute(_RUNNING))
    queued, shown = await (queued_rows or QueuedRows()).load(s)
    quotas = tuple(
        quota_row(q) for q in await s.execute(_QUOTAS) if q.expires_at is None or q.expires_at > now
    )
    groups: dict[str, list[str]] = defaultdict(list)
    for user_name, group_name in await s.execute(_GROUPS):
        groups[user_name].append(group_name)
    usage = {
        u.user_name: decay(u.value, now - u.updated_at, half_life_s)
        for u in await s.execute(_USAGE)
    }
    snapshot = Snapshot(
        nodes=nodes,
        running=running,
        queued=queued,
        quotas=quotas,
        user_groups={k: tuple(sorted(v)) for k, v in groups.items()},
        usage=usage,
        roles={name: role for name, role in await s.execute(_ROLES)},
    )
    return snapshot, shown
