"""Rank logs: one file per rank per attempt, read whole, by offset, or followed."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

from sqlalchemy import select

from hai_server.db import models as m
from hai_server.db.session import Sessions
from hai_server.services import lifecycle as lc
from hai_server.services.errors import Invalid, NotFound
from hai_server.services.tasks import Caller, TaskService

MAX_READ = 16 * 1024 * 1024
FILE_POLL_S = 0.05
STATE_POLL_S = 0.25


def rank_log(log_dir: str, rank: int) -> str:
    return os.path.join(log_dir, f"rank-{rank}.log")


def _read(path: str, offset: int, limit: int = MAX_READ) -> bytes:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read(limit)
    except FileNotFoundError:
        return b""


class LogService:
    def __init__(self, sessions: Sessions, tasks: TaskService) -> None:
        self._sessions = sessions
        self._tasks = tasks

    async def _attempt(self, task_id: int, number: int | None) -> m.Attempt | None:
        async with self._sessions() as s:
            q = select(m.Attempt).where(m.Attempt.task_id == task_id)
            if number is None:
                q = q.order_by(m.Attempt.number.desc()).limit(1)
            else:
                q = q.where(m.Attempt.number == number)
            return (await s.execute(q)).scalar_one_or_none()

    async def read(
        self, caller: Caller, task_id: int, rank: int, attempt: int | None, offset: int
    ) -> bytes:
        task = await self._tasks.check_access(caller, task_id)
        if rank < 0 or rank >= task.nodes:
            raise Invalid(f"rank must be between 0 and {task.nodes - 1}")
        if offset < 0:
            raise Invalid("offset must be >= 0")
        att = await self._attempt(task_id, attempt)
        if att is None:
            if attempt is not None:
                raise NotFound(f"task {task_id} has no attempt {attempt}")
            return b""
        return await asyncio.to_thread(_read, rank_log(att.log_dir, rank), offset)

    async def follow(
        self, caller: Caller, task_id: int, rank: int, attempt: int | None, offset: int
    ) -> AsyncIterator[bytes]:
        """Validate now, then return a stream that ends when the task (or the attempt) ends."""
        task = await self._tasks.check_access(caller, task_id)
        if rank < 0 or rank >= task.nodes:
            raise Invalid(f"rank must be between 0 and {task.nodes - 1}")
        if attempt is not None and await self._attempt(task_id, attempt) is None:
            raise NotFound(f"task {task_id} has no attempt {attempt}")
        return self._stream(task_id, rank, attempt, offset)

    async def _stream(
        self, task_id: int, rank: int, pinned: int | None, offset: int
    ) -> AsyncIterator[bytes]:
        current: m.Attempt | None = await self._attempt(task_id, pinned)
        loop = asyncio.get_running_loop()
        next_state_check = 0.0
        while True:
            if current is not None:
                data = await asyncio.to_thread(
                    _read, rank_log(current.log_dir, rank), offset, 1 << 20
                )
                if data:
                    offset += len(data)
                    yield data
                    continue
            if loop.time() < next_state_check:
                await asyncio.sleep(FILE_POLL_S)
                continue
            next_state_check = loop.time() + STATE_POLL_S
            async with self._sessions() as s:
                state = (
                    await s.execute(select(m.Task.state).where(m.Task.id == task_id))
                ).scalar_one_or_none()
            if state is None:
                return
            latest = await self._attempt(task_id, pinned)
            if current is None or (
                pinned is None and latest is not None and latest.number != current.number
            ):
                if current is not None and latest is not None:
                    # drain what the previous attempt wrote last
                    rest = await asyncio.to_thread(_read, rank_log(current.log_dir, rank), offset)
                    if rest:
                        yield rest
                    yield f"[hai] ---- attempt {latest.number} ----\n".encode()
                current, offset = latest, 0
                continue
            if latest is not None:
                current = latest
            attempt_over = current is not None and current.ended_at is not None
            if pinned is not None and attempt_over:
                return
            if pinned is None and state in lc.TERMINAL and (current is None or attempt_over):
                rest = b""
                if current is not None:
                    rest = await asyncio.to_thread(_read, rank_log(current.log_dir, rank), offset)
                if rest:
                    yield rest
                return
            await asyncio.sleep(FILE_POLL_S)
