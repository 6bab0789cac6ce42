"""Write the plan's hold reasons and queue positions of waiting tasks in one statement.

These columns are display-only (``list``, ``status``, ``why``): they are written outside the
row versioning, and only while the task still waits. Positions move for every task behind a
start, so a tick may rewrite thousands of rows: on PostgreSQL that is one
``UPDATE ... FROM unnest(...)`` (one round trip, a hash join in the server) instead of one
statement per row; SQLite, in-process, takes an executemany.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Integer, Text

from hai_cli.scheduler.model import Hold
from hai_server.db import models as m
from hai_server.domain import states as lc

_PG_UPDATE = text(
    "UPDATE tasks AS t SET reason = v.r, position = v.p, detail = v.d "
    "FROM unnest(:ids, :rs, :ps, :ds) AS v(id, r, p, d) "
    "WHERE t.id = v.id AND t.state = :queued"
).bindparams(
    bindparam("ids", type_=ARRAY(Integer)),
    bindparam("rs", type_=ARRAY(Text)),
    bindparam("ps", type_=ARRAY(Integer)),
    bindparam("ds", type_=ARRAY(Text)),
)


async def write_holds(s: Any, holds: Sequence[Hold]) -> None:
    """Set reason, position and detail of these still-queued tasks."""
    if s.bind.dialect.name == "postgresql":
        await s.execute(
            _PG_UPDATE,
            {
                "ids": [h.task_id for h in holds],
                "rs": [h.reason for h in holds],
                "ps": [h.position for h in holds],
                "ds": [h.detail for h in holds],
                "queued": lc.QUEUED,
            },
        )
        return
    table = m.Task.__table__
    await s.execute(
        update(table)
        .where(table.c.id == bindparam("tid"), table.c.state == lc.QUEUED)
        .values(reason=bindparam("r"), position=bindparam("p"), detail=bindparam("d")),
        [{"tid": h.task_id, "r": h.reason, "p": h.position, "d": h.detail} for h in holds],
    )
