"""Quotas through ``hai-cli`` on a real cluster-mode server (SQLite and PostgreSQL): a
submission that can never run exits non-zero naming the row; ``-f`` on a task that waits
prints its reason and position while it waits, then follows it to the end."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.pg import free_port
from tests.support.pg_server import ADMIN_TOKEN, ServerProc, server_env

pytestmark = pytest.mark.e2e


def cli(url: str, token: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAI_")}
    env.update({"HAI_SERVER_URL": url, "HAI_TOKEN": token, "HAI_HOME": "/nonexistent"})
    return subprocess.run(
        [sys.executable, "-m", "hai_cli.main", *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=90,
    )  # fmt: skip


def test_cli_refuses_what_can_never_run_and_follow_shows_the_wait(
    db_url: str, tmp_path: Path
) -> None:
    env = server_env(tmp_path / "home", db_url, None, nodes=2)
    del env["HAI_SCHEDULER__DEFAULT_QUOTA"]  # a cluster's default: no row, no access
    server = ServerProc(tmp_path / "home", env, free_port(), "s")
    (tmp_path / "home").mkdir()
    server.start()
    work = tmp_path / "work"
    work.mkdir()
    (work / "nap.py").write_text(
        "import time, sys\ntime.sleep(float(sys.argv[1]))\nprint('woke')\n"
    )
    try:
        r = cli(server.url, ADMIN_TOKEN, work, "admin", "user", "add", "alice", "--uid",
                str(os.getuid()))  # fmt: skip
        assert r.returncode == 0, r.stderr
        token = re.search(r"(hai_\S+)", r.stdout).group(1)  # type: ignore[union-attr]

        r = cli(server.url, token, work, "python", "nap.py", "0", "--")
        assert r.returncode == 5, (r.returncode, r.stderr)
        assert r.stderr.startswith("error: no quota row node-default-NORMAL applies to alice")
        assert "Traceback" not in r.stderr

        r = cli(server.url, ADMIN_TOKEN, work, "admin", "quota", "set", "public",
                "node-default-NORMAL", "1")  # fmt: skip
        assert r.returncode == 0, r.stderr
        r = cli(server.url, token, work, "python", "nap.py", "0", "--", "-n", "2")
        assert r.returncode == 5
        assert "quota node-default-NORMAL (row of public) allows alice 1 node(s)" in r.stderr

        # one node in use at NORMAL: the next task waits for alice's quota, and -f says so
        r = cli(server.url, token, work, "python", "nap.py", "4", "--", "--json")
        assert r.returncode == 0, r.stderr
        r = cli(server.url, token, work, "python", "nap.py", "0", "--", "-f")
        assert r.returncode == 0, r.stderr
        assert re.search(r"task \d+ waiting: quota_exceeded, position 1 \(node-default-NORMAL "
                         r"\(public\): 1 of 1 nodes in use", r.stderr), r.stderr  # fmt: skip
        assert r.stderr.count("waiting: quota_exceeded") == 1  # printed once, not every poll
        assert "woke" in r.stdout and r.stderr.rstrip().endswith("succeeded")
    finally:
        server.stop()


def test_cli_storage_and_images(db_url: str, tmp_path: Path) -> None:
    """``admin storage``, ``storage list``, ``admin images``, ``images list`` and ``-i`` refused
    on the local backend, each with its exit code and message."""
    home = tmp_path / "home"
    home.mkdir()
    server = ServerProc(home, server_env(home, db_url, None, nodes=1), free_port(), "s")
    server.start()
    ws = tmp_path / "ws"
    (ws / "root").mkdir(parents=True)
    (ws / "root" / "t.py").write_text("print('in the workspace')\n")
    try:
        run = lambda *a: cli(server.url, ADMIN_TOKEN, ws / "root", *a)  # noqa: E731
        r = run("admin", "storage", "add", f"{ws}/{{user.user_name}}", f"{ws}/{{user.user_name}}")
        assert r.returncode == 0 and r.stdout.startswith("storage row 1: "), r.stderr
        r = run("admin", "storage", "add", "/a", "/x/../etc")
        assert r.returncode == 2 and "'..' is not allowed" in r.stderr
        r = run("admin", "storage", "add", "/a", "/b", "-c", "__import__('os')")
        assert r.returncode == 2 and "is not allowed" in r.stderr
        r = run("admin", "storage", "list")
        assert r.returncode == 0 and "{user.user_name}" in r.stdout
        assert all(len(line) <= 80 for line in r.stdout.splitlines()), r.stdout
        r = run("storage", "list", "--json")
        assert '"mount_path": "' + f"{ws}/root" in r.stdout
        r = run("admin", "images", "add", "hai_base", "reg/hai/train:1", "-e", "HF_HOME=/x")
        assert r.returncode == 0, r.stderr
        r = run("images", "list")
        assert r.returncode == 0 and "* hai_base" in r.stdout and "HF_HOME=/x" in r.stdout
        r = run("python", "t.py", "--", "-i", "hai_base")
        assert r.returncode == 2 and "local backend runs ranks as processes" in r.stderr
        r = run("python", "t.py", "--", "-f")
        assert r.returncode == 0 and "in the workspace" in r.stdout, r.stderr
        r = cli(server.url, ADMIN_TOKEN, tmp_path, "exec", "/bin/true", "--")
        assert r.returncode == 2 and "outside your storage mounts" in r.stderr
        r = run("admin", "storage", "remove", "1")
        assert r.returncode == 0 and r.stdout.startswith("removed storage row 1")
        r = run("admin", "storage", "remove", "1")
        assert r.returncode == 3 and "no storage row 1" in r.stderr
        r = run("admin", "images", "remove", "nope")
        assert r.returncode == 3 and "no train environment 'nope'" in r.stderr
    finally:
        server.stop()
