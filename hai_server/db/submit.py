"""Insert a submitted task and its "submitted" event, in one round trip on PostgreSQL.

On PostgreSQL the insert runs on the autocommit engine as ONE statement (a data-modifying
CTE: the task row, then its event), which is atomic by itself: no BEGIN/COMMIT round trips
and no ORM unit of work. SQLite runs the two inserts in one transaction.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import insert, literal, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hai_server.db import models as m

_T = m.Task.__table__
_E = m.Event.__table__


def _defaults() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for col in _T.columns:
        default = col.default
        if default is None:
            out[col.name] = None
        elif default.is_callable:
            out[col.name] = default.arg(None)
        else:
            out[col.name] = default.arg
    return out


_DEFAULTS = _defaults()


async def insert_task(engine: AsyncEngine, values: dict[str, Any], message: str) -> Any:
    """Insert ``values`` as a task row and its submitted event; return the row as stored."""
    row = {**_DEFAULTS, **values}
    row.pop("id", None)
    async with engine.begin() as c:
        if c.dialect.name == "postgresql":
            new = insert(_T).values(row).returning(_T.c.id).cte("new_task")
            stmt = (
                insert(_E)
                .from_select(
                    ["task_id", "at", "kind", "message"],
                    select(
                        new.c.id,
                        literal(values["submitted_at"]),
                        literal("submitted"),
                        literal(message),
                    ),
                )
                .returning(_E.c.task_id)
            )
            task_id = (await c.execute(stmt)).scalar_one()
        else:
            task_id = (await c.execute(insert(_T).values(row).returning(_T.c.id))).scalar_one()
            await c.execute(
                insert(_E).values(
                    task_id=task_id, at=values["submitted_at"], kind="submitted", message=message
                )
            )
    return SimpleNamespace(**row, id=task_id)
