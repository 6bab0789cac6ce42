"""Cache of bearer tokens that authenticated, kept coherent across replicas.

Every request authenticates; looking its token up costs a database round trip. This keeps
``token hash -> (user id, name, role, active)`` for tokens that worked, and drops everything
whenever a user or token changes (disable, role change, revoke):

- PostgreSQL: the admin write runs ``pg_notify('hai_auth')`` in its own transaction, so every
  replica, LISTENing on its own connection, hears of it when the change commits. While that
  connection is down the cache is bypassed (every request reads the database), so a missed
  notification can never keep a revoked token alive.
- SQLite (embedded, one process): the admin service clears it directly.

A generation number closes the race where a lookup that started before a revoke would store
its stale answer after the clear. Entries also expire after ``ttl_s`` (belt and braces).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from sqlalchemy import text

log = logging.getLogger("hai.auth")
CHANNEL = "hai_auth"
_NOTIFY = text(f"SELECT pg_notify('{CHANNEL}', '')")


class CallerCache:
    def __init__(self, database_url: str, ttl_s: float = 30.0, max_entries: int = 10_000) -> None:
        self._pg_url = (
            database_url.replace("postgresql+psycopg://", "postgresql://")
            if database_url.startswith("postgresql")
            else None
        )
        self._ttl_s = ttl_s
        self._max = max_entries
        self._entries: dict[str, tuple[Any, float]] = {}
        self._trusted = self._pg_url is None  # PostgreSQL: only while LISTENing
        self.generation = 0
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    async def start(self, wait_s: float = 2.0) -> None:
        if self._pg_url is None:
            return
        self._task = asyncio.create_task(self._listen(), name="auth-cache-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), wait_s)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def get(self, token_hash: str) -> Any | None:
        if not self._trusted:
            return None
        entry = self._entries.get(token_hash)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, token_hash: str, row: Any, generation: int) -> None:
        """Keep ``row`` unless anything changed since ``generation`` was read."""
        if not self._trusted or generation != self.generation or not row.active:
            return
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[token_hash] = (row, time.monotonic() + self._ttl_s)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()

    async def _listen(self) -> None:
        import psycopg

        assert self._pg_url is not None
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self._pg_url, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.clear()
                    self._trusted = True
                    self._listening.set()
                    async for _ in conn.notifies():
                        self.clear()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: stop trusting, retry
                log.warning("auth cache listener down (%s); reading every token", exc)
            self._trusted = False
            self._listening.clear()
            self.clear()
            await asyncio.sleep(1.0)


async def announce_auth_change(session: Any) -> None:
    """Tell every replica (at commit) that users or tokens changed. PostgreSQL only."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(_NOTIFY)
