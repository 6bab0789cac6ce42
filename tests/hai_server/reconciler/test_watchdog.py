"""The hang watchdog on a virtual clock: the pure verdict (a table), then its wiring in the
judge phase (a running task's row and observation in, the guarded write and calls out)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from hai_server.backends.base import AttemptObservation, RankObservation, RankPulse
from hai_server.db.active import DRAFT_COLUMNS
from hai_server.reconciler.active import judge_active
from hai_server.reconciler.watchdog import WatchdogPolicy, limit_s, watch

START = 1000.0
POLICY = WatchdogPolicy(default_s=60.0, action="notify", heartbeat_timeout_s=30.0)
TWO = ((0, "n0"), (1, "n1"))


def pulses(*spec: tuple[float, float]) -> tuple[RankPulse, ...]:
    """(heartbeat at, output at) for ranks 0, 1, ..."""
    return tuple(RankPulse(i, hb, out) for i, (hb, out) in enumerate(spec))


# now, pulses, hung_at, task_s, code_s, expected kind, expected event kind
CASES: list[tuple[str, float, Any, float | None, int | None, int | None, str, str | None]] = [
    ("printing recently: quiet", 1100, pulses((1099, 1090), (1099, 1000)), None, None, None,
     "quiet", None),
    ("rank 0 silent past the default 60 s, heartbeat fresh: hung", 1100,
     pulses((1099, 1030), (1099, 1099)), None, None, None, "hung", "watchdog"),
    ("only rank 1 silent (ranks > 0 often print nothing): quiet", 1100,
     pulses((1099, 1099), (1099, 1000)), None, None, None, "quiet", None),
    ("the task's --watchdog 5: hung after 5 s", 1006, pulses((1006, 1000), (1006, 1000)),
     None, 5, None, "hung", "watchdog"),
    ("set from code (1 s) beats the task's 600 s", 1002, pulses((1002, 1000), (1002, 1000)),
     None, 600, 1, "hung", "watchdog"),
    ("set from code to 0: off", 5000, pulses((4999, 1000), (4999, 1000)), None, 5, 0,
     "quiet", None),
    ("--watchdog 0: off", 5000, pulses((4999, 1000), (4999, 1000)), None, 0, None, "quiet", None),
    ("already fired for this hang: no second event", 1200, pulses((1199, 1030), (1199, 1030)),
     1100.0, None, None, "quiet", None),
    ("fired in an earlier attempt: fires again", 1100, pulses((1099, 1030), (1099, 1030)),
     900.0, None, None, "hung", "watchdog"),
    ("printed since it fired: resumed", 1150, pulses((1149, 1120), (1149, 1120)), 1100.0,
     None, None, "resumed", "watchdog_resumed"),
    ("heartbeat of rank 1 stale: dead node, never a hang", 1100,
     pulses((1099, 1000), (1050, 1000)), None, None, None, "dead", "heartbeat_lost"),
    ("no heartbeat yet (old wrapper, or just started): cannot tell", 5000, (), None, None,
     None, "quiet", None),
    ("backend cannot tell (None): quiet", 5000, None, None, None, None, "quiet", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "now", "beats", "hung_at", "task_s", "code_s", "kind", "event"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_verdict_table(
    what: str,
    now: float,
    beats: Any,
    hung_at: float | None,
    task_s: int | None,
    code_s: int | None,
    kind: str,
    event: str | None,
) -> None:
    v = watch(
        running=TWO, pulses=beats, started_at=START, hung_at=hung_at, task_s=task_s,
        code_s=code_s, now=now, policy=POLICY,
    )  # fmt: skip
    assert v.kind == kind, what
    assert (v.event[0] if v.event else None) == event, what
    if kind == "hung":
        assert v.action == "notify" and v.ranks == (0,)
        assert "rank 0 on n0 printed nothing" in v.event[1]  # type: ignore[index]
        assert "hung, not its node" in v.event[1]  # type: ignore[index]
    if kind == "dead":
        assert v.ranks == (1,) and "rank 1 on n1: no heartbeat for 50 s" in v.event[1]  # type: ignore[index]


def test_an_exited_rank_0_hands_the_watch_to_the_lowest_running_rank() -> None:
    # rank 0 finished (its wrapper stopped beating): neither dead nor watched
    v = watch(
        running=((1, "n1"),), pulses=pulses((900, 900), (1099, 1000)), started_at=START,
        hung_at=None, task_s=None, code_s=None, now=1100, policy=POLICY,
    )  # fmt: skip
    assert v.kind == "hung" and v.ranks == (1,)


def test_limit_order_and_clamp() -> None:
    assert limit_s(None, None, 1800) == 1800
    assert limit_s(30, None, 1800) == 30
    assert limit_s(30, 7, 1800) == 7
    assert limit_s(30, 10**12, 1800) == 30 * 86400  # from code: clamped, never an overflow


# -- wiring: judge_active on a running task ----------------------------------------------


def row(**fields: Any) -> Any:
    base = {c.key: None for c in DRAFT_COLUMNS}
    base.update(
        id=7, version=3, state="running", reason="", detail="", restart_count=0, priority=10,
        started_at=START, stop_requested=False, suspend_requested=False, ran_s=0.0,
        whole_life_state=0, start_failures=0, suspend_reason="",
    )  # fmt: skip
    base.update(fields)
    return SimpleNamespace(_mapping=base, id=base["id"], restart_count=base["restart_count"])


def observed(beats: tuple[RankPulse, ...], code_s: int | None = None) -> AttemptObservation:
    ranks = tuple(RankObservation(r, n, "running") for r, n in TWO)
    return AttemptObservation(
        7, 0, ranks, listening=frozenset({0}), pulses=beats, watchdog_s=code_s
    )


def tick(r: Any, beats: tuple[RankPulse, ...], now: float, action: str = "notify") -> Any:
    policy = WatchdogPolicy(60.0, action, 30.0)  # type: ignore[arg-type]
    stored = {7: [{"rank": i, "node": n, "state": "running", "exit_code": None, "message": ""}
                  for i, n in TWO]}  # fmt: skip
    return judge_active([r], stored, {(7, 0): observed(beats)}, now, 20.0, policy)


HUNG = pulses((1099, 1030), (1099, 1030))


def test_notify_marks_the_task_hung_once_and_clears_when_it_prints_again() -> None:
    out = tick(row(), HUNG, 1100)
    (w,) = out.writes
    assert w.values == {"hung_at": 1100}
    assert [e.kind for e in w.events] == ["watchdog"] and not w.calls
    # the next tick with the same silence writes nothing
    assert not tick(row(hung_at=1100.0), HUNG, 1101).writes
    # rank 0 printed: cleared
    (w,) = tick(row(hung_at=1100.0), pulses((1105, 1104), (1105, 1104)), 1105).writes
    assert w.values == {"hung_at": None}
    assert [e.kind for e in w.events] == ["watchdog_resumed"]


def test_stop_terminates_and_marks_the_stop() -> None:
    (w,) = tick(row(), HUNG, 1100, "stop").writes
    assert w.values["stop_requested"] is True and w.values["terminate_sent_at"] == 1100
    assert [c.kind for c in w.calls] == ["terminate"]


def test_restart_suspends_and_stops_at_once_to_requeue_from_the_checkpoint() -> None:
    (w,) = tick(row(), HUNG, 1100, "restart").writes
    assert w.values["state"] == "suspending" and w.values["suspend_reason"] == "watchdog"
    assert w.values["terminate_sent_at"] == 1100
    assert [c.kind for c in w.calls] == ["notify", "terminate"]
    assert [e.kind for e in w.events] == ["watchdog", "suspend"]


def test_a_dead_heartbeat_requeues_like_a_node_failure_whatever_the_action() -> None:
    (w,) = tick(row(), pulses((1099, 1090), (1060, 1060)), 1100, "stop").writes
    assert w.values["state"] == "suspending" and w.values["suspend_reason"] == "node_failure"
    assert "stop_requested" not in w.values
    assert [e.kind for e in w.events] == ["heartbeat_lost", "suspend"]


def test_other_verdicts_come_first_and_no_watchdog_without_policy() -> None:
    # a stop already under way: the watchdog stays out of it
    assert not tick(row(stop_requested=True, terminate_sent_at=1050.0), HUNG, 1100).writes
    stored = {7: []}
    out = judge_active([row()], stored, {(7, 0): observed(HUNG)}, 1100, 20.0, None)
    assert all("hung_at" not in w.values for w in out.writes)
