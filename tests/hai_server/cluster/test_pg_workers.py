"""``hai-server --workers N``: N replicas behind one port (real processes, real PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hai_cli.client import Client
from tests.support.pg import free_port
from tests.support.pg_server import ADMIN_TOKEN, ServerProc, server_env

pytestmark = [pytest.mark.e2e]


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as fh:
        return [int(c) for c in fh.read().split()]


def test_two_workers_share_the_port_and_one_leads(pg_url: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = server_env(home, pg_url, None, nodes=2)
    env["HAI_WORKERS"] = "2"
    server = ServerProc(home, env, free_port(), "workers").start()
    try:
        assert server.proc is not None
        workers = _children(server.proc.pid)
        assert len(workers) == 2
        # connections spread over both workers: each is a replica with its own id
        seen: dict[str, bool] = {}
        deadline = time.monotonic() + 20
        while len(seen) < 2 and time.monotonic() < deadline:
            h = server.health()  # a new connection each time
            seen[h["replica"]] = h["leader"]
        assert len(seen) == 2, seen
        assert sorted(seen.values()) == [False, True], "exactly one worker leads"
        client = Client(server.url, ADMIN_TOKEN)
        task = client.submit({"argv": ["true"], "workdir": str(tmp_path), "kind": "exec"})
        while client.task(task["id"])["state"] != "succeeded":
            assert time.monotonic() < deadline + 30
            time.sleep(0.1)
        # SIGTERM to the parent stops every worker
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(20) == 0
        for pid in workers:
            assert not os.path.exists(f"/proc/{pid}") or _zombie(pid)
    finally:
        server.stop()


def _zombie(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0] == "Z"


def test_workers_need_postgresql(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAI_")}
    env.update({"HAI_HOME": str(tmp_path), "HAI_WORKERS": "2"})
    out = subprocess.run(
        [sys.executable, "-m", "hai_server.main", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "--workers 2 needs PostgreSQL" in out.stderr
    assert "Traceback" not in out.stderr
