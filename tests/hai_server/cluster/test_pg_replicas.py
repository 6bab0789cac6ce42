"""Two hai-server replicas on one PostgreSQL and one Redis, and crash safety (real processes).

Tasks are trivial shell commands that append their attempt number to a file named after the
task, so the test can tell whether any attempt ran twice. ``HAI_TEST_REPLICA_TASKS`` sets
how many tasks the two-replica test submits (default 500). The tests with two replicas run
on PostgreSQL only: replicas need its advisory lock (on SQLite a server runs alone, "solo").
"""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text

from hai_cli.client import Client
from hai_server.db.session import create_schema, ensure_admin, make_engine, make_sessions
from tests.support.pg import RedisServer, free_port
from tests.support.pg_server import ADMIN_TOKEN, ServerProc, server_env

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
N_TASKS = int(os.environ.get("HAI_TEST_REPLICA_TASKS", "500"))


def _submit_many(urls: list[str], workdir: Path, marks: Path, count: int) -> list[int]:
    script = f"echo $HAI_RESTART_COUNT >> {marks}/$HAI_TASK_ID"

    def one_batch(k: int) -> list[int]:
        client = Client(urls[k % len(urls)], ADMIN_TOKEN)
        ids = []
        for _ in range(k, count, 8):
            body = {"argv": ["sh", "-c", script], "workdir": str(workdir), "kind": "exec"}
            ids.append(client.submit(body)["id"])
        client.close()
        return ids

    with ThreadPoolExecutor(8) as pool:
        return sorted(i for batch in pool.map(one_batch, range(8)) for i in batch)


def _states(url: str) -> dict[int, dict]:
    client = Client(url, ADMIN_TOKEN)
    out: dict[int, dict] = {}
    offset = 0
    while True:
        page = client.list_tasks(all_users=True, limit=1000, offset=offset)
        out.update({t["id"]: t for t in page["tasks"]})
        offset += len(page["tasks"])
        if offset >= page["total"] or not page["tasks"]:
            return out


def _wait_all(url: str, ids: list[int], timeout: float) -> dict[int, dict]:
    deadline = time.monotonic() + timeout
    while True:
        states = _states(url)
        if all(states[i]["state"] in ("succeeded", "failed", "stopped") for i in ids):
            return states
        if time.monotonic() > deadline:
            left = [(i, states[i]["state"]) for i in ids if states[i]["state"] != "succeeded"]
            raise AssertionError(f"not finished: {left[:20]} ({len(left)} in all)")
        time.sleep(0.3)


def _runs(marks: Path) -> dict[int, list[int]]:
    return {int(p.name): [int(x) for x in p.read_text().split()] for p in marks.iterdir()}


def _leader(servers: list[ServerProc]) -> ServerProc:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for s in servers:
            if s.proc and s.proc.poll() is None and s.health().get("leader"):
                return s
        time.sleep(0.1)
    raise AssertionError("no leader")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "home").mkdir()
    (tmp_path / "marks").mkdir()
    return tmp_path / "home"


def test_two_replicas_start_every_task_once_and_survive_the_leader(
    pg_url: str, redis_url: str, home: Path
) -> None:
    marks = home.parent / "marks"
    env = server_env(home, pg_url, redis_url, nodes=16)
    a = ServerProc(home, env, free_port(), "replica-a").start()
    b = ServerProc(home, env, free_port(), "replica-b").start()
    try:
        leader = _leader([a, b])
        follower = b if leader is a else a
        assert follower.health()["leader"] is False
        assert leader.health()["redis"] == "up" and follower.health()["redis"] == "up"

        ids = _submit_many([a.url, b.url], home.parent, marks, N_TASKS)
        assert len(ids) == len(set(ids)) == N_TASKS
        # kill the leader with SIGKILL once some work is done, while the rest is under way
        deadline = time.monotonic() + 120
        while len(list(marks.iterdir())) < N_TASKS // 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        leader.kill()
        t_kill = time.monotonic()
        assert _leader([follower]) is follower
        takeover_s = time.monotonic() - t_kill
        states = _wait_all(follower.url, ids, timeout=150)
    finally:
        a.stop()
        b.stop()
    assert takeover_s < 5, takeover_s
    assert sorted(states) == ids, "a submission was lost"
    assert [i for i in ids if states[i]["state"] != "succeeded"] == []
    runs = _runs(marks)
    assert sorted(runs) == ids, "a task never ran"
    # no attempt ever ran twice; an attempt the dead leader was starting may be retried once
    doubles = {i: r for i, r in runs.items() if len(r) != len(set(r))}
    assert doubles == {}, doubles
    retried = {i: r for i, r in runs.items() if r != [0]}
    assert len(retried) <= 16, retried  # at most what the dead leader held at that moment
    print(
        f"\n{N_TASKS} tasks, take-over {takeover_s:.2f} s, retried after the kill: {len(retried)}"
    )


def test_single_server_sigkill_and_restart_loses_nothing(db_url: str, home: Path) -> None:
    """One server, so on both databases (the replica tests need PostgreSQL's advisory lock)."""
    marks = home.parent / "marks"
    env = server_env(home, db_url, None, nodes=4)
    port = free_port()
    server = ServerProc(home, env, port, "single").start()
    client = Client(server.url, ADMIN_TOKEN)
    script = f"echo $HAI_RESTART_COUNT >> {marks}/$HAI_TASK_ID; sleep 2"
    ids = [
        client.submit({"argv": ["sh", "-c", script], "workdir": str(home), "kind": "exec"})["id"]
        for _ in range(10)
    ]
    client.close()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            running = [i for i, t in _states(server.url).items() if t["state"] == "running"]
            if len(running) == 4:
                break
            time.sleep(0.05)
        assert len(running) == 4
        server.kill()  # returns once the process is gone
        server = ServerProc(home, env, port, "single").start()
        states = _wait_all(server.url, ids, timeout=60)
    finally:
        server.stop()
    assert all(states[i]["state"] == "succeeded" for i in ids), states
    runs = _runs(marks)
    # the four running at the kill were adopted, not restarted; nothing ran twice
    assert all(runs[i] == [0] for i in running), runs
    assert all(len(r) == len(set(r)) for r in runs.values()), runs
    assert sorted(runs) == ids


def test_redis_down_scheduling_continues_and_recovers(pg_url: str, home: Path) -> None:
    redis = RedisServer().start()
    marks = home.parent / "marks"
    env = server_env(home, pg_url, redis.url, nodes=4)
    a = ServerProc(home, env, free_port(), "replica-a").start()
    b = ServerProc(home, env, free_port(), "replica-b").start()
    try:
        follower = b if _leader([a, b]) is a else a
        assert follower.health()["redis"] == "up"
        redis.stop()
        deadline = time.monotonic() + 10
        while follower.health()["redis"] != "down" and time.monotonic() < deadline:
            time.sleep(0.1)
        h = follower.health()
        assert h["redis"] == "down" and h["status"] == "degraded", h
        # submitted through the follower: no Redis message can reach the leader; the timer does
        ids = _submit_many([follower.url], home.parent, marks, 12)
        states = _wait_all(follower.url, ids, timeout=60)
        assert all(states[i]["state"] == "succeeded" for i in ids)
        redis.start()
        deadline = time.monotonic() + 15
        while follower.health()["redis"] != "up" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert follower.health()["redis"] == "up" and follower.health()["status"] == "ok"
        more = _submit_many([follower.url], home.parent, marks, 4)
        _wait_all(follower.url, more, timeout=30)
    finally:
        a.stop()
        b.stop()
        redis.stop()


def test_a_follower_started_mid_run_takes_over_cleanly(pg_url: str, home: Path) -> None:
    """B opens the backend while A's ranks run; A finishes and forgets them, then dies."""
    marks = home.parent / "marks"
    env = server_env(home, pg_url, None, nodes=4)
    a = ServerProc(home, env, free_port(), "replica-a").start()
    b = None
    try:
        client = Client(a.url, ADMIN_TOKEN)
        # long enough to still run once B is up, even on a loaded machine
        script = f"echo $HAI_RESTART_COUNT >> {marks}/$HAI_TASK_ID; sleep 8"
        body = {"argv": ["sh", "-c", script], "workdir": str(home), "kind": "exec"}
        first = [client.submit(body)["id"] for _ in range(4)]
        deadline = time.monotonic() + 20
        while len(list(marks.iterdir())) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        b = ServerProc(home, env, free_port(), "replica-b").start()  # sees A's attempts
        assert any(t["state"] == "running" for t in _states(a.url).values())
        _wait_all(a.url, first, timeout=30)
        runs = home / "runs"  # A forgets the finished attempts: their run directories go
        deadline = time.monotonic() + 10
        while any(runs.glob("*/spec.json")):
            assert time.monotonic() < deadline, sorted(runs.iterdir())
            time.sleep(0.05)
        a.kill()
        assert _leader([b]) is b
        more = _submit_many([b.url], home.parent, marks, 6)
        states = _wait_all(b.url, more, timeout=30)
        assert all(states[i]["state"] == "succeeded" for i in more), states
        assert b.health()["reconciler"]["error"] == ""
    finally:
        a.stop()
        if b is not None:
            b.stop()


async def _four_replicas_ensure_the_admin(url: str) -> tuple[list[object], int, int]:
    first = make_engine(url)
    await create_schema(first)
    engines = [make_engine(url) for _ in range(4)]
    try:
        results = await asyncio.gather(
            *(ensure_admin(make_sessions(e), "root", ADMIN_TOKEN) for e in engines),
            return_exceptions=True,
        )
        async with first.connect() as conn:
            users = (await conn.execute(text("SELECT count(*) FROM users"))).scalar_one()
            tokens = (await conn.execute(text("SELECT count(*) FROM tokens"))).scalar_one()
    finally:
        for e in [first, *engines]:
            await e.dispose()
    return results, users, tokens


def test_replicas_starting_together_on_a_fresh_database_make_one_admin(pg_url: str) -> None:
    """Every replica reads "no user" and inserts: the losers must not fail their start."""
    results, users, tokens = asyncio.run(_four_replicas_ensure_the_admin(pg_url))
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sorted(results, key=str) == [None, None, None, ADMIN_TOKEN]
    assert (users, tokens) == (1, 1)
