"""PostgreSQL figures: API submissions/s, status reads/s, one reconciler tick at scale.

1. submissions/s: ``--clients`` Python processes (hai-cli's client) POST /api/v1/tasks to a
   real ``hai-server``
   (cluster mode on PostgreSQL, local backend; every node cordoned so nothing starts and
   the figure is the API + database path), each on its own kept-alive connection;
2. status reads/s: the same clients GET /api/v1/tasks/{id} of random tasks; then both again
   with ``wrk`` (C load generator, Debian package) when installed: on 2 cores the Python
   clients themselves take a good part of the machine, wrk measures the server;
3. one reconciler tick (observe + judge + load snapshot + plan + write) with 20,000 queued
   and 2,000 running tasks on 2,500 nodes, in-process. The backend is an in-memory stand-in
   that reports the 2,000 attempts as running (no processes), so the figure is the loop's.

Targets (issue 6): >= 500 submissions/s, >= 2,000 reads/s, tick < 500 ms.
Database: ``HAI_BENCH_DATABASE_URL`` (a PostgreSQL URL whose user may CREATE DATABASE),
else a throwaway server from the ``pgserver`` wheel.

Usage: python benchmarks/bench_pg.py [--submissions 3000] [--reads 6000] [--clients 4]
Prints readable figures, then ONE JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench_db import admin_url, free_port, fresh_database  # noqa: E402

from hai_server.backends.base import (  # noqa: E402
    AttemptObservation,
    AttemptSpec,
    Backend,
    NodeState,
    RankObservation,
)

TOKEN = "hai_bench_admin_token_0123456789"


# -- API -------------------------------------------------------------------------------------
def _client_worker(args: tuple[str, str, int, list[int] | None, Path]) -> list[float]:
    from hai_cli.client import Client

    url, kind, count, ids, workdir = args
    c = Client(url, TOKEN)
    rnd = random.Random(os.getpid())
    lat = []
    body = {"argv": ["true"], "workdir": str(workdir), "kind": "exec"}
    for _ in range(count):
        t0 = time.perf_counter()
        if kind == "submit":
            c.submit(body)
        else:
            c.task(rnd.choice(ids or [1]))
        lat.append(time.perf_counter() - t0)
    c.close()
    return lat


def _cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (from /proc)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _run_clients(
    url: str, kind: str, total: int, clients: int, ids: list[int] | None, pids: list[int]
) -> dict:
    cpu0 = _cpu_s(pids)
    per = total // clients
    with mp.get_context("fork").Pool(clients) as pool:
        t0 = time.perf_counter()
        results = pool.map(
            _client_worker, [(url, kind, per, ids, Path(ROOT)) for _ in range(clients)]
        )
        wall = time.perf_counter() - t0
    lat = sorted(x for r in results for x in r)
    cpu_ms = (_cpu_s(pids) - cpu0) * 1000 / len(lat)
    return {
        "requests": len(lat),
        "server_cpu_ms": round(cpu_ms, 3),
        "capacity_per_core_s": round(1000 / cpu_ms) if cpu_ms else None,
        "per_s": len(lat) / wall,
        "p50_ms": statistics.median(lat) * 1000,
        "p99_ms": lat[int(0.99 * (len(lat) - 1))] * 1000,
    }


def _with_children(pids: list[int]) -> list[int]:
    """These processes and their direct children (hai-server --workers forks them)."""
    out = list(pids)
    for pid in pids:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            out += [int(c) for c in fh.read().split()]
    return out


def bench_api(
    db_url: str, submissions: int, reads: int, clients: int, replicas: int, workers: int = 1
) -> dict:
    home = Path(tempfile.mkdtemp(prefix="hai-bench-home-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAI_")}
    env.update(
        {
            "HAI_HOME": str(home),
            "HAI_DATABASE_URL": db_url,
            "HAI_ADMIN_TOKEN": TOKEN,
            "HAI_ADMIN_USER": "bench",
            "HAI_LOCAL__NODES": "4",
            "HAI_LOCAL__GPUS_PER_NODE": "0",
            "HAI_LOG_LEVEL": "warning",
            "HAI_WORKERS": str(workers),
            "HAI_SCHEDULER__DEFAULT_QUOTA": "unlimited",  # a cluster's default: no row, no access
        }
    )
    servers = []
    for _ in range(replicas):  # the first leads; clients talk to the last one
        port = free_port()
        servers.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "hai_server.main",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                env=env,
            )
        )
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(url + "/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
    try:
        from hai_cli.client import Client

        admin = Client(url, TOKEN)
        for i in range(4):  # nothing starts: the figure is the API and the database
            admin.request("POST", f"/api/v1/admin/nodes/local-{i}/cordon")
        pids = _with_children([p.pid for p in servers])
        _run_clients(url, "submit", 200, clients, None, pids)  # warm-up
        sub = _run_clients(url, "submit", submissions, clients, None, pids)
        ids = [t["id"] for t in admin.list_tasks(limit=1000)["tasks"]]
        admin.close()
        _run_clients(url, "read", 200, clients, ids, pids)
        rd = _run_clients(url, "read", reads, clients, ids, pids)
        loaded = _wrk_all(url, ids, pids, Path(ROOT)) if shutil.which("wrk") else None
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)
    return {"submit": sub, "read": rd, "wrk": loaded, "replicas": replicas, "workers": workers}


def _wrk(url: str, script: str, pids: list[int], seconds: int = 8) -> dict:
    """Drive the API with wrk (C, 2 threads, 8 connections): the server's figure, not the
    Python clients'. Returns requests/s, latency percentiles and server CPU per request."""
    lua = Path(tempfile.mkdtemp(prefix="hai-bench-wrk-")) / "req.lua"
    lua.write_text(script)
    cpu0 = _cpu_s(pids)
    out = subprocess.run(
        ["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency", "-s", str(lua), url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    cpu = _cpu_s(pids) - cpu0
    fields: dict[str, float] = {}
    for line in out.splitlines():
        words = line.split()
        if line.startswith("Requests/sec:"):
            fields["per_s"] = float(words[1])
        elif len(words) == 2 and words[0] in ("50%", "99%"):
            fields[f"p{words[0][:-1]}_ms"] = _ms(words[1])
        elif "requests in" in line:
            fields["requests"] = float(words[0])
        elif "Non-2xx" in line:
            fields["errors"] = float(words[-1])
    if fields.get("requests"):
        fields["server_cpu_ms"] = round(cpu * 1000 / fields["requests"], 3)
    return fields


def _ms(text: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return round(float(text[: -len(unit)]) * factor, 2)
    return float(text)


def _wrk_all(url: str, ids: list[int], pids: list[int], workdir: Path) -> dict:
    auth = f'wrk.headers["Authorization"] = "Bearer {TOKEN}"\n'
    body = json.dumps({"argv": ["true"], "workdir": str(workdir), "kind": "exec"})
    submit = (
        auth
        + 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        + f"wrk.body = [[{body}]]\nwrk.path = '/api/v1/tasks/'\n"
    )
    read = auth + (
        f"local ids = {{{', '.join(map(str, ids))}}}\n"
        "request = function() return wrk.format('GET', '/api/v1/tasks/' .. "
        "ids[math.random(#ids)]) end\n"
    )
    return {"read": _wrk(url, read, pids), "submit": _wrk(url, submit, pids)}


# -- one tick --------------------------------------------------------------------------------
class StandIn(Backend):
    """Reports the given attempts as running; starts nothing (no processes)."""

    name = "bench"

    def __init__(self, nodes: list[NodeState], running: list[tuple[int, int, str]]) -> None:
        self._nodes = nodes
        self._obs = [
            AttemptObservation(t, a, (RankObservation(0, n, "running"),)) for t, a, n in running
        ]
        self.started = 0

    async def inventory(self) -> list[NodeState]:
        return self._nodes

    async def start(self, spec: AttemptSpec) -> None:
        self.started += 1
        ranks = tuple(RankObservation(r.rank, r.node, "running") for r in spec.ranks)
        self._obs.append(AttemptObservation(spec.task_id, spec.attempt, ranks))

    async def notify_suspend(self, task_id: int, attempt: int, deadline: float) -> None:
        return None

    async def terminate(self, task_id: int, attempt: int, grace_s: float) -> None:
        return None

    async def observe(self) -> list[AttemptObservation]:
        return list(self._obs)

    async def forget(self, task_id: int, attempt: int) -> None:
        return None


async def bench_tick(db_url: str, queued: int, running: int, n_nodes: int, ticks: int) -> dict:
    from sqlalchemy import insert

    from hai_server.db import models as m
    from hai_server.db.session import create_schema, make_engine, make_sessions
    from hai_server.reconciler.loop import Reconciler
    from hai_server.settings import SchedulerSettings

    engine = make_engine(db_url)
    await create_schema(engine)
    sessions = make_sessions(engine)
    now = time.time()
    groups = [f"g{i}" for i in range(5)]
    nodes = [NodeState(f"n{i:05d}", groups[i % 5], f"z{i % 10}", 8) for i in range(n_nodes)]
    users = [f"user{i}" for i in range(50)]
    async with sessions.begin() as s:
        await s.execute(
            insert(m.User),
            [
                {"id": i + 1, "name": u, "role": "internal", "active": True, "created_at": now}
                for i, u in enumerate(users)
            ],
        )
    t0 = time.perf_counter()
    rows, attempts, held = [], [], []
    busy = iter(nodes)
    for i in range(queued + running):
        is_running = i < running
        node = next(busy) if is_running else None
        user = users[i % len(users)]
        rows.append(
            {
                "id": i + 1,
                "name": f"t{i}",
                "user_id": users.index(user) + 1,
                "user_name": user,
                "group": node.group if node else groups[i % 5],
                "nodes": 1,
                "priority": random.Random(i).choice([0, 10, 20, 30]),
                "run_priority": 10 if is_running else None,
                "state": "running" if is_running else "queued",
                "reason": "",
                "detail": "",
                "kind": "exec",
                "argv": ["true"],
                "workdir": "/",
                "env": {},
                "restart_count": 0,
                "whole_life_state": 0,
                "submitted_at": now - 10_000 + i,
                "started_at": now - 100 if is_running else None,
                "suspend_reason": "",
                "stop_requested": False,
                "suspend_requested": False,
                "version": 0,
                "options": {},
            }
        )
        if node is not None:
            held.append((i + 1, 0, node.name))
            attempts.append(
                {
                    "task_id": i + 1,
                    "number": 0,
                    "nodes": [node.name],
                    "priority": 10,
                    "started_at": now - 100,
                    "outcome": "",
                    "log_dir": "/tmp",
                    "ranks": [
                        {
                            "rank": 0,
                            "node": node.name,
                            "state": "running",
                            "exit_code": None,
                            "message": "",
                        }
                    ],
                }
            )
    async with sessions.begin() as s:
        for k in range(0, len(rows), 5000):
            await s.execute(insert(m.Task), rows[k : k + 5000])
        await s.execute(insert(m.Attempt), attempts)
    load_s = time.perf_counter() - t0
    backend = StandIn(nodes, held)
    rec = Reconciler(sessions, backend, SchedulerSettings(preemption=True), "/tmp/hai-bench-logs")
    times, phases, cpu = [], [], []
    for _ in range(ticks):
        t1, c1 = time.perf_counter(), time.process_time()
        await rec.tick()
        times.append((time.perf_counter() - t1) * 1000)
        cpu.append((time.process_time() - c1) * 1000)
        phases.append({k: round(v, 1) for k, v in rec.last_tick_phases.items()})
        phases[-1]["queued_rows_read"] = rec._queued_rows.fetched
    await engine.dispose()
    return {
        "queued": queued,
        "running": running,
        "nodes": n_nodes,
        "fill_s": round(load_s, 2),
        "first_tick_ms": round(times[0], 1),
        "steady_tick_ms": round(statistics.median(times[1:]), 1) if ticks > 1 else None,
        "ticks_ms": [round(t, 1) for t in times],
        "phases_ms": phases,
        "tick_cpu_ms": [round(c, 1) for c in cpu],  # this process only (not PostgreSQL's)
        "starts_in_first_tick": backend.started,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--submissions", type=int, default=3000)
    p.add_argument("--reads", type=int, default=6000)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument(
        "--replicas", type=int, default=1, help="2: clients talk to a follower (API only)"
    )
    p.add_argument("--queued", type=int, default=20_000)
    p.add_argument("--running", type=int, default=2_000)
    p.add_argument("--nodes", type=int, default=2_500)
    p.add_argument("--ticks", type=int, default=4)
    p.add_argument("--workers", type=int, default=1, help="hai-server --workers")
    p.add_argument("--only", choices=["api", "tick"], help="run one part only")
    args = p.parse_args()
    admin = admin_url()
    api: dict | None = None
    tick: dict | None = None
    if args.only != "tick":
        api = bench_api(
            fresh_database(admin),
            args.submissions,
            args.reads,
            args.clients,
            args.replicas,
            args.workers,
        )
        _print_api(api, args.clients)
    if args.only != "api":
        tick = asyncio.run(
            bench_tick(fresh_database(admin), args.queued, args.running, args.nodes, args.ticks)
        )
        _print_tick(tick)
    print(json.dumps({"bench": "pg", "cpus": os.cpu_count(), "api": api, "tick": tick}))


def _print_api(api: dict, clients: int) -> None:
    w = api.get("wrk")
    if w:
        for kind, target in (("submissions", 500), ("status reads", 2000)):
            f = w["submit" if kind == "submissions" else "read"]
            print(
                f"{kind} (wrk, 8 connections): {f.get('per_s', 0):.0f}/s "
                f"(p50 {f.get('p50_ms')} ms, p99 {f.get('p99_ms')} ms, "
                f"non-2xx {f.get('errors', 0):.0f})  target >= {target}/s; "
                f"server CPU {f.get('server_cpu_ms')} ms each"
            )
    else:
        print("(wrk not installed: apt-get install wrk for the server-side figure)")
    s, r = api["submit"], api["read"]
    print(
        f"submissions: {s['per_s']:.0f}/s over {s['requests']} with {clients} clients "
        f"(p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms)  target >= 500/s; "
        f"server CPU {s['server_cpu_ms']:.2f} ms each"
    )
    print(
        f"status reads: {r['per_s']:.0f}/s over {r['requests']} "
        f"(p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms)  target >= 2000/s; "
        f"server CPU {r['server_cpu_ms']:.2f} ms each"
    )


def _print_tick(tick: dict) -> None:
    print(
        f"tick with {tick['queued']} queued, {tick['running']} running on {tick['nodes']} "
        f"nodes: first {tick['first_tick_ms']} ms (writes every hold reason), steady "
        f"{tick['steady_tick_ms']} ms; all {tick['ticks_ms']}  target < 500 ms"
    )
    for i, ph in enumerate(tick["phases_ms"]):
        print(
            f"  tick {i}: "
            + ", ".join(f"{k} {v:.0f}" for k, v in ph.items())
            + f" (ms; CPU of this process {tick['tick_cpu_ms'][i]:.0f} ms)"
        )


if __name__ == "__main__":
    main()
