"""Victim selection on its own: enough nodes, in victim order, and no victim to spare."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hai_cli.scheduler.model import PolicyConfig
from hai_cli.scheduler.preempt import Victims
from tests.support.sched_builders import NOW, P, run

LEVELS = [int(P.LOW), int(P.BELOW_NORMAL), int(P.NORMAL), int(P.HIGH)]

victim_specs = st.lists(
    st.tuples(st.sampled_from(LEVELS), st.integers(1, 4), st.integers(0, 5000)), max_size=12
)


def _victims(specs: list[tuple[int, int, int]]) -> Victims:
    v = Victims(PolicyConfig(), NOW, {})
    node = 0
    for i, (prio, size, age) in enumerate(specs):
        names = [f"n{node + k}" for k in range(size)]
        node += size
        v.add(run(i + 1, names, prio=prio, started=NOW - age, user=f"u{i}"), prio)
    return v


@settings(max_examples=200, deadline=None)
@given(victim_specs, st.sampled_from(LEVELS), st.integers(1, 10))
def test_select_is_sufficient_allowed_and_minimal(specs, prio: int, need: int) -> None:
    v = _victims(specs)
    chosen = v.select(prio, "me", need)
    allowed = sum(size for p, size, _ in specs if p < prio)
    if chosen is None:
        assert allowed < need
        return
    sizes = [c.size for c in chosen]
    assert all(c.priority < prio for c in chosen)
    assert sum(sizes) >= need
    assert all(sum(sizes) - s < need for s in sizes)  # none could be spared
    assert [c.key for c in chosen] == sorted(c.key for c in chosen)


def test_a_failed_need_is_remembered_until_a_victim_is_taken() -> None:
    v = _victims([(int(P.LOW), 2, 10), (int(P.LOW), 1, 20)])
    assert v.select(int(P.HIGH), "me", 4) is None
    assert v.select(int(P.HIGH), "me", 5) is None
    picked = v.select(int(P.HIGH), "me", 2)
    assert picked is not None and [c.task.id for c in picked] == [1]
    v.take(picked)
    assert v.upper_bound(int(P.HIGH)) == 1
    assert [c.task.id for c in v.select(int(P.HIGH), "me", 1) or []] == [2]
