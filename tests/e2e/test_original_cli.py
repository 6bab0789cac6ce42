"""The original's everyday commands on a real embedded server: stop --succeeded/--failed,
list -p/-ps, nodes --tree, --version, whoami's quota bars."""

from __future__ import annotations

import json

import pytest

from tests.support.e2e import EXAMPLES, Platform

pytestmark = pytest.mark.e2e
TRAIN = EXAMPLES / "train.py"
LONG = ("--steps", "10000", "--step-time", "0.05")


def test_stop_with_an_outcome(platform: Platform) -> None:
    running = platform.submit(TRAIN, *LONG, opts=("--name", "oc-run"))
    platform.wait_state(running, "running")
    waiting = platform.submit(TRAIN, *LONG, opts=("--name", "oc-wait"))
    res = platform.ok("stop", "oc-wait", "--failed")
    assert res.stdout.strip() == f"task {waiting} (oc-wait): failed"
    assert platform.task(waiting)["state"] == "failed"
    platform.ok("stop", "oc-run", "--succeeded")
    done = platform.wait_state(running, "succeeded", "stopped", "failed")
    assert done["state"] == "succeeded" and done["exit_code"] == 0
    assert "stopped by request; marked succeeded" in [e["message"] for e in done["events"]]
    assert platform.json("status", str(running))["attempts"][-1]["outcome"] == "succeeded"
    for args, words in (
        (("stop", str(running), "--succeeded", "--failed"), "not both"),
        (("suspend", str(running), "--failed"), "go with stop, not suspend"),
        (("stop", str(running), "--failed"), "is already succeeded"),
    ):
        res = platform.cli(*args)
        assert res.returncode == 2 and words in res.stderr, (args, res.stderr)
    assert platform.task(running)["state"] == "succeeded"  # nothing changed


def test_pages_tree_version_and_quota_bars(platform: Platform) -> None:
    ids = [platform.submit(TRAIN, "--steps", "1", "--step-time", "0") for _ in range(3)]
    total = platform.json("list")["total"]
    page = platform.ok("list", "-p", "2", "-ps", "2").stdout.splitlines()
    assert page[-1] == f"page 2 of {-(-total // 2)}"
    listed = json.loads(platform.ok("list", "-p", "1", "-ps", "2", "--json").stdout)
    assert [t["id"] for t in listed["tasks"]] == sorted(ids, reverse=True)[:2]
    assert platform.cli("list", "-p", "0").returncode == 2

    tree = platform.ok("nodes", "--tree").stdout.splitlines()
    assert tree[0].startswith("default  1 node(s):") and tree[1] == "└── zone local"
    assert tree[2].startswith("    └── local-0  ")

    assert platform.ok("--version").stdout.startswith("hai-cli 0.")

    me = platform.json("whoami")
    assert me["quota"] == []
    platform.ok("admin", "quota", "set", me["user"], "node-default-HIGH", "2")
    busy = platform.submit(TRAIN, *LONG, opts=("-p", "HIGH"))
    platform.wait_state(busy, "running")
    text = platform.ok("whoami").stdout
    assert "default HIGH" in text and "]  1 / 2" in text, text
    rows = platform.json("whoami")["quota"]
    assert {"group": "default", "priority": "HIGH", "limit": 2, "in_use": 1}.items() <= rows[
        0
    ].items()
    platform.ok("stop", str(busy))
    platform.ok("admin", "quota", "delete", me["user"], "node-default-HIGH")
