"""Admission at submit (pure): each quota and role rule, with its message; and roles in plans."""

from __future__ import annotations

import pytest

from hai_cli.scheduler.admission import admit
from hai_cli.scheduler.model import AUTO, PolicyConfig, QuotaRow, Snapshot
from tests.support.sched_builders import NOW, P, decide, nodes, q

CLUSTER = PolicyConfig(default_quota=0)  # what a cluster's server runs with (no row: no access)
OPEN = PolicyConfig(default_quota=None)  # the embedded server


def row(principal: str, resource: str, n: int, expires: float | None = None) -> QuotaRow:
    return QuotaRow(principal, resource, n, expires)


# (case, role, priority, nodes, rows, groups, config, None | (kind, resource, words))
CASES = [
    ("embedded, no rows: anything goes", "internal", P.EXTREME_HIGH, 8, [], (), OPEN, None),
    (
        "cluster, no rows: no access, and the message says how to get some",
        "internal", P.NORMAL, 1, [], (), CLUSTER,
        ("quota", "node-default-NORMAL",
         ["no quota row node-default-NORMAL applies to alice", "no row means no access",
          "hai-cli admin quota set USER|GROUP|public node-default-NORMAL N"]),
    ),
    (
        "cluster, a public row at the level: admitted",
        "internal", P.NORMAL, 2, [row("public", "node-default-NORMAL", 2)], (), CLUSTER, None,
    ),
    (
        "a row at another level does not open this one; the hint names the level that has room",
        "internal", P.NORMAL, 1, [row("public", "node-default-HIGH", 10)], (), CLUSTER,
        ("quota", "node-default-NORMAL", ["levels with quota in default: HIGH (10)"]),
    ),
    (
        "larger than the level's row: could never run, the row and its owner named",
        "internal", P.HIGH, 5, [row("public", "node-default-HIGH", 4)], (), CLUSTER,
        ("quota", "node-default-HIGH",
         ["quota node-default-HIGH (row of public) allows alice 4 node(s)", "asks for 5",
          "could never run"]),
    ),
    (
        "the user's own row beats a larger group row (and is the one named)",
        "internal", P.HIGH, 3,
        [row("alice", "node-default-HIGH", 2), row("vision", "node-default-HIGH", 8)],
        ("vision",), CLUSTER,
        ("quota", "node-default-HIGH", ["row of alice", "allows alice 2"]),
    ),
    (
        "a group row opens a level",
        "internal", P.HIGH, 3, [row("vision", "node-default-HIGH", 8)], ("vision",), CLUSTER,
        None,
    ),
    (
        "a role row applies to every user of that role",
        "internal", P.NORMAL, 3, [row("internal", "node-default-NORMAL", 3)], (), CLUSTER, None,
    ),
    (
        "node_limit smaller than the task: refused whatever the level",
        "internal", P.NORMAL, 6,
        [row("public", "node-default-NORMAL", 10), row("alice", "node_limit", 4)], (), CLUSTER,
        ("quota", "node_limit", ["quota node_limit (row of alice) allows alice 4", "all groups"]),
    ),
    (
        "an expired row is no row",
        "internal", P.NORMAL, 1, [row("public", "node-default-NORMAL", 5, NOW - 1)], (), CLUSTER,
        ("quota", "node-default-NORMAL", ["no quota row"]),
    ),
    (
        "AUTO: admitted when some level allows the task",
        "internal", AUTO, 4,
        [row("public", "node-default-LOW", 4), row("public", "node-default-HIGH", 1)], (),
        CLUSTER, None,
    ),
    (
        "AUTO: no level allows it; the largest row is named",
        "internal", AUTO, 6,
        [row("public", "node-default-LOW", 4), row("public", "node-default-HIGH", 1)], (),
        CLUSTER,
        ("quota", "node-default-LOW", ["allows alice 4", "AUTO: no level in group default"]),
    ),
    (
        "an operator's default_quota: named as such",
        "internal", P.NORMAL, 3, [], (), PolicyConfig(default_quota=2),
        ("quota", "node-default-NORMAL", ["scheduler.default_quota", "allows alice 2"]),
    ),
    (
        "external users submit at AUTO only",
        "external", P.NORMAL, 1, [row("public", "node-default-NORMAL", 5)], (), CLUSTER,
        ("role", None, ["external users submit at AUTO only", "not NORMAL", "-p AUTO"]),
    ),
    (
        "external users at AUTO get their rows (public included)",
        "external", AUTO, 2, [row("public", "node-default-NORMAL", 2)], (), CLUSTER, None,
    ),
    (
        "external users never get default_quota, even on an open server",
        "external", AUTO, 1, [], (), OPEN,
        ("quota", "node-default-EXTREME_HIGH", ["no quota row", "no row means no access"]),
    ),
    (
        "a row for the external role applies to external users",
        "external", AUTO, 2, [row("external", "node-default-LOW", 2)], (), OPEN, None,
    ),
    (
        "admins are bound by rows like internal users",
        "admin", P.HIGH, 3, [row("public", "node-default-HIGH", 2)], (), CLUSTER,
        ("quota", "node-default-HIGH", ["allows alice 2"]),
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("role", "prio", "n", "rows", "groups", "config", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_admission_rules(
    role: str,
    prio: int,
    n: int,
    rows: list[QuotaRow],
    groups: tuple[str, ...],
    config: PolicyConfig,
    expected: tuple[str, str | None, list[str]] | None,
) -> None:
    got = admit(
        user="alice",
        role=role,
        group="default",
        priority=int(prio),
        nodes=n,
        rows=rows,
        user_groups=groups,
        config=config,
        now=NOW,
    )
    if expected is None:
        assert got is None
        return
    assert got is not None
    kind, resource, words = expected
    assert (got.kind, got.resource) == (kind, resource), got
    for w in words:
        assert w in got.message, (w, got.message)


def test_a_task_admitted_at_submit_can_start_on_an_empty_cluster() -> None:
    """Admission and the policy read the rows alike: what admit() lets in, plan() starts
    when nothing else runs (here for each level of a user whose rows differ by level)."""
    rows = (
        row("public", "node-default-LOW", 3),
        row("public", "node-default-HIGH", 1),
        row("external", "node-default-NORMAL", 2),
    )
    for role in ("internal", "external"):
        for prio in (AUTO, *(int(p) for p in P)):
            for n in (1, 2, 3, 4):
                refused = admit(user="alice", role=role, group="default", priority=prio,
                                nodes=n, rows=rows, user_groups=(), config=CLUSTER, now=NOW)  # fmt: skip
                if role == "external" and prio != AUTO:
                    assert refused is not None and refused.kind == "role"
                    continue
                roles = {} if role == "internal" else {"alice": role}
                snap = Snapshot(nodes=tuple(nodes(4)), queued=(q(1, n, user="alice", prio=prio),),
                                quotas=rows, roles=roles)  # fmt: skip
                verdict = decide(snap, CLUSTER, NOW)[1]
                assert (refused is None) == (verdict[0] == "start"), (role, prio, n, verdict)


def test_external_users_get_no_default_quota_in_plans() -> None:
    snap = Snapshot(
        nodes=tuple(nodes(2)),
        queued=(q(1, user="ext", prio=AUTO), q(2, user="int", prio=AUTO)),
        roles={"ext": "external"},
    )
    got = decide(snap, OPEN, NOW)
    assert got[1][:2] == ("hold", "quota_exceeded") and got[2][0] == "start"
