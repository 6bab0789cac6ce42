"""Helpers of the TUI tests: a real embedded server, task scripts, pilot waits, screen text."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hai_cli.client import Client
from tests.support.pg import ServerDatabase

SCRIPTS = {
    # prints a line a second, suspends politely when asked
    "sleeper.py": """
import time
from hai_cli import runtime
for i in range(600):
    print("tick", i, flush=True)
    if runtime.receive_suspend_command():
        print("saving and suspending", flush=True)
        runtime.go_suspend()
    time.sleep(0.2)
""",
    # a fast printer: 20,000 lines at once, then a marker, then a little idle time
    "flood.py": """
import sys, time
out = sys.stdout
for i in range(20000):
    out.write(f"flood line {i} " + "x" * 40 + "\\n")
out.write("FLOOD-DONE\\n")
out.flush()
time.sleep(1.5)
""",
}


class Server:
    """A real embedded server (2 virtual nodes) on SQLite or on PostgreSQL + Redis."""

    def __init__(self, home: Path, database: ServerDatabase) -> None:
        self.home = home
        self.database = database.kind
        self.token = "hai_test_" + secrets.token_urlsafe(12)
        env = dict(os.environ)
        for key in ("HAI_SERVER_URL", "HAI_TOKEN", "HAI_DATABASE_URL", "HAI_REDIS_URL"):
            env.pop(key, None)
        env.pop("HAI_BACKEND", None)
        env.update(
            HAI_ADMIN_TOKEN=self.token,
            HAI_HOME=str(home),
            HAI_SCHEDULER__GRACE_S="10",
            HAI_SCHEDULER__KILL_GRACE_S="1",
        )
        state = home / "server.json"
        self.log = open(home / "server.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "hai_server.main", "--embedded", "--home", str(home)),
                *("--port", "0", "--state-file", str(state), "--nodes", "2"),
                *database.server_args(),
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while not state.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((home / "server.log").read_text()[-2000:])
            time.sleep(0.05)
        time.sleep(0.05)
        self.url = json.loads(state.read_text())["url"]
        for name, text in SCRIPTS.items():
            (home / name).write_text(text)

    def client(self) -> Client:
        return Client(self.url, self.token)

    def submit(self, script: str, name: str, nodes: int = 1, priority: str = "NORMAL") -> int:
        body = {
            "argv": [sys.executable, "-u", str(self.home / script)],
            "workdir": str(self.home),
            "nodes": nodes,
            "priority": priority,
            "name": name,
            "env": {"PYTHONPATH": str(Path(__file__).resolve().parents[2])},
            "kind": "python",
        }
        return int(self.client().submit(body)["id"])

    def stop_all(self) -> None:
        c = self.client()
        active = ["queued", "starting", "running", "suspending", "suspended"]
        for t in c.list_tasks(states=active, all_users=True, limit=1000)["tasks"]:
            with contextlib.suppress(Exception):
                c.action(t["id"], "stop")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if not c.list_tasks(states=active[1:], all_users=True)["total"]:
                break
            time.sleep(0.1)
        c.close()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


async def until(pilot: Any, check: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    """Let the app run until check() is truthy (polling), or fail the test."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await pilot.pause(0.05)


def wait_sync(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {check}")


def screen_text(app: Any) -> str:
    """What the terminal shows, as plain text."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in s).rstrip() for s in strips)
