"""explain(): the decision, the rule, the quota row, tasks ahead, victims, eta."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from hai_cli.scheduler import explain, plan
from hai_cli.scheduler.model import PolicyConfig
from tests.support.sched_builders import NOW, P, nodes, q, quota, run, snap

CFG = PolicyConfig(suspend_grace_s=60.0)


def test_quota_hold_names_the_row_and_is_json_ready() -> None:
    s = snap(
        nodes(4),
        running=[run(9, "n00", user="alice")],
        queued=[q(1, 2, user="alice")],
        quotas=[quota("public", "node-default-NORMAL", 2)],
    )
    e = explain(s, CFG, NOW, 1)
    assert (e.decision, e.reason, e.position) == ("hold", "quota_exceeded", 1)
    assert e.quota is not None
    assert (e.quota.resource, e.quota.principal, e.quota.limit, e.quota.in_use) == (
        "node-default-NORMAL",
        "public",
        2,
        1,
    )
    assert "quota node-default-NORMAL" in e.rule
    json.dumps(asdict(e))


def test_tasks_ahead_and_blockers_when_preemption_cannot_help() -> None:
    s = snap(
        nodes(2),
        running=[
            run(8, "n00", user="me", prio=P.NORMAL),
            run(9, "n01", user="x", prio=P.HIGH),
        ],
        queued=[q(1, prio=P.NORMAL, user="a"), q(2, prio=P.NORMAL, user="me")],
    )
    e = explain(s, CFG, NOW, 2)
    assert e.reason == "no_capacity"
    assert e.ahead == (1,) and e.ahead_count == 1 and e.position == 2
    text = "\n".join(e.preempt_blockers)
    assert "task 8" in text and "same user at equal priority" in text
    assert "task 9" in text and "higher priority" in text
    assert e.eta_s is None


def test_preempting_task_lists_victims_and_eta_is_the_grace() -> None:
    s = snap(nodes(1), running=[run(9, "n00", prio=P.LOW)], queued=[q(1, prio=P.HIGH)])
    e = explain(s, CFG, NOW, 1)
    assert e.reason == "waiting_for_preemption"
    assert e.would_preempt == (9,)
    assert e.eta_s == 60.0
    victim = explain(s, CFG, NOW, 9)
    assert (victim.decision, victim.reason, victim.for_task) == ("suspend", "preempted", 1)


def test_eta_from_the_deadline_of_an_already_suspending_task() -> None:
    s = snap(
        nodes(1),
        running=[run(9, "n00", prio=P.LOW, suspending=True, deadline=NOW + 42)],
        queued=[q(1, prio=P.HIGH)],
    )
    e = explain(s, CFG, NOW, 1)
    assert e.waiting_for == (9,) and e.would_preempt == ()
    assert e.eta_s == 42.0


def test_explanation_agrees_with_plan_for_every_task() -> None:
    s = snap(
        nodes(3),
        running=[run(7, "n00", prio=P.LOW), run(8, "n01", prio=P.HIGH)],
        queued=[q(1, 2, prio=P.HIGH), q(2, prio=P.LOW), q(3, group="nope")],
    )
    result = plan(s, CFG, NOW)
    for tid, decision in result.decisions.items():
        e = explain(s, CFG, NOW, tid)
        assert e.decision == type(decision).__name__.lower()
        assert e.reason == getattr(decision, "reason", None)


def test_unknown_task_raises_key_error() -> None:
    with pytest.raises(KeyError):
        explain(snap(nodes(1)), CFG, NOW, 404)


@pytest.mark.parametrize(
    ("snapshot", "config", "task", "reason", "words"),
    [
        (snap(nodes(1), queued=[q(1, held=True)]), CFG, 1, "held", "held by its owner"),
        (snap(nodes(1), queued=[q(1, group="x")]), CFG, 1, "unknown_group", "no node group"),
        (snap(nodes(1), queued=[q(1, 2)]), CFG, 1, "too_large", "asks for 2 nodes"),
        (
            snap(nodes(1), queued=[q(1), q(2)]),
            PolicyConfig(strict_fifo=True),
            2,
            "priority",
            "tasks ahead of it",
        ),
        (
            snap(nodes(2), running=[run(9, "n00")], queued=[q(1, 2), q(2)]),
            PolicyConfig(strict_fifo=True),
            2,
            "priority",
            "strict FIFO: an earlier task waits",
        ),
        (
            snap(nodes(1), running=[run(9, "n00", prio=P.LOW)], queued=[q(1, prio=P.HIGH)]),
            PolicyConfig(preemption=False),
            1,
            "no_capacity",
            "preempting cannot make room",
        ),
    ],
)
def test_rule_in_plain_words(snapshot, config, task, reason, words) -> None:
    e = explain(snapshot, config, NOW, task)
    assert e.reason == reason and words in e.rule, e.rule


def test_blockers_name_min_run_and_switches() -> None:
    s = snap(
        nodes(1), running=[run(9, "n00", prio=P.LOW, started=NOW - 5)], queued=[q(1, prio=P.HIGH)]
    )
    e = explain(s, PolicyConfig(min_run_s=60.0), NOW, 1)
    assert any("task 9: inside its minimum run time" in line for line in e.preempt_blockers)
    off = explain(s, PolicyConfig(preemption=False), NOW, 1)
    assert off.preempt_blockers == ("preemption is switched off",)


def test_running_task_explanations() -> None:
    s = snap(
        nodes(2),
        running=[run(8, "n00", suspending=True), run(9, "n01", prio=P.HIGH)],
    )
    assert "told to suspend" in explain(s, CFG, NOW, 8).rule
    keep = explain(s, CFG, NOW, 9)
    assert (keep.decision, keep.state, keep.nodes) == ("keep", "running", ("n01",))
