"""The virtual-clock engine: replay jobs through the real ``plan()``.

Events (submit, finish, a suspended job done saving) happen at their exact times; scheduling
happens on a tick grid, like the real server's reconciler loop: after the events of a tick,
``plan()`` runs once on a snapshot of that moment and its starts and suspends are applied at
the tick time. A tick with no event is skipped, except ticks where a time rule may change a
decision (end of a minimum run time, ABOVE_NORMAL demotion, end of a time slice).

A suspended job stops making progress at once, keeps its nodes while it saves (``suspend_s``)
and is then requeued in its old place; it loses the work since its last periodic checkpoint
(nothing when it checkpoints on suspend, ``checkpoint_s`` 0).
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from dataclasses import dataclass, field

from hai_cli.scheduler import plan
from hai_cli.scheduler.fairshare import accrue
from hai_cli.scheduler.model import (
    AUTO,
    PolicyConfig,
    Priority,
    QueuedTask,
    RunningTask,
    Snapshot,
    Start,
    Suspend,
)
from hai_cli.simulate.cluster import Cluster
from hai_cli.simulate.errors import InputError
from hai_cli.simulate.trace import Job

POLICIES: dict[str, PolicyConfig] = {
    "time-sharing": PolicyConfig(preemption=True, fair_share=True),
    "priority": PolicyConfig(preemption=True, fair_share=False),
    "fifo": PolicyConfig(preemption=False, fair_share=False, strict_fifo=True),
}
DEFAULT_TICK_S = 30.0

_SUBMIT, _STOPPED, _FINISH, _RECHECK = 0, 1, 2, 3  # same-time events: submits first


@dataclass(slots=True)
class _State:
    job: Job
    id: int
    remaining: float
    queued: QueuedTask | None = None
    running: RunningTask | None = None
    attempt: int = 0
    started_at: float = 0.0
    first_start: float | None = None
    finish: float | None = None
    ran_s: float = 0.0
    priority: int = 0  # the concrete level it runs at
    preemptions: int = 0
    lost_s: float = 0.0  # node-seconds of work thrown away by its suspensions
    queued_at: float = 0.0  # when it last entered the queue
    queued_s: float = 0.0  # all the time it waited in the queue


@dataclass
class SimResult:
    policy: str
    jobs: list[Job]
    first_start: list[float | None]
    finish: list[float | None]
    busy_node_s: float
    capacity_nodes: int
    preemptions: int
    lost_work_node_s: float
    plans: int
    extra: dict[str, float] = field(default_factory=dict)
    preempted: list[int] = field(default_factory=list)  # per job: times it was suspended
    lost: list[float] = field(default_factory=list)  # per job: node-seconds lost
    busy: list[tuple[float, int]] = field(default_factory=list)  # (time, nodes busy) steps
    queued: list[float] = field(default_factory=list)  # per job: seconds spent waiting


def policy_config(name: str, cluster: Cluster) -> PolicyConfig:
    if name not in POLICIES:
        raise InputError(f"unknown policy {name!r}; use one of {', '.join(POLICIES)}")
    return dataclasses.replace(POLICIES[name], **cluster.scheduler)


def check_jobs(jobs: list[Job], cluster: Cluster) -> None:
    """Jobs that could never run would stall the replay: refuse them up front."""
    sizes = cluster.group_sizes()
    for job in jobs:
        if job.group not in sizes:
            known = ", ".join(sorted(sizes))
            raise InputError(f"job {job.name}: unknown group {job.group!r} (cluster has {known})")
        if job.nodes > sizes[job.group]:
            raise InputError(
                f"job {job.name}: asks for {job.nodes} nodes, group {job.group} has {sizes[job.group]}"
            )


def run_policy(
    jobs: list[Job], cluster: Cluster, policy: str = "time-sharing", tick_s: float = DEFAULT_TICK_S
) -> SimResult:
    """Replay ``jobs`` on ``cluster`` under ``policy``; deterministic for the same input."""
    if not tick_s > 0:
        raise InputError(f"--tick must be > 0, got {tick_s}")
    check_jobs(jobs, cluster)
    return _Engine(jobs, cluster, policy_config(policy, cluster), policy, tick_s).run()


class _Engine:
    def __init__(
        self, jobs: list[Job], cluster: Cluster, config: PolicyConfig, name: str, tick_s: float
    ) -> None:
        self.cluster, self.config, self.name, self.tick = cluster, config, name, tick_s
        self.jobs = jobs
        self.states = [_State(job, i + 1, job.duration_s) for i, job in enumerate(jobs)]
        self.events: list[tuple[float, int, int, int, int]] = []
        self.seq = 0
        for s in self.states:
            self._push(s.job.submit_s, _SUBMIT, s.id, 0)
        self.queued: dict[int, _State] = {}
        self.running: dict[int, _State] = {}
        self.usage: dict[str, float] = {}
        self.held: dict[str, int] = {}  # user -> nodes held now
        self.usage_at = 0.0
        self.busy = 0.0
        self.preemptions = 0
        self.lost = 0.0
        self.plans = 0
        self.busy_now = 0
        self.busy_steps: list[tuple[float, int]] = []

    def _push(self, at: float, kind: int, sid: int, attempt: int) -> None:
        self.seq += 1
        heapq.heappush(self.events, (at, kind, self.seq, sid, attempt))

    def run(self) -> SimResult:
        events, tick = self.events, self.tick
        while events:
            now = math.ceil(events[0][0] / tick) * tick
            changed = False
            while events and events[0][0] <= now:
                at, kind, _, sid, attempt = heapq.heappop(events)
                changed |= self._event(at, kind, self.states[sid - 1], attempt)
            if changed and self.queued:
                self._plan(now)
        return SimResult(
            policy=self.name,
            jobs=self.jobs,
            first_start=[s.first_start for s in self.states],
            finish=[s.finish for s in self.states],
            busy_node_s=self.busy,
            capacity_nodes=len(self.cluster.nodes),
            preemptions=self.preemptions,
            lost_work_node_s=self.lost,
            plans=self.plans,
            preempted=[s.preemptions for s in self.states],
            lost=[s.lost_s for s in self.states],
            queued=[s.queued_s for s in self.states],
            busy=self.busy_steps,
        )

    def _busy(self, at: float, delta: int) -> None:
        self.busy_now += delta
        if self.busy_steps and self.busy_steps[-1][0] == at:
            self.busy_steps[-1] = (at, self.busy_now)
        else:
            self.busy_steps.append((at, self.busy_now))

    def _event(self, at: float, kind: int, s: _State, attempt: int) -> bool:
        if kind == _SUBMIT:
            self._enqueue(s, at)
            return True
        if kind == _RECHECK:
            return s.attempt == attempt and s.running is not None
        if s.attempt != attempt or s.running is None:
            return False  # a stale finish of an attempt that was suspended
        nodes = len(s.running.nodes)
        self.busy += nodes * (at - s.started_at)
        self._busy(at, -nodes)
        self.held[s.job.user] -= nodes
        del self.running[s.id]
        s.ran_s += at - s.started_at
        s.running = None
        if kind == _FINISH:
            s.finish = at
            s.remaining = 0.0
        else:
            self._enqueue(s, at)
        return True

    def _enqueue(self, s: _State, at: float) -> None:
        job = s.job
        s.queued_at = at
        s.queued = QueuedTask(
            s.id, job.user, job.group, job.priority, job.nodes, job.submit_s, ran_s=s.ran_s
        )
        self.queued[s.id] = s

    def _snapshot(self, now: float) -> Snapshot:
        running = []
        for s in self.running.values():
            r = s.running
            assert r is not None
            if not r.suspending:
                ckpt = self._checkpoint(s, now)
                if ckpt != r.last_checkpoint_at:
                    r = s.running = RunningTask(
                        r.id, r.user, r.group, r.priority, r.nodes, r.submitted_at,
                        r.started_at, ckpt, False, None, r.ran_s,
                    )  # fmt: skip
            running.append(r)
        queued = [s.queued for s in self.queued.values() if s.queued is not None]
        return Snapshot(
            nodes=self.cluster.nodes,
            running=tuple(running),
            queued=tuple(queued),
            quotas=self.cluster.quotas,
            user_groups=self.cluster.user_groups,
            usage=dict(self.usage),
        )

    def _checkpoint(self, s: _State, now: float) -> float | None:
        every = s.job.checkpoint_s
        if every <= 0:
            return now  # it saves when told to: suspending it now loses nothing
        done = math.floor((now - s.started_at) / every)
        return s.started_at + done * every if done > 0 else None

    def _decay_usage(self, now: float) -> None:
        dt = now - self.usage_at
        half_life = self.config.usage_half_life_s
        for user, value in self.usage.items():
            self.usage[user] = accrue(value, self.held.get(user, 0), dt, half_life)
        self.usage_at = now

    def _plan(self, now: float) -> None:
        self._decay_usage(now)
        result = plan(self._snapshot(now), self.config, now)
        self.plans += 1
        for decision in result.decisions.values():
            if isinstance(decision, Start):
                self._start(self.queued.pop(decision.task_id), decision, now)
            elif isinstance(decision, Suspend):
                self._suspend(self.running[decision.task_id], now)

    def _start(self, s: _State, d: Start, now: float) -> None:
        job = s.job
        s.attempt += 1
        s.started_at = now
        s.queued_s += now - s.queued_at
        s.priority = d.priority
        if s.first_start is None:
            s.first_start = now
        s.queued = None
        s.running = RunningTask(
            s.id, job.user, job.group, d.priority, d.nodes, job.submit_s, now, ran_s=s.ran_s
        )
        self.running[s.id] = s
        self.held[job.user] = self.held.get(job.user, 0) + job.nodes
        self._busy(now, job.nodes)
        self.usage.setdefault(job.user, 0.0)
        self._push(now + s.remaining, _FINISH, s.id, s.attempt)
        for at in self._rechecks(s, now):
            self._push(at, _RECHECK, s.id, s.attempt)

    def _rechecks(self, s: _State, now: float) -> list[float]:
        """Times at which a time rule may change a decision about this running job."""
        cfg, times = self.config, []
        if cfg.min_run_s > 0 and not cfg.strict_fifo:
            times.append(now + cfg.min_run_s)
        if s.priority == Priority.ABOVE_NORMAL:
            times.append(now + max(0.0, cfg.above_normal_demote_after_s - s.ran_s))
        if cfg.time_slicing:
            times.append(now + cfg.time_slice_s)
        return [t for t in times if now < t < now + s.remaining]

    def _suspend(self, s: _State, now: float) -> None:
        r = s.running
        assert r is not None
        worked = now - s.started_at
        every = s.job.checkpoint_s
        saved = worked if every <= 0 else math.floor(worked / every) * every
        s.remaining = max(0.0, s.remaining - saved)
        self.lost += (worked - saved) * len(r.nodes)
        s.lost_s += (worked - saved) * len(r.nodes)
        self.preemptions += 1
        s.preemptions += 1
        s.running = dataclasses.replace(r, suspending=True, suspend_deadline=now + s.job.suspend_s)
        s.attempt += 1  # the finish event of this attempt is now stale
        self._push(now + s.job.suspend_s, _STOPPED, s.id, s.attempt)


def submitted_priority_name(job: Job) -> str:
    return "AUTO" if job.priority == AUTO else Priority(job.priority).name
