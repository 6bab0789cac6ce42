"""The embedded server after the outside probe (issue 19), through the real CLI and server:
its settings survive a crash and an on-demand restart (item 4), the last admin token cannot be
revoked and `server recover` undoes a lock-out (item 3), `server stop` says which tasks keep
running and `--tasks` stops them (item 10), its files are private (item 7)."""

from __future__ import annotations

import json
import os
import signal
import stat
import time
from pathlib import Path

import pytest

from hai_cli.embedded import free_port
from tests.support.e2e import Platform, clean_env
from tests.support.pg import ServerDatabase

pytestmark = pytest.mark.e2e


@pytest.fixture
def plat(tmp_path: Path) -> Platform:
    home = tmp_path / "hai"
    env = clean_env(home, ServerDatabase("sqlite"))
    env["HAI_SCHEDULER__TICK_S"] = "0.3"
    p = Platform(home, env)
    yield p
    p.stop_everything()


def _server(p: Platform) -> dict:
    return p.json("server", "status")


def test_settings_survive_a_crash_and_an_on_demand_restart(plat: Platform) -> None:
    plat.ok("server", "start", "--nodes", "3")
    first = _server(plat)
    assert len(_training(plat)) == 3
    os.kill(first["pid"], signal.SIGKILL)  # a crash
    while _alive(first["pid"]):
        time.sleep(0.05)
    plat.ok("list")  # any command starts it again, on demand
    again = _server(plat)
    assert again["pid"] != first["pid"] and again["url"] == first["url"]  # the same port
    assert len(_training(plat)) == 3  # and the same nodes
    plat.ok("server", "stop")
    old_port = int(first["url"].rsplit(":", 1)[1])
    port = free_port()  # not the old port + 1: another program may hold that one (CI did)
    while port == old_port:
        port = free_port()
    plat.ok("server", "start", "--port", str(port))  # --port changes it, for good
    assert _server(plat)["url"].endswith(f":{port}")
    assert len(_training(plat)) == 3
    kept = json.loads((plat.home / "embedded.json").read_text())
    assert kept == {"nodes": 3, "port": port}


def test_the_last_admin_token_is_refused_and_recover_undoes_a_lock_out(plat: Platform) -> None:
    plat.ok("server", "start")
    tokens = plat.json("admin", "token", "list")["tokens"]
    [mine] = [t for t in tokens if t["active"]]
    res = plat.cli("admin", "token", "revoke", str(mine["id"]))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines() == [
        f"error: token {mine['id']} is the last working admin token: revoking it would lock "
        f"every admin out. Create another first (hai-cli admin token new {mine['user']}), "
        "then revoke this one"
    ]
    # with a second admin token the first may go: then this CLI is locked out...
    plat.ok("admin", "token", "new", mine["user"])
    plat.ok("admin", "token", "revoke", str(mine["id"]))
    locked = plat.cli("list")
    assert locked.returncode == 5 and "invalid or revoked token" in locked.stderr
    plat.ok("server", "stop")
    assert plat.cli("list").returncode == 5  # ...even after a restart
    # ...until someone with the state directory recovers it
    res = plat.ok("server", "recover")
    assert "admin access restored" in res.stdout
    assert plat.json("whoami")["role"] == "admin"


def test_stop_says_what_keeps_running_and_stops_it_when_asked(plat: Platform) -> None:
    plat.ok("server", "start", "--nodes", "2")
    script = plat.workdir / "sleepy.py"
    script.write_text("import time\nprint('up', flush=True)\ntime.sleep(120)\n")
    ids = [plat.submit(script, opts=("--name", f"s{i}")) for i in range(2)]
    for i in ids:
        plat.wait_state(i, "running")
    res = plat.ok("server", "stop")
    assert f"2 task(s) ({ids[0]}, {ids[1]}) keep running: 2 rank process(es)" in res.stdout
    assert "hai-cli server stop --tasks" in res.stdout
    assert all(plat.task(i)["state"] == "running" for i in ids)  # adopted again
    res = plat.ok("server", "stop", "--tasks")
    assert "stopped 2 task(s)" in res.stdout and "keep running" not in res.stdout
    for pid_file in plat.home.glob("runs/*/rank*/pid"):
        assert not _alive(int(pid_file.read_text())), pid_file


def test_the_state_directory_is_private(plat: Platform) -> None:
    plat.ok("server", "start")
    script = plat.workdir / "t.py"
    script.write_text("print('x')\n")
    plat.wait_state(plat.submit(script), "succeeded")
    home = plat.home
    assert stat.S_IMODE(home.stat().st_mode) == 0o711  # pass-through, no listing
    for name in ("hai.db", "hai.db-wal", "hai.db-shm", "embedded.token", "embedded.json"):
        path = home / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    assert (home / "hai.db").exists()
    assert "HAI_ADMIN_TOKEN" not in (
        Path(f"/proc/{_server(plat)['pid']}/environ").read_bytes()
    ).decode(errors="replace")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _training(plat: Platform) -> list[dict]:
    """The training nodes (the machine is also the node of the shared Jupyter group)."""
    return [n for n in plat.json("nodes")["nodes"] if n["group"] != "jupyter"]
