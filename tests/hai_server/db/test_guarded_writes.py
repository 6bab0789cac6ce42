"""Guarded writes: an update based on a stale read never overwrites a newer one."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy.orm.exc import StaleDataError

from hai_server.db import models as m
from hai_server.db.session import create_schema, make_engine, make_sessions
from hai_server.domain import states as lc
from hai_server.services.tasks import Caller, TaskService


async def _scenario(url: str) -> tuple[str, str]:
    engine = make_engine(url)
    await create_schema(engine)
    sessions = make_sessions(engine)
    async with sessions.begin() as s:
        user = m.User(name="ann", role="internal", active=True, created_at=time.time())
        s.add(user)
        await s.flush()
        task = m.Task(
            name="t",
            user_id=user.id,
            user_name="ann",
            group="default",
            nodes=1,
            priority=10,
            state=lc.QUEUED,
            argv=["true"],
            workdir="/",
            submitted_at=time.time(),
        )
        s.add(task)
        await s.flush()
        task_id, user_id = task.id, user.id
    # the reconciler reads the queued task ...
    reconciler = sessions()
    stale = await reconciler.get(m.Task, task_id)
    assert stale is not None and stale.state == lc.QUEUED
    # ... the user stops it meanwhile ...
    service = TaskService(sessions, wake=lambda: None)
    stopped = await service.stop(Caller(user_id, "ann", "internal"), task_id)
    # ... and the reconciler's start, based on what it read, must not win
    stale.state = lc.STARTING
    with pytest.raises(StaleDataError):
        await reconciler.commit()
    await reconciler.rollback()
    await reconciler.close()
    async with sessions() as s:
        final = (await s.get(m.Task, task_id)).state  # type: ignore[union-attr]
    await engine.dispose()
    return stopped["state"], final


def test_a_start_from_a_stale_read_cannot_undo_a_stop(db_url: str) -> None:
    stopped, final = asyncio.run(_scenario(db_url))
    assert stopped == lc.STOPPED
    assert final == lc.STOPPED
