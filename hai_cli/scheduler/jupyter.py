"""Placement of Jupyter containers in a shared Jupyter group (the original's JUPYTER_GROUP).

Pure and deterministic: nodes, the containers on them and the waiting ones in; one decision
per container out. Containers of a shared group share its nodes by CPU, memory and GPUs:

* a waiting container goes to the node with the fewest containers that has room for it
  (CPUs, memory and GPUs all fit), ties broken by node name;
* memory (and GPUs) are never overcommitted: a node's containers never ask for more than it
  has; CPUs are not overcommitted either (a container's request is its limit);
* waiting containers are placed oldest first (first submission, then id), and a container
  that does not fit never keeps a later, smaller one from a node (no head-of-line blocking:
  each container is its own user's interactive session);
* a container on a node that became unhealthy or cordoned is suspended (``node_failure``).

Exclusive containers are not placed here: they are one-node tasks of a training group at
priority LOW, which the time-sharing policy (policy.py) places and preempts like any other
(spot, with the usual suspend notice).
"""

from __future__ import annotations

from dataclasses import dataclass

from hai_cli.scheduler.model import (
    REASON_HELD,
    REASON_NO_CAPACITY,
    REASON_TOO_LARGE,
    REASON_UNKNOWN_GROUP,
    SUSPEND_NODE_FAILURE,
    Decision,
    Hold,
    Keep,
    Start,
    Suspend,
)


@dataclass(frozen=True, slots=True)
class Resources:
    cpus: float = 0.0
    memory_gib: float = 0.0
    gpus: int = 0

    def fits_in(self, free: Resources) -> bool:
        eps = 1e-9
        return (
            self.cpus <= free.cpus + eps
            and self.memory_gib <= free.memory_gib + eps
            and self.gpus <= free.gpus
        )

    def minus(self, other: Resources) -> Resources:
        return Resources(
            self.cpus - other.cpus, self.memory_gib - other.memory_gib, self.gpus - other.gpus
        )

    def describe(self) -> str:
        gpus = f", {self.gpus} GPU(s)" if self.gpus else ""
        return f"{self.cpus:g} CPU(s), {self.memory_gib:g} GiB{gpus}"


@dataclass(frozen=True, slots=True)
class SharedNode:
    name: str
    group: str
    size: Resources
    usable: bool = True


@dataclass(frozen=True, slots=True)
class PlacedContainer:
    id: int
    group: str
    node: str
    asks: Resources


@dataclass(frozen=True, slots=True)
class WaitingContainer:
    id: int
    group: str
    asks: Resources
    submitted_at: float
    priority: int = 10
    held: bool = False


def place(
    nodes: tuple[SharedNode, ...],
    running: tuple[PlacedContainer, ...],
    waiting: tuple[WaitingContainer, ...],
) -> dict[int, Decision]:
    """One decision per container: keep or suspend the placed ones, start or hold the others.

    The same inputs in any order give the same decisions."""
    by_name = {n.name: n for n in sorted(nodes, key=lambda n: n.name)}
    free = {n.name: n.size for n in by_name.values()}
    count = dict.fromkeys(by_name, 0)
    decisions: dict[int, Decision] = {}
    for c in sorted(running, key=lambda c: c.id):
        node = by_name.get(c.node)
        if node is not None:
            free[c.node] = free[c.node].minus(c.asks)
            count[c.node] += 1
        if node is None or not node.usable:
            decisions[c.id] = Suspend(c.id, SUSPEND_NODE_FAILURE)
        else:
            decisions[c.id] = Keep(c.id)
    positions: dict[str, int] = {}
    for w in sorted(waiting, key=lambda w: (w.submitted_at, w.id)):
        group_nodes = [n for n in by_name.values() if n.group == w.group]
        position = positions[w.group] = positions.get(w.group, 0) + 1
        if w.held:
            decisions[w.id] = Hold(w.id, REASON_HELD, position)
            continue
        if not group_nodes:
            decisions[w.id] = Hold(w.id, REASON_UNKNOWN_GROUP, position,
                                   f"group {w.group} has no nodes")  # fmt: skip
            continue
        if not any(w.asks.fits_in(n.size) for n in group_nodes):
            biggest = max(group_nodes, key=lambda n: (n.size.memory_gib, n.size.cpus, n.name))
            decisions[w.id] = Hold(
                w.id, REASON_TOO_LARGE, position,
                f"asks for {w.asks.describe()}; the largest node of {w.group} has "
                f"{biggest.size.describe()}",
            )  # fmt: skip
            continue
        room = [n for n in group_nodes if n.usable and w.asks.fits_in(free[n.name])]
        if not room:
            decisions[w.id] = Hold(
                w.id, REASON_NO_CAPACITY, position,
                f"no node of {w.group} has {w.asks.describe()} free",
            )  # fmt: skip
            continue
        best = min(room, key=lambda n: (count[n.name], n.name))
        free[best.name] = free[best.name].minus(w.asks)
        count[best.name] += 1
        decisions[w.id] = Start(w.id, (best.name,), w.priority)
    return decisions


def free_resources(
    nodes: tuple[SharedNode, ...], running: tuple[PlacedContainer, ...]
) -> dict[str, Resources]:
    """What each node has left once its containers are counted (for displays)."""
    free = {n.name: n.size for n in nodes}
    for c in running:
        if c.node in free:
            free[c.node] = free[c.node].minus(c.asks)
    return free
