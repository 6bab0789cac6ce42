"""Insert a submitted task and its "submitted" event, in one round trip on PostgreSQL.

On PostgreSQL the insert runs on the autocommit engine as ONE statement (a data-modifying
CTE: the task row, then its event), which is atomic by itself: no BEGIN/COMMIT round trips
and no ORM unit of work. SQLite runs the two inserts in one transaction.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, insert, select
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


def _statements() -> tuple[Any, Any, Any]:
    """Built once with bound parameters (building per call costs more than running)."""
    cols = [c for c in _T.columns if c.name != "id"]
    task_values = {c.name: bindparam(f"t_{c.name}", type_=c.type) for c in cols}
    event_values = [
        bindparam("e_at", type_=_E.c.at.type),
        bindparam("e_kind", type_=_E.c.kind.type),
        bindparam("e_message", type_=_E.c.message.type),
    ]
    new = insert(_T).values(task_values).returning(_T.c.id).cte("new_task")
    both = (
        insert(_E)
        .from_select(["task_id", "at", "kind", "message"], select(new.c.id, *event_values))
        .returning(_E.c.task_id)
    )
    task_only = insert(_T).values(task_values).returning(_T.c.id)
    event_only = insert(_E).values(
        task_id=bindparam("e_task_id"),
        at=event_values[0],
        kind=event_values[1],
        message=event_values[2],
    )
    return both, task_only, event_only


_BOTH, _TASK_ONLY, _EVENT_ONLY = _statements()


async def insert_task(engine: AsyncEngine, values: dict[str, Any], message: str) -> Any:
    """Insert ``values`` as a task row and its submitted event; return the row as stored."""
    row = {**_DEFAULTS, **values}
    row.pop("id", None)
    params = {f"t_{k}": v for k, v in row.items()}
    params.update(e_at=values["submitted_at"], e_kind="submitted", e_message=message)
    async with engine.begin() as c:
        if c.dialect.name == "postgresql":
            task_id = (await c.execute(_BOTH, params)).scalar_one()
        else:
            task_id = (await c.execute(_TASK_ONLY, params)).scalar_one()
            await c.execute(_EVENT_ONLY, {**params, "e_task_id": task_id})
    return SimpleNamespace(**row, id=task_id)
