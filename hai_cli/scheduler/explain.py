"""explain(snapshot, config, now, task_id) -> Explanation: why a task is where it is.

It runs the very same planning pass as ``plan()`` with tracing on, so the explanation can never
disagree with the plan. The result is a frozen dataclass of plain values: ``asdict()`` of it is
JSON-ready.
"""

from __future__ import annotations

from dataclasses import dataclass

from hai_cli.scheduler.model import (
    REASON_HELD,
    REASON_NO_CAPACITY,
    REASON_PRIORITY,
    REASON_QUOTA_EXCEEDED,
    REASON_RESERVING,
    REASON_START_FAILED,
    REASON_TOO_LARGE,
    REASON_UNKNOWN_GROUP,
    REASON_WAITING_FOR_PREEMPTION,
    SUSPEND_NODE_FAILURE,
    SUSPEND_PREEMPTED,
    SUSPEND_TIME_SLICE,
    Decision,
    Hold,
    PolicyConfig,
    RunningTask,
    Snapshot,
    Start,
    Suspend,
    priority_name,
)
from hai_cli.scheduler.order import effective_priority, task_group
from hai_cli.scheduler.policy import Planner, TaskTrace
from hai_cli.scheduler.quota import QuotaInfo

MAX_AHEAD = 100  # ids listed in ``ahead``; ``ahead_count`` always has the full number


@dataclass(frozen=True)
class Explanation:
    task_id: int
    state: str  # "queued" or "running"
    decision: str  # "start", "keep", "suspend" or "hold"
    reason: str | None  # the Hold or Suspend reason
    rule: str  # the rule behind the decision, in plain words
    group: str
    priority: int | None  # effective priority (AUTO resolved); None if it cannot be resolved
    priority_name: str | None
    position: int | None  # 1-based place in the group's queue (queued tasks)
    quota: QuotaInfo | None  # the quota row that applies (queued tasks)
    ahead: tuple[int, ...]  # ids of tasks ahead of it in its group's queue (first MAX_AHEAD)
    ahead_count: int
    nodes: tuple[str, ...]  # nodes it starts on (start) or holds (running)
    would_preempt: tuple[int, ...]  # running tasks this plan suspends for it
    waiting_for: tuple[int, ...]  # already-suspending tasks whose nodes it waits for
    preempt_blockers: tuple[str, ...]  # why it may not preempt, one line per cause
    for_task: int | None  # suspend: the task it makes room for
    eta_s: float | None  # seconds until it can start, when that can honestly be said


def explain(snapshot: Snapshot, config: PolicyConfig, now: float, task_id: int) -> Explanation:
    """Explain the decision ``plan(snapshot, config, now)`` makes for ``task_id``.

    Raises KeyError when the snapshot has no running or queued task with that id.
    """
    planner = Planner(snapshot, config, now, tracing=True)
    result = planner.run()
    decision = result.decisions[task_id]  # KeyError for an unknown task
    running = {r.id: r for r in snapshot.running}
    if task_id in running:
        return _explain_running(planner, running[task_id], decision)
    return _explain_queued(planner, task_id, decision)


def _explain_running(planner: Planner, r: RunningTask, decision: Decision) -> Explanation:
    config, now = planner.config, planner.now
    prio = effective_priority(r, config, now)
    group = task_group(r.group, config)
    for_task = decision.for_task if isinstance(decision, Suspend) else None
    if isinstance(decision, Suspend):
        kind, reason = "suspend", decision.reason
        rule = {
            SUSPEND_NODE_FAILURE: "a node it runs on is unhealthy or cordoned; it is suspended "
            "and requeued in its old place",
            SUSPEND_PREEMPTED: f"task {for_task} of higher priority needs its nodes",
            SUSPEND_TIME_SLICE: f"its time slice is over and task {for_task} of a user with "
            "less recent usage is waiting at the same priority",
        }.get(reason, reason)
    else:
        kind, reason = "keep", None
        rule = (
            "it was told to suspend and is saving; its nodes free up soon"
            if r.suspending
            else "it keeps its nodes"
        )
    return Explanation(
        task_id=r.id, state="running", decision=kind, reason=reason, rule=rule, group=group,
        priority=prio, priority_name=priority_name(prio), position=None, quota=None, ahead=(),
        ahead_count=0, nodes=tuple(r.nodes), would_preempt=(), waiting_for=(),
        preempt_blockers=(), for_task=for_task, eta_s=None,
    )  # fmt: skip


def _explain_queued(planner: Planner, task_id: int, decision: Decision) -> Explanation:
    trace = planner.trace[task_id]
    queue = planner.queues[trace.group]
    index = next(i for i, t in enumerate(queue) if t.id == task_id)
    task = queue[index]
    ahead = tuple(t.id for t in queue[:index])
    prio = trace.priority
    blockers: tuple[str, ...] = ()
    eta: float | None = None
    nodes: tuple[str, ...] = ()
    if isinstance(decision, Start):
        kind, reason, nodes, eta = "start", None, decision.nodes, 0.0
        rule = f"{task.nodes} free node(s) fit it and its quota has room"
    else:
        assert isinstance(decision, Hold)
        kind, reason = "hold", decision.reason
        rule = _hold_rule(planner, trace, task.nodes, decision)
        if reason in (REASON_NO_CAPACITY, REASON_PRIORITY) and prio is not None:
            blockers = _blockers(planner, trace, task.user, prio, task.nodes)
        if reason == REASON_WAITING_FOR_PREEMPTION:
            eta = _eta(planner, trace)
    return Explanation(
        task_id=task_id, state="queued", decision=kind, reason=reason, rule=rule,
        group=trace.group, priority=prio,
        priority_name=None if prio is None else priority_name(prio),
        position=index + 1, quota=trace.quota, ahead=ahead[:MAX_AHEAD], ahead_count=len(ahead),
        nodes=nodes, would_preempt=trace.victims, waiting_for=trace.waiting_for,
        preempt_blockers=blockers, for_task=None, eta_s=eta,
    )  # fmt: skip


def _hold_rule(planner: Planner, trace: TaskTrace, nodes: int, hold: Hold) -> str:
    reason = hold.reason
    if reason == REASON_HELD:
        return "held by its owner or an admin; hai-cli release queues it again"
    if reason == REASON_RESERVING:
        return (
            "it waited longer than max_backfill_wait_s, so it goes first and keeps the free "
            f"nodes it needs until the rest free up: {hold.detail}"
        )
    if reason == REASON_START_FAILED:
        task = next(t for t in planner.snapshot.queued if t.id == hold.task_id)
        wait = max(0.0, (task.not_before or planner.now) - planner.now)
        return f"its last start failed; it is retried in about {wait:.0f} s (see its events)"
    if reason == REASON_UNKNOWN_GROUP:
        return f"no node group named {trace.group!r} exists"
    if reason == REASON_TOO_LARGE:
        return f"it asks for {nodes} nodes; {hold.detail}"
    if reason == REASON_QUOTA_EXCEEDED:
        q = trace.quota
        if q is None or trace.priority is None:
            return "no priority level has quota room for it (AUTO)"
        return (
            f"quota {q.resource} for {q.principal}: {q.in_use} of {q.limit} nodes in use, "
            f"{nodes} more would exceed it"
        )
    if reason == REASON_WAITING_FOR_PREEMPTION:
        if trace.victims:
            return "lower-priority tasks are being suspended to make room for it"
        return "nodes are reserved for it and free up when suspending tasks stop"
    if reason == REASON_PRIORITY:
        if hold.detail:
            return f"strict FIFO: {hold.detail}"
        return f"{nodes} node(s) were free but tasks ahead of it in the queue took them"
    return f"it needs {nodes} node(s); not enough are free and preempting cannot make room"


def _blockers(
    planner: Planner, trace: TaskTrace, user: str, prio: int, nodes: int
) -> tuple[str, ...]:
    config = planner.config
    if config.strict_fifo:
        return ("strict FIFO never preempts",)
    if not config.preemption:
        return ("preemption is switched off",)
    group = planner.groups.get(trace.group)
    if group is None or group.victims is None:
        return ()
    lines: list[str] = []
    usable = 0
    for c in group.victims.all():
        why = group.victims.reason_against(c, prio, user)
        if why is None and c.taken:
            why = "already suspended for a task ahead"
        if why is None:
            usable += c.size
            continue
        lines.append(f"task {c.task.id} ({c.size} node(s)): {why}")
    protected = [
        r.id
        for r in planner.snapshot.running
        if task_group(r.group, config) == trace.group
        and not r.suspending
        and planner.now - r.started_at < config.min_run_s
    ]
    for rid in sorted(protected):
        lines.append(f"task {rid}: inside its minimum run time of {config.min_run_s:g} s")
    lines.append(f"preemptable nodes: {usable} after what tasks ahead reserved; it needs {nodes}")
    return tuple(lines[:50])


def _eta(planner: Planner, trace: TaskTrace) -> float | None:
    now = planner.now
    waits: list[float] = []
    running = {r.id: r for r in planner.snapshot.running}
    for rid in trace.waiting_for:
        deadline = running[rid].suspend_deadline
        if deadline is None:
            return None
        waits.append(max(0.0, deadline - now))
    if trace.victims:
        waits.append(planner.config.suspend_grace_s)
    return max(waits) if waits else None
