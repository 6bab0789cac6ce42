"""``transition()``: the one way a task changes state (standard library only).

It checks the move against the table in :mod:`states`, assigns the new state, resets what the
new state requires (a queue place, the attempt's timers, the run-time account) and returns the
:class:`Event` that records the move. It works on any object with the task's fields: an ORM row
in the services, a :class:`~hai_server.domain.draft.Draft` in the reconciler's pure phases.
Writing the object and the event to the database is the caller's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from hai_server.domain import states as st


class TaskFields(Protocol):
    """The fields of a task that transitions read and write."""

    id: int
    state: str
    reason: str
    position: int | None
    detail: str
    restart_count: int
    run_priority: int | None
    started_at: float | None
    ended_at: float | None
    exit_code: int | None
    suspend_reason: str
    suspend_deadline: float | None
    suspend_requested: bool
    stop_requested: bool
    terminate_sent_at: float | None
    ran_s: float


@dataclass(frozen=True, slots=True)
class Event:
    task_id: int
    at: float
    kind: str
    message: str


def event(task: Any, now: float, kind: str, message: str) -> Event:
    """An event about ``task`` that is not a state change (a request, a note, an error)."""
    return Event(task.id, now, kind, message)


def transition(
    task: TaskFields,
    to: str,
    *,
    now: float,
    kind: str,
    message: str,
    reason: str = "",
    detail: str = "",
    exit_code: int | None = None,
    deadline: float | None = None,
    priority: int | None = None,
) -> Event:
    """Move ``task`` to ``to`` and return the event that records it.

    ``reason``: why a task is requeued (its hold reason) or suspended; ``detail``: the
    hold's detail; ``exit_code``: of a task that ends; ``deadline``: when a suspending task's
    ranks are stopped; ``priority``: the level a starting task runs at.
    Raises :class:`~hai_server.domain.states.IllegalTransition` for a move not in the table.
    """
    frm = task.state
    st.check(frm, to)
    if frm in st.ACTIVE and to not in st.ACTIVE:
        _close_attempt(task, now)
    task.state = to
    if to == st.QUEUED:
        if frm != st.STARTING:  # a start that failed reuses its attempt number
            task.restart_count += 1
        task.reason, task.position, task.detail = reason, None, detail
        task.started_at = task.ended_at = task.exit_code = None
    elif to == st.STARTING:
        task.run_priority = priority if priority is not None else task.run_priority
        task.started_at = now
        task.reason, task.position, task.detail = "", None, ""
        task.exit_code = None
        task.terminate_sent_at = None
    elif to == st.SUSPENDING:
        task.suspend_requested = False
        task.suspend_reason = reason
        task.suspend_deadline = deadline
    elif to in st.TERMINAL:
        task.ended_at = now
        task.exit_code = exit_code
        task.reason, task.position = "", None
        task.suspend_requested = False
    return Event(task.id, now, kind, message)


def _close_attempt(task: TaskFields, now: float) -> None:
    """The attempt ends: its timers stop and its run time is added to the account."""
    task.terminate_sent_at = None
    task.suspend_deadline = None
    task.stop_requested = False
    if task.started_at is not None:
        task.ran_s = (task.ran_s or 0.0) + max(0.0, now - task.started_at)
