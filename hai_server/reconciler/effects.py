"""The last phase: backend calls, made after the writes that asked for them are committed.

Calls are made in a fixed order (stop, notify, forget, start), each one once per tick. A start
the backend refuses goes through the pure rule of failures.py and one more guarded write. Any
exception from a start, not only a BackendError, fails that start alone: one bad task never
disturbs the loop or the other tasks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import insert

from hai_cli import validate as check
from hai_server.backends.base import Backend, BackendError
from hai_server.db import active as rows
from hai_server.db import models as m
from hai_server.db.apply import apply_writes, event_values
from hai_server.db.session import Sessions
from hai_server.domain.changes import Call, TaskWrite
from hai_server.domain.transition import Event
from hai_server.reconciler.failures import start_failed_write

log = logging.getLogger("hai.reconciler")
_EVENTS = m.Event.__table__


def _check_spec(spec: Any) -> None:
    """The API's rules again, on what the database holds: a row written past the API (an old
    version, a restore, a hand edit) fails its start once with the precise reason."""
    check.argv(list(spec.argv))
    check.workdir(spec.workdir)
    for key, value in spec.env.items():  # (platform variables come on top: no count limit)
        if "\x00" in key or "\x00" in value:
            raise ValueError(f"environment variable {key!r} contains a NUL byte")


class Effects:
    def __init__(
        self,
        sessions: Sessions,
        backend: Backend,
        kill_grace_s: float,
        clock: Callable[[], float],
    ) -> None:
        self._sessions = sessions
        self._backend = backend
        self._kill_grace_s = kill_grace_s
        self._clock = clock
        self.on_applied: Callable[[Sequence[TaskWrite]], None] = lambda _writes: None

    async def run(self, calls: Sequence[Call], now: float) -> None:
        by_kind: dict[str, dict[tuple[int, int], Call]] = {}
        for c in calls:
            by_kind.setdefault(c.kind, {}).setdefault((c.task_id, c.attempt), c)
        notes: list[Event] = []
        for key in by_kind.get("terminate", {}):
            try:
                await self._backend.terminate(*key, self._kill_grace_s)
            except BackendError as exc:
                notes.append(Event(key[0], now, "backend_error", f"stop failed: {exc}"))
        for key, c in by_kind.get("notify", {}).items():
            try:
                await self._backend.notify_suspend(*key, c.deadline or now)
            except BackendError as exc:
                notes.append(Event(key[0], now, "backend_error", f"suspend notice failed: {exc}"))
        for key in by_kind.get("forget", {}):
            try:
                await self._backend.forget(*key)
            except BackendError as exc:
                log.warning("forget %s failed: %s", key, exc)
        failed: dict[int, tuple[str, bool]] = {}
        for key, c in by_kind.get("start", {}).items():
            try:
                _check_spec(c.spec)
                await self._backend.start(c.spec)
            except ValueError as exc:  # a row no submission could have made (see _check_spec)
                failed[key[0]] = (str(exc), False)
            except BackendError as exc:
                failed[key[0]] = (str(exc), exc.retryable)
            except Exception as exc:  # a bug or an input the backend cannot take: this task only
                log.exception("start of task %s attempt %s raised", *key)
                failed[key[0]] = (f"{type(exc).__name__}: {exc}", False)
        if notes:
            await self._note(notes)
        if failed:
            await self._start_failed(failed)

    async def _note(self, notes: list[Event]) -> None:
        async with self._sessions.begin() as s:
            await s.execute(insert(_EVENTS), [event_values(ev) for ev in notes])

    async def _start_failed(self, failed: dict[int, tuple[str, bool]]) -> None:
        now = self._clock()
        attempts: list[tuple[int, int]] = []
        async with self._sessions.begin() as s:
            current = await rows.task_rows(s, failed)
            writes = []
            for task_id, (message, retryable) in sorted(failed.items()):
                log.warning("start of task %s failed: %s", task_id, message)
                row = current.get(task_id)
                write = start_failed_write(row, message, retryable, now) if row else None
                if write is not None:
                    writes.append(write)
                    attempts.append((task_id, row.restart_count))
            self.on_applied(await apply_writes(s, writes))
        for key in attempts:  # whatever the backend made of the attempt goes
            try:
                await self._backend.forget(*key)
            except BackendError as exc:
                log.warning("forget %s failed: %s", key, exc)
