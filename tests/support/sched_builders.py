"""Small builders for scheduler scenarios: terse snapshots in, compact decisions out."""

from __future__ import annotations

from hai_cli.scheduler import plan
from hai_cli.scheduler.model import (
    Hold,
    Keep,
    Node,
    PolicyConfig,
    Priority,
    QueuedTask,
    QuotaRow,
    RunningTask,
    Snapshot,
    Start,
    Suspend,
)

P = Priority
NOW = 10_000.0


def nodes(count: int, group: str = "default", zone: str = "", prefix: str = "n") -> list[Node]:
    return [Node(f"{prefix}{i:02d}", group, zone) for i in range(count)]


def node(name: str, group: str = "default", zone: str = "", **kw: bool) -> Node:
    return Node(name, group, zone, **kw)


def run(
    id: int,
    on: str | tuple[str, ...] | list[str],
    *,
    user: str = "u",
    prio: int = P.NORMAL,
    group: str = "default",
    started: float = 0.0,
    submitted: float | None = None,
    ckpt: float | None = None,
    suspending: bool = False,
    deadline: float | None = None,
) -> RunningTask:
    names = (on,) if isinstance(on, str) else tuple(on)
    return RunningTask(
        id=id,
        user=user,
        group=group,
        priority=int(prio),
        nodes=names,
        submitted_at=started if submitted is None else submitted,
        started_at=started,
        last_checkpoint_at=ckpt,
        suspending=suspending,
        suspend_deadline=deadline,
    )


def q(
    id: int,
    nodes: int = 1,
    *,
    user: str = "u",
    prio: int = P.NORMAL,
    group: str = "default",
    submitted: float | None = None,
    held: bool = False,
) -> QueuedTask:
    return QueuedTask(
        id=id,
        user=user,
        group=group,
        priority=int(prio),
        nodes=nodes,
        submitted_at=float(id) if submitted is None else submitted,
        held=held,
    )


def quota(principal: str, resource: str, limit: int, expires: float | None = None) -> QuotaRow:
    return QuotaRow(principal, resource, limit, expires)


def snap(
    nodes: list[Node] | tuple[Node, ...] = (),
    running: list[RunningTask] | tuple[RunningTask, ...] = (),
    queued: list[QueuedTask] | tuple[QueuedTask, ...] = (),
    quotas: list[QuotaRow] | tuple[QuotaRow, ...] = (),
    user_groups: dict[str, tuple[str, ...]] | None = None,
    usage: dict[str, float] | None = None,
) -> Snapshot:
    return Snapshot(
        nodes=tuple(nodes),
        running=tuple(running),
        queued=tuple(queued),
        quotas=tuple(quotas),
        user_groups=user_groups or {},
        usage=usage or {},
    )


def compact(decision: Start | Keep | Suspend | Hold) -> tuple:
    if isinstance(decision, Start):
        return ("start", *decision.nodes)
    if isinstance(decision, Keep):
        return ("keep",)
    if isinstance(decision, Suspend):
        return ("suspend", decision.reason, decision.for_task)
    return ("hold", decision.reason, decision.position)


def decide(
    snapshot: Snapshot, config: PolicyConfig | None = None, now: float = NOW
) -> dict[int, tuple]:
    result = plan(snapshot, config or PolicyConfig(), now)
    return {tid: compact(d) for tid, d in result.decisions.items()}
