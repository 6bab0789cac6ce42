"""Keep the node rows in step with the backend's inventory (the reconciler's observe phase)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from hai_server.backends.base import NodeState
from hai_server.db import models as m
from hai_server.domain import states as lc

# what the reconciler writes on a node that left the backend's inventory (see services/admin)
MISSING = "missing from the backend"


async def sync_nodes(s: Any, inventory: Sequence[NodeState], now: float) -> None:
    """Add new nodes, copy what the backend says of known ones, mark vanished ones unhealthy.

    A cordon is the admin's: the backend may add one (e.g. Kubernetes' unschedulable) but
    never lifts it."""
    rows = {n.name: n for n in (await s.execute(select(m.Node))).scalars()}
    for n in inventory:
        row = rows.get(n.name)
        if row is None:
            s.add(
                m.Node(
                    name=n.name, group=n.group, zone=n.zone, gpus=n.gpus,
                    gpu_first=n.gpu_first, healthy=n.healthy, cordoned=n.cordoned,
                    message=n.message, updated_at=now, cpus=n.cpus, memory_gib=n.memory_gib,
                )
            )  # fmt: skip
            continue
        row.group, row.zone, row.gpus, row.gpu_first = n.group, n.zone, n.gpus, n.gpu_first
        row.healthy, row.message, row.updated_at = n.healthy, n.message, now
        row.cpus, row.memory_gib = n.cpus, n.memory_gib
        if n.cordoned:
            row.cordoned = True
    present = {n.name for n in inventory}
    for name, row in rows.items():
        if name not in present and row.healthy:
            row.healthy, row.message, row.updated_at = False, MISSING, now


async def node_holders(s: Any) -> dict[str, list[int]]:
    """{node name: ids of the active tasks whose current attempt holds it}."""
    held = (
        await s.execute(
            select(m.Task.id, m.Attempt.nodes)
            .join(
                m.Attempt,
                (m.Attempt.task_id == m.Task.id) & (m.Attempt.number == m.Task.restart_count),
            )
            .where(m.Task.state.in_(lc.ACTIVE))
        )
    ).all()
    holders: dict[str, list[int]] = {}
    for task_id, names in held:
        for name in names:
            holders.setdefault(name, []).append(task_id)
    return holders
