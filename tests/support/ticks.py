"""Tick-level scenario tables: rows and backend observations in, one tick, writes and calls out.

A :class:`TickBench` is a throwaway SQLite database (tables made by the models, users and
nodes added), the :class:`FakeBackend` and a :class:`Reconciler` on a virtual clock. Tests put
tasks in any state with ``queued`` / ``active``, script the backend, run ``tick(at)`` and read
back the task rows, their events and the backend calls of that tick.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from hai_server.backends.base import AttemptSpec, NodeState, RankObservation, RankSpec
from hai_server.backends.fake import FakeAttempt, FakeBackend
from hai_server.db import models as m
from hai_server.db.session import make_engine, make_sessions
from hai_server.reconciler.loop import Reconciler
from hai_server.settings import SchedulerSettings

_T = m.Task.__table__


class TickBench:
    def __init__(self, tmp: Path, nodes: list[NodeState], **scheduler: Any) -> None:
        self.engine = make_engine(f"sqlite+aiosqlite:///{tmp / 'ticks.db'}")
        self.sessions = make_sessions(self.engine)
        self.backend = FakeBackend(nodes)
        self.now = 1_000_000.0
        settings = SchedulerSettings(**{"grace_s": 60.0, **scheduler})
        self.reconciler = Reconciler(
            self.sessions, self.backend, settings, str(tmp / "logs"), clock=lambda: self.now
        )
        self.users: dict[str, int] = {}

    async def open(self, users: tuple[str, ...] = ("ann", "bob")) -> TickBench:
        async with self.engine.begin() as c:
            await c.run_sync(m.Base.metadata.create_all)
        async with self.sessions.begin() as s:
            for name in users:
                u = m.User(name=name, role="internal", active=True, created_at=0.0)
                s.add(u)
                await s.flush()
                self.users[name] = u.id
        await self.reconciler._observe_nodes(self.now)  # the nodes' rows, as a first tick does
        return self

    async def close(self) -> None:
        await self.engine.dispose()

    # -- given ---------------------------------------------------------------------------
    async def queued(
        self, task_id: int, user: str = "ann", *, nodes: int = 1, priority: int = 10,
        submitted_at: float | None = None, group: str = "default", **fields: Any,
    ) -> None:  # fmt: skip
        await self._insert(task_id, user, "queued", nodes, priority, submitted_at, group, fields)

    async def active(
        self, task_id: int, user: str = "ann", *, on: tuple[str, ...] = ("n1",),
        priority: int = 10, state: str = "running", started_at: float | None = None,
        submitted_at: float | None = None, observed: bool = True, group: str = "default",
        **fields: Any,
    ) -> None:  # fmt: skip
        """A task holding ``on`` in ``state``; the backend runs its ranks unless not
        ``observed`` (an attempt the backend lost)."""
        started = self.now - 600 if started_at is None else started_at
        fields = {"run_priority": priority, "started_at": started, **fields}
        await self._insert(task_id, user, state, len(on), priority, submitted_at, group, fields)
        number = fields.get("restart_count", 0)
        ranks = [
            {"rank": i, "node": n, "state": "running", "exit_code": None, "message": ""}
            for i, n in enumerate(on)
        ]
        async with self.sessions.begin() as s:
            s.add(m.Attempt(task_id=task_id, number=number, nodes=list(on), priority=priority,
                            started_at=started, log_dir="/logs", ranks=ranks))  # fmt: skip
        if observed:
            spec = AttemptSpec(
                task_id=task_id, attempt=number, name=f"t{task_id}", user=user, argv=("true",),
                workdir="/", env={}, log_dir="/logs",
                ranks=tuple(RankSpec(i, n, {}) for i, n in enumerate(on)),
            )  # fmt: skip
            self.backend.attempts[(task_id, number)] = FakeAttempt(
                spec, {i: RankObservation(i, n, "running") for i, n in enumerate(on)}
            )

    async def _insert(
        self, task_id: int, user: str, state: str, nodes: int, priority: int,
        submitted_at: float | None, group: str, fields: dict[str, Any],
    ) -> None:  # fmt: skip
        row = {
            "id": task_id, "name": f"t{task_id}", "user_id": self.users[user], "user_name": user,
            "group": group, "nodes": nodes, "priority": priority, "state": state,
            "argv": ["python3", "train.py"], "workdir": "/", "env": {}, "options": {},
            "submitted_at": self.now - 1000 + task_id if submitted_at is None else submitted_at,
            "reason": "", "detail": "", "restart_count": 0, "whole_life_state": 0,
            "ran_s": 0.0, "version": 1, "held": False, "start_failures": 0,
            "suspend_reason": "", "stop_requested": False, "suspend_requested": False,
            **fields,
        }  # fmt: skip
        async with self.sessions.begin() as s:
            await s.execute(insert(_T).values(**row))

    # -- when / then ---------------------------------------------------------------------
    async def tick(self, after_s: float = 1.0) -> list[tuple[object, ...]]:
        """Advance the clock, run one tick; the backend calls it made."""
        self.now += after_s
        self.backend.reset_calls()
        await self.reconciler.tick()
        return self.backend.reset_calls()

    async def task(self, task_id: int) -> Any:
        async with self.sessions() as s:
            return (await s.execute(select(_T).where(_T.c.id == task_id))).one()

    async def states(self) -> dict[int, str]:
        async with self.sessions() as s:
            return dict((await s.execute(select(_T.c.id, _T.c.state))).all())

    async def events(self, task_id: int) -> list[str]:
        async with self.sessions() as s:
            rows = await s.execute(
                select(m.Event.kind).where(m.Event.task_id == task_id).order_by(m.Event.id)
            )
            return list(rows.scalars())

    async def attempts(self, task_id: int) -> list[Any]:
        async with self.sessions() as s:
            rows = await s.execute(
                select(m.Attempt.__table__)
                .where(m.Attempt.task_id == task_id)
                .order_by(m.Attempt.number)
            )
            return list(rows.all())

    async def update(self, task_id: int, **values: Any) -> None:
        """A change made by someone else (the API): bumps the version as the ORM would."""
        async with self.sessions.begin() as s:
            await s.execute(
                _T.update().where(_T.c.id == task_id).values(**values, version=_T.c.version + 1)
            )


def gpu_nodes(
    *names: str, gpus: int = 8, group: str = "default", zone: str = "z1"
) -> list[NodeState]:
    return [NodeState(n, group, zone, gpus) for n in names]


def run(coro: Any) -> Any:
    return asyncio.run(coro)
