"""Task states and the table of legal transitions (standard library only).

See STATE_MACHINE.md next to this file for the story behind each edge; every state change goes
through :func:`hai_server.domain.transition.transition`, which checks this table.
"""

from __future__ import annotations

QUEUED = "queued"
STARTING = "starting"
RUNNING = "running"
SUSPENDING = "suspending"
SUSPENDED = "suspended"
SUCCEEDED = "succeeded"
FAILED = "failed"
STOPPED = "stopped"

STATES = (QUEUED, STARTING, RUNNING, SUSPENDING, SUSPENDED, SUCCEEDED, FAILED, STOPPED)
ACTIVE = frozenset({STARTING, RUNNING, SUSPENDING})  # holding nodes
TERMINAL = frozenset({SUCCEEDED, FAILED, STOPPED})  # until a user resumes it
UNFINISHED = frozenset({QUEUED, STARTING, RUNNING, SUSPENDING, SUSPENDED})

# from-state -> states it may move to
TRANSITIONS: dict[str, frozenset[str]] = {
    QUEUED: frozenset({STARTING, STOPPED, SUCCEEDED, FAILED}),  # stop --succeeded/--failed
    STARTING: frozenset({RUNNING, SUCCEEDED, FAILED, STOPPED, SUSPENDING, SUSPENDED, QUEUED}),
    RUNNING: frozenset({SUCCEEDED, FAILED, STOPPED, SUSPENDING, SUSPENDED}),
    SUSPENDING: frozenset({SUSPENDED, SUCCEEDED, FAILED, STOPPED}),
    SUSPENDED: frozenset({QUEUED, STOPPED, SUCCEEDED, FAILED}),
    SUCCEEDED: frozenset(),
    FAILED: frozenset({QUEUED}),  # resume
    STOPPED: frozenset({QUEUED}),  # resume
}


class IllegalTransition(ValueError):
    pass


def check(current: str, target: str) -> None:
    """Raise IllegalTransition unless current -> target is in the table."""
    if target not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(f"a task cannot go from {current} to {target}")


def can(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())
