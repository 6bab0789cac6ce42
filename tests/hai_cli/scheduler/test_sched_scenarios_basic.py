"""Scenario tables: snapshot in, every decision out (priorities, order, gang, groups)."""

from __future__ import annotations

import pytest

from hai_cli.scheduler.model import PolicyConfig
from tests.support.sched_builders import NOW, P, decide, node, nodes, q, run, snap

FIFO = PolicyConfig(strict_fifo=True)
NO_FAIR = PolicyConfig(fair_share=False)

SCENARIOS = [
    (
        "empty cluster starts in queue order",
        snap(nodes(2), queued=[q(1), q(2)]),
        None,
        {1: ("start", "n00"), 2: ("start", "n01")},
    ),
    (
        "higher priority goes first even when submitted later",
        snap(nodes(1), queued=[q(1, prio=P.LOW), q(2, prio=P.HIGH)]),
        None,
        {1: ("hold", "priority", 2), 2: ("start", "n00")},
    ),
    (
        "equal priority: first submission first, then id",
        snap(nodes(1), queued=[q(2, submitted=5.0), q(1, submitted=5.0), q(3, submitted=1.0)]),
        None,
        {3: ("start", "n00"), 1: ("hold", "priority", 2), 2: ("hold", "priority", 3)},
    ),
    (
        "fair share: less decayed usage first at equal priority",
        snap(
            nodes(1),
            queued=[q(1, user="heavy"), q(2, user="light")],
            usage={"heavy": 9000.0, "light": 10.0},
        ),
        None,
        {2: ("start", "n00"), 1: ("hold", "priority", 2)},
    ),
    (
        "fair share off: usage ignored",
        snap(
            nodes(1),
            queued=[q(1, user="heavy"), q(2, user="light")],
            usage={"heavy": 9000.0, "light": 10.0},
        ),
        NO_FAIR,
        {1: ("start", "n00"), 2: ("hold", "priority", 2)},
    ),
    (
        "gang: all nodes or none; a smaller task behind may use free nodes",
        snap(nodes(3), running=[run(9, "n00", prio=P.HIGH)], queued=[q(1, 3), q(2, 2)]),
        None,
        {9: ("keep",), 1: ("hold", "no_capacity", 1), 2: ("start", "n01", "n02")},
    ),
    (
        "no capacity vs priority: a task that fit the free nodes says priority",
        snap(nodes(2), queued=[q(1, 2), q(2, 1)]),
        None,
        {1: ("start", "n00", "n01"), 2: ("hold", "priority", 2)},
    ),
    (
        "unknown group and too large",
        snap(nodes(2), queued=[q(1, group="gpu-a100"), q(2, 3), q(3, 2)]),
        None,
        {1: ("hold", "unknown_group", 1), 2: ("hold", "too_large", 1), 3: ("start", "n00", "n01")},
    ),
    (
        "held tasks keep their place but never start",
        snap(nodes(1), queued=[q(1, held=True), q(2)]),
        None,
        {1: ("hold", "held", 1), 2: ("start", "n00")},
    ),
    (
        "node groups are scheduled independently, with their own positions",
        snap(
            [*nodes(1, "a", prefix="a"), *nodes(1, "b", prefix="b")],
            queued=[q(1, group="a"), q(2, group="a"), q(3, group="b")],
        ),
        None,
        {1: ("start", "a00"), 2: ("hold", "priority", 2), 3: ("start", "b00")},
    ),
    (
        "empty group name means the default group",
        snap(nodes(1), queued=[q(1, group="")]),
        None,
        {1: ("start", "n00")},
    ),
    (
        "strict fifo: nothing starts ahead of an earlier waiting task, no preemption",
        snap(
            nodes(3),
            running=[run(9, "n00", prio=P.LOW)],
            queued=[q(1, 3, prio=P.HIGH), q(2, 1, prio=P.HIGH)],
        ),
        FIFO,
        {9: ("keep",), 1: ("hold", "no_capacity", 1), 2: ("hold", "priority", 2)},
    ),
    (
        "strict fifo ignores priority: arrival order only",
        snap(nodes(1), queued=[q(1, prio=P.LOW), q(2, prio=P.EXTREME_HIGH)]),
        FIFO,
        {1: ("start", "n00"), 2: ("hold", "priority", 2)},
    ),
    (
        "strict fifo: held and quota-blocked tasks do not block the queue",
        snap(nodes(1), queued=[q(1, held=True), q(2)]),
        FIFO,
        {1: ("hold", "held", 1), 2: ("start", "n00")},
    ),
    (
        "unhealthy and cordoned nodes are skipped",
        snap(
            [node("n00", healthy=False), node("n01", cordoned=True), node("n02")],
            queued=[q(1), q(2)],
        ),
        None,
        {1: ("start", "n02"), 2: ("hold", "priority", 2)},
    ),
    (
        "a task on an unhealthy node is suspended (node_failure); its healthy nodes are reserved",
        snap(
            [node("n00", healthy=False), node("n01"), node("n02")],
            running=[run(9, ["n00", "n01"])],
            queued=[q(1, 2)],
        ),
        None,
        {9: ("suspend", "node_failure", None), 1: ("hold", "waiting_for_preemption", 1)},
    ),
    (
        "a task on a vanished node is suspended too",
        snap(nodes(1), running=[run(9, ["n00", "gone"])]),
        None,
        {9: ("suspend", "node_failure", None)},
    ),
]


@pytest.mark.parametrize(
    ("snapshot", "config", "expected"),
    [s[1:] for s in SCENARIOS],
    ids=[s[0] for s in SCENARIOS],
)
def test_scenario(snapshot, config, expected) -> None:
    assert decide(snapshot, config, NOW) == expected
