"""plan(snapshot, config, now) -> Plan: the time-sharing policy, one pass per node group.

The pass, for each group in name order and each queued task in queue order (see order.py):
held by a person -> hold(held); a failed start still backing off -> hold(start_failed);
unknown group -> hold(unknown_group); larger than the group ->
hold(too_large); over a quota row -> hold(quota_exceeded); strict FIFO and an earlier task is
still waiting -> hold(priority); enough free nodes -> start (zone-aware, placement.py); enough
nodes once already-suspending tasks stop -> hold(waiting_for_preemption) and reserve them;
enough after suspending the fewest allowed victims (preempt.py) -> suspend them and
hold(waiting_for_preemption); otherwise hold(no_capacity), or hold(priority) when the free
nodes would have sufficed but tasks ahead took them. Running tasks on unhealthy or cordoned
nodes are suspended with node_failure first; their healthy nodes count as freeing soon.
"""

from __future__ import annotations

import gc

from hai_cli.scheduler.model import (
    AUTO,
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
    Decision,
    Hold,
    Plan,
    PolicyConfig,
    Priority,
    QueuedTask,
    RunningTask,
    Snapshot,
    Start,
    Suspend,
)
from hai_cli.scheduler.nodeindex import node_index
from hai_cli.scheduler.order import effective_priority, is_aged, queued_priority
from hai_cli.scheduler.passstate import Group as _Group
from hai_cli.scheduler.passstate import TaskTrace
from hai_cli.scheduler.passstate import keep as _keep
from hai_cli.scheduler.preempt import Candidate, Victims
from hai_cli.scheduler.quota import QuotaBook, QuotaInfo

LOW = int(Priority.LOW)
NORMAL = int(Priority.NORMAL)
Entry = tuple[float, int, int, QueuedTask]  # (first submission, id, effective priority, task)
ABOVE_NORMAL = int(Priority.ABOVE_NORMAL)


def plan(snapshot: Snapshot, config: PolicyConfig, now: float) -> Plan:
    """Decide, for every running and queued task of ``snapshot``, what happens now.

    Pure: reads only its arguments, never mutates them, and returns the same plan for the
    same snapshot whatever the order of its tuples.

    CPython's cyclic garbage collector is paused for the call: a pass allocates about one
    object per task and the collector would otherwise walk the whole snapshot again and again
    (half the time of a 100,000-task pass). A pass creates no reference cycles, and the
    collector's previous state is restored on the way out.
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        return Planner(snapshot, config, now).run()
    finally:
        if paused:
            gc.enable()


class Planner:
    """One planning pass. ``trace`` (for explanations) is filled when ``tracing`` is on."""

    def __init__(
        self, snapshot: Snapshot, config: PolicyConfig, now: float, *, tracing: bool = False
    ) -> None:
        self.snapshot = snapshot
        self.config = config
        self.now = now
        self.tracing = tracing
        self.trace: dict[int, TaskTrace] = {}
        self.queues: dict[str, list[QueuedTask]] = {}  # filled when tracing
        self._auto: dict[int, int | None] = {}  # AUTO task -> resolved level (None: no room)
        self.decisions: dict[int, Decision] = {}
        self.quota = QuotaBook(snapshot, config, now)
        self.groups: dict[str, _Group] = {}
        self.may_preempt = config.preemption and not config.strict_fifo
        self.index = node_index(snapshot.nodes)
        self.aged: set[int] = set()  # waited past max_backfill_wait_s: first, and reserving

    def run(self) -> Plan:
        index = self.index
        victims = {g: Victims(self.config, self.now, self.snapshot.usage) for g in index.size}
        held, freeing = self._running(victims)
        for name in sorted(index.size):
            usable = index.usable_by_group.get(name, ())
            self.groups[name] = _Group(index.size[name], usable, held, freeing, victims[name])
        for name, tasks in sorted(self._queues().items()):
            self._schedule_group(name, tasks)
        # Insertion order is already deterministic: running tasks by id, then each group's
        # queue in its total order.
        return Plan(self.decisions)

    # --- inputs -------------------------------------------------------------------------

    def _running(self, victims: dict[str, Victims]) -> tuple[set[str], dict[str, int]]:
        """Decide running tasks (keep or node_failure), register possible victims.

        Returns the nodes held by running tasks and the usable nodes freeing soon (-> owner).
        """
        config, now, decisions = self.config, self.now, self.decisions
        usable, add_use = self.index.usable, self.quota.add
        default_group, min_run = config.default_group, config.min_run_s
        demote_after = config.above_normal_demote_after_s
        may_preempt = self.may_preempt
        aged_limit = None if config.strict_fifo else config.max_backfill_wait_s
        held: set[str] = set()
        freeing: dict[str, int] = {}
        for r in sorted(self.snapshot.running, key=_task_id):
            group = r.group or default_group
            nodes = r.nodes
            add_use(r.user, group, r.priority, len(nodes))
            held.update(nodes)
            failed = not usable.issuperset(nodes)
            if r.suspending or failed:
                decisions[r.id] = (
                    _keep(r.id) if r.suspending else Suspend(r.id, SUSPEND_NODE_FAILURE)
                )
                for name in nodes:
                    if name in usable:
                        freeing[name] = r.id
                continue
            decisions[r.id] = _keep(r.id)
            if may_preempt and now - r.started_at >= min_run and group in victims:
                prio = r.priority
                if prio == ABOVE_NORMAL and r.ran_s + now - r.started_at >= demote_after:
                    prio = effective_priority(r, config, now)
                if (
                    prio < NORMAL
                    and aged_limit is not None
                    and (r.started_at - r.submitted_at - r.ran_s >= aged_limit)
                ):
                    # it started because it had waited too long, ahead of NORMAL work: that
                    # work may not take its nodes straight back (it would start, be preempted,
                    # wait again, forever)
                    prio = NORMAL
                victims[group].add(r, prio)
        return held, freeing

    def _queues(self) -> dict[str, list[Entry]]:
        """Resolve AUTO priorities and put every group's queue in order.

        The order is ``order.queue_key`` (effective priority, decayed usage, first submission,
        id). For speed the tasks are bucketed by the first two fields and each small bucket
        is sorted by (submission, id), which gives exactly the same order.
        """
        config = self.config
        default_group = config.default_group
        fifo = config.strict_fifo
        fair = config.fair_share and not fifo
        share = self.snapshot.usage.get
        auto = self._auto
        now = self.now
        aged = self.aged
        buckets: dict[str, dict[tuple[int, float], list[Entry]]] = {}
        for t in self.snapshot.queued:
            group = t.group or default_group
            prio: int | None = t.priority
            if prio == AUTO:
                prio = auto[t.id] = self.quota.resolve_auto(t.user, group, t.nodes)
                eff = LOW if prio is None else queued_priority(t, prio, config)
            elif prio == ABOVE_NORMAL and t.ran_s:
                eff = queued_priority(t, prio, config)
            else:
                eff = prio
            if is_aged(t, config, now):
                # waited too long: see order.queue_key. Preemption still goes by its priority
                aged.add(t.id)
                key = (-(max(eff, NORMAL) + 0.5), -1.0)
            else:
                key = (0, 0.0) if fifo else (-eff, share(t.user, 0.0) if fair else 0.0)
            by_key = buckets.get(group)
            if by_key is None:
                by_key = buckets[group] = {}
            bucket = by_key.get(key)
            if bucket is None:
                bucket = by_key[key] = []
            bucket.append((t.submitted_at, t.id, eff, t))
        queues: dict[str, list[Entry]] = {}
        for group, by_key in buckets.items():
            entries: list[Entry] = []
            for key in sorted(by_key):
                bucket = by_key[key]
                bucket.sort(key=_submission)
                entries.extend(bucket)
            queues[group] = entries
        if self.tracing:
            self.queues = {g: [e[3] for e in entries] for g, entries in queues.items()}
        return queues

    # --- the pass -----------------------------------------------------------------------

    def _schedule_group(self, name: str, entries: list[Entry]) -> None:
        """Decide the queued tasks of one group, in queue order (the hot loop: kept flat)."""
        group = self.groups.get(name)
        decisions, quota, tracing = self.decisions, self.quota, self.tracing
        if group is None:
            for position, (_, _, eff, t) in enumerate(entries, start=1):
                if tracing:
                    self.trace[t.id] = TaskTrace(name, eff)
                reason = REASON_HELD if t.held else REASON_UNKNOWN_GROUP
                detail = "" if t.held else f"no node group named {name!r}"
                decisions[t.id] = Hold(t.id, reason, position, detail)
            return
        may_preempt, strict_fifo = self.may_preempt, self.config.strict_fifo
        victims = group.victims
        assert victims is not None
        bounds = victims.bounds
        free_pool, freeing_pool = group.free, group.freeing
        free_at_start = group.free_at_start
        # quota.fits() inlined (hot loop): limits cached per (user, level)
        fit_cache: dict[tuple[str, int], tuple[str, int | None, int | None]] = {}
        used, total = quota.used, quota.total
        for position, (_, tid, eff, t) in enumerate(entries, start=1):
            prio = self._admit(name, group, tid, eff, t, position)
            if prio is None:
                continue
            n = t.nodes
            user = t.user
            limits = fit_cache.get((user, prio))
            if limits is None:
                limits = fit_cache[(user, prio)] = quota.limits(user, name, prio)
            resource, level_limit, total_limit = limits
            if (level_limit is not None and used.get((user, resource), 0) + n > level_limit) or (
                total_limit is not None and total.get(user, 0) + n > total_limit
            ):
                over = quota.blocking(t.user, name, prio, n)
                assert over is not None
                self._hold_quota(t, position, over, "")
                continue
            if tracing:
                self.trace[tid].quota = quota.info(t.user, name, prio, n)
            if group.blocked:
                decisions[tid] = Hold(tid, REASON_PRIORITY, position, "an earlier task waits")
                continue
            free = free_pool.count
            if free >= n:
                nodes = free_pool.take(n)
                assert nodes is not None
                quota.add(t.user, name, prio, n)
                decisions[tid] = Start(tid, nodes, prio)
                continue
            short = n - free - freeing_pool.count
            if short > 0:
                bound = 0
                if may_preempt:
                    bound = bounds.get(eff, -1)
                    if bound < 0:
                        bound = victims.upper_bound(eff)
                if bound < short:
                    # no way to make room: the common case in a busy cluster
                    if tid in self.aged:
                        self._reserve(group, t, position)
                        continue
                    reason = REASON_PRIORITY if n <= free_at_start else REASON_NO_CAPACITY
                    decisions[tid] = Hold(tid, reason, position)
                    if strict_fifo:
                        group.blocked = True
                    elif free == 0 and freeing_pool.count == 0 and bound == 0:
                        # Saturated: nothing is free, nothing frees, and no task from here on
                        # (never of higher priority) may preempt. The rest only holds.
                        self._hold_rest(name, group, entries, position)
                        return
                    continue
            self._wait(name, group, t, prio, eff, position)

    def _admit(
        self, name: str, group: _Group, tid: int, eff: int, t: QueuedTask, position: int
    ) -> int | None:
        """The checks every queued task passes first, in order: its priority level (AUTO
        resolved), its trace, held, too large for the group, no level with quota room.
        Returns the level to go on with, or None when a hold was decided."""
        prio: int | None = t.priority
        if prio == AUTO:
            prio = self._auto[tid]
        if self.tracing:
            eff_or_none = None if prio is None else eff
            self.trace[tid] = TaskTrace(name, eff_or_none, free_at_start=group.free_at_start)
        if t.held:
            self.decisions[tid] = Hold(tid, REASON_HELD, position)
            return None
        if t.not_before is not None and t.not_before > self.now:
            self.decisions[tid] = Hold(tid, REASON_START_FAILED, position)
            return None
        if t.nodes > group.size:
            self.decisions[tid] = Hold(
                tid, REASON_TOO_LARGE, position, f"group {name} has {group.size} nodes"
            )
            return None
        if prio is None:
            info = self.quota.info(t.user, name, LOW, t.nodes)
            self._hold_quota(t, position, info, "no priority level has quota room")
            return None
        return prio

    def _hold_rest(self, name: str, group: _Group, entries: list[Entry], done: int) -> None:
        """Hold ``entries[done:]`` of a saturated group: the checks of the main loop that can
        still matter (held, too large, quota), in the same order, and the capacity reason."""
        decisions, quota, tracing = self.decisions, self.quota, self.tracing
        free_at_start = group.free_at_start
        verdicts: dict[tuple[str, int, int], QuotaInfo | None] = {}  # quota use is frozen now
        position = done
        for _, tid, eff, t in entries[done:]:
            position += 1
            prio = self._admit(name, group, tid, eff, t, position)
            if prio is None:
                continue
            n = t.nodes
            key = (t.user, prio, n)
            if key in verdicts:
                over = verdicts[key]
            else:
                over = verdicts[key] = quota.blocking(t.user, name, prio, n)
            if over is not None:
                self._hold_quota(t, position, over, "")
                continue
            if tracing:
                self.trace[tid].quota = quota.info(t.user, name, prio, n)
            reason = REASON_PRIORITY if n <= free_at_start else REASON_NO_CAPACITY
            decisions[tid] = Hold(tid, reason, position)

    def _hold_quota(self, t: QueuedTask, position: int, info: QuotaInfo, why: str) -> None:
        if self.tracing:
            self.trace[t.id].quota = info
        detail = why or (
            f"{info.resource} ({info.principal}): {info.in_use} of {info.limit} nodes in use, "
            f"{info.requested} requested"
        )
        self.decisions[t.id] = Hold(t.id, REASON_QUOTA_EXCEEDED, position, detail)

    def _wait(
        self, name: str, group: _Group, t: QueuedTask, prio: int, eff: int, position: int
    ) -> None:
        """The task does not fit in the free nodes: reserve freeing nodes or preempt.

        ``prio`` is its concrete level (quota), ``eff`` its effective one (preemption).
        """
        need = t.nodes - group.free.count - group.freeing.count
        chosen: list[Candidate] = []
        victims = group.victims
        if need > 0:
            possible = self.may_preempt and victims is not None and victims.upper_bound(eff) >= need
            picked = victims.select(eff, t.user, need, t) if possible and victims else None
            if picked is None:
                if t.id in self.aged:
                    self._reserve(group, t, position)
                    return
                reason = REASON_PRIORITY if t.nodes <= group.free_at_start else REASON_NO_CAPACITY
                self.decisions[t.id] = Hold(t.id, reason, position)
                if self.config.strict_fifo:
                    group.blocked = True
                return
            chosen = picked
            assert victims is not None
            victims.take(chosen)
            for c in chosen:
                reason = victims.suspend_reason(c, eff)
                self.decisions[c.task.id] = Suspend(c.task.id, reason, for_task=t.id)
        free_now = group.free.count  # fewer than the task needs, or it would have started
        group.free.take_upto(free_now)
        claimed = group.freeing.take_upto(t.nodes - free_now)
        owners = tuple(sorted({group.owner[n] for n in claimed}))
        self.quota.add(t.user, name, prio, t.nodes)
        waits_for = sorted({*owners, *(c.task.id for c in chosen)})
        detail = "waiting for task(s) " + ", ".join(map(str, waits_for)) + " to stop"
        self.decisions[t.id] = Hold(t.id, REASON_WAITING_FOR_PREEMPTION, position, detail)
        if self.config.strict_fifo:
            group.blocked = True
        if self.tracing:
            tr = self.trace[t.id]
            tr.victims = tuple(sorted(c.task.id for c in chosen))
            tr.waiting_for = owners

    def _reserve(self, group: _Group, t: QueuedTask, position: int) -> None:
        """A task that waited too long keeps the free nodes it will need: tasks after it in
        the queue no longer backfill them, so it starts once enough more free up."""
        kept = group.free.take_upto(t.nodes)
        waited = self.now - t.submitted_at - t.ran_s
        detail = (
            f"keeps {len(kept)} of its {t.nodes} nodes free until the rest free up "
            f"(waited {waited / 3600:.1f} h; smaller tasks no longer backfill them)"
        )
        self.decisions[t.id] = Hold(t.id, REASON_RESERVING, position, detail)
        if self.config.strict_fifo:
            group.blocked = True


def _submission(entry: Entry) -> tuple[float, int]:
    return (entry[0], entry[1])


def _task_id(t: RunningTask) -> int:
    return t.id
