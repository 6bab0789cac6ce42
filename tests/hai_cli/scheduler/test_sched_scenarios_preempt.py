"""Scenario tables: preemption, suspending tasks, victims, min run time, time-slicing."""

from __future__ import annotations

import pytest

from hai_cli.scheduler.model import PolicyConfig
from tests.support.sched_builders import NOW, P, decide, nodes, q, run, snap

NO_PREEMPT = PolicyConfig(preemption=False)
MIN_RUN = PolicyConfig(min_run_s=600.0)
SLICING = PolicyConfig(time_slicing=True, time_slice_s=3600.0)

SCENARIOS = [
    (
        "higher priority preempts a lower one",
        snap(nodes(1), running=[run(9, "n00", prio=P.LOW)], queued=[q(1, prio=P.HIGH)]),
        None,
        {9: ("suspend", "preempted", 1), 1: ("hold", "waiting_for_preemption", 1)},
    ),
    (
        "equal priority never preempts",
        snap(nodes(1), running=[run(9, "n00", user="a")], queued=[q(1, user="b")]),
        None,
        {9: ("keep",), 1: ("hold", "no_capacity", 1)},
    ),
    (
        "lower priority never preempts a higher one",
        snap(nodes(1), running=[run(9, "n00", prio=P.HIGH)], queued=[q(1, prio=P.LOW)]),
        None,
        {9: ("keep",), 1: ("hold", "no_capacity", 1)},
    ),
    (
        "preemption off: hold",
        snap(nodes(1), running=[run(9, "n00", prio=P.LOW)], queued=[q(1, prio=P.HIGH)]),
        NO_PREEMPT,
        {9: ("keep",), 1: ("hold", "no_capacity", 1)},
    ),
    (
        "no useless suspend: victims that cannot make room are left alone",
        snap(
            nodes(3),
            running=[run(8, "n00", prio=P.LOW), run(9, ["n01", "n02"], prio=P.VERY_HIGH)],
            queued=[q(1, 2, prio=P.HIGH)],
        ),
        None,
        {8: ("keep",), 9: ("keep",), 1: ("hold", "no_capacity", 1)},
    ),
    (
        "free nodes count: only the missing nodes are preempted",
        snap(
            nodes(3),
            running=[run(8, "n00", prio=P.LOW), run(9, "n01", prio=P.LOW, started=NOW - 10)],
            queued=[q(1, 2, prio=P.HIGH)],
        ),
        None,
        {8: ("keep",), 9: ("suspend", "preempted", 1), 1: ("hold", "waiting_for_preemption", 1)},
    ),
    (
        "victims: lowest priority first",
        snap(
            nodes(2),
            running=[
                run(8, "n00", prio=P.BELOW_NORMAL, started=NOW - 10),
                run(9, "n01", prio=P.LOW, started=0.0),
            ],
            queued=[q(1, prio=P.HIGH)],
        ),
        None,
        {8: ("keep",), 9: ("suspend", "preempted", 1), 1: ("hold", "waiting_for_preemption", 1)},
    ),
    (
        "victims: least work lost (time since start or last checkpoint)",
        snap(
            nodes(3),
            running=[
                run(7, "n00", prio=P.LOW, started=NOW - 500),
                run(8, "n01", prio=P.LOW, started=NOW - 9000, ckpt=NOW - 20),
                run(9, "n02", prio=P.LOW, started=NOW - 100),
            ],
            queued=[q(1, prio=P.HIGH)],
        ),
        None,
        {
            7: ("keep",),
            8: ("suspend", "preempted", 1),
            9: ("keep",),
            1: ("hold", "waiting_for_preemption", 1),
        },
    ),
    (
        "victims: fewest nodes at equal work lost, and extra victims are given back",
        snap(
            nodes(4),
            running=[
                run(7, "n00", prio=P.LOW, started=NOW - 50),
                run(8, ["n01", "n02", "n03"], prio=P.LOW, started=NOW - 100),
            ],
            queued=[q(1, 3, prio=P.HIGH)],
        ),
        None,
        {7: ("keep",), 8: ("suspend", "preempted", 1), 1: ("hold", "waiting_for_preemption", 1)},
    ),
    (
        "a suspending task is kept, counted as freeing: no second suspend",
        snap(
            nodes(2),
            running=[
                run(8, "n00", prio=P.LOW, suspending=True),
                run(9, "n01", prio=P.LOW),
            ],
            queued=[q(1, prio=P.HIGH)],
        ),
        None,
        {8: ("keep",), 9: ("keep",), 1: ("hold", "waiting_for_preemption", 1)},
    ),
    (
        "freeing nodes reserved by the first waiter; the next one preempts for itself",
        snap(
            nodes(2),
            running=[
                run(8, "n00", prio=P.LOW, suspending=True),
                run(9, "n01", prio=P.LOW),
            ],
            queued=[q(1, prio=P.HIGH), q(2, prio=P.HIGH)],
        ),
        None,
        {
            8: ("keep",),
            9: ("suspend", "preempted", 2),
            1: ("hold", "waiting_for_preemption", 1),
            2: ("hold", "waiting_for_preemption", 2),
        },
    ),
    (
        "free nodes reserved for a waiting task are not backfilled",
        snap(
            nodes(2),
            running=[run(9, "n00", prio=P.LOW)],
            queued=[q(1, 2, prio=P.HIGH), q(2, 1, prio=P.LOW)],
        ),
        None,
        {
            9: ("suspend", "preempted", 1),
            1: ("hold", "waiting_for_preemption", 1),
            2: ("hold", "priority", 2),
        },
    ),
    (
        "minimum run time protects a task that has just started",
        snap(
            nodes(1),
            running=[run(9, "n00", prio=P.LOW, started=NOW - 60)],
            queued=[q(1, prio=P.HIGH)],
        ),
        MIN_RUN,
        {9: ("keep",), 1: ("hold", "no_capacity", 1)},
    ),
    (
        "past the minimum run time it may be preempted",
        snap(
            nodes(1),
            running=[run(9, "n00", prio=P.LOW, started=NOW - 601)],
            queued=[q(1, prio=P.HIGH)],
        ),
        MIN_RUN,
        {9: ("suspend", "preempted", 1), 1: ("hold", "waiting_for_preemption", 1)},
    ),
    (
        "ABOVE_NORMAL counts as NORMAL after 30 min: an ABOVE_NORMAL waiter preempts it",
        snap(
            nodes(2),
            running=[
                run(8, "n00", prio=P.ABOVE_NORMAL, started=NOW - 1799),
                run(9, "n01", prio=P.ABOVE_NORMAL, started=NOW - 1800, user="x"),
            ],
            queued=[q(1, prio=P.ABOVE_NORMAL)],
        ),
        None,
        {8: ("keep",), 9: ("suspend", "preempted", 1), 1: ("hold", "waiting_for_preemption", 1)},
    ),
    (
        "demoted ABOVE_NORMAL of the same user is still a victim (strictly lower now)",
        snap(
            nodes(1),
            running=[run(9, "n00", prio=P.ABOVE_NORMAL, started=NOW - 4000)],
            queued=[q(1, prio=P.ABOVE_NORMAL)],
        ),
        None,
        {9: ("suspend", "preempted", 1), 1: ("hold", "waiting_for_preemption", 1)},
    ),
    (
        "time-slicing: a long-running task of a heavier user yields to a lighter user",
        snap(
            nodes(1),
            running=[run(9, "n00", user="heavy", started=NOW - 4000)],
            queued=[q(1, user="light")],
            usage={"heavy": 5000.0, "light": 0.0},
        ),
        SLICING,
        {9: ("suspend", "time_slice", 1), 1: ("hold", "waiting_for_preemption", 1)},
    ),
    (
        "time-slicing: not inside the slice, not for a heavier user, never the same user",
        snap(
            nodes(3),
            running=[
                run(7, "n00", user="heavy", started=NOW - 100),
                run(8, "n01", user="light", started=NOW - 4000),
                run(9, "n02", user="me", started=NOW - 4000),
            ],
            queued=[q(1, user="me")],
            usage={"heavy": 5000.0, "light": 0.0, "me": 10.0},
        ),
        SLICING,
        {7: ("keep",), 8: ("keep",), 9: ("keep",), 1: ("hold", "no_capacity", 1)},
    ),
    (
        "time-slicing off by default",
        snap(
            nodes(1),
            running=[run(9, "n00", user="heavy", started=NOW - 4000)],
            queued=[q(1, user="light")],
            usage={"heavy": 5000.0, "light": 0.0},
        ),
        None,
        {9: ("keep",), 1: ("hold", "no_capacity", 1)},
    ),
    (
        "preemption stays inside the task's node group",
        snap(
            [*nodes(1, "a", prefix="a"), *nodes(1, "b", prefix="b")],
            running=[run(9, "b00", prio=P.LOW, group="b")],
            queued=[q(1, group="a", prio=P.HIGH), q(2, group="a", prio=P.HIGH)],
        ),
        None,
        {9: ("keep",), 1: ("start", "a00"), 2: ("hold", "priority", 2)},
    ),
    (
        "one multi-node victim is enough for a smaller task",
        snap(
            nodes(2),
            running=[run(9, ["n00", "n01"], prio=P.LOW)],
            queued=[q(1, prio=P.HIGH)],
        ),
        None,
        {9: ("suspend", "preempted", 1), 1: ("hold", "waiting_for_preemption", 1)},
    ),
]


@pytest.mark.parametrize(
    ("snapshot", "config", "expected"),
    [s[1:] for s in SCENARIOS],
    ids=[s[0] for s in SCENARIOS],
)
def test_scenario(snapshot, config, expected) -> None:
    assert decide(snapshot, config, NOW) == expected
