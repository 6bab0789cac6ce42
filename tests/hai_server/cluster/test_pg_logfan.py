"""``logs -f`` through Redis: two real replicas on one PostgreSQL and one Redis.

Each follower must receive the rank log exactly once, in order, and end when the task ends;
the counters in ``/healthz`` ("logs") show who read the file: one tailer (the lease holder)
for all followers of all replicas, not one poll per follower. With Redis stopped mid-stream
the followers keep going on file polls, and a follow started after Redis is back uses it.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hai_cli.client import Client
from tests.support.pg import RedisServer, create_database, drop_database, free_port
from tests.support.pg_server import ADMIN_TOKEN, ServerProc, server_env

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
POLL_S = 0.05  # the file poll of a follower before the fan-out (and of a tail now)


def _printer(lines: int, pause: float) -> list[str]:
    loop = f"i=1; while [ $i -le {lines} ]; do echo line $i; i=$((i+1)); sleep {pause}; done"
    return ["sh", "-c", loop]


def _submit(url: str, argv: list[str], workdir: Path) -> int:
    client = Client(url, ADMIN_TOKEN)
    try:
        return int(client.submit({"argv": argv, "workdir": str(workdir), "kind": "exec"})["id"])
    finally:
        client.close()


class Follower(threading.Thread):
    """``logs -f`` in a thread: everything it received, and when the stream ended."""

    def __init__(self, url: str, task_id: int) -> None:
        super().__init__(daemon=True)
        self.url, self.task_id = url, task_id
        self.data = b""
        self.error: BaseException | None = None
        self.ended_at = 0.0

    def run(self) -> None:
        client = Client(self.url, ADMIN_TOKEN)
        try:
            for chunk in client.follow_logs(self.task_id):
                self.data += chunk
        except BaseException as exc:
            self.error = exc
        self.ended_at = time.monotonic()

    def text(self) -> str:
        self.join(30)
        assert not self.is_alive(), f"follower of task {self.task_id} never ended"
        assert self.error is None, self.error
        return self.data.decode()


def _wait_done(url: str, task_id: int, timeout: float = 60) -> dict[str, Any]:
    client = Client(url, ADMIN_TOKEN)
    deadline = time.monotonic() + timeout
    try:
        while True:
            task = client.task(task_id)
            if task["state"] in ("succeeded", "failed", "stopped"):
                task["log"] = client.logs(task_id)
                return task
            assert time.monotonic() < deadline, task
            time.sleep(0.1)
    finally:
        client.close()


def _wait_lines(url: str, task_id: int, lines: int, timeout: float = 30) -> None:
    client = Client(url, ADMIN_TOKEN)
    deadline = time.monotonic() + timeout
    try:
        while client.logs(task_id).count("\n") < lines:
            assert time.monotonic() < deadline, "the task never printed"
            time.sleep(0.05)
    finally:
        client.close()


def _fan(server: ServerProc) -> dict[str, Any]:
    return server.health()["logs"]


def _diff(after: dict[str, Any], before: dict[str, Any]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if isinstance(v, int)}


def _check(text: str, final_log: str, lines: int) -> None:
    assert text == final_log, (len(text), len(final_log))
    # the local backend stamps each line: "[2026-01-01 00:00:00.000000] line 7"
    assert [x.split("] ", 1)[-1] for x in text.splitlines() if "line " in x] == [
        f"line {i}" for i in range(1, lines + 1)
    ]


def _wait_redis(servers: list[ServerProc], status: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while any(_fan(s)["redis"] != status for s in servers):
        assert time.monotonic() < deadline, [_fan(s) for s in servers]
        time.sleep(0.1)


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ServerProc]]:
    home = tmp_path_factory.mktemp("logfan") / "home"
    home.mkdir()
    redis = RedisServer().start()
    db = create_database()
    env = server_env(home, db, redis.url, nodes=4)
    env["HAI_SCHEDULER__GRACE_S"] = "1"  # a suspended task is stopped after 1 s
    servers = [ServerProc(home, env, free_port(), f"replica-{n}") for n in "ab"]
    try:
        for s in servers:
            s.start()
        _wait_redis(servers, "up")
        yield servers
    finally:
        for s in servers:
            s.stop()
        redis.stop()
        drop_database(db)


def test_followers_on_both_replicas_share_one_tailer(replicas: list[ServerProc]) -> None:
    a, b = replicas
    before = {s.name: _fan(s) for s in replicas}
    lines, pause, per_replica = 60, 0.05, 4
    task_id = _submit(a.url, _printer(lines, pause), a.home)
    followers = [Follower(s.url, task_id) for s in replicas for _ in range(per_replica)]
    for f in followers:
        f.start()
    task = _wait_done(a.url, task_id)
    assert task["state"] == "succeeded", task
    done = time.monotonic()
    for f in followers:
        _check(f.text(), task["log"], lines)
        assert f.ended_at - done < 5, "a follower outlived its task by more than 5 s"
    used = {s.name: _diff(_fan(s), before[s.name]) for s in replicas}
    print("\nlog fan-out counters:", used)
    assert sum(u["follows"] for u in used.values()) == 2 * per_replica
    # one tailer for the stream, and it published what the other replica's followers read
    assert sum(u["leases"] for u in used.values()) == 1, used
    tailer, other = (a, b) if used[a.name]["leases"] else (b, a)
    assert used[tailer.name]["published"] > 0 and used[other.name]["published"] == 0, used
    assert used[other.name]["received"] > 0, used
    # the other replica listened: it polls only until Redis confirms its subscription
    # (LISTEN_S = 0.2 s, 4 polls) and when it heard nothing for SILENCE_S
    assert used[other.name]["tail_polls"] <= 8, used
    # N followers polling each would read the file at least lines * pause / POLL_S times
    # each; the one tailer polls about as often as one of them did
    run_s = lines * pause
    assert used[tailer.name]["tail_polls"] < 3 * run_s / POLL_S, used
    per_follower_polling = len(followers) * run_s / POLL_S
    reads = sum(u["tail_polls"] + u["catchup_reads"] + u["gap_fills"] for u in used.values())
    assert reads < per_follower_polling / 3, (reads, per_follower_polling)
    assert all(_fan(s)["streams"] == 0 and _fan(s)["followers"] == 0 for s in replicas)
    scrape = urllib.request.Request(
        tailer.url + "/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    with urllib.request.urlopen(scrape, timeout=5) as r:
        metrics = r.read().decode()
    published = _fan(tailer)["published"]
    from prometheus_client.parser import text_string_to_metric_families

    scraped = {
        sample.name: sample.value
        for fam in text_string_to_metric_families(metrics)
        for sample in fam.samples
    }
    assert scraped["hai_logs_published_total"] == published, metrics


def test_a_late_follower_gets_the_whole_log_from_the_file(replicas: list[ServerProc]) -> None:
    a, b = replicas
    lines = 60
    task_id = _submit(a.url, _printer(lines, 0.05), a.home)
    early = Follower(a.url, task_id)
    early.start()
    _wait_lines(a.url, task_id, 20)
    before = _fan(b)
    late = Follower(b.url, task_id)  # B holds nothing of this log yet: it starts mid-file
    late.start()
    task = _wait_done(a.url, task_id)
    _check(early.text(), task["log"], lines)
    _check(late.text(), task["log"], lines)
    used = _diff(_fan(b), before)
    assert used["catchup_reads"] >= 1, used  # what came before the join was read from the file


def test_follow_across_attempts_through_redis(replicas: list[ServerProc]) -> None:
    """Suspended and run again: the same separator between attempts, on both replicas."""
    a, b = replicas
    script = (
        "echo attempt $HAI_RESTART_COUNT; i=1; "
        'if [ "$HAI_RESTART_COUNT" = 0 ]; then n=1000; else n=20; fi; '
        "while [ $i -le $n ]; do echo line $i; i=$((i+1)); sleep 0.03; done"
    )
    task_id = _submit(a.url, ["sh", "-c", script], a.home)
    followers = [Follower(s.url, task_id) for s in (a, b, b)]
    for f in followers:
        f.start()
    _wait_lines(a.url, task_id, 20)
    client = Client(b.url, ADMIN_TOKEN)
    try:
        client.action(task_id, "suspend")
        task = _wait_done(a.url, task_id)
        assert task["state"] == "succeeded" and task["restart_count"] == 1, task
        first, second = client.logs(task_id, attempt=0), client.logs(task_id, attempt=1)
    finally:
        client.close()
    assert "attempt 0" in first and "attempt 1" in second
    expected = first + "[hai] ---- attempt 1 ----\n" + second
    for f in followers:
        assert f.text() == expected


def test_redis_stopped_mid_stream_followers_poll_then_use_redis_again(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    redis = RedisServer().start()
    db = create_database()
    env = server_env(home, db, redis.url, nodes=4)
    servers = [ServerProc(home, env, free_port(), f"replica-{n}") for n in "ab"]
    try:
        for s in servers:
            s.start()
        _wait_redis(servers, "up")
        lines = 100
        task_id = _submit(servers[0].url, _printer(lines, 0.05), home)
        followers = [Follower(s.url, task_id) for s in servers for _ in range(2)]
        for f in followers:
            f.start()
        _wait_lines(servers[0].url, task_id, 25)
        assert sum(_fan(s)["published"] for s in servers) > 0  # it went through Redis
        redis.stop()
        _wait_redis(servers, "down")
        polls = {s.name: _fan(s)["tail_polls"] for s in servers}
        _wait_lines(servers[0].url, task_id, 60)
        # degraded: each replica polls the file itself now
        assert all(_fan(s)["tail_polls"] > polls[s.name] for s in servers)
        task = _wait_done(servers[0].url, task_id)
        for f in followers:
            _check(f.text(), task["log"], lines)

        redis.start()
        _wait_redis(servers, "up")
        before = {s.name: _fan(s) for s in servers}
        again = _submit(servers[1].url, _printer(30, 0.05), home)
        followers = [Follower(s.url, again) for s in servers]
        for f in followers:
            f.start()
        task = _wait_done(servers[1].url, again)
        for f in followers:
            _check(f.text(), task["log"], 30)
        used = {s.name: _diff(_fan(s), before[s.name]) for s in servers}
        assert sum(u["leases"] for u in used.values()) == 1, used
        assert sum(u["published"] for u in used.values()) > 0, used
        assert sum(u["received"] for u in used.values()) > 0, used
    finally:
        for s in servers:
            s.stop()
        redis.stop()
        drop_database(db)


def test_follow_of_a_task_stopped_before_it_ever_ran_ends(tmp_path: Path) -> None:
    """No attempt and a terminal state: the stream ends (it used to poll forever)."""
    home = tmp_path / "home"
    home.mkdir()
    env = server_env(home, f"sqlite+aiosqlite:///{home / 'hai.db'}", None, nodes=1)
    server = ServerProc(home, env, free_port(), "embedded").start()
    client = Client(server.url, ADMIN_TOKEN)
    try:
        for node in client.nodes()["nodes"]:  # nothing can start
            client.request("POST", f"/api/v1/admin/nodes/{node['name']}/cordon")
        task_id = _submit(server.url, _printer(3, 0.01), home)
        follower = Follower(server.url, task_id)
        follower.start()
        # let the follow begin while the task still waits (the path that once never ended);
        # should it begin after the stop, it must end all the same: no race on the result
        time.sleep(0.5)
        assert client.task(task_id)["state"] == "queued"
        client.action(task_id, "stop")
        assert follower.text() == ""  # the stream of a task stopped before it ran ends
    finally:
        client.close()
        server.stop()
