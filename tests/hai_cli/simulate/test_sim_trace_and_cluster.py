"""Trace CSV and cluster TOML parsing: good input, and one clear error for bad input."""

from __future__ import annotations

import pytest

from hai_cli.scheduler.model import AUTO, Priority
from hai_cli.simulate import InputError, load_cluster, load_trace, parse_trace
from hai_cli.simulate.cluster import parse_cluster

HEADER = "id,submit_s,user,group,priority,nodes,duration_s"


def test_parse_minimal_and_optional_columns() -> None:
    jobs = parse_trace(
        "id,submit_s,user,group,priority,nodes,duration_s,checkpoint_s,suspend_s\n"
        "a,0,alice,,HIGH,2,100,,\n"
        "b,1.5,bob,gpu,auto,1,50.5,600,30\n"
        "c,2,carol,gpu,5,1,10,0,0\n"
    )
    a, b, c = jobs
    assert (a.group, a.priority, a.nodes, a.checkpoint_s, a.suspend_s) == (
        "default", Priority.HIGH, 2, 0.0, 5.0
    )  # fmt: skip
    assert (b.priority, b.checkpoint_s, b.suspend_s, b.submit_s) == (AUTO, 600.0, 30.0, 1.5)
    assert c.priority == Priority.BELOW_NORMAL and c.suspend_s == 0.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,submit_s,user,group,priority,nodes\na,0,u,,LOW,1\n", "missing column(s) duration_s"),
        (f"{HEADER}\na,0,u,,LOW,x,10\n", "line 2: bad whole number 'x' in column nodes"),
        (f"{HEADER}\na,0,u,,LOW,1,ten\n", "line 2: bad number 'ten' in column duration_s"),
        (f"{HEADER}\na,0,u,,LOW,0,10\n", "nodes must be > 0"),
        (f"{HEADER}\na,-1,u,,LOW,1,10\n", "submit_s must be >= 0"),
        (f"{HEADER}\na,0,u,,URGENT,1,10\n", "line 2: unknown priority 'URGENT'"),
        (f"{HEADER}\na,0,u,,LOW,1,10\na,1,u,,LOW,1,10\n", "line 3: duplicate id 'a'"),
        (f"{HEADER}\na,0,u,,LOW,1,10,extra\n", "more fields than the header"),
        (f"{HEADER}\n", "no jobs"),
        ("", "empty trace"),
    ],
)
def test_bad_trace_gives_one_clear_line(text: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        parse_trace(text, "t.csv")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_unreadable_trace(tmp_path) -> None:
    with pytest.raises(InputError, match="cannot read trace"):
        load_trace(str(tmp_path / "nope.csv"))


def test_cluster_toml_groups_zones_quotas(tmp_path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[groups.a100]\nnodes = 5\nzones = ["x", "y"]\ngpus = 8\n'
        "[groups.cpu]\nnodes = 3\nzones = {p = 1, q = 2}\n"
        '[[quotas]]\nprincipal = "public"\nresource = "node-a100-HIGH"\nquota = 2\n'
        '[user_groups]\nalice = ["vision"]\n[scheduler]\nmin_run_s = 300\n'
    )
    c = load_cluster(str(path))
    assert c.group_sizes() == {"a100": 5, "cpu": 3}
    assert [n.zone for n in c.nodes if n.group == "a100"] == ["x", "x", "x", "y", "y"]
    assert [n.zone for n in c.nodes if n.group == "cpu"] == ["p", "q", "q"]
    assert c.quotas[0].resource == "node-a100-HIGH" and c.user_groups == {"alice": ("vision",)}
    assert c.scheduler == {"min_run_s": 300}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "at least one [groups.NAME]"),
        ({"groups": {"a": {"nodes": 0}}}, "groups.a.nodes must be"),
        ({"groups": {"a": {"nodes": 2, "zones": {"x": 1}}}}, "add up to 1, not 2"),
        (
            {"groups": {"a": {"nodes": 2}}, "scheduler": {"preemption": False}},
            "unknown [scheduler]",
        ),
        ({"groups": {"a": {"nodes": 2}}, "quotas": [{"principal": "p"}]}, "missing resource"),
    ],
)
def test_bad_cluster(data: dict, message: str) -> None:
    with pytest.raises(InputError) as err:
        parse_cluster(data, "c.toml")
    assert message in str(err.value)


def test_cluster_not_toml(tmp_path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("groups = [\n")
    with pytest.raises(InputError, match="not valid TOML"):
        load_cluster(str(path))
