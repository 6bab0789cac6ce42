"""Pure rule: what a start the backend could not carry out does to its task.

A retryable failure (the cluster said "not now": a quota, an API outage) requeues the task in
its old place with an exponential back-off (2 s, 4 s, ... capped at ``BACKOFF_MAX_S``), so a
refusal never becomes a retry storm; anything else fails the task once, with the reason. The
attempt that never ran is deleted (the next try reuses its number) or closed as start_failed.
"""

from __future__ import annotations

from typing import Any

from hai_cli.scheduler.model import REASON_START_FAILED
from hai_server.domain import states as st
from hai_server.domain.changes import AttemptWrite, TaskWrite, write_of
from hai_server.domain.draft import Draft
from hai_server.domain.transition import transition

BACKOFF_FIRST_S = 2.0
BACKOFF_MAX_S = 300.0
MAX_MESSAGE = 1000  # a Kubernetes refusal (API message + hint) runs to ~500


def backoff_s(failures: int) -> float:
    """Seconds to wait before the next try after ``failures`` failed starts in a row."""
    return min(BACKOFF_FIRST_S * 2.0 ** max(failures - 1, 0), BACKOFF_MAX_S)


def start_failed_write(row: Any, message: str, retryable: bool, now: float) -> TaskWrite | None:
    """The write for task ``row`` (still starting this attempt) whose start failed."""
    t = Draft(row._mapping)
    if t.state != st.STARTING:
        return None
    message = " ".join(message.split())[:MAX_MESSAGE] or "unknown error"
    number = t.restart_count
    if retryable:
        failures = (t.start_failures or 0) + 1
        wait = backoff_s(failures)
        t.record(
            transition(
                t, st.QUEUED, now=now, kind="start_failed", reason=REASON_START_FAILED,
                detail=f"{message} (try {failures}; next in {wait:.0f} s)",
                message=f"could not start (requeued, next try in {wait:.0f} s): {message}",
            )
        )  # fmt: skip
        t.start_failures = failures
        t.retry_at = now + wait
        return write_of(t, attempt=AttemptWrite(number, delete=True))
    t.record(
        transition(
            t, st.FAILED, now=now, kind="start_failed",
            message=f"could not start (failed): {message}",
        )
    )  # fmt: skip
    t.detail = f"start_failed: {message}"
    return write_of(t, attempt=AttemptWrite(number, close=(now, "start_failed", None)))
