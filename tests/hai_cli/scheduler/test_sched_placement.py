"""Zone-aware placement: one zone if possible (the smallest that fits), else span zones."""

from __future__ import annotations

import pytest

from hai_cli.scheduler.placement import Pool
from tests.support.sched_builders import NOW, decide, node, q, run, snap

ZONED = [
    node("a1", zone="a"),
    node("a2", zone="a"),
    node("a3", zone="a"),
    node("b1", zone="b"),
    node("b2", zone="b"),
]


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (1, ("start", "b1")),  # smallest zone that fits
        (2, ("start", "b1", "b2")),
        (3, ("start", "a1", "a2", "a3")),  # only zone a fits
        (4, ("start", "a1", "a2", "a3", "b1")),  # spans, largest zone first
        (5, ("start", "a1", "a2", "a3", "b1", "b2")),
    ],
)
def test_zone_choice(size: int, expected: tuple) -> None:
    assert decide(snap(ZONED, queued=[q(1, size)]), None, NOW)[1] == expected


def test_busy_nodes_change_which_zone_is_smallest() -> None:
    s = snap(ZONED, running=[run(9, ["a1", "a2"])], queued=[q(1, 1)])
    assert decide(s, None, NOW)[1] == ("start", "a3")


def test_pool_take_is_exact_and_none_when_short() -> None:
    pool = Pool([("x2", "z"), ("x1", "z"), ("y1", "w")])
    assert pool.take(4) is None
    assert pool.take(2) == ("x1", "x2")
    assert pool.count == 1
    assert pool.take_upto(5) == ("y1",)
    assert pool.count == 0
