"""The fault suite: the platform is hurt while it works, and nothing is lost, nothing runs
twice and no process is left behind.

* the embedded server is SIGKILLed repeatedly while a queue of tasks runs through (both
  databases);
* a rank forks a daemon that calls ``setsid()`` (leaving the rank's process group) and exits,
  or stays deaf to SIGTERM until the task is stopped: the daemon still ends with the task;
* PostgreSQL is restarted (immediate shutdown: every connection dropped) mid-run;
* Redis goes away mid-run and comes back.
"""

from __future__ import annotations

import collections
import json
import os
import re
import signal
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.e2e import Platform, start_platform
from tests.support.pg import RedisServer, ServerDatabase, server_database

SCRIPTS = Path(__file__).parent / "scripts"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_gone(pid: int, within: float = 15) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def _server_pid(plat: Platform) -> int:
    return int(json.loads((plat.home / "server.json").read_text())["pid"])


def _kill_server(plat: Platform) -> None:
    pid = _server_pid(plat)
    os.kill(pid, signal.SIGKILL)
    assert _wait_gone(pid, 10), "the killed server is still there"


def _runs(marker: Path) -> collections.Counter[tuple[str, str]]:
    """(kind, task id) -> how many times, from the marker file of tests/e2e/scripts/once.py."""
    seen: collections.Counter[tuple[str, str]] = collections.Counter()
    if marker.exists():
        for line in marker.read_text().splitlines():
            kind, task_id, _attempt = line.split()
            seen[(kind, task_id)] += 1
    return seen


def _assert_no_rank_left(plat: Platform) -> None:
    left = [
        pid
        for name in os.listdir("/proc")
        if name.isdigit() and _alive(pid := int(name))
        for cmd in [_cmdline(pid)]
        if "hai_cli.rankrun" in cmd and str(plat.home) in cmd
    ]
    assert not left, f"rank wrappers left running: {left}"


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_sigkill_under_load_loses_nothing_and_runs_nothing_twice(
    tmp_path: Path, database: ServerDatabase
) -> None:
    plat = start_platform(tmp_path, 2, database, scheduler__tick_s="0.2")
    marker = tmp_path / "runs.txt"
    try:
        ids = [
            plat.submit(SCRIPTS / "once.py", str(marker), str(0.4 + 0.2 * (i % 4)))
            for i in range(10)
        ]
        for _ in range(3):  # kill it three times while the queue drains
            deadline = time.monotonic() + 30
            while not marker.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.6)
            _kill_server(plat)
            plat.ok("server", "start", "--nodes", "2")  # what the next command would do
        tasks = [plat.wait_state(i, "succeeded", "failed", "stopped", timeout=120) for i in ids]
        assert [t["state"] for t in tasks] == ["succeeded"] * len(ids), tasks
        runs = _runs(marker)
        for t in tasks:
            key = str(t["id"])
            # one start per attempt the platform made (a restart is a new attempt, on purpose)
            assert runs[("start", key)] == t["restart_count"] + 1, (t, runs)
            assert runs[("done", key)] == 1, (t, runs)
    finally:
        plat.stop_everything()
    _assert_no_rank_left(plat)


@pytest.fixture
def sqlite_platform(tmp_path: Path):
    with server_database("sqlite") as db:
        plat = start_platform(tmp_path, 1, db, scheduler__kill_grace_s="1")
        yield plat
        plat.stop_everything()


def _pids(log: str, what: str) -> tuple[int, int]:
    found = re.search(rf"{what} (\d+) pgid (\d+)", log)
    assert found, log
    return int(found.group(1)), int(found.group(2))


def test_a_rank_that_daemonises_and_exits_leaves_nothing(sqlite_platform: Platform) -> None:
    plat = sqlite_platform
    task_id = plat.submit(SCRIPTS / "escape.py", "exit")
    task = plat.wait_state(task_id, "succeeded", "failed", timeout=60)
    assert task["state"] == "succeeded", task
    log = plat.log(task_id)
    escapee, escapee_group = _pids(log, "escapee")
    _main, main_group = _pids(log, "main")
    assert escapee_group != main_group  # it did leave the rank's process group
    assert _wait_gone(escapee), "a setsid daemon outlived its task"


def test_a_stopped_rank_takes_its_setsid_daemon_with_it(sqlite_platform: Platform) -> None:
    plat = sqlite_platform
    task_id = plat.submit(SCRIPTS / "escape.py", "stay")
    plat.wait(task_id, lambda t: "main " in plat.log(task_id), what="both processes up")
    escapee, _ = _pids(plat.log(task_id), "escapee")
    assert _alive(escapee)
    plat.ok("stop", str(task_id))
    task = plat.wait_state(task_id, "stopped", "failed", timeout=60)
    assert task["state"] == "stopped", task
    assert _wait_gone(escapee), "a deaf setsid daemon survived its task's stop"


def _private_postgres():
    import pgserver

    # under /tmp, not tmp_path: as root, pgserver runs postgres as its own user, who cannot
    # enter pytest's 0700 directories
    srv = pgserver.get_server(tempfile.mkdtemp(prefix="hai-pg-fault-"), cleanup_mode="delete")
    srv.psql("ALTER SYSTEM SET fsync = off;")
    srv.psql("SELECT pg_reload_conf();")
    return srv


def _restart_postgres(srv) -> None:
    from pgserver._commands import pg_ctl

    pg_ctl(["-w", "-m", "immediate", "restart"], pgdata=srv.pgdata, user=srv.system_user)


def test_postgresql_restarted_mid_run(tmp_path: Path) -> None:
    srv = _private_postgres()
    redis = RedisServer().start()
    url = srv.get_uri().replace("postgresql://", "postgresql+psycopg://")
    db = ServerDatabase("postgres", url, redis.url)
    plat = start_platform(tmp_path, 2, db, scheduler__tick_s="0.2")
    marker = tmp_path / "runs.txt"
    try:
        ids = [plat.submit(SCRIPTS / "once.py", str(marker), "3") for _ in range(4)]
        plat.wait_state(ids[0], "running", "succeeded", timeout=60)
        _restart_postgres(srv)  # every connection of the server is cut mid-tick
        time.sleep(1)
        _restart_postgres(srv)
        tasks = [plat.wait_state(i, "succeeded", "failed", "stopped", timeout=120) for i in ids]
        assert [t["state"] for t in tasks] == ["succeeded"] * 4, tasks
        runs = _runs(marker)
        for t in tasks:
            assert runs[("start", str(t["id"]))] == t["restart_count"] + 1, (t, runs)
            assert runs[("done", str(t["id"]))] == 1, (t, runs)
        assert plat.json("server", "status")["health"]["status"] == "ok"
    finally:
        plat.stop_everything()
        redis.stop()
        srv.cleanup()
    _assert_no_rank_left(plat)


def test_redis_down_mid_run_and_back(tmp_path: Path) -> None:
    with server_database("postgres") as shared:
        redis = RedisServer().start()
        db = ServerDatabase("postgres", shared.url, redis.url)
        plat = start_platform(tmp_path, 1, db, scheduler__tick_s="0.2")
        marker = tmp_path / "runs.txt"
        try:
            first = plat.submit(SCRIPTS / "once.py", str(marker), "2")
            plat.wait_state(first, "running", "succeeded", timeout=60)
            redis.stop()
            # without Redis: the task finishes, a new one is accepted and runs, status answers
            second = plat.submit(SCRIPTS / "once.py", str(marker), "0.2")
            for task_id in (first, second):
                assert plat.wait_state(task_id, "succeeded", "failed", timeout=60)["state"] == (
                    "succeeded"
                )
            assert "finished" in plat.log(second)
            redis.start()
            third = plat.submit(SCRIPTS / "once.py", str(marker), "0.2")
            assert plat.wait_state(third, "succeeded", "failed", timeout=60)["state"] == (
                "succeeded"
            )
            runs = _runs(marker)
            assert all(runs[("done", str(i))] == 1 for i in (first, second, third)), runs
        finally:
            plat.stop_everything()
            redis.stop()
    _assert_no_rank_left(plat)
