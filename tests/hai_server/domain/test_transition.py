"""transition(): the table is checked, and each target state resets what it must."""

from __future__ import annotations

import pytest

from hai_server.domain import states as st
from hai_server.domain.draft import Draft
from hai_server.domain.transition import transition
from hai_server.reconciler.failures import BACKOFF_MAX_S, backoff_s


def task(state: str, **kw) -> Draft:
    fields = dict(
        id=1, version=0, state=state, reason="priority", position=4, detail="d",
        restart_count=2, run_priority=None, started_at=None, ended_at=None, exit_code=None,
        suspend_reason="", suspend_deadline=None, suspend_requested=False,
        stop_requested=False, terminate_sent_at=None, ran_s=10.0,
    )  # fmt: skip
    fields.update(kw)
    return Draft(fields)


def test_illegal_moves_are_refused_and_change_nothing() -> None:
    t = task(st.SUCCEEDED)
    with pytest.raises(st.IllegalTransition, match="from succeeded to queued"):
        transition(t, st.QUEUED, now=5, kind="x", message="x")
    assert t.changes == {} and t.state == st.SUCCEEDED


def test_start_clears_the_queue_place_and_starts_the_clock() -> None:
    t = task(st.QUEUED, exit_code=3, terminate_sent_at=1.0)
    ev = transition(t, st.STARTING, now=50, kind="start", message="m", priority=30)
    assert (ev.task_id, ev.at, ev.kind) == (1, 50, "start")
    assert t.changes == {
        "state": st.STARTING, "run_priority": 30, "started_at": 50, "reason": "",
        "position": None, "detail": "", "exit_code": None, "terminate_sent_at": None,
    }  # fmt: skip


def test_leaving_an_attempt_adds_its_run_time_and_stops_its_timers() -> None:
    t = task(st.SUSPENDING, started_at=100.0, suspend_deadline=160.0, terminate_sent_at=150.0,
             stop_requested=True)  # fmt: skip
    transition(t, st.SUSPENDED, now=170, kind="suspended", message="m")
    assert t.ran_s == 80.0 and t.suspend_deadline is None and t.terminate_sent_at is None
    assert t.stop_requested is False


def test_requeue_counts_a_new_attempt_but_a_failed_start_reuses_its_number() -> None:
    t = task(st.SUSPENDED)
    transition(t, st.QUEUED, now=1, kind="requeued", message="m")
    assert t.restart_count == 3 and t.position is None and t.reason == ""
    t = task(st.STARTING, started_at=5.0)
    transition(t, st.QUEUED, now=6, kind="start_failed", message="m", reason="start_failed")
    assert t.restart_count == 2 and t.reason == "start_failed" and t.started_at is None


def test_ending_records_the_end_and_the_code() -> None:
    t = task(st.RUNNING, started_at=1.0, suspend_requested=True)
    transition(t, st.FAILED, now=9, kind="failed", message="m", exit_code=3)
    assert (t.ended_at, t.exit_code, t.suspend_requested) == (9, 3, False)


def test_suspending_sets_the_deadline_and_reason() -> None:
    t = task(st.RUNNING, suspend_requested=True)
    transition(t, st.SUSPENDING, now=9, kind="suspend", message="m", reason="user", deadline=69)
    assert (t.suspend_reason, t.suspend_deadline, t.suspend_requested) == ("user", 69, False)


def test_draft_rejects_unknown_fields() -> None:
    with pytest.raises(AttributeError, match="no field 'nope'"):
        task(st.QUEUED).nope = 1


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_s(n) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert backoff_s(30) == BACKOFF_MAX_S
