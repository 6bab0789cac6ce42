"""The virtual-clock engine: exact small replays, determinism, and the policy comparison."""

from __future__ import annotations

import pytest

from hai_cli.simulate import (
    InputError,
    generate_trace,
    parse_trace,
    run_policy,
    summarize,
    uniform_cluster,
)
from hai_cli.simulate.cluster import parse_cluster

HEADER = "id,submit_s,user,group,priority,nodes,duration_s,checkpoint_s,suspend_s\n"


def _run(text: str, policy: str, nodes: int = 1, tick: float = 1.0):
    jobs = parse_trace(HEADER + text)
    return run_policy(jobs, uniform_cluster(nodes), policy, tick)


def test_preemption_loses_work_since_the_checkpoint_and_resumes() -> None:
    trace = "a,0,u1,,LOW,1,100,30,5\nb,50,u2,,HIGH,1,10,,5\n"
    r = _run(trace, "time-sharing")
    # b arrives at 50: a is told to suspend (worked 50, checkpoint at 30: 20 s lost),
    # a stops at 55, b runs 55..65, a resumes at 65 with 70 s left and ends at 135.
    assert r.first_start == [0.0, 55.0]
    assert r.finish == [135.0, 65.0]
    assert (r.preemptions, r.lost_work_node_s) == (1, 20.0)
    s = summarize(r)
    assert s["utilization"] == 1.0 and s["makespan_s"] == 135.0
    assert s["wait_s"]["by_priority"]["HIGH"] == {"p50": 5.0, "p95": 5.0}


def test_checkpoint_on_suspend_loses_nothing() -> None:
    r = _run("a,0,u1,,LOW,1,100,0,5\nb,50,u2,,HIGH,1,10,,5\n", "priority")
    assert r.lost_work_node_s == 0.0 and r.finish == [115.0, 65.0]


def test_fifo_never_preempts() -> None:
    r = _run("a,0,u1,,LOW,1,100,30,5\nb,50,u2,,HIGH,1,10,,5\n", "fifo")
    assert r.preemptions == 0 and r.first_start == [0.0, 100.0] and r.finish == [100.0, 110.0]


def test_tick_quantizes_scheduling_not_event_times() -> None:
    r = _run("a,7,u1,,NORMAL,1,100,,\n", "time-sharing", tick=30.0)
    assert r.first_start == [30.0] and r.finish == [130.0]
    assert summarize(r)["wait_s"]["p50"] == 23.0


def test_jobs_that_can_never_run_are_reported_not_looped_on() -> None:
    cluster = parse_cluster(
        {
            "groups": {"default": {"nodes": 2}},
            "quotas": [{"principal": "public", "resource": "node-default-NORMAL", "quota": 0}],
        }
    )
    jobs = parse_trace(HEADER + "a,0,u,,NORMAL,1,10,,\nb,0,u,,HIGH,1,10,,\n")
    s = summarize(run_policy(jobs, cluster, "time-sharing", 1.0))
    assert s["unfinished"] == 1 and s["jobs"] == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [("a,0,u,gpu,LOW,1,10,,\n", "unknown group 'gpu'"), ("a,0,u,,LOW,3,10,,\n", "asks for 3")],
)
def test_jobs_that_do_not_fit_the_cluster_are_refused(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        run_policy(parse_trace(HEADER + text), uniform_cluster(2))


def test_same_trace_same_figures() -> None:
    jobs = parse_trace(generate_trace(400, 5, {"default": 32}))
    one = summarize(run_policy(jobs, uniform_cluster(32)))
    two = summarize(run_policy(jobs, uniform_cluster(32)))
    assert one == two and "wall_s" not in one


def test_generator_is_seeded() -> None:
    assert generate_trace(50, 1) == generate_trace(50, 1)
    assert generate_trace(50, 1) != generate_trace(50, 2)
    jobs = parse_trace(generate_trace(2000, 1, {"default": 256}))
    sizes = sorted(j.nodes for j in jobs)
    assert sizes[len(sizes) // 2] <= 2 and sizes[-1] >= 32  # many small, a few large
    assert len({j.user for j in jobs}) >= 8 and len({j.priority for j in jobs}) >= 5


def test_time_sharing_serves_high_priority_far_sooner_than_fifo() -> None:
    jobs = parse_trace(generate_trace(1500, 11, {"default": 64}))
    cluster = uniform_cluster(64)
    ts = summarize(run_policy(jobs, cluster, "time-sharing"))
    fifo = summarize(run_policy(jobs, cluster, "fifo"))
    high = ("EXTREME_HIGH", "VERY_HIGH", "HIGH")
    for name in high:
        assert (
            ts["wait_s"]["by_priority"][name]["p95"] * 10
            < fifo["wait_s"]["by_priority"][name]["p95"]
        )
    assert abs(ts["utilization"] - fifo["utilization"]) < 0.05
    assert ts["preemptions"] > 0 and fifo["preemptions"] == 0
