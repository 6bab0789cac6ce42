"""No starvation: a task that waited past ``max_backfill_wait_s`` goes first (below NORMAL:
before NORMAL work too) and keeps the free nodes it needs; smaller tasks behind it no longer
backfill them. Scenarios, the victim rule that stops start/preempt ping-pong, and a property
on the simulator: a large task's wait is bounded in any stream of small ones."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hai_cli.scheduler import explain
from hai_cli.scheduler.model import PolicyConfig
from hai_cli.simulate.cluster import uniform_cluster
from hai_cli.simulate.engine import POLICIES, _Engine
from hai_cli.simulate.trace import Job
from tests.support.sched_builders import NOW, P, decide, nodes, q, run, snap

LIMIT = 3600.0
AGING = PolicyConfig(max_backfill_wait_s=LIMIT)
OFF = PolicyConfig(max_backfill_wait_s=None)
OLD = NOW - 2 * LIMIT  # submitted long enough ago to have aged
NEW = NOW - 10.0  # just submitted
BUSY = [run(9, ("n02", "n03"), prio=P.NORMAL, started=NOW - 50)]


def test_without_the_rule_small_tasks_backfill_the_nodes_a_large_one_waits_for() -> None:
    s = snap(
        nodes(4),
        running=BUSY,
        queued=[q(1, 4, prio=P.LOW, submitted=OLD), q(2, 1, prio=P.LOW, submitted=NEW)],
    )
    assert decide(s, OFF) == {9: ("keep",), 1: ("hold", "no_capacity", 1), 2: ("start", "n00")}


def test_an_aged_task_keeps_the_free_nodes_and_nothing_backfills_them() -> None:
    s = snap(
        nodes(4),
        running=BUSY,
        queued=[q(1, 4, prio=P.LOW, submitted=OLD), q(2, 1, prio=P.LOW, submitted=NEW)],
    )
    assert decide(s, AGING) == {
        9: ("keep",), 1: ("hold", "reserving", 1), 2: ("hold", "priority", 2),
    }  # fmt: skip
    exp = explain(s, AGING, NOW, 1)
    assert exp.reason == "reserving" and "keeps the free nodes it needs" in exp.rule
    assert "keeps 2 of its 4 nodes free" in exp.rule


def test_aged_low_work_goes_before_normal_but_never_before_high() -> None:
    s = snap(
        nodes(1),
        queued=[
            q(1, prio=P.LOW, submitted=OLD),
            q(2, prio=P.NORMAL, submitted=NEW),
            q(3, prio=P.ABOVE_NORMAL, submitted=NEW),
        ],
    )
    assert decide(s, AGING) == {
        3: ("start", "n00"), 1: ("hold", "reserving", 2), 2: ("hold", "priority", 3),
    }  # fmt: skip
    s = snap(nodes(1), queued=[q(1, prio=P.LOW, submitted=OLD), q(2, prio=P.NORMAL, submitted=NEW)])
    assert decide(s, AGING) == {1: ("start", "n00"), 2: ("hold", "priority", 2)}


def test_a_task_not_yet_aged_and_a_requeued_one_count_queued_time_only() -> None:
    young = q(1, 4, prio=P.LOW, submitted=NOW - LIMIT + 10)
    # submitted long ago but ran most of that time: it has not waited long
    ran = dataclasses.replace(q(1, 4, prio=P.LOW, submitted=OLD), ran_s=LIMIT + 100)
    for t in (young, ran):
        s = snap(nodes(4), running=BUSY, queued=[t, q(2, 1, prio=P.LOW, submitted=NEW)])
        assert decide(s, AGING)[2] == ("start", "n00")


def test_what_started_because_it_aged_is_not_preempted_by_the_normal_work_it_passed() -> None:
    # task 1 (LOW) started after waiting 2 h; a NORMAL task may not take its node straight
    # back (start, preempt, wait again: forever); HIGH work still may
    aged_run = run(1, "n00", prio=P.LOW, started=NOW - 100, submitted=OLD)
    s = snap(nodes(1), running=[aged_run], queued=[q(2, prio=P.NORMAL, submitted=NEW)])
    assert decide(s, AGING)[2][0:2] == ("hold", "no_capacity")
    s = snap(nodes(1), running=[aged_run], queued=[q(2, prio=P.HIGH, submitted=NEW)])
    assert decide(s, AGING)[1] == ("suspend", "preempted", 2)
    fresh_run = run(1, "n00", prio=P.LOW, started=NOW - 100, submitted=NOW - 200)
    s = snap(nodes(1), running=[fresh_run], queued=[q(2, prio=P.NORMAL, submitted=NEW)])
    assert decide(s, AGING)[1] == ("suspend", "preempted", 2)


def test_strict_fifo_needs_no_aging() -> None:
    s = snap(nodes(4), running=BUSY, queued=[q(1, 4, submitted=OLD), q(2, 1, submitted=NEW)])
    fifo = PolicyConfig(strict_fifo=True, max_backfill_wait_s=LIMIT)
    assert decide(s, fifo)[1] == ("hold", "no_capacity", 1)
    assert decide(s, fifo)[2] == ("hold", "priority", 2)


SMALL = st.lists(
    st.tuples(
        st.floats(0, 8 * 3600),  # submitted this long after the large task
        st.integers(1, 3),  # nodes
        st.floats(60, 1800),  # duration <= 30 min
        st.sampled_from([0, 5, 10]),  # LOW, BELOW_NORMAL, NORMAL
    ),
    min_size=10,
    max_size=80,
)
# a stream that keeps the 8 nodes busy from the start: 16 jobs of 1 node and 30 min at t=0..
BUSY_START = [(float(i), 1, 1800.0, 10) for i in range(16)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SMALL)
def test_a_large_task_waits_a_bounded_time_in_any_stream_of_small_ones(small) -> None:
    """The large LOW task arrives on a busy cluster, then a stream of small tasks of up to
    NORMAL priority. Once aged it is first (no small task is older) and keeps the nodes that
    free up, so it starts at the latest when the small tasks running then have ended: its
    wait is at most the limit plus the longest small task."""
    tick, submit = 30.0, 600.0
    jobs = [Job("big", submit, "u0", "default", int(P.LOW), 8, 600.0)]
    jobs += [
        Job(f"s{i}", at, f"u{i % 3 + 1}", "default", prio, n, dur)
        for i, (at, n, dur, prio) in enumerate(
            BUSY_START + [(submit + after, n, dur, p) for after, n, dur, p in small]
        )
    ]
    config = dataclasses.replace(POLICIES["time-sharing"], max_backfill_wait_s=LIMIT)
    result = _Engine(jobs, uniform_cluster(8), config, "ts", tick).run()
    start = result.first_start[0]
    assert start is not None and start - submit <= LIMIT + 1800 + 2 * tick, start - submit


def test_without_the_rule_the_same_large_task_can_wait_for_the_whole_stream() -> None:
    tick, submit = 30.0, 600.0
    dense = [(submit + i * 120.0, 1, 1800.0, 0) for i in range(200)]  # LOW, 1 node, 6.6 h
    jobs = [Job("big", submit, "u0", "default", int(P.LOW), 8, 600.0)]
    jobs += [Job(f"s{i}", at, f"u{i % 3 + 1}", "default", prio, n, dur)
             for i, (at, n, dur, prio) in enumerate(BUSY_START + dense)]  # fmt: skip
    waits = {}
    for limit in (None, LIMIT):
        config = dataclasses.replace(POLICIES["time-sharing"], max_backfill_wait_s=limit)
        result = _Engine(jobs, uniform_cluster(8), config, "ts", tick).run()
        waits[limit] = result.first_start[0] - submit
    assert waits[LIMIT] <= LIMIT + 1800 + 2 * tick
    assert waits[None] > 3 * waits[LIMIT]
