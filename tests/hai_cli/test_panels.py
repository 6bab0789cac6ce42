"""The original's panels as text (hai_cli/panels.py): nodes --tree and whoami's quota bars."""

from __future__ import annotations

from hai_cli.panels import bar, node_tree, quota_panel


def node(name: str, group: str, zone: str | None, state: str, tasks: list[int]) -> dict:
    return {"name": name, "group": group, "zone": zone, "state": state, "gpus": 8, "tasks": tasks}


def test_node_tree_groups_zones_nodes() -> None:
    nodes = [
        node("b1", "a100", "z2", "busy", [7]),
        node("a1", "a100", "z1", "free", []),
        node("a2", "a100", "z1", "cordoned", []),
        node("c1", "cpu", None, "free", []),
    ]
    assert node_tree(nodes) == (
        "a100  3 node(s): 1 free, 1 busy, 1 other\n"
        "├── zone z1\n"
        "│   ├── a1  free  8 GPU(s)\n"
        "│   └── a2  cordoned  8 GPU(s)\n"
        "└── zone z2\n"
        "    └── b1  busy  8 GPU(s)  tasks 7\n"
        "cpu  1 node(s): 1 free, 0 busy, 0 other\n"
        "└── zone -\n"
        "    └── c1  free  8 GPU(s)\n"
    )
    assert "`-- zone z2" in node_tree(nodes, ascii_only=True)
    assert node_tree([]) == "no nodes\n"


def test_names_are_shown_safely_and_lines_fit_80_columns() -> None:
    text = node_tree([node("n\x1b[2J" + "x" * 200, "g\u202e", "z", "busy", list(range(50)))])
    assert "\x1b" not in text and "\u202e" not in text
    assert all(len(line) <= 80 for line in text.splitlines())


def test_bars() -> None:
    assert bar(5, 10, width=10) == "[█████░░░░░]  5 / 10"
    assert bar(0, 0, width=4, ascii_only=True) == "[----]  0 / 0"
    assert bar(3, 2, width=4) == "[████]  3 / 2  over"
    assert bar(1, 0, width=4) == "[████]  1 / 0  over"
    assert bar(2, None, width=4) == "[    ]  2 / no limit"


def test_quota_panel() -> None:
    rows = [
        {
            "resource": "node-a100-HIGH",
            "group": "a100",
            "priority": "HIGH",
            "limit": 4,
            "in_use": 1,
        },
        {"resource": "node_limit", "group": None, "priority": None, "limit": 10, "in_use": 1},
    ]
    lines = quota_panel(rows).splitlines()
    assert lines[0] == "node quota (nodes in use / limit):"
    assert lines[1].startswith("  a100 HIGH ") and lines[1].endswith(
        "[██████░░░░░░░░░░░░░░░░░░]  1 / 4"
    )
    assert lines[2].startswith("  node_limit ")
    assert quota_panel([]) == "node quota: no quota rows apply (unrestricted)\n"
