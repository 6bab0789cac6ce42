"""Fair-share usage rows: every user's decayed node-seconds, accrued once per tick.

The accrual is :func:`hai_cli.scheduler.fairshare.accrue`, the same the simulator uses, and
the snapshot decays the stored values with the same ``decay``: one formula everywhere.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hai_cli.scheduler.fairshare import accrue
from hai_server.db import models as m
from hai_server.domain import states as st

_HELD = select(m.Task.user_name, m.Task.nodes).where(m.Task.state.in_(st.ACTIVE))


async def accrue_usage(s: Any, now: float, half_life_s: float) -> None:
    """Bring every user's usage row to ``now``: decay it and add the nodes held meanwhile."""
    held: dict[str, int] = {}
    for user, count in (await s.execute(_HELD)).all():
        held[user] = held.get(user, 0) + count
    rows = {u.user_name: u for u in (await s.execute(select(m.Usage))).scalars()}
    for user, row in rows.items():
        dt = now - row.updated_at
        if dt > 0:
            row.value = accrue(row.value, held.get(user, 0), dt, half_life_s)
            row.updated_at = now
    for user in held:
        if user not in rows:
            s.add(m.Usage(user_name=user, value=0.0, updated_at=now))
