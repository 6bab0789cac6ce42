"""The loop around the pure policy, one phase after the other (see README.md here).

One tick: observe nodes -> observe attempts -> judge (pure) -> apply -> backend calls ->
load the snapshot -> plan (pure) -> reserve starts and suspends (pure, then guarded writes)
-> backend calls. Every write goes through the one guarded applier (db/apply.py), in short
transactions; backend calls happen after the commit, outside any transaction. A submit, a
finish or a suspend acknowledgement wakes the loop at once; a timer covers lost wake-ups.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.orm.exc import StaleDataError

from hai_cli.scheduler import plan as make_plan
from hai_cli.scheduler.model import PolicyConfig
from hai_server.backends.base import Backend, BackendError
from hai_server.db import active as rows
from hai_server.db.apply import apply_writes
from hai_server.db.holds import write_holds
from hai_server.db.jupyter import shared_rows
from hai_server.db.nodes import sync_nodes
from hai_server.db.queued import QueuedRows
from hai_server.db.session import Sessions
from hai_server.db.snapshot import load_snapshot_shown
from hai_server.db.usage import accrue_usage
from hai_server.domain.changes import ChangeSet, TaskWrite
from hai_server.reconciler.active import judge_active, requeue_suspended
from hai_server.reconciler.effects import Effects
from hai_server.reconciler.jupyter import plan_with_containers
from hai_server.reconciler.schedule import holds_to_write, plan_changes
from hai_server.reconciler.watchdog import WatchdogPolicy
from hai_server.settings import SchedulerSettings

log = logging.getLogger("hai.reconciler")
COALESCE_S = 0.025  # shortest pause between two ticks brought on by wake-ups


def _lap(phases: dict[str, float], name: str, t0: float) -> None:
    """Add the time since the previous lap (or ``t0``) to ``phases[name]``, in ms."""
    total = (time.perf_counter() - t0) * 1000
    phases[name] = phases.get(name, 0.0) + total - sum(phases.values())


class Reconciler:
    def __init__(
        self,
        sessions: Sessions,
        backend: Backend,
        settings: SchedulerSettings,
        log_root: str,
        *,
        clock: Callable[[], float] = time.time,
        envs_root: str = "",
        jupyter_groups: tuple[str, ...] = (),
    ) -> None:
        self._jupyter_groups = jupyter_groups  # shared Jupyter groups (placed by CPU/memory)
        self._sessions = sessions
        self._backend = backend
        self._settings = settings
        self._config = settings.policy_config()
        self._watchdog = WatchdogPolicy(
            settings.watchdog_s, settings.watchdog_action, settings.heartbeat_timeout_s
        )
        self._log_root = log_root
        self._envs_root = envs_root  # haienv root: tasks' environments are under it
        self._clock = clock
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._nodes_seen: tuple[Any, ...] = ()
        self._queued_rows = QueuedRows()  # the queue, re-read incrementally
        self._effects = Effects(sessions, backend, settings.kill_grace_s, clock)
        self.ticks = 0
        self.last_tick_ms = 0.0
        self.last_tick_phases: dict[str, float] = {}  # ms spent per phase of the last tick
        self.last_error: str = ""
        self.on_change: Callable[[], None] = lambda: None
        # what the metrics count: the writes applied, the tick's duration and phases
        self.on_applied: Callable[[Sequence[TaskWrite]], None] = lambda _writes: None
        self.on_tick: Callable[[float, dict[str, float]], None] = lambda _ms, _phases: None
        self._effects.on_applied = lambda writes: self.on_applied(writes)
        # several replicas: only the one holding the leader lock ticks (see leader.py)
        self.gate: Callable[[], Awaitable[bool]] | None = None

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
                log.info("tick lost a race on a row; retrying")
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
        # observe
        await self._observe_nodes(now)
        observations = {o.key: o for o in await self._backend.observe()}
        _lap(phases, "observe", t0)
        # judge the active attempts, requeue the suspended tasks
        async with self._sessions() as s:
            active, ranks = await rows.active_rows(s)
        changes = judge_active(
            active, ranks, observations, now, self._settings.grace_s, self._watchdog
        )
        changed = await self._apply(changes)
        async with self._sessions() as s:  # including the ones suspended just now
            suspended = await rows.suspended_rows(s)
        changed |= await self._apply(requeue_suspended(suspended, now))
        _lap(phases, "judge", t0)
        await self._effects.run(changes.calls, now)
        _lap(phases, "backend", t0)
        # plan, reserve, launch
        changed |= await self._schedule(now, phases, t0)
        _lap(phases, "backend", t0)
        self.ticks += 1
        self.last_tick_ms = (time.perf_counter() - t0) * 1000
        self.on_tick(self.last_tick_ms, phases)
        if changed:
            self.on_change()

    async def _observe_nodes(self, now: float) -> None:
        inventory = await self._backend.inventory()
        seen = tuple(
            sorted((n.name, n.group, n.zone, n.gpus, n.gpu_first, n.healthy, n.message,
                    n.cpus, n.memory_gib)
                   for n in inventory)
        )  # fmt: skip
        if seen == self._nodes_seen:
            return
        async with self._sessions.begin() as s:
            await sync_nodes(s, inventory, now)
        self._nodes_seen = seen

    async def _apply(self, changes: ChangeSet) -> bool:
        """Write the change set; keep only the calls of the writes that were applied."""
        if not changes.writes:
            return False
        async with self._sessions.begin() as s:
            applied = await apply_writes(s, changes.writes)
        self.on_applied(applied)
        for w in applied:
            changes.calls.extend(w.calls)
        return any(w.values for w in applied)

    async def _schedule(self, now: float, phases: dict[str, float], t0: float) -> bool:
        half_life = self._config.usage_half_life_s
        async with self._sessions.begin() as s:
            await accrue_usage(s, now, half_life)
            snapshot, shown = await load_snapshot_shown(s, now, half_life, self._queued_rows)
            shared = await shared_rows(s, self._jupyter_groups)
        _lap(phases, "load", t0)
        if not snapshot.queued and not snapshot.running:
            return False
        the_plan = plan_with_containers(
            snapshot, shared, lambda snap: make_plan(snap, self._config, now)
        )
        _lap(phases, "plan", t0)
        changes = ChangeSet()
        starts, suspends = the_plan.starts(), the_plan.suspends()
        async with self._sessions.begin() as s:
            if starts or suspends:
                launching = await rows.task_rows(s, [d.task_id for d in starts], launch=True)
                named = launching | await rows.task_rows(s, [d.task_id for d in suspends])
                node_gpus = await rows.node_gpus(s) if starts else {}
                storage = await rows.storage_rows(s) if starts else []
                groups = (
                    await rows.user_groups(s, (r.user_name for r in launching.values()))
                    if storage
                    else {}
                )
                changes = plan_changes(
                    the_plan, named, node_gpus, now, self._settings.grace_s, self._log_root,
                    self._envs_root, storage, groups,
                )  # fmt: skip
                applied = await apply_writes(s, changes.writes)
                self.on_applied(applied)
                for w in applied:
                    changes.calls.extend(w.calls)
            dirty = holds_to_write(the_plan.holds(), shown)
            if dirty:
                await write_holds(s, dirty)
        _lap(phases, "write", t0)
        await self._effects.run(changes.calls, now)
        return bool(changes.calls)


__all__ = ["Reconciler"]
