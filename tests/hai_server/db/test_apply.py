"""The guarded applier on both databases: a write from a stale read is dropped whole (no task
columns, no events, no attempt), the others apply; grouped PostgreSQL statements included."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select

from hai_server.db import models as m
from hai_server.db.apply import apply_writes
from hai_server.db.session import create_schema, make_engine, make_sessions
from hai_server.domain.changes import AttemptWrite, TaskWrite
from hai_server.domain.transition import Event


async def _scenario(url: str) -> tuple[list[int], dict[int, tuple[str, int]], list[int], list]:
    engine = make_engine(url)
    await create_schema(engine)
    sessions = make_sessions(engine)
    try:
        async with sessions.begin() as s:
            u = m.User(name="ann", role="internal", active=True, created_at=time.time())
            s.add(u)
            await s.flush()
            for tid in (1, 2, 3, 4):
                s.add(m.Task(id=tid, name="t", user_id=u.id, user_name="ann", group="g", nodes=1,
                             priority=10, state="queued", argv=["x"], workdir="/",
                             submitted_at=0.0))  # fmt: skip
        # versions after insert: 1 (the ORM counts from 1); task 2 changes under our feet
        async with sessions.begin() as s:
            (await s.get(m.Task, 2)).reason = "someone else"  # type: ignore[union-attr]

        def start(tid: int) -> TaskWrite:
            return TaskWrite(
                tid, 1, {"state": "starting", "started_at": 5.0, "run_priority": 10},
                (Event(tid, 5.0, "start", "go"),),
                AttemptWrite(0, insert={"nodes": ["n"], "priority": 10, "started_at": 5.0,
                                        "log_dir": "/l", "ranks": []}),
            )  # fmt: skip

        writes = [
            start(1),
            start(2),  # stale
            start(3),
            TaskWrite(4, 1, {"reason": "priority", "position": 3}),  # another column set
            TaskWrite(4, 99, {}, (Event(4, 5.0, "note", "observed"),)),  # unguarded
        ]
        async with sessions.begin() as s:
            applied = await apply_writes(s, writes)
        async with sessions() as s:
            tasks = {
                t.id: (t.state, t.version) for t in (await s.execute(select(m.Task))).scalars()
            }
            attempts = sorted((await s.execute(select(m.Attempt.task_id))).scalars())
            events = sorted((await s.execute(select(m.Event.task_id, m.Event.kind))).all())
        return [w.task_id for w in applied], tasks, attempts, events
    finally:
        await engine.dispose()


def test_a_stale_write_is_dropped_whole(db_url: str) -> None:
    applied, tasks, attempts, events = asyncio.run(_scenario(db_url))
    assert applied == [1, 3, 4, 4]
    assert tasks == {1: ("starting", 2), 2: ("queued", 2), 3: ("starting", 2), 4: ("queued", 2)}
    assert attempts == [1, 3]
    assert events == [(1, "start"), (3, "start"), (4, "note")]
