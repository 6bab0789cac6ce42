"""Pure: the plan of one tick when shared Jupyter groups exist.

The nodes of the shared groups and the containers placed in them are taken out of the
time-sharing snapshot (the policy gives whole nodes; these are shared by CPU and memory) and
placed by :func:`hai_cli.scheduler.jupyter.place`; the two sets of decisions make one plan.
Exclusive containers live in training groups and stay with the policy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from hai_cli.scheduler.jupyter import PlacedContainer, SharedNode, WaitingContainer, place
from hai_cli.scheduler.model import Plan, Snapshot

Shared = tuple[tuple[SharedNode, ...], tuple[PlacedContainer, ...], tuple[WaitingContainer, ...]]


def plan_with_containers(
    snapshot: Snapshot, shared: Shared, policy: Callable[[Snapshot], Plan]
) -> Plan:
    nodes, running, waiting = shared
    if not nodes and not running and not waiting:
        return policy(snapshot)
    groups = {n.group for n in nodes} | {c.group for c in running} | {w.group for w in waiting}
    ids = {c.id for c in running} | {w.id for w in waiting}
    rest = dataclasses.replace(
        snapshot,
        nodes=tuple(n for n in snapshot.nodes if n.group not in groups),
        running=tuple(r for r in snapshot.running if r.id not in ids),
        queued=tuple(q for q in snapshot.queued if q.id not in ids),
    )
    decisions = dict(policy(rest).decisions)
    decisions.update(place(nodes, running, waiting))
    return Plan(decisions)
