"""The queued tasks of the scheduler's snapshot, re-read incrementally on PostgreSQL.

At scale the queue is the bulk of every tick's load (20,000 rows). Most queued rows do not
change between two ticks, and PostgreSQL says which did: a row's ``xmin`` (the transaction
that wrote this version of it) changes with every update. So each tick reads only
``(id, xmin)`` of the queued rows, keeps the tasks it already holds for unchanged stamps,
and fetches the full rows of the new or changed ones. SQLite (embedded, small queues) reads
them whole every time.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Integer

from hai_cli.scheduler.model import QueuedTask
from hai_server.db import models as m
from hai_server.domain import states as st

Shown = dict[int, tuple[str, int | None, str]]  # queued task id -> (reason, position, detail)

_XMIN = literal_column("xmin::text::bigint").label("stamp")
_COLS = (
    m.Task.id,
    m.Task.user_name,
    m.Task.group,
    m.Task.priority,
    m.Task.nodes,
    m.Task.submitted_at,
    m.Task.ran_s,
    m.Task.held,
    m.Task.retry_at,
    m.Task.reason,
    m.Task.position,
    m.Task.detail,
)
_STAMP = len(_COLS)  # index of the xmin stamp in a stamped row
_QUEUED = m.Task.state == st.QUEUED
_ALL = select(*_COLS).where(_QUEUED).order_by(m.Task.id)
_ALL_STAMPED = select(*_COLS, _XMIN).where(_QUEUED)
_STAMPS = select(m.Task.id, _XMIN).where(_QUEUED).order_by(m.Task.id)
_SOME_STAMPED = select(*_COLS, _XMIN).where(
    _QUEUED, m.Task.id == bindparam("ids", type_=ARRAY(Integer)).any_()
)

_Entry = tuple[int, QueuedTask, tuple[str, int | None, str]]


def queued_task(row: Any) -> QueuedTask:
    """A queued task as the policy sees it (every field of QueuedTask mapped)."""
    return QueuedTask(
        id=row.id,
        user=row.user_name,
        group=row.group,
        priority=row.priority,
        nodes=row.nodes,
        submitted_at=row.submitted_at,
        held=bool(row.held),
        ran_s=row.ran_s or 0.0,
        not_before=row.retry_at,
    )


def _entry(row: Any) -> tuple[int, QueuedTask, tuple[str, int | None, str]]:
    return row.id, queued_task(row), (row.reason, row.position, row.detail)


class QueuedRows:
    """Holds the queued tasks between ticks (one per reconciler)."""

    def __init__(self) -> None:
        self._held: dict[int, _Entry] = {}  # id -> (stamp, task, shown)
        self.fetched = 0  # full rows read by the last load (for benchmarks and tests)

    async def load(self, s: Any) -> tuple[tuple[QueuedTask, ...], Shown]:
        if s.bind.dialect.name != "postgresql":
            rows = (await s.execute(_ALL)).all()
            self.fetched = len(rows)
            entries = [_entry(r) for r in rows]
            return tuple(t for _, t, _ in entries), {tid: sh for tid, _, sh in entries}
        stamps = (await s.execute(_STAMPS)).all()
        held = self._held
        fresh: dict[int, _Entry] = {}
        missing: list[int] = []
        for tid, stamp in stamps:
            entry = held.get(tid)
            if entry is not None and entry[0] == stamp:
                fresh[tid] = entry
            else:
                missing.append(tid)
        if missing:
            if len(missing) * 2 > len(stamps):
                rows = (await s.execute(_ALL_STAMPED)).all()
            else:
                rows = (await s.execute(_SOME_STAMPED, {"ids": missing})).all()
            self.fetched = len(rows)
            for row in rows:
                tid, task, shown = _entry(row)
                fresh[tid] = (row[_STAMP], task, shown)
        else:
            self.fetched = 0
        # in id order (the stamps' order), as the SQLite path and a fresh server give them
        ordered = {tid: fresh[tid] for tid, _ in stamps if tid in fresh}
        self._held = ordered
        return (
            tuple(e[1] for e in ordered.values()),
            {tid: e[2] for tid, e in ordered.items()},
        )
