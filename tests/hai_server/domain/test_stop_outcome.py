"""stop --succeeded / --failed on one task (services/actions.py, no I/O): a waiting task ends
at once in that state; an active one is marked and ends so once its ranks are stopped."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hai_server.services.actions import Refused, act


def task(state: str, **kw: object) -> SimpleNamespace:
    fields = dict(
        id=1, state=state, stop_requested=False, suspend_requested=False, held=False,
        options={}, ended_at=None, exit_code=None, reason="", position=None, detail="",
        started_at=None, terminate_sent_at=None, suspend_deadline=None, ran_s=0.0,
        restart_count=0, retry_at=None, start_failures=0, run_priority=None,
        suspend_reason="",
    )  # fmt: skip
    fields.update(kw)
    return SimpleNamespace(**fields)


@pytest.mark.parametrize("state", ["queued", "suspended"])
@pytest.mark.parametrize("outcome", ["succeeded", "failed"])
def test_a_waiting_task_ends_in_that_state(state: str, outcome: str) -> None:
    t = task(state)
    (ev,) = act(t, "stop", "ann", 10.0, outcome)
    assert t.state == outcome and ev.kind == outcome
    assert ev.message == f"stopped by ann while waiting; it ends as {outcome}"
    assert t.exit_code == (0 if outcome == "succeeded" else None)


def test_an_active_task_is_marked_and_can_change_its_mind() -> None:
    t = task("running")
    (ev,) = act(t, "stop", "ann", 10.0, "failed")
    assert t.stop_requested and t.options == {"stop_outcome": "failed"} and t.state == "running"
    assert ev.message == "stop requested by ann; it ends as failed"
    assert act(t, "stop", "ann", 11.0, "failed") == []  # the same again: nothing new
    act(t, "stop", "ann", 12.0)
    assert t.options == {"stop_outcome": "stopped"}


def test_only_stop_takes_an_outcome() -> None:
    with pytest.raises(ValueError, match="only stop takes one"):
        act(task("running"), "suspend", "ann", 1.0, "failed")
    with pytest.raises(ValueError, match="only stop takes one"):
        act(task("running"), "stop", "ann", 1.0, "stopped")
    with pytest.raises(Refused, match="is already succeeded"):
        act(task("succeeded"), "stop", "ann", 1.0, "failed")
