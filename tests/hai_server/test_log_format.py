"""HAI_LOG_FORMAT: the server's log as JSON lines for log pipelines, text by default; a wrong
value is refused before anything starts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.pg import free_port
from tests.support.pg_server import ServerProc, server_env


def test_json_log_lines(tmp_path: Path) -> None:
    env = server_env(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'hai.db'}", None, 1)
    env["HAI_LOG_FORMAT"] = "json"
    server = ServerProc(tmp_path, env, free_port(), "json").start()
    server.stop()
    lines = [ln for ln in server.log.read_text().splitlines() if ln.strip()]
    records = [json.loads(ln) for ln in lines]  # every line is one JSON object
    assert records, "the server logged nothing"
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records), records
    assert any(
        r["logger"] == "hai.server" and r["message"].startswith("listening on") for r in records
    ), records


def test_text_is_the_default(tmp_path: Path) -> None:
    env = server_env(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'hai.db'}", None, 1)
    server = ServerProc(tmp_path, env, free_port(), "text").start()
    server.stop()
    lines = server.log.read_text().splitlines()
    assert not any(ln.startswith("{") for ln in lines), lines
    assert any(" INFO hai.server: listening on http://127.0.0.1:" in ln for ln in lines), lines


def test_a_wrong_format_is_refused(tmp_path: Path) -> None:
    env = server_env(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'hai.db'}", None, 1)
    env["HAI_LOG_FORMAT"] = "yaml\x1b"
    res = subprocess.run(
        [sys.executable, "-m", "hai_server.main", "--port", "0"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 2
    assert "HAI_LOG_FORMAT must be one of text, json" in res.stderr
    assert "Traceback" not in res.stderr
