"""Placement of Jupyter containers, as tables: shared groups packed by CPU and memory on the
node with the fewest containers that has room, memory never overcommitted; an exclusive
container is a LOW one-node task the policy preempts with notice; quotas refused with their
limit and use named (MMMMCCCQQ decoded like the original's init.sql)."""

from __future__ import annotations

import random

import pytest

from hai_cli.scheduler import jupyter_quota as jq
from hai_cli.scheduler.jupyter import (
    PlacedContainer,
    Resources,
    SharedNode,
    WaitingContainer,
    free_resources,
    place,
)
from hai_cli.scheduler.model import Priority
from tests.support.sched_builders import compact, decide, nodes, q, run, snap

G = "jupyter"


def node(name: str, cpus: float, mem: float, gpus: int = 0, usable: bool = True) -> SharedNode:
    return SharedNode(name, G, Resources(cpus, mem, gpus), usable)


def on(id: int, where: str, cpus: float, mem: float, gpus: int = 0) -> PlacedContainer:
    return PlacedContainer(id, G, where, Resources(cpus, mem, gpus))


def wants(id: int, cpus: float, mem: float, gpus: int = 0, **kw: object) -> WaitingContainer:
    return WaitingContainer(id, kw.pop("group", G), Resources(cpus, mem, gpus),  # type: ignore[arg-type]
                            float(id), held=bool(kw.pop("held", False)))  # fmt: skip


def decided(nodes_: list, running: list, waiting: list) -> dict[int, tuple]:
    return {k: compact(v) for k, v in place(tuple(nodes_), tuple(running), tuple(waiting)).items()}


CASES = [
    pytest.param(  # fewest containers first (j1 has one), ties by name
        [node("j1", 8, 16), node("j2", 8, 16)], [on(1, "j1", 1, 1)], [wants(2, 1, 1), wants(3, 1, 1)],
        {1: ("keep",), 2: ("start", "j2"), 3: ("start", "j1")}, id="fewest-containers",
    ),
    pytest.param(  # packing by memory: j1 has 2 GiB left, the 4 GiB one goes to j2
        [node("j1", 8, 8), node("j2", 8, 8)], [on(1, "j1", 1, 6)], [wants(2, 1, 4), wants(3, 1, 2)],
        {1: ("keep",), 2: ("start", "j2"), 3: ("start", "j1")}, id="by-memory",
    ),
    pytest.param(  # never overcommitted: 8 GiB node, 6 used, 3 more does not fit
        [node("j1", 8, 8)], [on(1, "j1", 1, 6)], [wants(2, 1, 3)],
        {1: ("keep",), 2: ("hold", "no_capacity", 1)}, id="no-memory-overcommit",
    ),
    pytest.param(  # nor CPUs
        [node("j1", 4, 64)], [on(1, "j1", 3, 1)], [wants(2, 2, 1)],
        {1: ("keep",), 2: ("hold", "no_capacity", 1)}, id="no-cpu-overcommit",
    ),
    pytest.param(  # exactly full is fine
        [node("j1", 4, 8)], [on(1, "j1", 2, 4)], [wants(2, 2, 4)],
        {1: ("keep",), 2: ("start", "j1")}, id="exactly-full",
    ),
    pytest.param(  # a big one waiting does not keep a small later one out (no head-of-line)
        [node("j1", 4, 8)], [on(1, "j1", 2, 6)], [wants(2, 1, 4), wants(3, 1, 2)],
        {1: ("keep",), 2: ("hold", "no_capacity", 1), 3: ("start", "j1")}, id="no-hol-block",
    ),
    pytest.param(
        [node("j1", 4, 8)], [], [wants(2, 8, 1)],
        {2: ("hold", "too_large", 1)}, id="larger-than-any-node",
    ),
    pytest.param(
        [node("j1", 4, 8)], [], [wants(2, 1, 1, group="elsewhere")],
        {2: ("hold", "unknown_group", 1)}, id="unknown-group",
    ),
    pytest.param(
        [node("j1", 4, 8)], [], [wants(2, 1, 1, held=True), wants(3, 1, 1)],
        {2: ("hold", "held", 1), 3: ("start", "j1")}, id="held",
    ),
    pytest.param(  # GPUs: sliced like memory
        [node("j1", 8, 32, gpus=2), node("j2", 8, 32)], [on(1, "j1", 1, 1, 1)], [wants(2, 1, 1, 2), wants(3, 1, 1, 1)],
        {1: ("keep",), 2: ("hold", "no_capacity", 1), 3: ("start", "j1")}, id="gpus",
    ),
    pytest.param(  # an unhealthy node: its containers are suspended, nothing new goes there
        [node("j1", 8, 8, usable=False), node("j2", 8, 8)], [on(1, "j1", 1, 1)], [wants(2, 1, 1)],
        {1: ("suspend", "node_failure", None), 2: ("start", "j2")}, id="unhealthy-node",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("nodes_", "running", "waiting", "expected"), CASES)
def test_placement(nodes_: list, running: list, waiting: list, expected: dict) -> None:
    assert decided(nodes_, running, waiting) == expected


def test_same_decisions_in_any_order_and_never_overcommitted() -> None:
    rng = random.Random(7)
    for _ in range(200):
        ns = [node(f"j{i}", rng.choice([2, 4, 8]), rng.choice([4, 8, 16])) for i in range(3)]
        waiting = [
            wants(i, rng.choice([0.5, 1, 2]), rng.choice([1, 2, 4, 6])) for i in range(1, 12)
        ]
        first = place(tuple(ns), (), tuple(waiting))
        shuffled = list(waiting)
        rng.shuffle(shuffled)
        assert place(tuple(reversed(ns)), (), tuple(shuffled)) == first
        placed = tuple(
            PlacedContainer(w.id, G, d.nodes[0], w.asks)
            for w in waiting if type(d := first[w.id]).__name__ == "Start"
        )  # fmt: skip
        for left in free_resources(tuple(ns), placed).values():
            assert left.cpus >= -1e-9 and left.memory_gib >= -1e-9


def test_exclusive_container_is_preempted_like_low_with_notice() -> None:
    """An exclusive container: a one-node task at LOW in a training group (what create makes).
    A NORMAL task that needs its node suspends it (the notice and grace follow, as for any
    task); it is requeued in its place afterwards."""
    s = snap(nodes(1), running=[run(1, "n00", prio=Priority.LOW, user="a", started=0.0)],
             queued=[q(2, 1, user="b")])  # fmt: skip
    assert decide(s) == {1: ("suspend", "preempted", 2), 2: ("hold", "waiting_for_preemption", 1)}
    same_prio = snap(nodes(1), running=[run(1, "n00", prio=Priority.LOW, user="a")],
                     queued=[q(2, 1, user="b", prio=Priority.LOW)])  # fmt: skip
    assert decide(same_prio)[1] == ("keep",)


# -- quota -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("encoded", "memory", "cpus", "count"),
    [(12800810, 128, 8, 10), (0, 0, 0, 0), (999999999, 9999, 999, 99), (100, 0, 1, 0),
     (1_600_402, 16, 4, 2)],
)  # fmt: skip
def test_original_encoding(encoded: int, memory: int, cpus: int, count: int) -> None:
    got = jq.decode(encoded)
    assert (got.memory_gib, got.cpus, got.count) == (memory, cpus, count)
    assert jq.make(memory, cpus, count).encode() == encoded


@pytest.mark.parametrize("bad", [-1, 1_000_000_000, True])
def test_bad_encoding(bad: int) -> None:
    with pytest.raises(ValueError, match="MMMMCCCQQ"):
        jq.decode(bad)


@pytest.mark.parametrize(
    ("fields", "message"),
    [((10000, 1, 1), "memory must be a whole number 0-9999"), ((1, 1000, 1), "cpus"),
     ((1, 1, 100), "count"), ((1, -1, 1), "cpus")],
)  # fmt: skip
def test_bad_fields(fields: tuple[int, int, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        jq.make(*fields)


ROWS = {"alice": jq.make(8, 4, 2).encode(), "lab": jq.make(32, 2, 1).encode(),
        "gpu": jq.make(16, 16, 3).encode(), "public": jq.make(4, 2, 1).encode()}  # fmt: skip


@pytest.mark.parametrize(
    ("user", "groups", "expected"),
    [("alice", ["lab"], (8, 4, 2)),  # own row beats groups
     ("bob", ["lab", "gpu"], (32, 16, 3)),  # groups: each limit the largest
     ("carol", [], (4, 2, 1)),  # public
     ],
)  # fmt: skip
def test_effective_quota(user: str, groups: list[str], expected: tuple[int, int, int]) -> None:
    got = jq.effective(ROWS, user, groups)
    assert got is not None and (got.memory_gib, got.cpus, got.count) == expected
    assert jq.effective({}, user, groups) is None


@pytest.mark.parametrize(
    ("use", "cpus", "mem", "message"),
    [((1, 2, 2), 1, 1, "allows 2 container(s); you have 2"),
     ((1, 6, 1), 1, 4, "allows 8 GiB; you use 6 GiB and ask for 4 more"),
     ((3, 1, 1), 2, 1, "allows 4 CPUs; you use 3 and ask for 2 more"),
     ((3, 6, 1), 1, 2, None)],
)  # fmt: skip
def test_refusal_names_limit_and_use(
    use: tuple, cpus: float, mem: float, message: str | None
) -> None:
    quota = jq.make(8, 4, 2)
    got = jq.refusal(quota, use, cpus, mem, "jupyter")
    assert got == (None if message is None else f"quota jupyter:jupyter {message}")
    assert jq.refusal(None, use, 100, 100, "jupyter") is None
