"""Exactly one active scheduler among replicas: a PostgreSQL session advisory lock.

The leader holds ``pg_advisory_lock(LEADER_KEY)`` on a connection of its own for as long
as it lives; every tick first checks that connection (one round trip) and every follower
tries ``pg_try_advisory_lock`` once per tick. When the leader dies, PostgreSQL drops its
session (at once for a killed process, after the TCP keepalive for a vanished host) and the
lock with it, so a follower takes over at its next tick (the 1 s timer, or sooner on a
wake-up). Only the leader observes the backend, judges attempts and schedules; followers
serve the API. A replica that becomes leader first rebuilds the backend's view of running
attempts (``close()`` + ``open()``), so it adopts the ranks the previous leader started.

SQLite is the embedded, single-replica case: :class:`SoloLeader` always leads.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

LEADER_KEY = 0x4A1_0002
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 2}
log = logging.getLogger("hai.leader")


class SoloLeader:
    """The only replica (SQLite / embedded): always the leader."""

    kind = "solo"
    is_leader = True

    async def check(self) -> bool:
        return True

    async def release(self) -> None:
        return None


class PgLeader:
    def __init__(self, url: str, on_elected: Callable[[], Awaitable[None]] | None = None) -> None:
        self._engine: AsyncEngine = create_async_engine(
            url, poolclass=NullPool, connect_args=dict(KEEPALIVE)
        )
        self._conn: AsyncConnection | None = None
        self._on_elected = on_elected
        self.is_leader = False
        self.kind = "postgresql-advisory-lock"
        self.changes = 0

    async def check(self) -> bool:
        """Return True when this replica leads now (taking the lock if it is free)."""
        try:
            if self._conn is None:
                self._conn = await self._engine.connect()
                await self._conn.execution_options(isolation_level="AUTOCOMMIT")
            if self.is_leader:
                await self._conn.execute(text("SELECT 1"))
                return True
            got = (
                await self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LEADER_KEY})
            ).scalar()
        except Exception as exc:  # the lock's session is gone: so is the lock
            if self.is_leader:
                log.warning("lost the leader lock: %s", exc)
            await self._drop()
            return False
        if got:
            log.info("this replica is now the leader")
            if self._on_elected is not None:
                try:
                    await self._on_elected()
                except Exception:
                    await self._unlock()
                    raise
            self.is_leader = True
            self.changes += 1
        return bool(got)

    async def _unlock(self) -> None:
        if self._conn is not None:
            try:
                await self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LEADER_KEY})
            except Exception:
                await self._drop()

    async def _drop(self) -> None:
        self.is_leader = False
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.invalidate()
                await conn.close()
            except Exception:
                pass

    async def release(self) -> None:
        if self.is_leader:
            await self._unlock()
        await self._drop()
        await self._engine.dispose()
