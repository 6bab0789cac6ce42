"""Jupyter containers' rows: the shared groups' nodes and containers as the placement sees
them (hai_cli.scheduler.jupyter), and the lookups of the containers' service."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select

from hai_cli.scheduler.jupyter import PlacedContainer, Resources, SharedNode, WaitingContainer
from hai_server.db import models as m
from hai_server.domain import states as st

KIND = "jupyter"


def asks(options: Mapping[str, Any] | None) -> Resources:
    """What a container asks for, from its task's options (``options["jupyter"]``)."""
    j = (options or {}).get("jupyter") or {}
    return Resources(
        float(j.get("cpus") or 0), float(j.get("memory_gib") or 0), int(j.get("gpus") or 0)
    )


def shared_node(row: Any) -> SharedNode:
    return SharedNode(
        name=row.name,
        group=row.group,
        size=Resources(row.cpus or 0.0, row.memory_gib or 0.0, row.gpus or 0),
        usable=bool(row.healthy) and not row.cordoned,
    )


async def shared_rows(
    s: Any, groups: Iterable[str]
) -> tuple[tuple[SharedNode, ...], tuple[PlacedContainer, ...], tuple[WaitingContainer, ...]]:
    """The nodes of the shared Jupyter ``groups``, the containers on them, the waiting ones."""
    wanted = list(groups)
    if not wanted:
        return (), (), ()
    nodes = tuple(
        shared_node(r)
        for r in await s.execute(
            select(m.Node.name, m.Node.group, m.Node.cpus, m.Node.memory_gib, m.Node.gpus,
                   m.Node.healthy, m.Node.cordoned).where(m.Node.group.in_(wanted))
        )
    )  # fmt: skip
    running = tuple(
        PlacedContainer(r.id, r.group, (r.nodes or [""])[0], asks(r.options))
        for r in await s.execute(
            select(m.Task.id, m.Task.group, m.Task.options, m.Attempt.nodes)
            .join(m.Attempt, (m.Attempt.task_id == m.Task.id)
                  & (m.Attempt.number == m.Task.restart_count))
            .where(m.Task.kind == KIND, m.Task.group.in_(wanted), m.Task.state.in_(st.ACTIVE))
        )
    )  # fmt: skip
    waiting = tuple(
        WaitingContainer(r.id, r.group, asks(r.options), r.submitted_at, r.priority, bool(r.held))
        for r in await s.execute(
            select(m.Task.id, m.Task.group, m.Task.options, m.Task.submitted_at,
                   m.Task.priority, m.Task.held)
            .where(m.Task.kind == KIND, m.Task.group.in_(wanted), m.Task.state == st.QUEUED)
        )
    )  # fmt: skip
    return nodes, running, waiting


async def containers(s: Any, user_id: int | None, name: str | None = None) -> list[m.Task]:
    """The containers of a user (every user's with ``user_id`` None), optionally by name,
    newest first; deleted ones are not listed."""
    query = select(m.Task).where(m.Task.kind == KIND)
    if user_id is not None:
        query = query.where(m.Task.user_id == user_id)
    if name is not None:
        query = query.where(m.Task.name == name)
    rows = (await s.execute(query.order_by(m.Task.id.desc()))).scalars().all()
    return [t for t in rows if not (t.options or {}).get("jupyter", {}).get("deleted")]


async def current_attempt(s: Any, task: m.Task) -> m.Attempt | None:
    return (
        await s.execute(
            select(m.Attempt).where(
                m.Attempt.task_id == task.id, m.Attempt.number == task.restart_count
            )
        )
    ).scalar_one_or_none()


async def user_named(s: Any, name: str) -> m.User | None:
    return (await s.execute(select(m.User).where(m.User.name == name))).scalar_one_or_none()


async def nodes_of(s: Any, group: str) -> list[m.Node]:
    return list((await s.execute(select(m.Node).where(m.Node.group == group))).scalars())


async def token_row(s: Any, digest: str) -> m.Token | None:
    return (
        await s.execute(select(m.Token).where(m.Token.token_hash == digest))
    ).scalar_one_or_none()
