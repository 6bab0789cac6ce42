"""Item 6 of the probe: user text that would drive a terminal (OSC title, clear screen, C1 CSI,
bidi override) comes out escaped wherever the CLI and the TUI show it; the task itself keeps
its argv byte for byte."""

from __future__ import annotations

import json
import time

from hai_cli.tui.detail import detail_text
from hai_cli.tui.model import row_values
from tests.support.e2e import Platform

EVIL = ["\x1b]0;pwned\x07", "\x1b[2J", "\u009b31m", "\u202eexe.txt"]


def _task(**extra: object) -> dict:
    now = time.time()
    base = {
        "id": 7, "name": "n\x1b[2J", "user": "bob\u202e", "state": "failed", "priority": "NORMAL",
        "group": "default", "nodes": 1, "restart_count": 0, "submitted_at": now, "started_at": now,
        "ended_at": now, "exit_code": 1, "command": ["echo", *EVIL], "workdir": "/tmp",
        "detail": "start_failed: \x1b[31mred", "reason": None,
        "events": [{"at": now, "kind": "start_failed", "message": "no \x1b]0;x\x07 here"}],
    }  # fmt: skip
    return {**base, **extra}


def test_the_tui_shows_escapes_not_controls() -> None:
    cells = row_values(_task(), time.time())
    assert all("\x1b" not in c and "\u202e" not in c for c in cells)
    assert "n\\x1b[2J" in cells and "bob\\u202e" in cells
    text = detail_text(_task(), None, time.time()).plain
    assert "\x1b" not in text and "\u202e" not in text
    assert "\\x1b]0;x\\x07" in text and "\\x1b[31mred" in text


def test_status_and_list_print_escapes(platform: Platform) -> None:
    res = platform.ok("exec", "/bin/echo", *EVIL, "--", "--json")
    task = json.loads(res.stdout)
    assert task["command"][1:] == EVIL  # kept as given
    platform.wait_state(task["id"], "succeeded", "failed")
    status = platform.ok("status", str(task["id"])).stdout
    listing = platform.ok("list").stdout
    for out in (status, listing):
        assert "\x1b" not in out and "\u009b" not in out and "\u202e" not in out, repr(out)
    assert "\\x1b]0;pwned\\x07 \\x1b[2J \\x9b31m \\u202eexe.txt" in status
