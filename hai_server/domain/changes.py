"""The change set of one reconciler phase: plain values the pure phases return and the one
guarded applier (``hai_server.db.apply``) writes. Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hai_server.domain.draft import Draft
from hai_server.domain.transition import Event


@dataclass(frozen=True, slots=True)
class AttemptWrite:
    """What happens to the task's attempt row ``number``.

    ``insert``: a new attempt (its columns); ``ranks``: the current rank rows; ``close``:
    (ended_at, outcome, exit_code) of an attempt that ended; ``delete``: an attempt that never
    ran (a failed start reuses its number).
    """

    number: int
    insert: Mapping[str, Any] | None = None
    ranks: tuple[Mapping[str, Any], ...] | None = None
    close: tuple[float, str, int | None] | None = None
    delete: bool = False


@dataclass(frozen=True, slots=True)
class Call:
    """A backend call to make once the write it belongs to is committed.

    ``kind``: "start" (``spec``), "notify" (``deadline``), "terminate", "forget".
    """

    kind: str
    task_id: int
    attempt: int
    deadline: float | None = None
    spec: Any = None  # an AttemptSpec for "start"


@dataclass(frozen=True, slots=True)
class TaskWrite:
    """One guarded update of a task row: applied only if the row still has ``version``.

    ``values`` are the columns to set; the events, the attempt write and the backend calls
    belong to the update and are dropped with it when the row changed meanwhile.
    """

    task_id: int
    version: int
    values: Mapping[str, Any]
    events: tuple[Event, ...] = ()
    attempt: AttemptWrite | None = None
    calls: tuple[Call, ...] = ()


@dataclass(slots=True)
class ChangeSet:
    """Guarded writes, and calls to make whatever is written (repeats of idempotent calls)."""

    writes: list[TaskWrite] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)

    def extend(self, other: ChangeSet) -> None:
        self.writes.extend(other.writes)
        self.calls.extend(other.calls)


def write_of(
    draft: Draft, *, attempt: AttemptWrite | None = None, calls: tuple[Call, ...] = ()
) -> TaskWrite | None:
    """The guarded write of a draft (None when nothing about the task changed)."""
    if not draft.changed and attempt is None:
        return None
    return TaskWrite(
        task_id=draft.id,
        version=draft.version,
        values=dict(draft.changes),
        events=tuple(draft.events),
        attempt=attempt,
        calls=calls,
    )
