"""Soak: mixed load for a long while with random kills of the server, Redis and ranks.

One ``hai-server`` (cluster mode: a private PostgreSQL from the ``pgserver`` wheel, a private
Redis, the local backend with 4 nodes) takes a steady stream of tasks at three priorities (so
preemptions happen); half of the tasks listen for the suspend notice and save, half do not.
Every 20-60 s one fault, at random:

* the server is SIGKILLed and started again (ranks are adopted),
* Redis is killed for 5-15 s and started again,
* one running rank's command is SIGKILLed (its task fails with 137: a finished task, not a
  lost one).

Each task records every start and its one finish in a marker file; at the end (after a
drain), the figures: tasks submitted / finished (by state) / lost (never finished, or
unknown to the server) / duplicated (more finishes than one, or more starts than attempts),
server RSS at the start and end of each server process, and the HTTP 5xx answers the load
generator saw (refused connections while the server is down are counted apart).

Usage: python benchmarks/soak.py [--minutes 30] [--seed 1]
Prints readable figures, then ONE JSON line.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import random
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.pg import RedisServer, free_port  # noqa: E402
from tests.support.pg_server import ADMIN_TOKEN, ServerProc, server_env  # noqa: E402

TERMINAL = {"succeeded", "failed", "stopped"}
PAGE = 500
PRIORITIES = ("LOW", "NORMAL", "HIGH")

TASK = """\
import os, sys, time
from hai_cli import runtime
marker, seconds, listens = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "1"
me = f"{os.environ['HAI_TASK_ID']} {os.environ['HAI_RESTART_COUNT']} {os.environ['RANK']}"
with open(marker, "a") as f:
    f.write(f"start {me}\\n")
end = time.time() + seconds
while time.time() < end:
    if listens and runtime.receive_suspend_command():
        runtime.go_suspend()
    time.sleep(0.05)
with open(marker, "a") as f:
    f.write(f"done {me}\\n")
"""


class Load:
    """The load generator's view: HTTP answers by class."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.codes: collections.Counter[str] = collections.Counter()

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {ADMIN_TOKEN}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                self.codes[f"{r.status // 100}xx"] += 1
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as exc:
            self.codes[f"{exc.code // 100}xx"] += 1
            if exc.code >= 500:
                self.codes[f"5xx {method} {path.split('?')[0]} {exc.code}"] += 1
            return None
        except (OSError, urllib.error.URLError):
            self.codes["unreachable"] += 1
            return None


def _runs(marker: Path) -> collections.Counter[tuple[str, str]]:
    """(start|done, task id) -> how many times rank 0 of any attempt wrote it."""
    runs: collections.Counter[tuple[str, str]] = collections.Counter()
    if marker.exists():
        for line in marker.read_text().splitlines():
            kind, tid, _attempt, rank = line.split()
            if rank == "0":  # one line per attempt: rank 0's
                runs[(kind, tid)] += 1
    return runs


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rank_pids(home: Path) -> list[int]:
    pids = []
    for f in home.glob("runs/*/rank*/pid"):
        try:
            pid = int(f.read_text())
        except (OSError, ValueError):
            continue
        if not (f.parent / "exit_code").exists():
            pids.append(pid)
    return pids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rate", type=float, default=2.0, help="submissions per second")
    ap.add_argument("--faults", default="server,redis,rank", help="which faults, comma-separated")
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    kinds = tuple(k for k in args.faults.split(",") if k in ("server", "redis", "rank"))
    if not kinds:
        ap.error("--faults: name server, redis and/or rank")
    import pgserver

    work = Path(tempfile.mkdtemp(prefix="hai-soak-"))
    os.chmod(work, 0o755)
    pg = pgserver.get_server(tempfile.mkdtemp(prefix="hai-soak-pg-"), cleanup_mode="delete")
    redis = RedisServer().start()
    home = work / "home"
    home.mkdir()
    db_url = pg.get_uri().replace("postgresql://", "postgresql+psycopg://")
    env = server_env(home, db_url, redis.url, 4)
    env.update({"HAI_SCHEDULER__TICK_S": "0.5", "HAI_SCHEDULER__GRACE_S": "3"})
    env.update({"HAI_SCHEDULER__KILL_GRACE_S": "2", "HAI_LOG_LEVEL": "warning"})
    server = ServerProc(home, env, free_port(), "soak").start()
    script = work / "task.py"
    script.write_text(TASK)
    marker = work / "runs.txt"
    load = Load(server.url)
    servers: list[dict[str, Any]] = []
    assert server.proc is not None
    current = {"pid": server.proc.pid, "started": time.time(), "rss_start_kib": 0}
    faults: collections.Counter[str] = collections.Counter()
    submitted: list[int] = []
    t_end = time.time() + args.minutes * 60
    next_fault = time.time() + rnd.uniform(20, 60)
    next_status = time.time()
    print(f"soak: {args.minutes:g} min, {args.rate:g} submissions/s, seed {args.seed}")
    try:
        while time.time() < t_end:
            if not current["rss_start_kib"] and time.time() - current["started"] > 10:
                current["rss_start_kib"] = rss_kib(current["pid"])
            body = {
                "argv": [sys.executable, "-u", str(script), str(marker),
                         f"{rnd.uniform(0.5, 6):.2f}", rnd.choice("01")],
                "workdir": str(work),
                "kind": "exec",
                "priority": rnd.choice(PRIORITIES),
                "nodes": rnd.choice((1, 1, 1, 2)),
                "name": "soak",
            }  # fmt: skip
            got = load.call("POST", "/api/v1/tasks", body)
            if got and "id" in got:
                submitted.append(int(got["id"]))
            if time.time() >= next_status and submitted:
                load.call("GET", f"/api/v1/tasks/{rnd.choice(submitted)}")
                load.call("GET", "/api/v1/tasks?limit=50")
                next_status = time.time() + 1
            if time.time() >= next_fault:
                kind = rnd.choice(kinds)
                if kind == "server":
                    current["rss_end_kib"] = rss_kib(current["pid"])
                    servers.append(current)
                    server.kill()
                    server.start()
                    assert server.proc is not None
                    current = {"pid": server.proc.pid, "started": time.time(), "rss_start_kib": 0}
                elif kind == "redis":
                    redis.stop()
                    time.sleep(rnd.uniform(5, 15))
                    redis.start()
                else:
                    pids = rank_pids(home)
                    if pids:
                        try:
                            os.killpg(rnd.choice(pids), signal.SIGKILL)
                        except OSError:
                            kind = "rank (already gone)"
                faults[kind] += 1
                print(f"  {time.strftime('%H:%M:%S')} fault: {kind}", flush=True)
                next_fault = time.time() + rnd.uniform(20, 60)
            time.sleep(max(0.0, 1 / args.rate - 0.01))
        # drain: no more submissions or faults. What is still waiting is stopped (on an
        # overloaded cluster LOW tasks wait for as long as higher ones keep coming: that is
        # the policy, not a loss); every task must then reach an end
        waiting = load.call("POST", "/api/v1/tasks/actions/stop", {"states": ["queued"]})
        stopped_waiting = len((waiting or {}).get("changed", []))
        drain_end = time.time() + 600
        final: dict[int, dict[str, Any]] = {}
        while time.time() < drain_end:
            final = {}
            offset = 0
            while True:
                page = load.call("GET", f"/api/v1/tasks?limit={PAGE}&offset={offset}")
                if page is None:
                    break
                final.update({int(t["id"]): t for t in page["tasks"]})
                if len(page["tasks"]) < PAGE:
                    break
                offset += PAGE
            if page is not None and all(
                final.get(tid, {}).get("state") in TERMINAL for tid in submitted
            ):
                break
            time.sleep(3)
        current["rss_end_kib"] = rss_kib(current["pid"])
        servers.append(current)
        states = {
            tid: final[tid]["state"]
            for tid in submitted
            if final.get(tid, {}).get("state") in TERMINAL
        }
        runs = _runs(marker)
        duplicated = [
            tid
            for tid, t in final.items()
            if runs[("done", str(tid))] > 1 or runs[("start", str(tid))] > t["restart_count"] + 1
        ]
        for tid in duplicated[:5]:  # why: the events of the task
            detail = load.call("GET", f"/api/v1/tasks/{tid}") or {}
            print(f"task {tid} ran more often than its attempts:")
            for ev in detail.get("events", []):
                print(f"    {ev['at']:.3f} {ev['kind']}: {ev['message']}")
    finally:
        server.stop()
        for pid in rank_pids(home):
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
        redis.stop()
        pg.cleanup()
    finished = collections.Counter(states.values())
    lost = [tid for tid in submitted if tid not in states]
    five = {k: v for k, v in load.codes.items() if k.startswith("5")}
    print(f"tasks submitted     {len(submitted)}")
    print(f"tasks finished      {sum(finished.values())}  {dict(finished)}")
    print(f"  of which stopped while waiting when the load ended: {stopped_waiting}")
    print(f"tasks lost          {len(lost)}  {lost[:20]}")
    print(f"tasks duplicated    {len(duplicated)}  {duplicated[:20]}")
    print(f"faults              {dict(faults)}")
    for i, s in enumerate(servers):
        print(
            f"server {i}: up {time.time() - s['started']:.0f} s ago, "
            f"RSS start {s['rss_start_kib'] / 1024:.1f} MiB end {s.get('rss_end_kib', 0) / 1024:.1f} MiB"
        )
    print(f"HTTP answers        {dict(load.codes)}")
    longest = max(servers, key=lambda s: s.get("rss_end_kib", 0) and time.time() - s["started"])
    print(
        json.dumps(
            {
                "bench": "soak",
                "minutes": args.minutes,
                "submitted": len(submitted),
                "finished": sum(finished.values()),
                "by_state": dict(finished),
                "stopped_waiting": stopped_waiting,
                "lost": len(lost),
                "duplicated": len(duplicated),
                "faults": dict(faults),
                "server_rss_start_mib": round(servers[0]["rss_start_kib"] / 1024, 1),
                "server_rss_end_mib": round(servers[-1].get("rss_end_kib", 0) / 1024, 1),
                "longest_server_rss_mib": [
                    round(longest["rss_start_kib"] / 1024, 1),
                    round(longest.get("rss_end_kib", 0) / 1024, 1),
                ],
                "http_5xx": sum(v for k, v in five.items() if k in ("5xx",)),
                "unreachable": load.codes.get("unreachable", 0),
            }
        )
    )


if __name__ == "__main__":
    main()
