import pytest

from hai_server.backends.base import AttemptObservation, RankObservation
from hai_server.reconciler.judge import TaskView, judge


def obs(
    *ranks: tuple[str, int | None],
    acked: frozenset[int] = frozenset(),
    listening: frozenset[int] | None = None,
) -> AttemptObservation:
    return AttemptObservation(
        1, 0, tuple(RankObservation(i, f"n{i}", s, c) for i, (s, c) in enumerate(ranks)), acked,
        listening=listening,
    )  # fmt: skip


def view(state: str = "running", **kw) -> TaskView:
    return TaskView(state=state, restart_count=0, started_at=100.0, **kw)


def test_starting_becomes_running_when_every_rank_runs() -> None:
    assert (
        judge(view("starting"), obs(("running", None), ("running", None)), 101).new_state
        == "running"
    )
    assert judge(view("starting"), obs(("running", None), ("pending", None)), 101).new_state is None


def test_all_zero_succeeds_and_a_non_zero_rank_fails_fast() -> None:
    assert judge(view(), obs(("exited", 0), ("exited", 0)), 101).new_state == "succeeded"
    v = judge(view(), obs(("running", None), ("exited", 7)), 101)
    assert v.terminate and v.failure_code == 7 and v.new_state is None
    done = judge(
        view(failure_code=7, terminate_sent=True), obs(("exited", 143), ("exited", 7)), 102
    )
    assert done.new_state == "failed" and done.exit_code == 7


def test_suspending_stops_once_every_rank_acknowledged() -> None:
    v = judge(
        view("suspending", suspend_deadline=200),
        obs(("running", None), ("running", None), acked=frozenset({0})),
        101,
    )
    assert not v.terminate
    v = judge(
        view("suspending", suspend_deadline=200),
        obs(("running", None), ("exited", 0), acked=frozenset({0})),
        101,
    )
    assert v.terminate
    v = judge(
        view("suspending", terminate_sent=True),
        obs(("exited", 143), ("exited", 0), acked=frozenset({0})),
        102,
    )
    assert v.new_state == "suspended"


def test_deadline_kills_a_task_that_ignores_the_notice() -> None:
    v = judge(view("suspending", suspend_deadline=150), obs(("running", None)), 151)
    assert v.terminate and v.events[0][0] == "suspend_deadline"
    v = judge(
        view("suspending", suspend_deadline=150, terminate_sent=True), obs(("exited", 137)), 152
    )
    assert v.new_state == "suspended"


@pytest.mark.parametrize(
    ("listening", "acked", "now", "expect"),
    [
        # no rank ever polled: the notice cannot be heard, stop it at once
        (frozenset(), frozenset(), 104, "suspend_unheard"),
        # ... unless the attempt just started (it may not have reached its first poll)
        (frozenset(), frozenset(), 101, None),
        # one rank of two polls (e.g. rank 0 polls and broadcasts): the whole grace is given
        (frozenset({0}), frozenset(), 101, None),
        (frozenset({0}), frozenset(), 151, "suspend_deadline"),
        # a backend that cannot tell: the whole grace, as before
        (None, frozenset(), 101, None),
        (None, frozenset(), 151, "suspend_deadline"),
        # a rank acknowledged without polling first (it heard somehow): it is listening
        (frozenset(), frozenset({1}), 101, None),
    ],
)
def test_a_victim_that_never_polls_is_stopped_without_the_grace(
    listening: frozenset[int] | None, acked: frozenset[int], now: float, expect: str | None
) -> None:
    v = judge(
        view("suspending", suspend_deadline=150),
        obs(("running", None), ("running", None), acked=acked, listening=listening),
        now,
    )
    assert v.terminate == (expect is not None)
    assert [k for k, _ in v.events] == ([expect] if expect else [])


def test_finishing_during_the_grace_period_is_success() -> None:
    v = judge(view("suspending", suspend_deadline=150), obs(("exited", 0)), 120)
    assert v.new_state == "succeeded"


def test_crash_during_grace_period_fails() -> None:
    v = judge(view("suspending", suspend_deadline=150), obs(("exited", 2)), 120)
    assert v.new_state == "failed" and v.exit_code == 2


def test_lost_rank_requeues_with_node_failure() -> None:
    v = judge(view(), obs(("running", None), ("lost", None)), 101)
    assert v.terminate and v.begin_suspend == "node_failure"
    v = judge(view(), None, 101)
    assert v.new_state == "suspended" and v.outcome == "lost"


def test_stop_request_and_rehearsal() -> None:
    v = judge(view(stop_requested=True), obs(("running", None)), 101)
    assert v.terminate
    assert (
        judge(view(stop_requested=True, terminate_sent=True), obs(("exited", 143)), 102).new_state
        == "stopped"
    )
    assert judge(view(suspend_after=5), obs(("running", None)), 104).begin_suspend is None
    assert judge(view(suspend_after=5), obs(("running", None)), 106).begin_suspend == "rehearsal"
    assert (
        judge(
            TaskView("running", 1, 100.0, suspend_after=5), obs(("running", None)), 106
        ).begin_suspend
        is None
    )


@pytest.mark.parametrize(
    ("outcome", "exit_code"), [("stopped", 143), ("succeeded", 0), ("failed", 143)]
)
def test_a_stopped_task_ends_as_the_stop_asked(outcome: str, exit_code: int) -> None:
    """stop --succeeded / --failed (the original's): the ranks are stopped as for any stop."""
    running = judge(view(stop_requested=True, stop_outcome=outcome), obs(("running", None)), 101)
    assert running.terminate and running.new_state is None
    done = judge(
        view(stop_requested=True, terminate_sent=True, stop_outcome=outcome),
        obs(("exited", 143)),
        102,
    )
    assert (done.new_state, done.outcome, done.exit_code) == (outcome, outcome, exit_code)
    lost = judge(view(stop_requested=True, stop_outcome=outcome), None, 102)
    assert lost.new_state == outcome


def _exited(code: int, before_stop: bool) -> RankObservation:
    return RankObservation(0, "n0", "exited", code, before_stop=before_stop)


@pytest.mark.parametrize(
    ("code", "before_stop", "state"),
    [
        # finished its work before the SIGTERM reached it: done, never run again (soak found
        # deaf victims that finished in the ~0.2 s between the verdict and the signal rerun)
        (0, True, "succeeded"),
        # exit 0 after our SIGTERM: it saved on the signal; resume it later
        (0, False, "suspended"),
        (143, False, "suspended"),
        (137, True, "suspended"),  # a kill code is ours whatever the clock says
    ],
)
def test_a_victim_that_ended_before_the_stop_reached_it(
    code: int, before_stop: bool, state: str
) -> None:
    v = judge(
        view("suspending", terminate_sent=True, suspend_deadline=200),
        AttemptObservation(1, 0, (_exited(code, before_stop),), frozenset()),
        101,
    )
    assert v.new_state == state, v
