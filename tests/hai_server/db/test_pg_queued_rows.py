"""The incremental queue load (db/queued.py) always equals a full read of the queued rows."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import insert, update

from hai_server.db import models as m
from hai_server.db.queued import QueuedRows
from hai_server.db.session import create_schema, make_engine, make_sessions


async def _scenario(url: str) -> list[int]:
    engine = make_engine(url)
    await create_schema(engine)
    sessions = make_sessions(engine)
    now = time.time()
    async with sessions.begin() as s:
        s.add(m.User(id=1, name="u", role="internal", active=True, created_at=now))
        await s.flush()
        await s.execute(
            insert(m.Task),
            [
                {
                    "name": f"t{i}",
                    "user_id": 1,
                    "user_name": "u",
                    "group": "g",
                    "nodes": 1,
                    "priority": 20,
                    "state": "queued",
                    "argv": ["true"],
                    "workdir": "/",
                    "submitted_at": now + i,
                }
                for i in range(50)
            ],
        )
    cache = QueuedRows()
    fetched = []

    async def check() -> None:
        async with sessions() as s:
            got = await cache.load(s)
            fetched.append(cache.fetched)
            want = await QueuedRows().load(s)  # a fresh one reads everything
        assert got == want

    await check()
    await check()  # nothing changed
    async with sessions.begin() as s:  # one task changes, one leaves the queue, one arrives
        await s.execute(update(m.Task).where(m.Task.id == 7).values(priority=30))
        await s.execute(update(m.Task).where(m.Task.id == 9).values(state="running"))
        await s.execute(
            update(m.Task).where(m.Task.id == 11).values(reason="no_capacity", position=3)
        )
    await check()
    async with sessions() as s:
        queued, shown = await cache.load(s)
    assert 9 not in shown and shown[11] == ("no_capacity", 3, "")
    assert next(t for t in queued if t.id == 7).priority == 30
    assert [t.id for t in queued] == sorted(t.id for t in queued)
    await engine.dispose()
    return fetched


def test_incremental_queue_matches_a_full_read(pg_url: str) -> None:
    fetched = asyncio.run(_scenario(pg_url))
    # first load reads all 50; unchanged: none; then only the two changed queued rows
    assert fetched == [50, 0, 2]
