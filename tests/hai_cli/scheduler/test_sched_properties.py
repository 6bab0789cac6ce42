"""Property tests (hypothesis) of plan(): the invariants DESIGN.md section 7 asks for."""

from __future__ import annotations

import os
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hai_cli.scheduler import plan
from hai_cli.scheduler.model import (
    AUTO,
    REASON_NO_CAPACITY,
    REASON_PRIORITY,
    REASON_QUOTA_EXCEEDED,
    REASON_RESERVING,
    REASON_WAITING_FOR_PREEMPTION,
    SUSPEND_NODE_FAILURE,
    SUSPEND_PREEMPTED,
    SUSPEND_TIME_SLICE,
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
from hai_cli.scheduler.order import effective_priority, task_group
from tests.support.sched_builders import NOW

SETTINGS = settings(
    max_examples=int(os.environ.get("HAI_PROP_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
LEVELS = [int(p) for p in Priority]
USERS = ["a", "b", "c"]
GROUPS = ["g0", "g1"]


@st.composite
def snapshots(draw: st.DrawFn, allow_auto: bool = True) -> Snapshot:
    nodes: list[Node] = []
    for g in GROUPS[: draw(st.sampled_from([1, 2, 2]))]:
        for i in range(draw(st.integers(1, 10))):
            nodes.append(
                Node(
                    f"{g}-n{i}",
                    g,
                    draw(st.sampled_from(["", "z1", "z2"])),
                    healthy=draw(st.integers(0, 19)) > 0,
                    cordoned=draw(st.integers(0, 19)) == 0,
                )
            )
    running: list[RunningTask] = []
    next_id = 1
    for g in sorted({n.group for n in nodes}):
        names = [n.name for n in nodes if n.group == g]
        names = draw(st.permutations(names))
        i = 0
        while i < len(names) and draw(st.integers(0, 9)) > 1:
            size = draw(st.integers(1, 3))
            chunk = tuple(sorted(names[i : i + size]))
            i += size
            started = draw(st.floats(0, NOW))
            running.append(
                RunningTask(
                    id=next_id,
                    user=draw(st.sampled_from(USERS)),
                    group=g,
                    priority=draw(st.sampled_from(LEVELS)),
                    nodes=chunk,
                    submitted_at=started - 1,
                    started_at=started,
                    last_checkpoint_at=draw(st.none() | st.floats(started, NOW)),
                    suspending=draw(st.integers(0, 7)) == 0,
                )
            )
            next_id += 1
    queued: list[QueuedTask] = []
    present = [*sorted({n.group for n in nodes}), ""]
    levels = [*LEVELS, AUTO] if allow_auto else LEVELS
    for _ in range(draw(st.integers(0, 10))):
        queued.append(
            QueuedTask(
                id=next_id,
                user=draw(st.sampled_from(USERS)),
                group=draw(st.sampled_from(present)) if draw(st.integers(0, 14)) else "nope",
                priority=draw(st.sampled_from(levels)),
                nodes=draw(st.integers(1, 5)),
                # some waited long (aged under a 5,000 s limit), most not
                submitted_at=float(draw(st.sampled_from([0, 1, 2, 3, 4, 5, 9000, 9001]))),
                held=draw(st.integers(0, 19)) == 0,
            )
        )
        next_id += 1
    quotas: list[QuotaRow] = []
    for _ in range(draw(st.integers(0, 4))):
        resource = draw(
            st.sampled_from(
                ["node_limit"]
                + [f"node-{g}-{p.name}" for g in GROUPS for p in (Priority.HIGH, Priority.NORMAL)]
            )
        )
        quotas.append(
            QuotaRow(
                draw(st.sampled_from([*USERS, "team", "public"])),
                resource,
                draw(st.integers(0, 6)),
                draw(st.none() | st.floats(NOW - 10, NOW + 10)),
            )
        )
    usage = {u: float(draw(st.integers(0, 3))) for u in USERS}
    return Snapshot(
        tuple(nodes), tuple(running), tuple(queued), tuple(quotas), {"a": ("team",)}, usage
    )


configs = st.builds(
    PolicyConfig,
    preemption=st.booleans(),
    fair_share=st.booleans(),
    min_run_s=st.sampled_from([0.0, 500.0]),
    time_slicing=st.booleans(),
    time_slice_s=st.sampled_from([100.0, 5000.0]),
    strict_fifo=st.integers(0, 4).map(lambda x: x == 0),
    default_quota=st.sampled_from([None, None, 2]),
    default_group=st.just("g0"),
    max_backfill_wait_s=st.sampled_from([None, 4 * 3600.0, 5000.0]),
)


def _limit(s: Snapshot, cfg: PolicyConfig, user: str, resource: str) -> int | None:
    """An independent, slow re-statement of the quota precedence."""
    live = [
        r
        for r in s.quotas
        if r.resource == resource and (r.expires_at is None or r.expires_at > NOW)
    ]
    own = [r.quota for r in live if r.principal == user]
    if own:
        return max(own)
    groups = [r.quota for r in live if r.principal in s.user_groups.get(user, ())]
    if groups:
        return max(groups)
    public = [r.quota for r in live if r.principal == "public"]
    if public:
        return max(public)
    return None if resource == "node_limit" else cfg.default_quota


@SETTINGS
@given(snapshots(), configs)
def test_one_decision_of_the_right_kind_per_task(s: Snapshot, cfg: PolicyConfig) -> None:
    decisions = plan(s, cfg, NOW).decisions
    assert set(decisions) == {r.id for r in s.running} | {t.id for t in s.queued}
    for r in s.running:
        assert isinstance(decisions[r.id], Keep | Suspend)
        if r.suspending:
            assert isinstance(decisions[r.id], Keep)
    for t in s.queued:
        d = decisions[t.id]
        assert isinstance(d, Start | Hold)
        if isinstance(d, Hold):
            assert d.reason and d.position >= 1


@SETTINGS
@given(snapshots(), configs)
def test_starts_are_whole_free_healthy_and_never_shared(s: Snapshot, cfg: PolicyConfig) -> None:
    node = {n.name: n for n in s.nodes}
    held = {name for r in s.running for name in r.nodes}
    seen: set[str] = set()
    queued = {t.id: t for t in s.queued}
    for start in plan(s, cfg, NOW).starts():
        t = queued[start.task_id]
        assert len(start.nodes) == t.nodes  # gang: all or nothing
        for name in start.nodes:
            assert name not in seen and name not in held
            assert node[name].usable and node[name].group == task_group(t.group, cfg)
            seen.add(name)


@SETTINGS
@given(snapshots(), configs)
def test_quotas_are_never_exceeded_by_a_start(s: Snapshot, cfg: PolicyConfig) -> None:
    used: dict[tuple[str, str], int] = {}

    def add(user: str, group: str, prio: int, n: int) -> None:
        for res in (f"node-{group}-{Priority(prio).name}", "node_limit"):
            used[(user, res)] = used.get((user, res), 0) + n

    for r in s.running:
        add(r.user, task_group(r.group, cfg), r.priority, len(r.nodes))
    queued = {t.id: t for t in s.queued}
    touched: set[tuple[str, str]] = set()
    for start in plan(s, cfg, NOW).starts():
        t = queued[start.task_id]
        group = task_group(t.group, cfg)
        assert start.priority != AUTO
        add(t.user, group, start.priority, t.nodes)
        touched |= {
            (t.user, f"node-{group}-{Priority(start.priority).name}"),
            (t.user, "node_limit"),
        }
    for user, res in touched:
        limit = _limit(s, cfg, user, res)
        assert limit is None or used[(user, res)] <= limit, (user, res)


@SETTINGS
@given(snapshots(), configs)
def test_suspends_follow_the_rules(s: Snapshot, cfg: PolicyConfig) -> None:
    decisions = plan(s, cfg, NOW).decisions
    node = {n.name: n for n in s.nodes}
    queued = {t.id: t for t in s.queued}
    for r in s.running:
        d = decisions[r.id]
        if not isinstance(d, Suspend):
            continue
        bad_node = any(n not in node or not node[n].usable for n in r.nodes)
        if d.reason == SUSPEND_NODE_FAILURE:
            assert bad_node and d.for_task is None
            continue
        assert not bad_node and not r.suspending
        assert cfg.preemption and not cfg.strict_fifo
        assert NOW - r.started_at >= cfg.min_run_s
        w = queued[d.for_task]
        hold = decisions[w.id]
        assert isinstance(hold, Hold) and hold.reason == REASON_WAITING_FOR_PREEMPTION
        assert str(r.id) in hold.detail
        assert task_group(w.group, cfg) == task_group(r.group, cfg)
        mine = effective_priority(r, cfg, NOW)
        theirs = plan_priority(s, cfg, w)
        if theirs == 10**6:
            continue  # an AUTO task still waiting: its level is only known once it starts
        if d.reason == SUSPEND_PREEMPTED:
            assert mine < theirs
        else:
            assert d.reason == SUSPEND_TIME_SLICE and cfg.time_slicing
            assert mine == theirs and r.user != w.user
            assert s.usage[w.user] < s.usage[r.user]


def plan_priority(s: Snapshot, cfg: PolicyConfig, t: QueuedTask) -> int:
    if t.priority != AUTO:
        return t.priority
    start_or_hold = plan(s, cfg, NOW).decisions[t.id]
    return getattr(start_or_hold, "priority", 10**6)  # AUTO: only compare when started


def _apply(s: Snapshot, result) -> Snapshot:  # type: ignore[no-untyped-def]
    """The next snapshot once suspended tasks stopped and started tasks run (same clock)."""
    running: list[RunningTask] = []
    queued = {t.id: t for t in s.queued}
    for r in s.running:
        d = result.decisions[r.id]
        if r.suspending or isinstance(d, Suspend):
            queued[r.id] = QueuedTask(
                r.id, r.user, r.group, r.priority, len(r.nodes), r.submitted_at,
                ran_s=r.ran_s + NOW - r.started_at,
            )  # fmt: skip
        else:
            running.append(r)
    for start in result.starts():
        t = queued.pop(start.task_id)
        running.append(
            RunningTask(t.id, t.user, t.group, start.priority, start.nodes, t.submitted_at, NOW)
        )
    return Snapshot(
        s.nodes, tuple(running), tuple(queued.values()), s.quotas, s.user_groups, s.usage
    )


@SETTINGS
@given(snapshots(allow_auto=False), configs)
def test_no_useless_suspend_the_waiting_task_starts_next(s: Snapshot, cfg: PolicyConfig) -> None:
    first = plan(s, cfg, NOW)
    waiting = {d.for_task for d in first.suspends() if d.for_task is not None}
    # A task suspended for another reason (node failure, or earlier) is requeued in its old
    # place and may rightly come before the waiting task: leave such groups out.
    queued = {t.id: t for t in s.queued}
    for r in s.running:
        d = first.decisions[r.id]
        if r.suspending or (isinstance(d, Suspend) and d.for_task is None):
            for w in list(waiting):
                same_group = task_group(queued[w].group, cfg) == task_group(r.group, cfg)
                if same_group and r.priority >= queued[w].priority:
                    waiting.discard(w)
    # Stopping tasks also frees quota: a quota-held task ahead may then rightly go first.
    for w in list(waiting):
        ahead_quota = any(
            isinstance(d, Hold)
            and d.reason == REASON_QUOTA_EXCEEDED
            and task_group(t.group, cfg) == task_group(queued[w].group, cfg)
            and d.position < first.decisions[w].position
            for t in s.queued
            if (d := first.decisions[t.id])
        )
        # A task ahead that waited past max_backfill_wait_s reserves: nodes that free up go to
        # it first (it is the one starving), so the waiting task may rightly wait on.
        ahead_reserving = any(
            isinstance(d, Hold)
            and d.reason == REASON_RESERVING
            and task_group(t.group, cfg) == task_group(queued[w].group, cfg)
            and d.position < first.decisions[w].position
            for t in s.queued
            if (d := first.decisions[t.id])
        )
        if ahead_quota or ahead_reserving:
            waiting.discard(w)
    second = plan(_apply(s, first), cfg, NOW)
    for tid in waiting:
        assert isinstance(second.decisions[tid], Start), (tid, second.decisions[tid])
    for w in waiting:
        sizes = [
            len(r.nodes)
            for r in s.running
            if isinstance(d := first.decisions[r.id], Suspend) and d.for_task == w
        ]
        need = next(t.nodes for t in s.queued if t.id == w)
        if sizes:
            assert sum(sizes) - min(sizes) < need  # no victim could be spared


@SETTINGS
@given(snapshots(allow_auto=False), configs)
def test_no_waiting_task_while_lower_priority_holds_usable_nodes(
    s: Snapshot, cfg: PolicyConfig
) -> None:
    if cfg.strict_fifo or not cfg.preemption:
        return
    result = plan(s, cfg, NOW)
    node = {n.name: n for n in s.nodes}
    started = {n for st_ in result.starts() for n in st_.nodes}
    held = {n for r in s.running for n in r.nodes}
    for t in s.queued:
        d = result.decisions[t.id]
        if not (isinstance(d, Hold) and d.reason in (REASON_NO_CAPACITY, REASON_PRIORITY)):
            continue
        group = task_group(t.group, cfg)
        ahead_waiting = any(
            isinstance(o, Hold)
            and o.reason in (REASON_WAITING_FOR_PREEMPTION, REASON_RESERVING)
            and task_group(q.group, cfg) == group
            and o.position < d.position
            for q in s.queued
            if (o := result.decisions[q.id])
        )
        if ahead_waiting:
            continue
        free = sum(
            1 for n in s.nodes if n.group == group and n.usable and n.name not in held | started
        )
        usable_lower = 0
        for r in s.running:
            if task_group(r.group, cfg) != group or not isinstance(result.decisions[r.id], Keep):
                continue
            bad = any(n not in node or not node[n].usable for n in r.nodes)
            if r.suspending or bad:
                usable_lower += sum(1 for n in r.nodes if n in node and node[n].usable)
            elif (
                effective_priority(r, cfg, NOW) < t.priority and NOW - r.started_at >= cfg.min_run_s
            ):
                usable_lower += len(r.nodes)
        assert free + usable_lower < t.nodes, (t, d)


@SETTINGS
@given(snapshots(), configs, st.integers(0, 2**32 - 1))
def test_same_plan_in_any_input_order(s: Snapshot, cfg: PolicyConfig, seed: int) -> None:
    rng = random.Random(seed)

    def shuffled(items: tuple) -> tuple:
        items = list(items)
        rng.shuffle(items)
        return tuple(items)

    other = Snapshot(
        shuffled(s.nodes),
        shuffled(s.running),
        shuffled(s.queued),
        shuffled(s.quotas),
        dict(reversed(list(s.user_groups.items()))),
        dict(reversed(list(s.usage.items()))),
    )
    assert plan(other, cfg, NOW) == plan(s, cfg, NOW)


@SETTINGS
@given(snapshots(), configs)
def test_plan_does_not_mutate_its_input(s: Snapshot, cfg: PolicyConfig) -> None:
    before = repr(s)
    plan(s, cfg, NOW)
    assert repr(s) == before


@SETTINGS
@given(snapshots(), configs)
def test_queue_order_is_the_documented_total_key(s: Snapshot, cfg: PolicyConfig) -> None:
    from hai_cli.scheduler.order import queue_key, queued_priority
    from hai_cli.scheduler.policy import Planner

    planner = Planner(s, cfg, NOW, tracing=True)
    result = planner.run()
    for group, tasks in planner.queues.items():

        def key(t: QueuedTask):
            prio = t.priority if t.priority != AUTO else planner.trace[t.id].priority
            eff = int(Priority.LOW) if prio is None else queued_priority(t, prio, cfg)
            return queue_key(t, eff, s.usage, cfg, NOW)

        assert tasks == sorted(tasks, key=key), group
        for position, t in enumerate(tasks, start=1):
            d = result.decisions[t.id]
            assert not isinstance(d, Hold) or d.position == position


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots(), configs)
def test_explain_agrees_with_plan_for_every_task(s: Snapshot, cfg: PolicyConfig) -> None:
    import json
    from dataclasses import asdict

    from hai_cli.scheduler import explain

    result = plan(s, cfg, NOW)
    for tid, d in result.decisions.items():
        e = explain(s, cfg, NOW, tid)
        assert e.decision == type(d).__name__.lower()
        assert e.reason == getattr(d, "reason", None)
        if isinstance(d, Hold):
            assert e.position == d.position and e.ahead_count == d.position - 1
        if isinstance(d, Start):
            assert e.nodes == d.nodes and e.eta_s == 0.0
        victims = tuple(sorted(v.task_id for v in result.suspends() if v.for_task == tid))
        assert e.would_preempt == victims
        json.dumps(asdict(e))


@SETTINGS
@given(snapshots(), configs)
def test_a_reserving_task_is_not_backfilled(s: Snapshot, cfg: PolicyConfig) -> None:
    """Nothing after a task that keeps nodes for itself (it waited too long) starts in its
    group: the free nodes it keeps are not backfilled."""
    from hai_cli.scheduler.policy import Planner

    planner = Planner(s, cfg, NOW, tracing=True)
    result = planner.run()
    for group, tasks in planner.queues.items():
        reserving = [
            i for i, t in enumerate(tasks)
            if isinstance(d := result.decisions[t.id], Hold) and d.reason == "reserving"
        ]  # fmt: skip
        if not reserving:
            continue
        for t in tasks[reserving[0] + 1 :]:
            assert not isinstance(result.decisions[t.id], Start), (group, t)
