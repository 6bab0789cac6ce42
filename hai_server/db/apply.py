"""The one guarded applier: a change set's task writes in one short transaction.

Each :class:`TaskWrite` updates its task only if the row still has the version it was read
with (``... WHERE id = :id AND version = :version``, and the version moves on); a write that
finds the row changed since (the API or another replica wrote it) updates nothing, and its
events, attempt write and backend calls are dropped with it: the next tick decides again from
fresh rows. A write with no task columns (rank states and notes only: observations, which stay
true whatever changed) is not guarded.

On PostgreSQL the writes that set the same columns go as ONE statement (``UPDATE ... FROM
unnest(...) RETURNING id``: a first tick starting 500 tasks is a few round trips, not 500),
and new attempts and events are inserted in batches. SQLite (in-process) takes them row by row.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete, insert, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Integer

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
    if s.bind.dialect.name == "postgresql":
        applied_ids = await _update_grouped(s, writes)
    else:
        applied_ids = {w.task_id for w in writes if not w.values or await _update_one(s, w)}
    applied = [w for w in writes if w.task_id in applied_ids]
    inserts = [w for w in applied if w.attempt is not None and w.attempt.insert is not None]
    if inserts:
        rows = []
        for w in inserts:
            assert w.attempt is not None and w.attempt.insert is not None
            rows.append({"task_id": w.task_id, "number": w.attempt.number, **w.attempt.insert})
        await s.execute(insert(_A), rows)
    for w in applied:
        if w.attempt is not None and w.attempt.insert is None:
            await _attempt(s, w.task_id, w.attempt)
    events = [event_values(ev) for w in applied for ev in w.events]
    if events:
        await s.execute(insert(_E), events)
    return applied


async def _update_one(s: Any, w: TaskWrite) -> bool:
    res = await s.execute(
        update(_T)
        .where(_T.c.id == w.task_id, _T.c.version == w.version)
        .values(**w.values, version=_T.c.version + 1)
    )
    return bool(res.rowcount == 1)


async def _update_grouped(s: Any, writes: Sequence[TaskWrite]) -> set[int]:
    """The ids of the writes applied: unguarded ones, and guarded ones whose version held."""
    applied = {w.task_id for w in writes if not w.values}
    groups: dict[tuple[str, ...], list[TaskWrite]] = {}
    for w in writes:
        if w.values:
            groups.setdefault(tuple(sorted(w.values)), []).append(w)
    for cols, group in groups.items():
        params: dict[str, Any] = {
            "ids": [w.task_id for w in group],
            "vers": [w.version for w in group],
        }
        for i, c in enumerate(cols):
            params[f"c{i}"] = [w.values[c] for w in group]
        rows = await s.execute(_grouped_update(cols), params)
        applied.update(r[0] for r in rows)
    return applied


@cache
def _grouped_update(cols: tuple[str, ...]) -> Any:
    sets = ", ".join(f'"{c}" = v."{c}"' for c in cols)
    names = ", ".join(f'"{c}"' for c in cols)
    arrays = ", ".join(f":c{i}" for i in range(len(cols)))
    return text(
        f"UPDATE tasks AS t SET {sets}, version = t.version + 1 "
        f"FROM unnest(:ids, :vers, {arrays}) AS v(id, ver, {names}) "
        "WHERE t.id = v.id AND t.version = v.ver RETURNING t.id"
    ).bindparams(
        bindparam("ids", type_=ARRAY(Integer)),
        bindparam("vers", type_=ARRAY(Integer)),
        *(bindparam(f"c{i}", type_=ARRAY(_T.c[c].type)) for i, c in enumerate(cols)),
    )


async def _attempt(s: Any, task_id: int, a: AttemptWrite) -> None:
    this = (_A.c.task_id == task_id) & (_A.c.number == a.number)
    if a.delete:
        await s.execute(delete(_A).where(this))
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
