"""Speed, round two (issue 15's table), measured through the CLI as a user types it.

    python benchmarks/bench_speed.py [--first 15] [--trivial 60] [--notices 5] [--queued 2000]

Starts a throwaway embedded server (temporary HAI_HOME, 2 virtual nodes, 10 s grace) and
measures, each from the moment the `hai-cli` command is started:

- submit command -> the task's first log line (p50, p95);
- trivial tasks run through: 60 `true` tasks on 2 nodes, tasks per second;
- HIGH submit command -> the LOW victim sees the notice, and -> HIGH running, when the victim
  saves at once (p50);
- a victim that never polls the SDK: HIGH submit command -> HIGH running (the grace is 10 s);
- `hai-cli stop --state queued --name ...` of 2,000 queued tasks (one command);
- `hai-cli list -a` (first page) with 2,000+ tasks and `hai-cli list` with 1,000 of the user's.

Prints readable figures, then one JSON line. Targets in the issue: first line <= 150 ms,
>= 20 tasks/s, notice <= 100 ms, HIGH running <= 300 ms, deaf victim <= 6 s, stop 2,000 < 5 s,
list -a < 150 ms, list < 80 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_embedded import VICTIM, pct, wait_for

from hai_cli import embedded
from hai_cli.client import Client

DEAF = r"""
import time
print("deaf up", flush=True)
while True:
    time.sleep(0.05)
"""
CLI = shutil.which("hai-cli", path=str(Path(sys.executable).parent)) or "hai-cli"


def cli(env: dict[str, str], *args: str, cwd: Path | None = None) -> tuple[float, str]:
    """Run ``hai-cli args``; (wall ms, stdout). Fails loudly on a non-zero exit."""
    t0 = time.perf_counter()
    res = subprocess.run([CLI, *args], env=env, capture_output=True, text=True, cwd=cwd)
    wall = (time.perf_counter() - t0) * 1000
    if res.returncode != 0:
        raise RuntimeError(f"hai-cli {' '.join(args)} -> {res.returncode}: {res.stderr}")
    return wall, res.stdout


def submit_cli(env: dict[str, str], work: Path, script: Path, *opts: str) -> tuple[float, int]:
    """(epoch time the command started, task id)."""
    t0 = time.time()
    _, out = cli(env, "python", str(script), "--", *opts, "--json", cwd=work)
    return t0, int(json.loads(out)["id"])


def log_stamp(line: str) -> float:
    stamp = time.mktime(time.strptime(line[1:20], "%Y-%m-%d %H:%M:%S"))
    return stamp + float("0." + line[21:27])


def first_line(client: Client, env: dict[str, str], home: Path, work: Path, n: int) -> list[float]:
    script = work / "first.py"
    script.write_text("print('first line', flush=True)\n")
    out = []
    for _ in range(n):
        t0, tid = submit_cli(env, work, script)
        log = home / "logs" / str(tid) / "attempt-0" / "rank-0.log"
        wait_for(lambda log=log: log.exists() and log.stat().st_size > 0)
        out.append((log_stamp(log.read_text().splitlines()[0]) - t0) * 1000)
        wait_for(lambda tid=tid: client.task(tid)["state"] == "succeeded", step=0.01)
    return out


def trivial(client: Client, work: Path, n: int) -> float:
    def succeeded() -> int:
        return int(client.list_tasks(states=["succeeded"], limit=1)["total"])

    before = succeeded()
    t0 = time.time()
    ids = [
        client.submit({"argv": ["true"], "workdir": str(work), "kind": "exec", "name": "t"})["id"]
        for _ in range(n)
    ]
    # a light poll (one count): a full page every 20 ms would take server time from the run
    wait_for(lambda: succeeded() >= before + n, timeout=300, step=0.05)
    ends = [client.task(i)["ended_at"] for i in ids]
    return n / (max(ends) - t0)


def preempt(
    client: Client, env: dict[str, str], home: Path, work: Path, n: int, deaf: bool
) -> tuple[list[float], list[float]]:
    """(notice seen ms, HIGH's first line ms) per round, from the HIGH submit command's start."""
    victim_py, high_py = work / "victim.py", work / "high.py"
    victim_py.write_text(DEAF if deaf else VICTIM)
    high_py.write_text("print('high runs', flush=True)\n")
    seen_ms, running_ms = [], []
    for i in range(n):
        mark = work / f"seen-{'d' if deaf else 'v'}-{i}"
        argv = [sys.executable, "-u", str(victim_py), str(mark)]
        victim = client.submit(
            {"argv": argv, "workdir": str(work), "priority": "LOW", "nodes": 2, "name": "victim"}
        )["id"]
        wait_for(lambda v=victim: client.task(v)["state"] == "running", step=0.01)
        wait_for(lambda v=victim: " up" in client.logs(v), step=0.01)
        t0, high = submit_cli(env, work, high_py, "-p", "HIGH", "-n", "2")
        if not deaf:
            seen_ms.append(
                (float(wait_for(lambda m=mark: m.exists() and m.read_text())) - t0) * 1000
            )
        wait_for(lambda h=high: client.task(h)["state"] == "succeeded", step=0.01, timeout=120)
        log = home / "logs" / str(high) / "attempt-0" / "rank-0.log"
        running_ms.append((log_stamp(log.read_text().splitlines()[0]) - t0) * 1000)
        client.action(victim, "stop")
        wait_for(lambda v=victim: client.task(v)["state"] == "stopped", step=0.01, timeout=30)
    return seen_ms, running_ms


def stop_queued(client: Client, env: dict[str, str], work: Path, n: int) -> float:
    blocker = client.submit(
        {"argv": ["sleep", "600"], "workdir": str(work), "kind": "exec", "nodes": 2,
         "priority": "HIGH", "name": "blocker"}
    )["id"]  # fmt: skip
    wait_for(lambda: client.task(blocker)["state"] == "running", step=0.01)
    body = {"argv": ["true"], "workdir": str(work), "kind": "exec", "name": "queued-sweep"}
    for _ in range(n):
        client.submit(body)
    wall, out = cli(env, "stop", "--state", "queued", "--name", "queued-*")
    if f"stop: {n:,} tasks" not in out:
        raise RuntimeError(f"stop answered {out!r}")
    client.action(blocker, "stop")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--first", type=int, default=15)
    ap.add_argument("--trivial", type=int, default=60)
    ap.add_argument("--notices", type=int, default=5)
    ap.add_argument("--deaf", type=int, default=2)
    ap.add_argument("--queued", type=int, default=2000)
    ap.add_argument("--list-runs", type=int, default=10)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hai-bench-speed-"))
    home, work = tmp / "home", tmp / "work"
    work.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAI_")} | {
        "HAI_HOME": str(home)
    }
    os.environ.update({"HAI_HOME": str(home), "HAI_SCHEDULER__GRACE_S": "10"})
    info = embedded.start(nodes=2, home=home, quiet=True)
    client = Client(info.url, embedded.token(home))
    try:
        first = first_line(client, env, home, work, args.first)
        rate = trivial(client, work, args.trivial)
        seen, high_running = preempt(client, env, home, work, args.notices, deaf=False)
        _, deaf_running = preempt(client, env, home, work, args.deaf, deaf=True)
        stop_ms = stop_queued(client, env, work, args.queued)
        list_all = [cli(env, "list", "-a")[0] for _ in range(args.list_runs)]
        list_mine = [cli(env, "list")[0] for _ in range(args.list_runs)]
        total = client.list_tasks(limit=1)["total"]
    finally:
        for t in client.list_tasks(limit=1000)["tasks"]:
            if t["state"] in ("queued", "starting", "running", "suspending"):
                client.action(t["id"], "stop")
        time.sleep(1.0)
        embedded.stop(home)
        shutil.rmtree(tmp, ignore_errors=True)

    def p50(v: list[float]) -> float:
        return round(statistics.median(v), 1)

    result = {
        "submit_to_first_line_ms": {"p50": p50(first), "p95": round(pct(first, 0.95), 1)},
        "trivial_tasks_per_s": round(rate, 2),
        "high_submit_to_notice_ms": {"p50": p50(seen), "max": round(max(seen), 1)},
        "high_submit_to_running_ms": {"p50": p50(high_running), "max": round(max(high_running), 1)},
        "deaf_victim_high_running_ms": {"p50": p50(deaf_running), "grace_s": 10},
        "stop_queued_ms": {"tasks": args.queued, "wall": round(stop_ms, 1)},
        "cli_list_all_ms": {"p50": p50(list_all), "tasks": total},
        "cli_list_ms": {"p50": p50(list_mine)},
    }
    print(f"submit command -> first line     p50 {p50(first)} ms  p95 {pct(first, 0.95):.1f} ms")
    print(f"trivial tasks, 2 nodes           {rate:.2f} tasks/s ({args.trivial} tasks)")
    print(f"HIGH submit -> LOW sees notice   p50 {p50(seen)} ms")
    print(f"HIGH submit -> HIGH running      p50 {p50(high_running)} ms (victim saves at once)")
    print(f"deaf victim: HIGH running after  p50 {p50(deaf_running)} ms (grace 10 s)")
    print(f"stop {args.queued:,} queued tasks         {stop_ms:.0f} ms (one command)")
    print(f"hai-cli list -a ({total:,} tasks)     p50 {p50(list_all)} ms")
    print(f"hai-cli list                     p50 {p50(list_mine)} ms")
    print(json.dumps({"benchmark": "speed", **result}))


if __name__ == "__main__":
    main()
