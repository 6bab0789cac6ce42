"""The ``jupyter:{group}`` quota check of a create (refused at once, limit and use named)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from hai_cli.scheduler import jupyter_quota as jq
from hai_server.db import jupyter as rows
from hai_server.db import models as m
from hai_server.domain import states as lc
from hai_server.services.errors import Conflict


async def check_quota(s: Any, user: str, group: str, cpus: float, memory_gib: float) -> None:
    found = {
        r.principal: r.quota
        for r in await s.execute(
            select(m.Quota.principal, m.Quota.quota, m.Quota.expires_at).where(
                m.Quota.resource == jq.resource(group)
            )
        )
        if r.expires_at is None or r.expires_at > time.time()
    }
    if not found:
        return
    groups = [g for (g,) in await s.execute(
        select(m.UserGroup.group_name).where(m.UserGroup.user_name == user))]  # fmt: skip
    quota = jq.effective(found, user, groups)
    owner = await rows.user_named(s, user)
    mine = await rows.containers(s, owner.id if owner else -1)
    live = [t for t in mine if t.group == group and t.state in lc.UNFINISHED]
    use = (
        sum(rows.asks(t.options).cpus for t in live),
        sum(rows.asks(t.options).memory_gib for t in live),
        len(live),
    )
    why = jq.refusal(quota, use, cpus, memory_gib, group)
    if why:
        raise Conflict(f"over quota: {why}")
