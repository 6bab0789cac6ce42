"""What stop, suspend, resume, hold and release do to one task (no I/O).

``act(task, verb, who, now)`` changes the task's fields (a row or an ORM object) and returns
the events to record, or raises :class:`Refused` with the reason the verb does not apply. The
single-task endpoints turn a refusal into a 409; a bulk request reports it per task. The
states each verb applies to (:data:`APPLIES_TO`) are what a bulk selection by filter keeps.
"""

from __future__ import annotations

from typing import Any

from hai_server.domain import states as lc
from hai_server.domain.transition import Event, event, transition

VERBS = ("stop", "suspend", "resume", "hold", "release")

APPLIES_TO: dict[str, tuple[str, ...]] = {
    "stop": (lc.QUEUED, lc.SUSPENDED, lc.STARTING, lc.RUNNING, lc.SUSPENDING),
    "suspend": (lc.STARTING, lc.RUNNING),
    "resume": (lc.STOPPED, lc.FAILED, lc.SUSPENDED),
    "hold": (lc.QUEUED, lc.SUSPENDED),
    "release": (lc.QUEUED, lc.SUSPENDED),
}


class Refused(Exception):
    """The verb does not apply to the task; the message follows "task N"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


OUTCOMES = (lc.SUCCEEDED, lc.FAILED)  # stop --succeeded / --failed (the original's)


def act(t: Any, verb: str, who: str, now: float, outcome: str | None = None) -> list[Event]:
    """Apply ``verb`` to task ``t`` (changed in place); the events to record. ``outcome``
    (stop only): the state the stopped task ends in instead of ``stopped``."""
    if outcome is not None and (verb != "stop" or outcome not in OUTCOMES):
        raise ValueError(f"outcome {outcome!r}: only stop takes one, succeeded or failed")
    if verb == "stop":
        return _stop(t, who, now, outcome)
    if verb == "suspend":
        return _suspend(t)
    if verb == "resume":
        return _resume(t, who, now)
    if verb in ("hold", "release"):
        return _hold(t, verb == "hold", who, now)
    raise ValueError(f"unknown verb {verb!r}")


def _stop(t: Any, who: str, now: float, outcome: str | None) -> list[Event]:
    end = outcome or lc.STOPPED
    marked = f"; it ends as {end}" if outcome else ""
    if t.state in (lc.QUEUED, lc.SUSPENDED):
        return [
            transition(
                t, end, now=now, kind=end, message=f"stopped by {who} while waiting{marked}",
                exit_code=None if end != lc.SUCCEEDED else 0,
            )
        ]  # fmt: skip
    if t.state in lc.ACTIVE:
        options = dict(getattr(t, "options", None) or {})
        if t.stop_requested and options.get("stop_outcome", lc.STOPPED) == end:
            return []
        t.stop_requested = True
        options["stop_outcome"] = end
        t.options = options
        return [event(t, now, "stop", f"stop requested by {who}{marked}")]
    raise Refused(f"is already {t.state}")


def _suspend(t: Any) -> list[Event]:
    if t.state not in APPLIES_TO["suspend"]:
        raise Refused(f"is {t.state}; only a starting or running task can be suspended")
    if t.stop_requested:
        raise Refused("is being stopped")
    t.suspend_requested = True
    return []


def _resume(t: Any, who: str, now: float) -> list[Event]:
    if t.state not in APPLIES_TO["resume"]:
        raise Refused(f"is {t.state}; only a stopped, failed or suspended task can be resumed")
    t.retry_at, t.start_failures = None, 0
    return [
        transition(
            t, lc.QUEUED, now=now, kind="resumed", reason="new",
            message=f"resumed by {who}; queued in its old place",
        )
    ]  # fmt: skip


def _hold(t: Any, held: bool, who: str, now: float) -> list[Event]:
    verb = "held" if held else "released"
    if held and t.state not in APPLIES_TO["hold"]:
        raise Refused(f"is {t.state}; only a queued or suspended task can be held")
    if t.held == held:
        return []
    t.held = held
    return [event(t, now, verb, f"{verb} by {who}")]
