"""Load the scheduler's snapshot from the database in one short read (Core rows, no ORM)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hai_server.db import models as m
from hai_server.scheduler.model import Node, QueuedTask, QuotaRow, RunningTask, Snapshot
from hai_server.services import lifecycle as lc


def decayed(value: float, dt_s: float, half_life_s: float) -> float:
    if dt_s <= 0:
        return value
    return value * 2.0 ** (-dt_s / half_life_s)


Shown = dict[int, tuple[str, int | None, str]]  # queued task id -> (reason, position, detail)


async def load_snapshot(s: AsyncSession, now: float, half_life_s: float) -> Snapshot:
    return (await load_snapshot_shown(s, now, half_life_s))[0]


async def load_snapshot_shown(
    s: AsyncSession, now: float, half_life_s: float
) -> tuple[Snapshot, Shown]:
    """The snapshot, and the hold reason/position/detail each queued task shows now."""
    nodes = tuple(
        Node(*row)
        for row in await s.execute(
            select(
                m.Node.name, m.Node.group, m.Node.zone, m.Node.gpus, m.Node.healthy, m.Node.cordoned
            )
        )
    )
    active_rows = (
        await s.execute(
            select(
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
            .join(
                m.Attempt,
                (m.Attempt.task_id == m.Task.id) & (m.Attempt.number == m.Task.restart_count),
            )
            .where(m.Task.state.in_(lc.ACTIVE))
        )
    ).all()
    running = tuple(
        RunningTask(
            id=r.id,
            user=r.user_name,
            group=r.group,
            priority=r.run_priority if r.run_priority is not None else r.priority,
            nodes=tuple(r.nodes),
            submitted_at=r.submitted_at,
            started_at=r.started_at or now,
            last_checkpoint_at=r.last_checkpoint_at,
            suspending=r.state == lc.SUSPENDING
            or r.stop_requested
            or r.terminate_sent_at is not None,
        )
        for r in active_rows
    )
    queued_rows = (
        await s.execute(  # 20,000 rows at scale: tuples, unpacked once
            select(
                m.Task.id,
                m.Task.user_name,
                m.Task.group,
                m.Task.priority,
                m.Task.nodes,
                m.Task.submitted_at,
                m.Task.ran_s,
                m.Task.reason,
                m.Task.position,
                m.Task.detail,
            ).where(m.Task.state == lc.QUEUED)
        )
    ).all()
    shown: Shown = {}
    queued_list = []
    for tid, user, group, priority, size, submitted, ran, reason, position, detail in queued_rows:
        shown[tid] = (reason, position, detail)
        queued_list.append(
            QueuedTask(tid, user, group, priority, size, submitted, False, ran or 0.0)
        )
    queued = tuple(queued_list)
    quotas = tuple(
        QuotaRow(q.principal, q.resource, q.quota, q.expires_at)
        for q in await s.execute(
            select(m.Quota.principal, m.Quota.resource, m.Quota.quota, m.Quota.expires_at)
        )
        if q.expires_at is None or q.expires_at > now
    )
    groups: dict[str, list[str]] = defaultdict(list)
    for user_name, group_name in await s.execute(
        select(m.UserGroup.user_name, m.UserGroup.group_name)
    ):
        groups[user_name].append(group_name)
    usage = {
        u.user_name: decayed(u.value, now - u.updated_at, half_life_s)
        for u in await s.execute(select(m.Usage.user_name, m.Usage.value, m.Usage.updated_at))
    }
    snapshot = Snapshot(
        nodes=nodes,
        running=running,
        queued=queued,
        quotas=quotas,
        user_groups={k: tuple(sorted(v)) for k, v in groups.items()},
        usage=usage,
    )
    return snapshot, shown
