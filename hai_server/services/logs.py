"""Rank logs: one file per rank per attempt, read whole, by offset, or followed.

Following goes through the replica's ``LogFan`` (``logfan.py``): every follower of one rank
log reads from one shared tail, fed by Redis or by one file poll per replica. The state
checks that decide when a stream moves to a new attempt or ends are shared as well: one
database read per task per ``STATE_POLL_S`` and replica, whatever the number of followers.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from hai_server.db.reads import Reads
from hai_server.domain import states as lc
from hai_server.services.errors import Invalid, NotFound
from hai_server.services.logfan import LogFan, LogKey, read_file
from hai_server.services.tasks import Caller, TaskService

MAX_READ = 16 * 1024 * 1024
MAX_LOG_OFFSET = 2**53  # byte offsets beyond any file; also what a JSON number holds exactly
STATE_POLL_S = 0.25
STATE_SHARE_S = 0.2  # a state read this fresh is reused by the task's other followers

PodLog = Callable[[int, int, int], Awaitable[bytes | None]]
"""``pod_log(task_id, attempt, rank)``: the rank's container log from the cluster, or None.
Given by the app when the backend has one (Kubernetes: ``pods/log``); services never call a
backend themselves."""


def rank_log(log_dir: str, rank: int) -> str:
    return os.path.join(log_dir, f"rank-{rank}.log")


class LogService:
    def __init__(
        self, reads: Reads, tasks: TaskService, fan: LogFan, pod_log: PodLog | None = None
    ) -> None:
        self._reads = reads
        self._tasks = tasks
        self._fan = fan
        self._pod_log = pod_log
        self._shared: dict[tuple[int, int | None], tuple[float, asyncio.Task[Any]]] = {}

    async def _attempt(self, task_id: int, number: int | None) -> Any:
        return (await self._reads.log_state(task_id, number))[1]

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
        path = rank_log(att.log_dir, rank)
        data = await asyncio.to_thread(read_file, path, offset, MAX_READ)
        if data or self._pod_log is None or await asyncio.to_thread(os.path.exists, path):
            return data
        # no shared log file (not mounted on the server, or the rank never wrote one): the
        # container log, while the cluster still has the rank's pod
        text = await self._pod_log(task_id, att.number, rank)
        return (text or b"")[offset : offset + MAX_READ]

    async def follow(
        self, caller: Caller, task_id: int, rank: int, attempt: int | None, offset: int
    ) -> AsyncIterator[bytes]:
        """Validate now, then return a stream that ends when the task (or the attempt) ends."""
        task = await self._tasks.check_access(caller, task_id)
        if rank < 0 or rank >= task.nodes:
            raise Invalid(f"rank must be between 0 and {task.nodes - 1}")
        if attempt is not None and await self._attempt(task_id, attempt) is None:
            raise NotFound(f"task {task_id} has no attempt {attempt}")
        return self._stream(task_id, rank, attempt, max(offset, 0))

    async def _state(self, task_id: int, pinned: int | None) -> tuple[str | None, Any]:
        """The task's state and attempt row, read at most once per STATE_SHARE_S per task."""
        loop = asyncio.get_running_loop()
        key = (task_id, pinned)
        hit = self._shared.get(key)
        if hit is None or loop.time() - hit[0] > STATE_SHARE_S:
            if len(self._shared) > 256:
                old = loop.time() - STATE_SHARE_S
                self._shared = {k: v for k, v in self._shared.items() if v[0] >= old}
            hit = (loop.time(), asyncio.ensure_future(self._reads.log_state(task_id, pinned)))
            self._shared[key] = hit
        return await asyncio.shield(hit[1])  # type: ignore[no-any-return]

    async def _stream(
        self, task_id: int, rank: int, pinned: int | None, offset: int
    ) -> AsyncIterator[bytes]:
        current: Any = await self._attempt(task_id, pinned)
        loop = asyncio.get_running_loop()
        next_state_check = 0.0
        tail = None
        try:
            while True:
                wait = max(0.0, next_state_check - loop.time())
                if current is not None:
                    if tail is None:
                        path = rank_log(current.log_dir, rank)
                        tail = await self._fan.join(LogKey(task_id, current.number, rank, path))
                    data = await tail.read(offset, wait)
                    if data:
                        offset += len(data)
                        yield data
                        continue
                elif wait:
                    await asyncio.sleep(wait)
                if loop.time() < next_state_check:
                    continue
                next_state_check = loop.time() + STATE_POLL_S
                state, latest = await self._state(task_id, pinned)
                if state is None:
                    return
                if latest is not None and (
                    current is None or (pinned is None and latest.number != current.number)
                ):
                    if current is not None and latest is not None:
                        # drain what the previous attempt wrote last
                        rest = await self._rest(current, rank, offset)
                        if rest:
                            yield rest
                        yield f"[hai] ---- attempt {latest.number} ----\n".encode()
                    if tail is not None:
                        self._fan.leave(tail)
                        tail = None
                    current, offset = latest, 0
                    continue
                if latest is not None:
                    current = latest
                attempt_over = current is not None and current.ended_at is not None
                if (pinned is not None and attempt_over) or (
                    pinned is None and state in lc.TERMINAL and (current is None or attempt_over)
                ):
                    rest = await self._rest(current, rank, offset)
                    if rest:
                        yield rest
                    return
        finally:
            if tail is not None:
                self._fan.leave(tail)

    @staticmethod
    async def _rest(attempt: Any, rank: int, offset: int) -> bytes:
        """The rest of an attempt's finished log, straight from the file."""
        if attempt is None:
            return b""
        return await asyncio.to_thread(read_file, rank_log(attempt.log_dir, rank), offset, MAX_READ)
