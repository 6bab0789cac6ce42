"""Scenario tables: quota rows, precedence, expiry, node_limit, AUTO."""

from __future__ import annotations

import pytest

from hai_cli.scheduler.model import AUTO, PolicyConfig
from tests.support.sched_builders import NOW, P, decide, nodes, q, quota, run, snap

GROUPS = {"alice": ("vision", "nlp")}

SCENARIOS = [
    (
        "over the level quota: quota_exceeded; another user's task may start",
        snap(
            nodes(4),
            running=[run(9, "n00", user="alice")],
            queued=[q(1, 2, user="alice"), q(2, user="bob")],
            quotas=[quota("public", "node-default-NORMAL", 2)],
        ),
        None,
        {9: ("keep",), 1: ("hold", "quota_exceeded", 1), 2: ("start", "n01")},
    ),
    (
        "quota is per level: a HIGH row does not cap NORMAL",
        snap(
            nodes(3),
            queued=[q(1, 3, user="alice")],
            quotas=[quota("public", "node-default-HIGH", 1)],
        ),
        None,
        {1: ("start", "n00", "n01", "n02")},
    ),
    (
        "a user's own row beats group rows, even a smaller one",
        snap(
            nodes(4),
            queued=[q(1, 2, user="alice")],
            quotas=[
                quota("alice", "node-default-NORMAL", 1),
                quota("vision", "node-default-NORMAL", 4),
            ],
            user_groups=GROUPS,
        ),
        None,
        {1: ("hold", "quota_exceeded", 1)},
    ),
    (
        "group rows take the maximum and beat public",
        snap(
            nodes(4),
            queued=[q(1, 3, user="alice")],
            quotas=[
                quota("vision", "node-default-NORMAL", 1),
                quota("nlp", "node-default-NORMAL", 3),
                quota("public", "node-default-NORMAL", 0),
            ],
            user_groups=GROUPS,
        ),
        None,
        {1: ("start", "n00", "n01", "n02")},
    ),
    (
        "expired rows are ignored (falling back to public)",
        snap(
            nodes(4),
            queued=[q(1, 2, user="alice")],
            quotas=[
                quota("alice", "node-default-NORMAL", 4, expires=NOW - 1),
                quota("public", "node-default-NORMAL", 1),
            ],
        ),
        None,
        {1: ("hold", "quota_exceeded", 1)},
    ),
    (
        "default_quota applies when no row matches",
        snap(nodes(4), queued=[q(1, 2, user="alice"), q(2, 1, user="bob")]),
        PolicyConfig(default_quota=1),
        {1: ("hold", "quota_exceeded", 1), 2: ("start", "n00")},
    ),
    (
        "node_limit caps all nodes of a user across levels",
        snap(
            nodes(4),
            running=[run(9, "n00", user="alice", prio=P.LOW)],
            queued=[q(1, 2, user="alice", prio=P.HIGH)],
            quotas=[quota("alice", "node_limit", 2)],
        ),
        None,
        {9: ("keep",), 1: ("hold", "quota_exceeded", 1)},
    ),
    (
        "starts in one plan count against the quota of later ones",
        snap(
            nodes(4),
            queued=[q(1, user="alice"), q(2, user="alice"), q(3, user="alice")],
            quotas=[quota("public", "node-default-NORMAL", 2)],
        ),
        None,
        {1: ("start", "n00"), 2: ("start", "n01"), 3: ("hold", "quota_exceeded", 3)},
    ),
    (
        "AUTO takes the highest level with room",
        snap(
            nodes(2),
            running=[run(9, "n00", user="alice", prio=P.EXTREME_HIGH)],
            queued=[q(1, user="alice", prio=AUTO)],
            quotas=[
                quota("public", "node-default-EXTREME_HIGH", 1),
                quota("public", "node-default-VERY_HIGH", 0),
                quota("public", "node-default-HIGH", 1),
            ],
        ),
        None,
        {9: ("keep",), 1: ("start", "n01")},
    ),
    (
        "AUTO with no room anywhere: quota_exceeded",
        snap(nodes(2), queued=[q(1, user="alice", prio=AUTO)]),
        PolicyConfig(default_quota=0),
        {1: ("hold", "quota_exceeded", 1)},
    ),
]


@pytest.mark.parametrize(
    ("snapshot", "config", "expected"),
    [s[1:] for s in SCENARIOS],
    ids=[s[0] for s in SCENARIOS],
)
def test_scenario(snapshot, config, expected) -> None:
    assert decide(snapshot, config, NOW) == expected


def test_auto_start_carries_the_resolved_level() -> None:
    from hai_cli.scheduler import plan

    s = snap(
        nodes(1),
        queued=[q(1, user="alice", prio=AUTO)],
        quotas=[
            quota("public", "node-default-EXTREME_HIGH", 0),
            quota("public", "node-default-VERY_HIGH", 0),
        ],
    )
    start = plan(s, PolicyConfig(), NOW).of(1)
    assert start.priority == P.HIGH
