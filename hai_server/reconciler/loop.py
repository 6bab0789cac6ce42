"""The loop around the pure policy: observe -> judge -> load snapshot -> plan -> apply.

One tick: read what the backend sees and write down what it means (short transactions);
load the snapshot; ``plan()``; reserve starts and suspends with guarded writes (a write that
finds the row changed is skipped); then call the backend, outside any transaction.
A submit, a finish or a suspend acknowledgement wakes the loop at once; a timer covers
lost wake-ups.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm.exc import StaleDataError

from hai_server.backends.base import (
    AttemptObservation,
    AttemptSpec,
    Backend,
    BackendError,
    RankSpec,
    platform_env,
    rank_env,
)
from hai_server.db import models as m
from hai_server.db.holds import write_holds
from hai_server.db.queued import QueuedRows
from hai_server.db.session import Sessions
from hai_server.db.snapshot import decayed, load_snapshot_shown
from hai_server.reconciler.judge import TaskView, judge
from hai_server.scheduler import plan as make_plan
from hai_server.scheduler.model import PolicyConfig, Start, priority_name
from hai_server.services import lifecycle as lc
from hai_server.settings import SchedulerSettings

log = logging.getLogger("hai.reconciler")
COALESCE_S = 0.025  # shortest pause between two ticks brought on by wake-ups
# A start moves every task behind it one place, so at scale most queue positions change on
# every tick. A new hold reason or detail, and a new task's first position, are written at
# once; positions that only moved are written for at most this many tasks a tick, nearest
# the front of their queue first (the places people watch), so a tick's writes stay bounded.
MOVED_POSITIONS_PER_TICK = 2000


def _lap(phases: dict[str, float], name: str, t0: float) -> None:
    """Add the time since the previous lap (or ``t0``) to ``phases[name]``, in ms."""
    total = (time.perf_counter() - t0) * 1000
    phases[name] = phases.get(name, 0.0) + total - sum(phases.values())


_ACTIVE_VIEW = select(
    m.Task.id,
    m.Task.state,
    m.Task.restart_count,
    m.Task.started_at,
    m.Task.stop_requested,
    m.Task.suspend_requested,
    m.Task.suspend_deadline,
    m.Task.terminate_sent_at,
    m.Task.suspend_after,
    m.Task.exit_code,
    m.Task.whole_life_state,
    m.Task.last_checkpoint_at,
).where(m.Task.state.in_(lc.ACTIVE))
_CURRENT_RANKS = (
    select(m.Attempt.task_id, m.Attempt.ranks)
    .join(m.Task, m.Task.id == m.Attempt.task_id)
    .where(m.Task.state.in_(lc.ACTIVE), m.Attempt.number == m.Task.restart_count)
)


def _view(t: Any, now: float) -> TaskView:
    """What judge() needs of an active task (an ORM object or a row with the same names)."""
    return TaskView(
        state=t.state,
        restart_count=t.restart_count,
        started_at=t.started_at or now,
        stop_requested=t.stop_requested,
        suspend_requested=t.suspend_requested,
        suspend_deadline=t.suspend_deadline,
        terminate_sent=t.terminate_sent_at is not None,
        suspend_after=t.suspend_after,
        failure_code=t.exit_code if t.state != lc.SUSPENDING else None,
    )


def _rank_rows(obs: AttemptObservation) -> list[dict[str, Any]]:
    return [
        {
            "rank": r.rank,
            "node": r.node,
            "state": r.state,
            "exit_code": r.exit_code,
            "message": r.message,
        }
        for r in obs.ranks
    ]


def _needs_write(r: Any, obs: AttemptObservation | None, ranks: Any, now: float) -> bool:
    """Whether judging this active task (a row of _ACTIVE_VIEW) changes anything stored.

    Mirrors every write of ``_judge_write``; a task it passes over only gets its backend
    calls (suspend notices, terminations) repeated.
    """
    v = judge(_view(r, now), obs, now)
    if v.events or (v.new_state is not None and v.new_state != r.state):
        return True
    if v.failure_code is not None and v.failure_code != r.exit_code:
        return True
    if v.begin_suspend and r.state in (lc.STARTING, lc.RUNNING):
        return True
    if v.terminate and r.terminate_sent_at is None:
        return True
    if obs is None:
        return False
    if obs.whole_life_state is not None and obs.whole_life_state != r.whole_life_state:
        return True
    if obs.last_checkpoint_at is not None and obs.last_checkpoint_at != r.last_checkpoint_at:
        return True
    return ranks != _rank_rows(obs)


def holds_to_write(holds: list[Any], shown: dict[int, tuple[str, int | None, str]]) -> list[Any]:
    """The holds that change what their task shows (see MOVED_POSITIONS_PER_TICK)."""
    changed, moved = [], []
    for h in holds:
        current = shown.get(h.task_id)
        if current is None:  # no longer queued
            continue
        reason, position, detail = current
        if (reason, detail) != (h.reason, h.detail) or position is None:
            changed.append(h)
        elif position != h.position:
            moved.append(h)
    if len(moved) > MOVED_POSITIONS_PER_TICK:
        moved.sort(key=lambda h: h.position)
        moved = moved[:MOVED_POSITIONS_PER_TICK]
    return changed + moved


def policy_config(s: SchedulerSettings) -> PolicyConfig:
    return PolicyConfig(
        preemption=s.preemption,
        fair_share=s.fair_share,
        usage_half_life_s=s.usage_half_life_s,
        above_normal_demote_after_s=s.above_normal_demote_after_s,
        min_run_s=s.min_run_s,
        time_slicing=s.time_slicing,
        time_slice_s=s.time_slice_s,
        strict_fifo=s.strict_fifo,
        default_quota=s.default_quota,
        default_group=s.default_group,
        suspend_grace_s=s.grace_s,
    )


@dataclass
class _Calls:
    """Backend calls collected during a transaction, made after it commits."""

    starts: list[AttemptSpec] = field(default_factory=list)
    notices: list[tuple[int, int, float]] = field(default_factory=list)
    terminates: list[tuple[int, int]] = field(default_factory=list)
    forgets: list[tuple[int, int]] = field(default_factory=list)


class Reconciler:
    def __init__(
        self,
        sessions: Sessions,
        backend: Backend,
        settings: SchedulerSettings,
        log_root: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sessions = sessions
        self._backend = backend
        self._settings = settings
        self._config = policy_config(settings)
        self._log_root = log_root
        self._clock = clock
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._nodes_seen: tuple[Any, ...] = ()
        self.ticks = 0
        self.last_tick_ms = 0.0
        self.last_tick_phases: dict[str, float] = {}  # ms spent per phase of the last tick
        self._queued_rows = QueuedRows()  # the queue, re-read incrementally
        self.last_error: str = ""
        self.on_change: Callable[[], None] = lambda: None
        # several replicas: only the one holding the leader lock ticks (see leader.py)
        self.gate: Callable[[], Awaitable[bool]] | None = None
        self._attempts: dict[int, m.Attempt] = {}  # current attempts, loaded per judge pass

    @property
    def config(self) -> PolicyConfig:
        return self._config

    def wake(self) -> None:
        """Ask for a tick as soon as possible. Safe from any thread."""
        loop = self._loop
        if loop is None:
            self._event.set()
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._event.set()
        else:
            loop.call_soon_threadsafe(self._event.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._backend.set_wakeup(self.wake)
        last_end = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), timeout=self._settings.tick_s)
            # a burst of wake-ups (hundreds of submits a second) makes one tick, not hundreds:
            # between two ticks leave the API at least COALESCE_S, and at least as long as
            # the last tick took, so a long queue never takes more than half the event loop
            pause = max(COALESCE_S, self.last_tick_ms / 1000)
            gap = last_end + pause - self._loop.time()
            if gap > 0:
                await asyncio.sleep(gap)
            self._event.clear()
            try:
                await self.tick()
                self.last_error = ""
            except asyncio.CancelledError:
                raise
            except StaleDataError:
                # a guarded write lost a race (API or another replica): nothing was written;
                # the next tick works from fresh rows
                log.info("tick lost a race on a task row; retrying")
                self._event.set()
            except BackendError as exc:
                # e.g. the cluster API is unreachable: one line, keep ticking on the timer
                if self.last_error != f"backend: {exc}":
                    log.warning("backend unavailable: %s", exc)
                self.last_error = f"backend: {exc}"
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("reconciler tick failed")
                await asyncio.sleep(0.2)
            last_end = self._loop.time()

    async def tick(self) -> None:
        if self.gate is not None and not await self.gate():
            return
        t0 = time.perf_counter()
        phases = self.last_tick_phases = {}
        now = self._clock()
        await self._sync_nodes(now)
        observations = {o.key: o for o in await self._backend.observe()}
        _lap(phases, "observe", t0)
        calls = _Calls()
        changed = await self._judge_active(observations, now, calls)
        changed |= await self._requeue_suspended(now)
        _lap(phases, "judge", t0)
        await self._backend_calls(calls, now)
        _lap(phases, "backend", t0)
        calls = _Calls()
        changed |= await self._schedule(now, calls, phases, t0)
        await self._backend_calls(calls, now)
        _lap(phases, "backend", t0)
        self.ticks += 1
        self.last_tick_ms = (time.perf_counter() - t0) * 1000
        if changed:
            self.on_change()

    # -- nodes ---------------------------------------------------------------------------
    async def _sync_nodes(self, now: float) -> None:
        inventory = await self._backend.inventory()
        seen = tuple(
            sorted((n.name, n.group, n.zone, n.gpus, n.healthy, n.message) for n in inventory)
        )
        if seen == self._nodes_seen:
            return
        async with self._sessions.begin() as s:
            rows = {n.name: n for n in (await s.execute(select(m.Node))).scalars()}
            for n in inventory:
                row = rows.get(n.name)
                if row is None:
                    s.add(
                        m.Node(
                            name=n.name,
                            group=n.group,
                            zone=n.zone,
                            gpus=n.gpus,
                            healthy=n.healthy,
                            cordoned=n.cordoned,
                            message=n.message,
                            updated_at=now,
                        )
                    )
                else:
                    row.group, row.zone, row.gpus = n.group, n.zone, n.gpus
                    row.healthy, row.message, row.updated_at = n.healthy, n.message, now
                    if n.cordoned:
                        row.cordoned = True
            present = {n.name for n in inventory}
            for name, row in rows.items():
                if name not in present and row.healthy:
                    row.healthy, row.message, row.updated_at = (
                        False,
                        "missing from the backend",
                        now,
                    )
        self._nodes_seen = seen

    # -- active attempts ------------------------------------------------------------------
    async def _judge_active(
        self, observations: dict[tuple[int, int], AttemptObservation], now: float, calls: _Calls
    ) -> bool:
        # 1. a read without ORM objects: most active tasks need no write on most ticks
        async with self._sessions() as s:
            rows = (await s.execute(_ACTIVE_VIEW)).all()
            ranks_now = {r.task_id: r.ranks for r in await s.execute(_CURRENT_RANKS)}
        active_keys = set()
        need: list[int] = []
        for r in rows:
            key = (r.id, r.restart_count)
            active_keys.add(key)
            obs = observations.get(key)
            if _needs_write(r, obs, ranks_now.get(r.id), now):
                need.append(r.id)
                continue
            if r.state == lc.SUSPENDING and r.suspend_deadline is not None:
                calls.notices.append((r.id, r.restart_count, r.suspend_deadline))
            if r.terminate_sent_at is not None:
                calls.terminates.append(key)
        # attempts the backend runs but the record does not hold: stop and forget them
        for key in observations:
            if key not in active_keys:
                calls.terminates.append(key)
                if all(r.state == "exited" for r in observations[key].ranks):
                    calls.forgets.append(key)
        if not need:
            return False
        # 2. the tasks that change: load, judge again from the loaded row, write (guarded)
        return await self._judge_write(need, observations, now, calls)

    async def _judge_write(
        self,
        ids: list[int],
        observations: dict[tuple[int, int], AttemptObservation],
        now: float,
        calls: _Calls,
    ) -> bool:
        changed = False
        async with self._sessions.begin() as s:
            tasks = (
                (
                    await s.execute(
                        select(m.Task).where(m.Task.id.in_(ids), m.Task.state.in_(lc.ACTIVE))
                    )
                )
                .scalars()
                .all()
            )
            self._attempts = {
                a.task_id: a
                for a in (
                    await s.execute(
                        select(m.Attempt)
                        .join(m.Task, m.Task.id == m.Attempt.task_id)
                        .where(
                            m.Task.id.in_(ids),
                            m.Task.state.in_(lc.ACTIVE),
                            m.Attempt.number == m.Task.restart_count,
                        )
                    )
                ).scalars()
            }
            for t in tasks:
                key = (t.id, t.restart_count)
                obs = observations.get(key)
                verdict = judge(_view(t, now), obs, now)
                if obs is not None:
                    if (
                        obs.whole_life_state is not None
                        and obs.whole_life_state != t.whole_life_state
                    ):
                        t.whole_life_state = obs.whole_life_state
                    if (
                        obs.last_checkpoint_at is not None
                        and obs.last_checkpoint_at != t.last_checkpoint_at
                    ):
                        t.last_checkpoint_at = obs.last_checkpoint_at
                for kind, message in verdict.events:
                    s.add(m.Event(task_id=t.id, at=now, kind=kind, message=message))
                if verdict.failure_code is not None:
                    t.exit_code = verdict.failure_code
                if verdict.new_state is not None and verdict.new_state != t.state:
                    lc.check(t.state, verdict.new_state)
                    t.state = verdict.new_state
                    changed = True
                    if verdict.new_state not in lc.ACTIVE:
                        await self._close_attempt(
                            s, t, obs, verdict.outcome, verdict.exit_code, now
                        )
                        calls.forgets.append(key)
                    elif obs is not None:
                        await self._record_ranks(s, t, obs)
                    if verdict.new_state in lc.TERMINAL:
                        t.ended_at = now
                        t.exit_code = verdict.exit_code
                elif obs is not None:
                    await self._record_ranks(s, t, obs)
                if verdict.begin_suspend and t.state in (lc.STARTING, lc.RUNNING):
                    self._begin_suspend(s, t, verdict.begin_suspend, None, now, calls)
                    changed = True
                if verdict.terminate and t.terminate_sent_at is None and t.state in lc.ACTIVE:
                    t.terminate_sent_at = now
                if t.state == lc.SUSPENDING and t.suspend_deadline is not None:
                    calls.notices.append((t.id, t.restart_count, t.suspend_deadline))
                if t.terminate_sent_at is not None and t.state in lc.ACTIVE:
                    calls.terminates.append(key)
        return changed

    def _begin_suspend(
        self, s: Any, t: m.Task, reason: str, for_task: int | None, now: float, calls: _Calls
    ) -> None:
        lc.check(t.state, lc.SUSPENDING)
        t.state = lc.SUSPENDING
        t.suspend_requested = False
        t.suspend_reason = reason
        t.suspend_deadline = now + self._settings.grace_s
        text = {
            "user": "suspend requested by the user",
            "rehearsal": "suspend rehearsal (--suspend-after)",
            "node_failure": "a node of this task failed",
            "preempted": f"preempted to make room for task {for_task}",
            "time_slice": f"time slice over; making room for task {for_task}",
        }.get(reason, reason)
        s.add(
            m.Event(
                task_id=t.id,
                at=now,
                kind="suspend",
                message=f"{text}; notice sent, grace {self._settings.grace_s:g} s",
            )
        )
        calls.notices.append((t.id, t.restart_count, t.suspend_deadline))

    async def _record_ranks(self, s: Any, t: m.Task, obs: AttemptObservation) -> None:
        ranks = _rank_rows(obs)
        att = self._attempts.get(t.id)
        if att is None or att.number != t.restart_count:
            att = (
                await s.execute(
                    select(m.Attempt).where(
                        m.Attempt.task_id == t.id, m.Attempt.number == t.restart_count
                    )
                )
            ).scalar_one_or_none()
        if att is not None and att.ranks != ranks:
            att.ranks = ranks

    async def _close_attempt(
        self,
        s: Any,
        t: m.Task,
        obs: AttemptObservation | None,
        outcome: str,
        exit_code: int | None,
        now: float,
    ) -> None:
        if obs is not None:
            await self._record_ranks(s, t, obs)
        await s.execute(
            update(m.Attempt)
            .where(
                m.Attempt.task_id == t.id,
                m.Attempt.number == t.restart_count,
                m.Attempt.ended_at.is_(None),
            )
            .values(ended_at=now, outcome=outcome, exit_code=exit_code)
        )
        t.terminate_sent_at = None
        t.suspend_deadline = None
        t.stop_requested = False
        if t.started_at is not None:
            t.ran_s = (t.ran_s or 0.0) + max(0.0, now - t.started_at)

    async def _requeue_suspended(self, now: float) -> bool:
        async with self._sessions.begin() as s:
            rows = (
                (await s.execute(select(m.Task).where(m.Task.state == lc.SUSPENDED)))
                .scalars()
                .all()
            )
            for t in rows:
                lc.check(t.state, lc.QUEUED)
                t.state = lc.QUEUED
                t.restart_count += 1
                t.reason, t.position = "", None
                t.started_at = None
                s.add(
                    m.Event(
                        task_id=t.id,
                        at=now,
                        kind="requeued",
                        message="back in the queue in its old place",
                    )
                )
            return bool(rows)

    # -- scheduling ----------------------------------------------------------------------
    async def _schedule(
        self, now: float, calls: _Calls, phases: dict[str, float], t0: float
    ) -> bool:
        async with self._sessions.begin() as s:
            await self._update_usage(s, now)
            snapshot, shown = await load_snapshot_shown(
                s, now, self._config.usage_half_life_s, self._queued_rows
            )
        _lap(phases, "load", t0)
        if not snapshot.queued and not snapshot.running:
            return False
        the_plan = make_plan(snapshot, self._config, now)
        _lap(phases, "plan", t0)
        changed = False
        async with self._sessions.begin() as s:
            starts = the_plan.starts()
            suspends = the_plan.suspends()
            if starts or suspends:
                ids = [d.task_id for d in starts] + [d.task_id for d in suspends]
                rows = {
                    t.id: t
                    for t in (await s.execute(select(m.Task).where(m.Task.id.in_(ids)))).scalars()
                }
                for d in suspends:
                    t = rows.get(d.task_id)
                    if t is None or t.state not in (lc.STARTING, lc.RUNNING):
                        continue
                    self._begin_suspend(s, t, d.reason, d.for_task, now, calls)
                    changed = True
                for d in starts:
                    t = rows.get(d.task_id)
                    if t is None or t.state != lc.QUEUED:
                        continue  # guarded: the row changed since the snapshot
                    calls.starts.append(await self._reserve_start(s, t, d, now))
                    changed = True
            dirty = holds_to_write(the_plan.holds(), shown)
            if dirty:
                await write_holds(s, dirty)
        _lap(phases, "write", t0)
        return changed

    async def _reserve_start(self, s: Any, t: m.Task, d: Start, now: float) -> AttemptSpec:
        lc.check(t.state, lc.STARTING)
        t.state = lc.STARTING
        t.run_priority = d.priority
        t.started_at = now
        t.reason, t.position, t.detail = "", None, ""
        t.exit_code = None
        t.terminate_sent_at = None
        log_dir = os.path.join(self._log_root, str(t.id), f"attempt-{t.restart_count}")
        s.add(
            m.Attempt(
                task_id=t.id,
                number=t.restart_count,
                nodes=list(d.nodes),
                priority=d.priority,
                started_at=now,
                log_dir=log_dir,
                ranks=[
                    {"rank": i, "node": n, "state": "pending", "exit_code": None, "message": ""}
                    for i, n in enumerate(d.nodes)
                ],
            )
        )
        where = ", ".join(d.nodes)
        s.add(
            m.Event(
                task_id=t.id,
                at=now,
                kind="start",
                message=f"attempt {t.restart_count} starting on {where} at {priority_name(d.priority)}",
            )
        )
        env = platform_env(
            task_id=t.id,
            name=t.name,
            user=t.user_name,
            attempt=t.restart_count,
            world_size=len(d.nodes),
            whole_life_state=t.whole_life_state,
            log_dir=log_dir,
            user_env=t.env or {},
        )
        ranks = tuple(
            RankSpec(rank=i, node=node, env=rank_env(rank=i, node=node, gpus=()))
            for i, node in enumerate(d.nodes)
        )
        return AttemptSpec(
            task_id=t.id,
            attempt=t.restart_count,
            name=t.name,
            user=t.user_name,
            argv=tuple(t.argv),
            workdir=t.workdir,
            env=env,
            ranks=ranks,
            log_dir=log_dir,
            image=(t.options or {}).get("image"),
        )

    async def _update_usage(self, s: Any, now: float) -> None:
        held: dict[str, int] = {}
        for user, count in (
            await s.execute(
                select(m.Task.user_name, m.Task.nodes).where(m.Task.state.in_(lc.ACTIVE))
            )
        ).all():
            held[user] = held.get(user, 0) + count
        rows = {u.user_name: u for u in (await s.execute(select(m.Usage))).scalars()}
        half = self._config.usage_half_life_s
        for user, row in rows.items():
            dt = now - row.updated_at
            if dt <= 0:
                continue
            row.value = decayed(row.value, dt, half) + held.get(user, 0) * dt
            row.updated_at = now
        for user in held:
            if user not in rows:
                s.add(m.Usage(user_name=user, value=0.0, updated_at=now))

    # -- backend -------------------------------------------------------------------------
    async def _backend_calls(self, calls: _Calls, now: float) -> None:
        for task_id, attempt in dict.fromkeys(calls.terminates):
            try:
                await self._backend.terminate(task_id, attempt, self._settings.kill_grace_s)
            except BackendError as exc:
                await self._event_note(task_id, "backend_error", f"stop failed: {exc}", now)
        for task_id, attempt, deadline in dict.fromkeys(calls.notices):
            try:
                await self._backend.notify_suspend(task_id, attempt, deadline)
            except BackendError as exc:
                await self._event_note(
                    task_id, "backend_error", f"suspend notice failed: {exc}", now
                )
        for key in dict.fromkeys(calls.forgets):
            try:
                await self._backend.forget(*key)
            except BackendError as exc:
                log.warning("forget %s failed: %s", key, exc)
        for spec in calls.starts:
            try:
                await self._backend.start(spec)
            except BackendError as exc:
                await self._start_failed(spec, exc, now)

    async def _start_failed(self, spec: AttemptSpec, exc: BackendError, now: float) -> None:
        log.warning("start of task %s attempt %s failed: %s", spec.task_id, spec.attempt, exc)
        async with self._sessions.begin() as s:
            t = await s.get(m.Task, spec.task_id)
            if t is None or t.state != lc.STARTING or t.restart_count != spec.attempt:
                return
            target = lc.QUEUED if exc.retryable else lc.FAILED
            lc.check(t.state, target)
            t.state = target
            if target == lc.QUEUED:
                t.reason = "start_failed"
                t.detail = str(exc)
                t.started_at = None
            else:
                t.ended_at = now
            attempt_rows = m.Attempt.task_id == t.id, m.Attempt.number == spec.attempt
            if target == lc.QUEUED:  # it never ran: the next try reuses the attempt number
                await s.execute(delete(m.Attempt).where(*attempt_rows))
            else:
                await s.execute(
                    update(m.Attempt)
                    .where(*attempt_rows)
                    .values(ended_at=now, outcome="start_failed")
                )
            verb = "requeued" if exc.retryable else "failed"
            s.add(
                m.Event(
                    task_id=t.id,
                    at=now,
                    kind="start_failed",
                    message=f"could not start ({verb}): {exc}",
                )
            )
        await self._backend.forget(spec.task_id, spec.attempt)

    async def _event_note(self, task_id: int, kind: str, message: str, now: float) -> None:
        async with self._sessions.begin() as s:
            s.add(m.Event(task_id=task_id, at=now, kind=kind, message=message))


__all__ = ["Reconciler", "policy_config"]
