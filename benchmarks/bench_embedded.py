"""Embedded server speed: submit-to-first-line, suspend-notice latency, `hai-cli list` wall time.

    python benchmarks/bench_embedded.py [--tasks 30] [--notices 10]

Starts a throwaway embedded server (temporary HAI_HOME, 2 virtual nodes), measures, stops it.
Prints readable figures, then one JSON line. Targets (issue 2): p50 submit-to-first-line
< 150 ms, notice < 100 ms, `hai-cli list` < 250 ms with 1,000 tasks in the database.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hai_cli import embedded
from hai_cli.client import Client

VICTIM = r"""
import time, sys
from hai_cli import runtime
print("victim up", flush=True)
while not runtime.receive_suspend_command():
    time.sleep(0.001)
seen = time.time()
with open(sys.argv[1], "w") as fh:
    fh.write(repr(seen))
runtime.go_suspend()
"""


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def wait_for(pred, timeout: float = 60.0, step: float = 0.0005):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError("benchmark condition not reached")


def first_line_latency(client: Client, home: Path, work: Path, n: int) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.time()
        task = client.submit(
            {
                "argv": [sys.executable, "-c", f"print('first line {i}', flush=True)"],
                "workdir": str(work),
                "kind": "exec",
                "name": f"trivial-{i}",
            }
        )
        log = home / "logs" / str(task["id"]) / "attempt-0" / "rank-0.log"
        wait_for(lambda log=log: log.exists() and log.stat().st_size > 0)
        line = log.read_text().splitlines()[0]
        stamp = time.mktime(time.strptime(line[1:20], "%Y-%m-%d %H:%M:%S")) + float(
            "0." + line[21:27]
        )
        out.append((stamp - t0) * 1000)
        wait_for(lambda tid=task["id"]: client.task(tid)["state"] == "succeeded", step=0.01)
    return out


def notice_latency(client: Client, work: Path, n: int) -> list[float]:
    out = []
    script = work / "victim.py"
    script.write_text(VICTIM)
    for i in range(n):
        mark = work / f"seen-{i}"
        victim = client.submit(
            {
                "argv": [sys.executable, "-u", str(script), str(mark)],
                "workdir": str(work),
                "priority": "LOW",
                "nodes": 2,
                "name": "victim",
            }
        )
        try:
            wait_for(lambda v=victim["id"]: client.task(v)["state"] == "running", step=0.01)
        except TimeoutError:
            print(json.dumps(client.list_tasks(limit=5), indent=1)[:3000], file=sys.stderr)
            raise
        wait_for(
            lambda v=victim["id"]: (
                "victim up" in client.logs(v["id"] if isinstance(v, dict) else v)
            ),
            step=0.01,
        )
        t0 = time.time()
        high = client.submit(
            {
                "argv": [sys.executable, "-c", "pass"],
                "workdir": str(work),
                "priority": "HIGH",
                "nodes": 2,
                "kind": "exec",
                "name": "high",
            }
        )
        seen = float(wait_for(lambda m=mark: m.exists() and m.read_text()))
        out.append((seen - t0) * 1000)
        wait_for(lambda h=high["id"]: client.task(h)["state"] == "succeeded", step=0.01)
        client.action(victim["id"], "stop")
        try:
            wait_for(
                lambda v=victim["id"]: client.task(v)["state"] == "stopped", step=0.01, timeout=20
            )
        except TimeoutError:
            print(json.dumps(client.task(victim["id"]), indent=1)[-4000:], file=sys.stderr)
            raise
    return out


def list_wall(home: Path, runs: int, env: dict[str, str], extra: list[str]) -> list[float]:
    exe = shutil.which("hai-cli", path=str(Path(sys.executable).parent)) or "hai-cli"
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([exe, "list", *extra], env=env, check=True, capture_output=True)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def fill(home: Path, total: int) -> None:
    db = sqlite3.connect(home / "hai.db")
    count = db.execute("select count(*) from tasks").fetchone()[0]
    cols = [r[1] for r in db.execute("pragma table_info(tasks)") if r[1] != "id"]
    sel = ", ".join(f'"{c}"' for c in cols)
    while count < total:
        db.execute(
            f"insert into tasks ({sel}) select {sel} from tasks order by id limit ?",
            (min(count, total - count),),
        )
        count = db.execute("select count(*) from tasks").fetchone()[0]
    db.commit()
    db.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=30)
    ap.add_argument("--notices", type=int, default=10)
    ap.add_argument("--list-runs", type=int, default=15)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hai-bench-"))
    home, work = tmp / "home", tmp / "work"
    work.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAI_")} | {
        "HAI_HOME": str(home)
    }
    os.environ.update({"HAI_HOME": str(home), "HAI_SCHEDULER__GRACE_S": "10"})
    info = embedded.start(nodes=2, home=home, quiet=True)
    client = Client(info.url, embedded.token(home))
    try:
        first = first_line_latency(client, home, work, args.tasks)
        notice = notice_latency(client, work, args.notices)
        fill(home, 1000)
        listed = list_wall(home, args.list_runs, env, [])
        listed_all = list_wall(home, max(3, args.list_runs // 3), env, ["--limit", "1000"])
        help_wall = list_wall(home, 5, env, ["--help"])
    finally:
        for t in client.list_tasks(limit=1000)["tasks"]:
            if t["state"] in ("queued", "starting", "running", "suspending"):
                client.action(t["id"], "stop")
        time.sleep(1.0)  # let the stop reach the ranks before the server goes away
        embedded.stop(home)
        if os.environ.get("HAI_BENCH_KEEP"):
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    result = {
        "submit_to_first_line_ms": {
            "p50": round(statistics.median(first), 1),
            "p95": round(pct(first, 0.95), 1),
            "n": len(first),
        },
        "suspend_notice_ms": {
            "p50": round(statistics.median(notice), 1),
            "p95": round(pct(notice, 0.95), 1),
            "max": round(max(notice), 1),
            "n": len(notice),
        },
        "cli_list_ms_1000_tasks": {
            "p50": round(statistics.median(listed), 1),
            "p95": round(pct(listed, 0.95), 1),
        },
        "cli_list_limit_1000_ms": round(statistics.median(listed_all), 1),
        "cli_help_ms": round(statistics.median(help_wall), 1),
        "targets": {"submit_to_first_line_p50_ms": 150, "notice_ms": 100, "cli_list_ms": 250},
    }
    print(
        f"submit -> first log line  p50 {result['submit_to_first_line_ms']['p50']} ms  p95 {result['submit_to_first_line_ms']['p95']} ms  (n={len(first)}, target p50 < 150)"
    )
    print(
        f"high submit -> notice seen  p50 {result['suspend_notice_ms']['p50']} ms  p95 {result['suspend_notice_ms']['p95']} ms  max {result['suspend_notice_ms']['max']} ms  (target < 100)"
    )
    print(
        f"hai-cli list, 1,000 tasks in DB  p50 {result['cli_list_ms_1000_tasks']['p50']} ms  p95 {result['cli_list_ms_1000_tasks']['p95']} ms  (target < 250)"
    )
    print(
        f"hai-cli list --limit 1000  p50 {result['cli_list_limit_1000_ms']} ms;  hai-cli --help {result['cli_help_ms']} ms"
    )
    print(json.dumps({"benchmark": "embedded", **result}))


if __name__ == "__main__":
    main()
