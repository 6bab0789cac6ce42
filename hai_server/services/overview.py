"""The cluster at a glance, a user's quota use and the history behind Studio's charts.

``record_sample`` writes one ``samples`` row per node group (nodes up, nodes busy, queued and
running tasks, preemptions since the previous sample); the server calls it every
``studio.sample_interval_s`` (``run_sampler``) and deletes rows older than the retention. The
history the charts draw is read back from that table, plus the caller's own attempts for
their GPU-hours per day. Everyone may see the cluster figures (counts only, no task of
another user); quota use is the caller's own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, delete, func, or_, select

from hai_cli.scheduler.model import PolicyConfig, Priority, QuotaRow, Snapshot, priority_name
from hai_cli.scheduler.quota import NODE_LIMIT, PUBLIC, QuotaBook
from hai_server.db import models as m
from hai_server.db.nodes import node_holders
from hai_server.db.session import Sessions
from hai_server.domain import states as lc
from hai_server.services.tasks import Caller

log = logging.getLogger("hai.samples")
DAY_S = 86400.0
HOUR_S = 3600.0
PREEMPTED = "preempted%"  # the message of a suspend event the scheduler made for a preemption
SAMPLE_KEYS = ("at", "group", "nodes", "busy", "queued", "running", "preemptions")
_SAMPLES = (
    select(*(getattr(m.Sample, k) for k in SAMPLE_KEYS))
    .where(m.Sample.at >= bindparam("since"))
    .order_by(m.Sample.at)
)


def split_by_bucket(start: float, end: float, bucket_s: float) -> list[tuple[float, float]]:
    """[(bucket start, seconds of [start, end) inside it)], buckets aligned on ``bucket_s``."""
    out: list[tuple[float, float]] = []
    t = start
    while t < end:
        b = t - t % bucket_s
        nxt = min(end, b + bucket_s)
        out.append((b, nxt - t))
        t = nxt
    return out


def resource_level(resource: str) -> tuple[str, str] | None:
    """(group, PRIORITY) of a ``node-{group}-{PRIORITY}`` resource, None otherwise."""
    if not resource.startswith("node-"):
        return None
    group, _, level = resource[5:].rpartition("-")
    if not group or level not in Priority.__members__:
        return None
    return group, level


class OverviewService:
    def __init__(self, sessions: Sessions, config: PolicyConfig) -> None:
        self._sessions = sessions
        self._config = config
        self._last_event: int | None = None  # events counted by the previous sample

    # -- the cluster now ------------------------------------------------------------------
    async def cluster(self) -> dict[str, Any]:
        """Nodes per group (up, cordoned, unhealthy, busy, free, GPUs) and queued tasks per
        group and priority."""
        async with self._sessions() as s:
            nodes = (await s.execute(select(m.Node))).scalars().all()
            holders = await node_holders(s)
            queued = (
                await s.execute(
                    select(m.Task.group, m.Task.priority, func.count())
                    .where(m.Task.state == lc.QUEUED)
                    .group_by(m.Task.group, m.Task.priority)
                )
            ).all()
            running = dict(
                (
                    await s.execute(
                        select(m.Task.group, func.count())
                        .where(m.Task.state.in_(lc.ACTIVE))
                        .group_by(m.Task.group)
                    )
                ).all()
            )
        groups: dict[str, dict[str, Any]] = {}
        for n in nodes:
            g = groups.setdefault(
                n.group,
                {"group": n.group, "nodes": 0, "busy": 0, "free": 0, "cordoned": 0,
                 "unhealthy": 0, "gpus": 0, "queued": {}, "running": 0},
            )  # fmt: skip
            g["nodes"] += 1
            g["gpus"] += n.gpus
            if not n.healthy:
                g["unhealthy"] += 1
            elif n.name in holders:
                g["busy"] += 1
            elif n.cordoned:
                g["cordoned"] += 1
            else:
                g["free"] += 1
        for group, priority, count in queued:
            g = groups.setdefault(
                group,
                {"group": group, "nodes": 0, "busy": 0, "free": 0, "cordoned": 0,
                 "unhealthy": 0, "gpus": 0, "queued": {}, "running": 0},
            )  # fmt: skip
            name = priority_name(priority)
            g["queued"][name] = g["queued"].get(name, 0) + int(count)
        for group, count in running.items():
            if group in groups:
                groups[group]["running"] = int(count)
        return {"groups": [groups[k] for k in sorted(groups)]}

    # -- my quota ----------------------------------------------------------------------------
    async def quota_use(self, caller: Caller) -> list[dict[str, Any]]:
        """The quota rows that apply to the caller (the scheduler's own precedence) with the
        nodes the caller holds under each; levels where the caller holds nodes but no row
        applies are listed with ``limit`` None (no limit)."""
        async with self._sessions() as s:
            mine = list(
                (
                    await s.execute(
                        select(m.UserGroup.group_name).where(m.UserGroup.user_name == caller.name)
                    )
                ).scalars()
            )
            principals = [caller.name, PUBLIC, caller.role, *mine]
            rows = (
                (await s.execute(select(m.Quota).where(m.Quota.principal.in_(principals))))
                .scalars()
                .all()
            )
            active = (
                await s.execute(
                    select(m.Task.group, m.Task.priority, m.Task.run_priority, m.Task.nodes).where(
                        m.Task.user_id == caller.user_id, m.Task.state.in_(lc.ACTIVE)
                    )
                )
            ).all()
        snapshot = Snapshot(
            quotas=tuple(QuotaRow(r.principal, r.resource, r.quota, r.expires_at) for r in rows),
            user_groups={caller.name: tuple(sorted(mine))},
            roles={} if caller.role == "internal" else {caller.name: caller.role},
        )
        book = QuotaBook(snapshot, self._config, time.time())
        for group, priority, run_priority, nodes in active:
            book.add(
                caller.name, group, run_priority if run_priority is not None else priority, nodes
            )
        resources = {r.resource for r in rows} | {res for (_, res) in book.used}
        out = []
        for resource in sorted(resources, key=_resource_order):
            limit, principal = book.limit(caller.name, resource)
            level = resource_level(resource)
            if level is None and resource != NODE_LIMIT:
                continue
            expires = next(
                (r.expires_at for r in rows if r.resource == resource and r.principal == principal),
                None,
            )
            out.append(
                {
                    "resource": resource,
                    "group": level[0] if level else None,
                    "priority": level[1] if level else None,
                    "limit": limit,
                    "principal": principal,
                    "in_use": book.in_use(caller.name, resource),
                    "expires_at": expires,
                }
            )
        return out

    # -- history -------------------------------------------------------------------------------
    async def history(
        self, caller: Caller, since: float, now: float, usage_since: float | None = None
    ) -> dict[str, Any]:
        """Samples since ``since`` (every group), and the caller's node- and GPU-hours per
        day since ``usage_since`` (default ``since``) from their attempts."""
        usage_since = since if usage_since is None else usage_since
        async with self._sessions() as s:
            conn = await s.connection()  # Core rows: no ORM loading for ~1,500 of them
            samples = (await conn.execute(_SAMPLES, {"since": since})).all()
            gpus = dict((await conn.execute(select(m.Node.name, m.Node.gpus))).all())
            attempts = (
                await conn.execute(
                    select(m.Attempt.nodes, m.Attempt.started_at, m.Attempt.ended_at)
                    .join(m.Task, m.Task.id == m.Attempt.task_id)
                    .where(
                        m.Task.user_id == caller.user_id,
                        or_(m.Attempt.ended_at.is_(None), m.Attempt.ended_at >= usage_since),
                    )
                )
            ).all()
        node_h: dict[float, float] = defaultdict(float)
        gpu_h: dict[float, float] = defaultdict(float)
        for names, started, ended in attempts:
            n_gpus = sum(gpus.get(n, 0) for n in names)
            for day, seconds in split_by_bucket(max(started, usage_since), ended or now, DAY_S):
                node_h[day] += len(names) * seconds / HOUR_S
                gpu_h[day] += n_gpus * seconds / HOUR_S
        return {
            "samples": [dict(zip(SAMPLE_KEYS, row, strict=True)) for row in samples],
            "my_usage": [
                {"day": d, "node_hours": node_h[d], "gpu_hours": gpu_h[d]} for d in sorted(node_h)
            ],
        }

    # -- recording ---------------------------------------------------------------------------
    async def record_sample(self, now: float) -> int:
        """Write one sample per group; returns how many rows were written."""
        cluster = await self.cluster()
        async with self._sessions.begin() as s:
            if self._last_event is None:
                self._last_event = int(
                    (await s.execute(select(func.coalesce(func.max(m.Event.id), 0)))).scalar_one()
                )
            preempted = (
                await s.execute(
                    select(m.Task.group, func.count(), func.max(m.Event.id))
                    .join(m.Task, m.Task.id == m.Event.task_id)
                    .where(
                        m.Event.id > self._last_event,
                        m.Event.kind == "suspend",
                        m.Event.message.like(PREEMPTED),
                    )
                    .group_by(m.Task.group)
                )
            ).all()
            last = int(
                (await s.execute(select(func.coalesce(func.max(m.Event.id), 0)))).scalar_one()
            )
            counts = {g: int(c) for g, c, _ in preempted}
            for g in cluster["groups"]:
                s.add(
                    m.Sample(
                        at=now,
                        group=g["group"],
                        nodes=g["nodes"] - g["unhealthy"] - g["cordoned"],
                        busy=g["busy"],
                        queued=sum(g["queued"].values()),
                        running=g["running"],
                        preemptions=counts.get(g["group"], 0),
                    )
                )
        self._last_event = last
        return len(cluster["groups"])

    async def prune(self, before: float) -> int:
        async with self._sessions.begin() as s:
            result = await s.execute(delete(m.Sample).where(m.Sample.at < before))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _resource_order(resource: str) -> tuple[int, str, int]:
    level = resource_level(resource)
    if level is None:
        return (1, resource, 0)
    return (0, level[0], -Priority[level[1]].value)


async def run_sampler(
    overview: OverviewService,
    interval_s: float,
    retention_s: float,
    *,
    leads: Callable[[], bool] = lambda: True,
    clock: Callable[[], float] = time.time,
) -> None:
    """Record a sample every ``interval_s`` (the first at once) and delete those older than
    ``retention_s``; ``leads``: record only while it returns True (the leader of several
    replicas records, the others do not). Errors are logged and retried on the next interval."""
    while True:
        try:
            if leads():
                now = clock()
                await overview.record_sample(now)
                await overview.prune(now - retention_s)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("could not record a sample (retrying in %.0f s)", interval_s)
        await asyncio.sleep(interval_s)
