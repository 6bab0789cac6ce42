"""haienv environments as the server sees them: does one exist (submit refuses a task whose
environment does not), and which waiting or running tasks use one (``haienv remove`` asks).

The environments live on the shared storage under ``envs_root`` (``{root}/{owner}/{name}``,
``haienv.json`` inside a complete one); the parsing is haienv's own pure code.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import select

from hai_cli.haienv import meta
from hai_cli.haienv.errors import HaienvError
from hai_cli.haienv.names import PLATFORM_OWNER, check_name, check_owner, parse_ref
from hai_server.db import models as m
from hai_server.db.reads import Reads
from hai_server.domain import states as lc
from hai_server.services.errors import Invalid, NotFound

# the tasks that will (again) run in their environment
USING_STATES = (lc.QUEUED, lc.SUSPENDED, *sorted(lc.ACTIVE))


class EnvironmentService:
    def __init__(self, reads: Reads, envs_root: str) -> None:
        self._reads = reads
        self.root = os.path.normpath(envs_root)

    def check(self, ref: str, owner: str | None, default_owner: str) -> tuple[str, str]:
        """(name, owner) of the environment a submission names; :class:`Invalid` when the
        reference is bad or names no environment under the root."""
        try:
            name, ref_owner = parse_ref(ref)
            if owner is not None:
                check_owner(owner)
        except HaienvError as exc:
            raise Invalid(f"haienv: {exc}") from None
        if owner is not None and ref_owner is not None and owner != ref_owner:
            raise Invalid(f"haienv: two owners given: {ref_owner!r} and {owner!r}")
        given = owner or ref_owner
        for who in [given] if given else [default_owner, PLATFORM_OWNER]:
            try:
                found = meta.read(os.path.join(self.root, who, name))
            except (HaienvError, OSError) as exc:
                raise Invalid(f"haienv {name}[{who}] cannot be read: {exc}") from None
            if found is not None:
                return name, who
        shown = f"{name}[{given}]" if given else f"{name}[{default_owner}] or {name}[platform]"
        raise Invalid(f"no environment {shown} under {self.root} (haienv list -a shows them)")

    def prefix(self, name: str, owner: str) -> str:
        return os.path.join(self.root, owner, name)

    async def tasks_using(self, owner: str, name: str) -> dict[str, Any]:
        """Queued, suspended and active tasks that run in ``name[owner]`` (any user's)."""
        try:
            check_owner(owner)
            check_name(name)
        except HaienvError as exc:
            raise NotFound(f"no environment: {exc}") from None
        query = (
            select(m.Task.id, m.Task.state, m.Task.user_name)
            .where(
                m.Task.haienv_owner == owner,
                m.Task.haienv_name == name,
                m.Task.state.in_(USING_STATES),
            )
            .order_by(m.Task.id)
        )
        async with self._reads.engine.connect() as c:
            rows = (await c.execute(query)).all()
        return {
            "environment": f"{name}[{owner}]",
            "tasks": [{"id": r.id, "state": r.state, "user": r.user_name} for r in rows],
        }
