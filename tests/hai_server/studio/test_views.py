"""Studio's view models and chart geometry (pure): tables of inputs and what pages show."""

from __future__ import annotations

import shlex

import pytest

from hai_server.services.overview import resource_level, split_by_bucket
from hai_server.studio import charts, views

NOW = 1_000_000.0


def task(**kw: object) -> dict:
    base = {
        "id": 7, "name": "train", "user": "ann", "state": "running", "priority": "NORMAL",
        "nodes": 2, "restart_count": 1, "submitted_at": NOW - 125, "reason": None,
        "position": None, "exit_code": None, "held": False, "group": "default",
        "stop_requested": False, "kind": "python", "workdir": "/home/ann/w",
        "command": ["/usr/bin/python3", "-u", "/home/ann/w/train.py", "--lr", "0.1"],
    }  # fmt: skip
    return {**base, **kw}


@pytest.mark.parametrize(
    ("fields", "note"),
    [
        ({"state": "queued", "reason": "quota", "position": 3}, "quota #3"),
        ({"state": "queued", "reason": "no_nodes", "position": None}, "no_nodes"),
        ({"state": "queued", "reason": None}, "-"),
        ({"state": "queued", "reason": "new", "held": True, "position": 2}, "held #2"),
        ({"state": "suspending", "reason": "preempted"}, "preempted"),
        ({"state": "failed", "exit_code": 3}, "exit 3"),
        ({"state": "stopped", "exit_code": 0}, ""),
        ({"state": "running"}, ""),
    ],
)
def test_waiting_note(fields: dict, note: str) -> None:
    assert views.waiting_note(task(**fields)) == note


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59, "59s"), (60, "1m00s"), (307, "5m07s"), (1020, "17m"), (11100, "3h05m"),
     (187200, "2d04h"), (-5, "0s")],
)  # fmt: skip
def test_duration(seconds: float, text: str) -> None:
    assert views.duration(seconds) == text


def test_task_row_has_the_columns_of_hai_cli_list() -> None:
    row = views.task_row(task(state="queued", reason="quota", position=1), NOW)
    assert row == {
        "id": 7, "name": "train", "user": "ann", "state": "queued", "priority": "NORMAL",
        "nodes": 2, "restarts": 1, "age": "2m05s", "waiting": "quota #1", "group": "default",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "offered"),
    [
        ({"state": "running"}, ["suspend", "stop"]),
        ({"state": "starting"}, ["suspend", "stop"]),
        ({"state": "running", "stop_requested": True}, []),
        ({"state": "queued"}, ["stop"]),
        ({"state": "suspended"}, ["resume", "stop"]),
        ({"state": "stopped"}, ["resume"]),
        ({"state": "failed", "stop_requested": True}, ["resume"]),
        ({"state": "succeeded"}, []),
    ],
)
def test_actions_follow_the_state(fields: dict, offered: list[str]) -> None:
    assert [a["action"] for a in views.actions(task(**fields))] == offered


@pytest.mark.parametrize(
    ("fields", "argv"),
    [
        ({}, ["hai-cli", "python", "/home/ann/w/train.py", "--lr", "0.1"]),
        ({"kind": "bash", "command": ["bash", "run.sh", "a b"]}, ["hai-cli", "bash", "run.sh", "a b"]),
        ({"kind": "exec", "command": ["./train", "$(rm -rf /)"]}, ["hai-cli", "exec", "./train", "$(rm -rf /)"]),
    ],
)  # fmt: skip
def test_resubmit_command_is_a_quoted_shell_line(fields: dict, argv: list[str]) -> None:
    t = task(name="a name; rm -rf ~", **fields)
    line = views.resubmit_command(t)
    cd, _, rest = line.partition(" && ")
    assert shlex.split(cd) == ["cd", "/home/ann/w"]
    words = shlex.split(rest)  # every user-given word comes back as it was: nothing runs
    sep = words.index("--")
    assert words[:sep] == argv
    assert words[sep + 1 :] == ["-n", "2", "-p", "NORMAL", "-g", "default", "--name", t["name"]]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain", "plain"),
        ("<b>html</b>", "<b>html</b>"),  # HTML is the template's to escape
        ("evil\u202etxt.exe", "evil<U+202E>txt.exe"),
        ("a\x1b[31mred", "a<U+001B>[31mred"),
        ("zero\u200bwidth\u2066iso", "zero<U+200B>width<U+2066>iso"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("nul\x00", "nul<U+0000>"),
    ],
)
def test_visible_shows_hidden_characters(text: str, shown: str) -> None:
    assert views.visible(text) == shown


@pytest.mark.parametrize(
    ("total", "offset", "expected"),
    [
        (0, 0, {"first": 0, "last": 0, "total": 0, "prev": None, "next": None}),
        (120, 0, {"first": 1, "last": 50, "total": 120, "prev": None, "next": 50}),
        (120, 50, {"first": 51, "last": 100, "total": 120, "prev": 0, "next": 100}),
        (120, 100, {"first": 101, "last": 120, "total": 120, "prev": 50, "next": None}),
        (120, 500, {"first": 0, "last": 0, "total": 120, "prev": 450, "next": None}),
    ],
)
def test_pagination(total: int, offset: int, expected: dict) -> None:
    assert views.pagination(total, 50, offset) == expected


@pytest.mark.parametrize(
    ("used", "limit", "pct", "over", "text"),
    [(0, 4, 0, False, "0 / 4"), (2, 4, 50, False, "2 / 4"), (5, 4, 100, True, "5 / 4"),
     (3, None, 0, False, "3 / no limit"), (0, 0, 0, False, "0 / 0"), (1, 0, 100, True, "1 / 0")],
)  # fmt: skip
def test_bar(used: int, limit: int | None, pct: int, over: bool, text: str) -> None:
    assert views.bar(used, limit) == {"pct": pct, "over": over, "text": text}


def test_quota_bars_label_levels_and_node_limit() -> None:
    rows = [
        {"resource": "node-gpu-a-HIGH", "group": "gpu-a", "priority": "HIGH", "limit": 4,
         "principal": "ann", "in_use": 1},
        {"resource": "node_limit", "group": None, "priority": None, "limit": None,
         "principal": None, "in_use": 3},
    ]  # fmt: skip
    bars = views.quota_bars(rows)
    assert [b["label"] for b in bars] == ["gpu-a · HIGH", "all groups, all priorities (node_limit)"]
    assert [b["source"] for b in bars] == ["ann", "no quota row"]
    assert [b["pct"] for b in bars] == [25, 0]


CLUSTER = {
    "groups": [
        {"group": "a", "nodes": 4, "busy": 2, "free": 1, "cordoned": 1, "unhealthy": 0, "gpus": 32,
         "running": 2, "queued": {"HIGH": 1, "NORMAL": 3}},
        {"group": "b", "nodes": 2, "busy": 0, "free": 1, "cordoned": 0, "unhealthy": 1, "gpus": 0,
         "running": 0, "queued": {"LOW": 2}},
    ]
}  # fmt: skip


def test_group_rows_bar_over_usable_nodes() -> None:
    rows = views.group_rows(CLUSTER)
    assert [(r["group"], r["text"], r["pct"]) for r in rows] == [
        ("a", "2 / 3", 67),
        ("b", "0 / 1", 0),
    ]


def test_queue_rows_highest_priority_first_and_only_levels_with_tasks() -> None:
    groups, rows = views.queue_rows(CLUSTER)
    assert groups == ["a", "b"]
    assert [(r["priority"], r["counts"], r["total"]) for r in rows] == [
        ("HIGH", [1, 0], 1),
        ("NORMAL", [3, 0], 3),
        ("LOW", [0, 2], 2),
    ]


@pytest.mark.parametrize(
    ("why", "lines"),
    [
        ({"decision": "none", "summary": "not scheduled: it finished successfully"},
         ["It is not scheduled: it finished successfully."]),
        ({"decision": "wait", "summary": "waits for quota", "position": 2, "group": "g",
          "quota": {"resource": "node-g-NORMAL", "limit": 1, "principal": "public", "in_use": 1},
          "ahead_count": 1, "eta_s": 90},
         ["Waits for quota.", "It is number 2 in the g queue.",
          "Its owner may hold 1 node(s) under node-g-NORMAL (from public) and holds 1.",
          "1 task(s) are ahead of it.", "It should start in about 1m30s."]),
        ({"decision": "start", "summary": "starts next.", "would_preempt": [4, 5],
          "waiting_for": [4], "preempt_blockers": ["task 9 is EXTREME_HIGH"]},
         ["Starts next.", "Starting it would suspend task(s) 4, 5.",
          "It waits for task(s) 4 to finish suspending.", "It cannot preempt: task 9 is EXTREME_HIGH."]),
    ],
)  # fmt: skip
def test_plain_why(why: dict, lines: list[str]) -> None:
    assert views.plain_why(why) == lines


@pytest.mark.parametrize(
    ("start", "end", "parts"),
    [
        (0.0, 10.0, [(0.0, 10.0)]),
        (90.0, 250.0, [(0.0, 10.0), (100.0, 100.0), (200.0, 50.0)]),
        (100.0, 100.0, []),
        (150.0, 200.0, [(100.0, 50.0)]),
    ],
)
def test_split_by_bucket(start: float, end: float, parts: list) -> None:
    assert split_by_bucket(start, end, 100.0) == parts
    assert sum(s for _, s in parts) == end - start


@pytest.mark.parametrize(
    ("resource", "level"),
    [("node-default-NORMAL", ("default", "NORMAL")), ("node-gpu-a-EXTREME_HIGH", ("gpu-a", "EXTREME_HIGH")),
     ("node_limit", None), ("node-x-BOGUS", None), ("node--HIGH", None), ("jupyter-cpu", None)],
)  # fmt: skip
def test_resource_level(resource: str, level: tuple | None) -> None:
    assert resource_level(resource) == level


def test_line_chart_scales_into_the_frame() -> None:
    c = charts.line_chart(
        {"a": [(0.0, 0.0), (50.0, 50.0), (100.0, 100.0)]}, 0.0, 100.0, y_max=100.0
    )
    pts = [tuple(map(float, p.split(","))) for p in c["series"][0]["points"].split()]
    assert pts[0] == (c["left"], c["bottom"])  # (t0, 0): bottom left
    assert pts[-1] == (c["right"], c["top"])  # (t1, max): top right
    assert c["y_max"] == "100" and not c["empty"]
    assert charts.line_chart({}, 0.0, 100.0)["empty"]


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (1, 1), (1.5, 2), (3, 5), (7, 10), (11, 20), (480, 500)]
)
def test_nice_max(value: float, top: float) -> None:
    assert charts._nice_max(value) == top


def test_bar_chart_one_bar_per_bucket_missing_ones_zero() -> None:
    c = charts.bar_chart({3600.0: 2.0, 3 * 3600.0: 4.0}, 3600.0, 4 * 3600.0, 3600.0)
    assert [b["value"] for b in c["bars"]] == ["2", "0", "4", "0"]
    assert c["y_max"] == "5"  # 4 rounded up to a nice top
    assert c["bars"][2]["h"] == pytest.approx((c["bottom"] - c["top"]) * 4 / 5, abs=0.1)
    assert c["bars"][0]["h"] == pytest.approx(c["bars"][2]["h"] / 2, abs=0.1)


def test_home_charts_from_history() -> None:
    history = {
        "samples": [
            {"at": 7200.0, "group": "a", "nodes": 4, "busy": 2, "queued": 3, "running": 1, "preemptions": 1},
            {"at": 7200.0, "group": "b", "nodes": 0, "busy": 0, "queued": 1, "running": 0, "preemptions": 0},
            {"at": 7260.0, "group": "a", "nodes": 4, "busy": 4, "queued": 0, "running": 2, "preemptions": 2},
        ],
        "my_usage": [{"day": 0.0, "node_hours": 5.0, "gpu_hours": 0.0}],
    }  # fmt: skip
    util, queued, preempt, mine = charts.home_charts(history, 3600.0, 10800.0)
    assert [s["name"] for s in util["series"]] == ["a", "b"]
    assert util["series"][0]["n"] == 2
    assert queued["series"][0]["n"] == 2 and queued["y_max"] == "5"  # 4 then 0 queued
    # a young server: the sample charts start at its first sample (7200), not at t0
    assert util["x_labels"][0]["text"] == "02:00" and preempt["x_labels"][0]["text"] == "02:00"
    assert [b["value"] for b in preempt["bars"]] == ["3", "0"]
    assert not preempt["empty"] and "none" in preempt
    assert mine["title"].startswith("My node-hours")  # no GPUs anywhere: node-hours


def test_downsample_keeps_short_series_and_averages_long_ones() -> None:
    short = [(float(t), 1.0) for t in range(10)]
    assert charts.downsample(short, 0.0, 10.0) == short
    long = [(float(t), float(t % 2)) for t in range(2400)]  # 0, 1, 0, 1, ...
    out = charts.downsample(long, 0.0, 2400.0)
    assert len(out) == charts.MAX_POINTS
    assert all(y == pytest.approx(0.5) for _, y in out)  # each slice: 5 zeros and 5 ones
    assert [t for t, _ in out] == sorted(t for t, _ in out)
