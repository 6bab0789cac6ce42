"""Read-only queries of the API's hot paths (auth, task status, task list), without the ORM.

Reads go through a separate *read engine*: on PostgreSQL its connections are in autocommit
mode, so a read is one round trip (no BEGIN, no ROLLBACK when the connection goes back to
the pool) and no ORM objects are built. Measured on this 2-core machine: an ORM session
select costs ~1.4 ms, the same Core select on the autocommit engine ~0.4 ms. Each statement
sees the latest committed state; the few statements of one read share a connection.
SQLite (embedded, one process) uses the main engine: there a read costs microseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hai_cli.scheduler.model import QuotaRow
from hai_server.db import models as m

_T = m.Task.__table__
_A = m.Attempt.__table__
_E = m.Event.__table__


def make_read_engine(url: str, engine: AsyncEngine) -> AsyncEngine:
    """An autocommit engine for reads on PostgreSQL; the main engine on SQLite."""
    if url.startswith("sqlite"):
        return engine
    # pre-ping (as the main engine): a read after a PostgreSQL restart gets a live connection
    return create_async_engine(
        url,
        isolation_level="AUTOCOMMIT",
        pool_size=10,
        max_overflow=20,
        pool_recycle=1800,
        pool_pre_ping=True,
    )


# built once, with bound parameters: building a statement per request costs more than
# running it
_CALLER = (
    select(m.User.id, m.User.name, m.User.role, m.User.active)
    .join(m.Token, m.Token.user_id == m.User.id)
    .where(m.Token.revoked_at.is_(None), m.Token.token_hash == bindparam("h"))
)
# PostgreSQL: the task with its attempts and events as JSON arrays, in one statement
_PG_DETAIL_SQL = (
    "SELECT t.*,"
    " (SELECT coalesce(json_agg(a ORDER BY a.number), '[]'::json)"
    "  FROM attempts a WHERE a.task_id = t.id) AS hai_attempts,"
    " (SELECT coalesce(json_agg(json_build_object('at', e.at, 'kind', e.kind,"
    "  'message', e.message) ORDER BY e.id), '[]'::json)"
    "  FROM events e WHERE e.task_id = t.id) AS hai_events"
    " FROM tasks t WHERE t.id = %(tid)s"
)
_GROUP_SIZE = select(func.count()).select_from(m.Node).where(m.Node.group == bindparam("g"))
_TASK = select(_T).where(_T.c.id == bindparam("tid"))
_ATTEMPTS = select(_A).where(_A.c.task_id == bindparam("tid")).order_by(_A.c.number)
_STATE = select(_T.c.state).where(_T.c.id == bindparam("tid"))
_LOG_ATTEMPT = select(_A.c.number, _A.c.log_dir, _A.c.ended_at).where(
    _A.c.task_id == bindparam("tid")
)
_MY_GROUPS = select(m.UserGroup.group_name).where(m.UserGroup.user_name == bindparam("u"))
_MY_QUOTAS = select(m.Quota.principal, m.Quota.resource, m.Quota.quota, m.Quota.expires_at).where(
    m.Quota.principal.in_(bindparam("p", expanding=True))
)
_IMAGES = select(m.TrainEnvironment.__table__).order_by(m.TrainEnvironment.env_name)
_STORAGE = select(m.Storage.__table__).where(m.Storage.active.is_(True)).order_by(m.Storage.id)
_LATEST_LOG_ATTEMPT = _LOG_ATTEMPT.order_by(_A.c.number.desc()).limit(1)
_NTH_LOG_ATTEMPT = _LOG_ATTEMPT.where(_A.c.number == bindparam("n"))
_EVENTS = (
    select(_E.c.at, _E.c.kind, _E.c.message)
    .where(_E.c.task_id == bindparam("tid"))
    .order_by(_E.c.id)
)


class Reads:
    """The read queries; every method is one connection checkout."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @property
    def engine(self) -> AsyncEngine:
        """Autocommit on PostgreSQL: a single statement is its own transaction."""
        return self._engine

    async def group_size(self, group: str) -> int:
        async with self._engine.connect() as c:
            return int((await c.execute(_GROUP_SIZE, {"g": group})).scalar_one())

    async def groups(self) -> list[str]:
        async with self._engine.connect() as c:
            return sorted(set((await c.execute(select(m.Node.group))).scalars()))

    async def quota_rows(self, user: str, role: str) -> tuple[list[QuotaRow], tuple[str, ...]]:
        """The quota rows that may apply to ``user`` (theirs, their groups', their role's,
        public's) and the user's groups: what the policy's QuotaBook needs for one user."""
        async with self._engine.connect() as c:
            groups = tuple(sorted((await c.execute(_MY_GROUPS, {"u": user})).scalars()))
            principals = [user, role, "public", *groups]
            rows = [
                QuotaRow(r.principal, r.resource, r.quota, r.expires_at)
                for r in await c.execute(_MY_QUOTAS, {"p": principals})
            ]
        return rows, groups

    async def submit_context(
        self, user: str, role: str, storage: bool
    ) -> tuple[list[QuotaRow], tuple[str, ...], list[Row[Any]], list[Row[Any]]]:
        """What admitting one submission reads, on one connection: the quota rows that may
        apply to ``user`` and the user's groups (as :meth:`quota_rows`), the built-in images,
        and (``storage``) the active storage rows."""
        async with self._engine.connect() as c:
            groups = tuple(sorted((await c.execute(_MY_GROUPS, {"u": user})).scalars()))
            rows = [
                QuotaRow(r.principal, r.resource, r.quota, r.expires_at)
                for r in await c.execute(_MY_QUOTAS, {"p": [user, role, "public", *groups]})
            ]
            images = list((await c.execute(_IMAGES)).all())
            mounts = list((await c.execute(_STORAGE)).all()) if storage else []
        return rows, groups, images, mounts

    async def caller(self, token_hash: str) -> Row[Any] | None:
        """(id, name, role, active) of the live token's user, or None."""
        async with self._engine.connect() as c:
            return (await c.execute(_CALLER, {"h": token_hash})).first()

    async def user_id(self, name: str) -> int | None:
        """The id of the user called ``name``, or None."""
        async with self._engine.connect() as c:
            found = await c.execute(select(m.User.id).where(m.User.name == name))
            return found.scalar_one_or_none()

    async def user_identity(self, user_id: int) -> tuple[int | None, int | None]:
        """(uid, gid) of a user (None where unknown)."""
        async with self._engine.connect() as c:
            row = (
                await c.execute(select(m.User.uid, m.User.gid).where(m.User.id == user_id))
            ).first()
        return (row.uid, row.gid) if row is not None else (None, None)

    async def task(self, task_id: int) -> Row[Any] | None:
        async with self._engine.connect() as c:
            return (await c.execute(_TASK, {"tid": task_id})).first()

    async def log_state(
        self, task_id: int, number: int | None
    ) -> tuple[str | None, Row[Any] | None]:
        """The task's state and (number, log_dir, ended_at) of attempt ``number`` (else the
        latest): (None, None) when there is no such task."""
        async with self._engine.connect() as c:
            state = (await c.execute(_STATE, {"tid": task_id})).scalar_one_or_none()
            if state is None:
                return None, None
            if number is None:
                att = (await c.execute(_LATEST_LOG_ATTEMPT, {"tid": task_id})).first()
            else:
                att = (await c.execute(_NTH_LOG_ATTEMPT, {"tid": task_id, "n": number})).first()
        return state, att

    async def task_detail(self, task_id: int) -> tuple[Any, Sequence[Any], Sequence[Any]] | None:
        """The task row, its attempts (by number) and its events (in order), or None."""
        async with self._engine.connect() as c:
            if c.dialect.name == "postgresql":  # one round trip, on the driver's own cursor
                from psycopg.rows import namedtuple_row  # not at import: SQLite never needs it

                raw = (await c.get_raw_connection()).driver_connection
                async with raw.cursor(row_factory=namedtuple_row) as cur:
                    await cur.execute(_PG_DETAIL_SQL, {"tid": task_id}, prepare=True)
                    row = await cur.fetchone()
                if row is None:
                    return None
                attempts = [SimpleNamespace(**a) for a in row.hai_attempts]
                events = [SimpleNamespace(**e) for e in row.hai_events]
                return row, attempts, events
            task = (await c.execute(_TASK, {"tid": task_id})).first()
            if task is None:
                return None
            attempts = (await c.execute(_ATTEMPTS, {"tid": task_id})).all()
            events = (await c.execute(_EVENTS, {"tid": task_id})).all()
        return task, attempts, events

    async def task_page(
        self, filters: list[Any], limit: int, offset: int
    ) -> tuple[Sequence[Row[Any]], int]:
        """Tasks matching ``filters`` (newest first) and how many match in all.

        One round trip: the total rides along as a window count; only a page past the end
        (no rows to carry it) needs a second statement."""
        total_col = func.count().over().label("hai_total")
        query = (
            select(_T, total_col)
            .where(*filters)
            .order_by(_T.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        async with self._engine.connect() as c:
            rows = (await c.execute(query)).all()
            if rows:
                return rows, int(rows[0].hai_total)
            count = select(func.count()).select_from(_T).where(*filters)
            return rows, int((await c.execute(count)).scalar_one())
