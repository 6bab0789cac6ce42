"""The reconciler's reads: active and suspended tasks as plain rows, and the rows a start
needs. Core selects built once (no ORM objects); every row carries its ``version`` for the
guarded applier.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from hai_server.db import models as m
from hai_server.domain import states as st
from hai_server.domain.storage import StorageRow

# the task fields the pure phases read and transition() may write
DRAFT_COLUMNS = (
    m.Task.id,
    m.Task.version,
    m.Task.state,
    m.Task.reason,
    m.Task.position,
    m.Task.detail,
    m.Task.restart_count,
    m.Task.priority,
    m.Task.run_priority,
    m.Task.started_at,
    m.Task.ended_at,
    m.Task.exit_code,
    m.Task.suspend_reason,
    m.Task.suspend_deadline,
    m.Task.suspend_requested,
    m.Task.stop_requested,
    m.Task.terminate_sent_at,
    m.Task.ran_s,
    m.Task.suspend_after,
    m.Task.whole_life_state,
    m.Task.last_checkpoint_at,
    m.Task.retry_at,
    m.Task.start_failures,
    m.Task.watchdog_s,
    m.Task.hung_at,
    m.Task.options,  # stop_outcome: how a stopped task ends (stop --succeeded / --failed)
)
# ... and what building an attempt needs besides
LAUNCH_COLUMNS = (
    *DRAFT_COLUMNS,
    m.Task.name,
    m.Task.user_name,
    m.Task.kind,
    m.Task.group,
    m.Task.argv,
    m.Task.workdir,
    m.Task.env,
    m.Task.haienv_name,
    m.Task.haienv_owner,
    m.Task.group,
    m.Task.nodes,
    m.User.uid,
    m.User.gid,
    m.User.role,
)
_ACTIVE = select(*DRAFT_COLUMNS).where(m.Task.state.in_(st.ACTIVE)).order_by(m.Task.id)
_SUSPENDED = select(*DRAFT_COLUMNS).where(m.Task.state == st.SUSPENDED).order_by(m.Task.id)
_CURRENT_RANKS = (
    select(m.Attempt.task_id, m.Attempt.ranks)
    .join(m.Task, m.Task.id == m.Attempt.task_id)
    .where(m.Task.state.in_(st.ACTIVE), m.Attempt.number == m.Task.restart_count)
)
_NODES = select(m.Node.name, m.Node.gpus, m.Node.gpu_first)
_STORAGE = select(m.Storage).where(m.Storage.active.is_(True)).order_by(m.Storage.id)


def fields(row: Any) -> dict[str, Any]:
    """A row as the plain mapping a Draft starts from."""
    return dict(row._mapping)


async def active_rows(s: Any) -> tuple[list[Any], dict[int, list[dict[str, Any]]]]:
    """Active tasks (by id) and the stored rank rows of their current attempts."""
    rows = (await s.execute(_ACTIVE)).all()
    ranks = {r.task_id: r.ranks for r in await s.execute(_CURRENT_RANKS)}
    return rows, ranks


async def suspended_rows(s: Any) -> list[Any]:
    return list((await s.execute(_SUSPENDED)).all())


async def task_rows(s: Any, ids: Iterable[int], *, launch: bool = False) -> dict[int, Any]:
    """The rows of tasks ``ids`` (with what a launch needs when ``launch``)."""
    wanted = list(ids)
    if not wanted:
        return {}
    if launch:
        query = select(*LAUNCH_COLUMNS).join(m.User, m.User.id == m.Task.user_id)
    else:
        query = select(*DRAFT_COLUMNS)
    rows = await s.execute(query.where(m.Task.id.in_(wanted)))
    return {r.id: r for r in rows}


async def node_gpus(s: Any) -> dict[str, tuple[int, int]]:
    """{node: (gpus, index of its first GPU)}."""
    return {r.name: (r.gpus, r.gpu_first) for r in await s.execute(_NODES)}


def storage_row(r: Any) -> StorageRow:
    return StorageRow(
        host_path=r.host_path,
        mount_path=r.mount_path,
        owners=tuple(r.owners or ()),
        conditions=tuple(r.conditions or ()),
        mount_type=r.mount_type,
        read_only=bool(r.read_only),
        action=r.action,
        active=bool(r.active),
        id=r.id,
    )


async def storage_rows(s: Any) -> list[StorageRow]:
    """The active rows of the ``storage`` table, in id order."""
    return [storage_row(r) for r in (await s.execute(_STORAGE)).scalars()]


async def user_groups(s: Any, names: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """{user: their user groups} for ``names``."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    q = select(m.UserGroup.user_name, m.UserGroup.group_name).where(
        m.UserGroup.user_name.in_(wanted)
    )
    out: dict[str, list[str]] = {}
    for user, group in await s.execute(q):
        out.setdefault(user, []).append(group)
    return {k: tuple(sorted(v)) for k, v in out.items()}
