"""The CLI contract: --json shapes, exit codes, and every bad-input case."""

from __future__ import annotations

import json
import os
import subprocess

from tests.support.e2e import EXAMPLES, Platform, clean_env, cli_command
from tests.support.pg import ServerDatabase

TRAIN = EXAMPLES / "train.py"
TASK_KEYS = {"id", "name", "state", "priority", "nodes", "restart_count", "reason", "position"}


def _count(platform: Platform) -> int:
    return platform.json("list", "--limit", "1000")["total"]


def test_json_contracts(platform: Platform) -> None:
    task_id = platform.submit(
        TRAIN, "--steps", "1", "--step-time", "0", opts=("--name", "json-check", "-p", "HIGH")
    )
    platform.wait_state(task_id, "succeeded")
    page = platform.json("list")
    assert {"tasks", "total", "limit", "offset"} <= page.keys()
    row = next(t for t in page["tasks"] if t["id"] == task_id)
    assert row.keys() >= TASK_KEYS
    assert row["name"] == "json-check" and row["priority"] == "HIGH" and row["state"] == "succeeded"
    status = platform.json("status", str(task_id))
    assert status.keys() >= TASK_KEYS and {"attempts", "events", "ranks"} <= status.keys()
    assert status["attempts"][0]["outcome"] == "succeeded"
    only = platform.json("list", "--state", "succeeded")
    assert all(t["state"] == "succeeded" for t in only["tasks"])
    me = platform.json("whoami")
    assert me["role"] == "admin" and me["url"].startswith("http://127.0.0.1:")


def test_options_before_file_and_script_args(platform: Platform) -> None:
    res = platform.ok(
        "python",
        "-n",
        "1",
        "--name",
        "before",
        str(TRAIN),
        "--steps",
        "2",
        "--step-time",
        "0",
        "--",
        "-p",
        "LOW",
        "--json",
    )
    task = json.loads(res.stdout)
    assert task["name"] == "before" and task["priority"] == "LOW"
    assert task["command"][-4:] == ["--steps", "2", "--step-time", "0"]
    platform.wait_state(task["id"], "succeeded")
    numeric = json.loads(
        platform.ok("python", str(TRAIN), "--steps", "1", "--", "-p", "40", "--json").stdout
    )
    assert numeric["priority"] == "VERY_HIGH"
    platform.wait_state(numeric["id"], "succeeded")
    text = platform.ok("list").stdout
    assert max(len(line) for line in text.splitlines()) <= 80


def test_bad_input_is_one_clear_line_and_changes_nothing(platform: Platform) -> None:
    before = _count(platform)
    cases = [
        (["status", "99999"], 3, "no task 99999"),
        (["logs", "99999"], 3, "no task 99999"),
        (["stop", "99999"], 3, "no task 99999"),
        (["python", "missing.py"], 2, "no such file: missing.py"),
        (["python", str(TRAIN), "--", "-g", "nope"], 2, "unknown group 'nope'"),
        (["python", str(TRAIN), "--", "-p", "URGENT"], 2, "unknown priority 'URGENT'"),
        (["python", str(TRAIN), "--", "-n", "5"], 2, "asks for 5 nodes but group 'default' has 1"),
        (["python", str(TRAIN), "--", "-n", "0"], 2, "--nodes must be at least 1"),
        (
            ["python", str(TRAIN), "--", "-e", "NOEQUALS"],
            2,
            "bad -e value 'NOEQUALS': expected KEY=VALUE",
        ),
        (["python", str(TRAIN), "--", "-e", "1BAD=x"], 2, "bad environment variable name '1BAD'"),
        (["list", "--state", "sleeping"], 2, "unknown state 'sleeping'"),
        (["list", "--limit", "0"], 2, "limit must be between 1 and 1000"),
        (["server", "start"], 2, "already running"),
    ]
    for args, code, message in cases:
        res = platform.cli(*args)
        assert res.returncode == code, (args, res.returncode, res.stderr)
        lines = res.stderr.strip().splitlines()
        assert lines[-1].startswith("error: ") and message in lines[-1], (args, res.stderr)
        assert "Traceback" not in res.stderr
    assert _count(platform) == before


def test_conflicting_actions(platform: Platform) -> None:
    task_id = platform.submit(TRAIN, "--steps", "1", "--step-time", "0")
    platform.wait_state(task_id, "succeeded")
    res = platform.cli("stop", str(task_id))
    assert res.returncode == 2 and "already succeeded" in res.stderr
    res = platform.cli("suspend", str(task_id))
    assert res.returncode == 2 and "only a starting or running task can be suspended" in res.stderr
    res = platform.cli("resume", str(task_id))
    assert res.returncode == 2 and "only a stopped, failed or suspended task" in res.stderr
    res = platform.cli("logs", str(task_id), "--rank", "3")
    assert res.returncode == 2 and "rank must be between 0 and 0" in res.stderr
    res = platform.cli("logs", str(task_id), "--attempt", "9")
    assert res.returncode == 3 and "no attempt 9" in res.stderr


def test_wrong_token_and_unreachable_server(platform: Platform) -> None:
    url = platform.json("whoami")["url"]
    bad = platform.cli("list", env={"HAI_SERVER_URL": url, "HAI_TOKEN": "wrong"})
    assert bad.returncode == 5 and "invalid or revoked token" in bad.stderr
    init = platform.cli("init", "wrong", "--url", url)
    assert init.returncode == 5
    assert not (platform.home / "client.toml").exists()
    down = platform.cli("list", env={"HAI_SERVER_URL": "http://127.0.0.1:9", "HAI_TOKEN": "x"})
    assert down.returncode == 4 and "cannot reach the server" in down.stderr
    garbage = platform.cli("list", env={"HAI_SERVER_URL": "nonsense", "HAI_TOKEN": "x"})
    assert garbage.returncode == 2 and "bad server URL" in garbage.stderr


def test_init_points_the_cli_at_a_server(platform: Platform, tmp_path) -> None:
    url = platform.json("whoami")["url"]
    token = (platform.home / "embedded.token").read_text().strip()
    other = dict(platform.env, HAI_HOME=str(tmp_path / "client-home"))
    res = subprocess.run(
        [*cli_command(), "init", token, "--url", url],
        capture_output=True,
        text=True,
        env=other,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    assert oct(os.stat(tmp_path / "client-home" / "client.toml").st_mode & 0o777) == "0o600"
    who = subprocess.run(
        [*cli_command(), "whoami", "--json"], capture_output=True, text=True, env=other, timeout=60
    )
    assert json.loads(who.stdout)["url"] == url
    # no embedded server was started for that home
    assert not (tmp_path / "client-home" / "server.json").exists()


def test_stale_pid_file_and_server_lifecycle(tmp_path, database: ServerDatabase) -> None:
    home = tmp_path / "stale"
    home.mkdir()
    (home / "server.json").write_text(json.dumps({"pid": 999999, "url": "http://127.0.0.1:9"}))
    env = clean_env(home, database)
    # the cluster server's settings in a user's shell never reach their embedded server
    env["HAI_DATABASE_URL"] = "postgresql+psycopg://nobody@127.0.0.1:9/nothing"
    env["HAI_REDIS_URL"] = "redis://127.0.0.1:9/0"
    env["HAI_WORKERS"] = "4"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cli_command(), *args], capture_output=True, text=True, env=env, timeout=90
        )

    status = cli("server", "status")
    assert status.returncode == 1 and "stale pid file" in status.stdout
    assert not (home / "server.json").exists()
    (home / "server.json").write_text(json.dumps({"pid": 999999, "url": "http://127.0.0.1:9"}))
    # any command finds the dead pid file and starts a fresh server
    listed = cli("list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["total"] == 0
    running = json.loads(cli("server", "status", "--json").stdout)
    assert running["running"] is True
    # started on demand, it still uses the database it was asked for (not SQLite)
    expected = "solo" if database.url is None else "postgresql-advisory-lock"
    assert running["health"]["leader_lock"] == expected
    assert running["health"]["redis"] == ("off" if database.redis_url is None else "up")
    assert cli("server", "stop").returncode == 0
    assert cli("server", "stop").returncode == 1


def test_bulk_stop_by_filter_and_ids(platform: Platform) -> None:
    """One request stops many: a filter picks only what the verb applies to; ids it does
    not apply to, and unknown ids, are one line each on stderr and a meaningful exit code."""
    # holds the one node for as long as the test takes (stopped by the test itself)
    blocker = platform.submit(TRAIN, "--steps", "100000", "--step-time", "0.1", opts=("-p", "HIGH"))
    platform.wait_state(blocker, "running")
    opts = ("--name", "bulk-sweep")
    queued = [platform.submit(TRAIN, "--steps", "1", opts=opts) for _ in range(25)]

    res = platform.cli("stop", "--name", "bulk-*", "--dry-run")
    assert res.returncode == 0 and "would stop: 25 tasks (they would be 25 stopped)" in res.stdout
    assert {platform.task(i)["state"] for i in queued[:3]} == {"queued"}

    res = platform.ok("stop", "--name", "bulk-*", "--state", "queued")
    assert res.stdout.strip() == "stop: 25 tasks (now 25 stopped)"
    assert {t["state"] for t in platform.json("list", "--limit", "100")["tasks"]
            if t["id"] in queued} == {"stopped"}  # fmt: skip

    res = platform.cli("stop", "--name", "bulk-*")
    assert res.returncode == 0 and "no task to stop matched" in res.stderr

    res = platform.cli("stop", str(queued[0]), "999999")
    assert res.returncode == 3  # a missing id wins over a refused one
    assert f"error: task {queued[0]} is already stopped" in res.stderr
    assert "error: no task 999999" in res.stderr

    res = platform.cli("resume", str(queued[0]), str(queued[1]))
    assert res.returncode == 0
    assert f"task {queued[0]} (bulk-sweep): queued again" in res.stdout

    answer = platform.json("stop", "--all")
    assert {t["id"] for t in answer["changed"]} == {blocker, queued[0], queued[1]}

    res = platform.cli("stop")
    assert res.returncode == 2 and "say which tasks to stop" in res.stderr
    res = platform.cli("stop", "--user", "root")
    assert res.returncode == 0  # the embedded user is an admin: its own tasks, none left
    res = platform.cli("suspend", "--state", "sleeping")
    assert res.returncode == 2 and "unknown state 'sleeping'" in res.stderr
