"""Storage rows (the original's ``storage`` table): admins list, add and remove them; users
see their own mounts; a cluster's local backend refuses a working directory outside them.

The rows are resolved by the pure hai_server.domain.storage (shared with the reconciler,
which puts the mounts on task pods, and with any container builder).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from hai_server.db import models as m
from hai_server.db.active import storage_row
from hai_server.db.reads import Reads
from hai_server.db.session import Sessions
from hai_server.domain.storage import (
    MountTask,
    MountUser,
    StorageError,
    StorageRow,
    check_row,
    covering_mount,
    mounts_for,
)
from hai_server.services.errors import Conflict, Forbidden, Invalid, NotFound
from hai_server.services.tasks import MAX_ID, Caller

Text = msgspec.Meta(min_length=1, max_length=1024)


class StorageBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One row: paths are templates (``{user.user_name}``, ``{task.id}``...)."""

    host_path: str
    mount_path: str
    owners: list[str] = msgspec.field(default_factory=lambda: ["public"])
    conditions: list[str] = msgspec.field(default_factory=list)
    mount_type: str = "Directory"
    read_only: bool = False
    action: str = "add"
    active: bool = True


def row_json(r: m.Storage | StorageRow) -> dict[str, Any]:
    return {
        "id": r.id,
        "host_path": r.host_path,
        "mount_path": r.mount_path,
        "owners": list(r.owners),
        "conditions": list(r.conditions),
        "mount_type": r.mount_type,
        "read_only": r.read_only,
        "action": r.action,
        "active": r.active,
    }


class StorageService:
    def __init__(self, sessions: Sessions, reads: Reads) -> None:
        self._sessions = sessions
        self._reads = reads

    @staticmethod
    def _require(caller: Caller) -> None:
        if not caller.admin:
            raise Forbidden("this needs the admin role")

    async def rows(self) -> list[StorageRow]:
        """The active rows, in id order."""
        async with self._reads.engine.connect() as c:
            q = select(m.Storage).where(m.Storage.active.is_(True)).order_by(m.Storage.id)
            return [storage_row(r) for r in await c.execute(q)]

    # -- admin ---------------------------------------------------------------------------------
    async def list(self, caller: Caller) -> list[dict[str, Any]]:
        self._require(caller)
        async with self._sessions() as s:
            rows = (await s.execute(select(m.Storage).order_by(m.Storage.id))).scalars().all()
        return [row_json(r) for r in rows]

    async def add(self, caller: Caller, body: StorageBody) -> dict[str, Any]:
        self._require(caller)
        try:
            row = check_row(
                StorageRow(
                    body.host_path, body.mount_path, tuple(body.owners), tuple(body.conditions),
                    body.mount_type, body.read_only, body.action, body.active,
                )
            )  # fmt: skip
        except StorageError as exc:
            raise Invalid(str(exc)) from None
        try:
            async with self._sessions.begin() as s:
                new = m.Storage(
                    host_path=row.host_path, mount_path=row.mount_path, owners=list(row.owners),
                    conditions=list(row.conditions), mount_type=row.mount_type,
                    read_only=row.read_only, action=row.action, active=row.active,
                )  # fmt: skip
                s.add(new)
                await s.flush()
                out = row_json(new)
        except IntegrityError:
            raise Conflict(
                f"a storage row {row.action} {row.host_path} -> {row.mount_path} exists "
                "already: remove it first (hai-cli admin storage list)"
            ) from None
        return out

    async def remove(self, caller: Caller, row_id: int) -> dict[str, Any]:
        self._require(caller)
        if not 0 < row_id <= MAX_ID:
            raise NotFound(f"no storage row {row_id}")
        async with self._sessions.begin() as s:
            row = await s.get(m.Storage, row_id)
            if row is None:
                raise NotFound(f"no storage row {row_id}")
            out = row_json(row)
            await s.execute(delete(m.Storage).where(m.Storage.id == row_id))
        return out

    # -- users -----------------------------------------------------------------------------------
    async def mine(self, caller: Caller) -> list[dict[str, Any]]:
        """The caller's mounts for a task (templates filled, owners and conditions applied
        with no task fields beyond its type)."""
        user = await self._user(caller)
        mounts = mounts_for(user, await self.rows(), MountTask())
        return [
            {"mount_path": x.mount_path, "source": x.source, "mount_type": x.mount_type,
             "read_only": x.read_only, "row": x.row_id}
            for x in mounts
        ]  # fmt: skip

    async def _user(self, caller: Caller) -> MountUser:
        _, groups = await self._reads.quota_rows(caller.name, caller.role)
        return MountUser(caller.name, caller.role, groups)

    async def check_submit(
        self, caller: Caller, workdir: str, group: str, nodes: int, image: str | None
    ) -> None:
        """A cluster's local backend runs ranks where the server is: a submission's working
        directory must lie in one of the caller's mounts (when the table has rows)."""
        rows = await self.rows()
        task = MountTask(group=group, nodes=nodes, image=image or "", workdir=workdir)
        await self.check_workdir(caller, workdir, task, rows)

    async def check_workdir(
        self,
        caller: Caller,
        workdir: str,
        task: MountTask,
        rows: Sequence[StorageRow],
        groups: tuple[str, ...] | None = None,
    ) -> None:
        """422 unless ``workdir`` lies in one of the caller's directory mounts (no rows: no
        restriction). ``groups``: the caller's, when already read."""
        if not rows:
            return
        if groups is None:
            user = await self._user(caller)
        else:
            user = MountUser(caller.name, caller.role, groups)
        mounts = mounts_for(user, rows, task)
        if covering_mount(workdir, mounts) is None:
            dirs = [x.mount_path for x in mounts if x.mount_type not in ("configmap", "File")]
            where = ", ".join(dirs[:5]) + (", ..." if len(dirs) > 5 else "") or "none"
            raise Invalid(
                f"working directory {workdir} is outside your storage mounts ({where}): run "
                "from inside one of them (hai-cli storage list shows them; an admin adds rows "
                "with hai-cli admin storage add)"
            )
