"""The one guarded applier: a change set's task writes in one short transaction.

Each :class:`TaskWrite` is ``UPDATE tasks SET ... , version = version + 1 WHERE id = :id AND
version = :version``; a write that finds the row changed since it was read (the API or another
replica wrote it) updates nothing, and its events, attempt write and backend calls are dropped
with it: the next tick decides again from fresh rows. A write with no task columns (rank states
and notes only: observations, which stay true whatever changed) is not guarded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, insert, update

from hai_server.db import models as m
from hai_server.domain.changes import AttemptWrite, TaskWrite
from hai_server.domain.transition import Event

_T = m.Task.__table__
_A = m.Attempt.__table__
_E = m.Event.__table__


def event_values(ev: Event) -> dict[str, Any]:
    return {"task_id": ev.task_id, "at": ev.at, "kind": ev.kind, "message": ev.message}


def add_event(s: Any, ev: Event) -> None:
    """Record ``ev`` in an ORM session (the services' writes)."""
    s.add(m.Event(**event_values(ev)))


async def apply_writes(s: Any, writes: Sequence[TaskWrite]) -> list[TaskWrite]:
    """Apply ``writes`` in session ``s`` (inside its transaction); return those applied."""
    applied: list[TaskWrite] = []
    events: list[dict[str, Any]] = []
    for w in writes:
        if w.values:
            res = await s.execute(
                update(_T)
                .where(_T.c.id == w.task_id, _T.c.version == w.version)
                .values(**w.values, version=_T.c.version + 1)
            )
            if res.rowcount != 1:
                continue  # the row changed since it was read: decided again next tick
        if w.attempt is not None:
            await _attempt(s, w.task_id, w.attempt)
        events.extend(event_values(ev) for ev in w.events)
        applied.append(w)
    if events:
        await s.execute(insert(_E), events)
    return applied


async def _attempt(s: Any, task_id: int, a: AttemptWrite) -> None:
    this = (_A.c.task_id == task_id) & (_A.c.number == a.number)
    if a.delete:
        await s.execute(delete(_A).where(this))
        return
    if a.insert is not None:
        await s.execute(insert(_A).values(task_id=task_id, number=a.number, **a.insert))
        return
    if a.ranks is not None:
        await s.execute(update(_A).where(this).values(ranks=[dict(r) for r in a.ranks]))
    if a.close is not None:
        ended_at, outcome, exit_code = a.close
        await s.execute(
            update(_A)
            .where(this, _A.c.ended_at.is_(None))
            .values(ended_at=ended_at, outcome=outcome, exit_code=exit_code)
        )
