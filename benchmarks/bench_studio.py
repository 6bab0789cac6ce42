"""Studio figures: page render time with many tasks, and how fast a log line reaches the page.

1. Render: the app in process (litestar TestClient, SQLite; ``--pg`` adds a fresh PostgreSQL
   database from tests/support/pg.py) with N tasks written straight into the database (most
   finished with one attempt and a few events, 10% queued and held so they stay queued,
   spread over three users), plus a day of samples. Logged in as the admin, each page is
   requested ``--repeat`` times; figures are the request's wall time in process (the
   server's time plus a negligible in-process transport), median and p95, and the process's
   CPU time per request (server and client threads: a figure the other jobs of a shared
   machine disturb less than wall time).
   Target (issue 13): Home and the task list with 1,000 tasks < 150 ms.
2. Log latency (``--log-lines``; needs /usr/bin/chromium): a real embedded server
   (``hai-cli server start``), one task that prints each line the benchmark appends to a
   file, Chromium showing the task page; from the append to the line's appearance on the
   page. Target: < 500 ms p50.

Usage: python benchmarks/bench_studio.py [--tasks 1000,2000] [--repeat 30] [--pg]
       [--log-lines 20]
Prints readable figures, then ONE JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from litestar.testing import TestClient  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from hai_server.app import create_app  # noqa: E402
from hai_server.db import models as m  # noqa: E402
from hai_server.db.session import create_schema, ensure_admin, make_engine, make_sessions  # noqa: E402
from hai_server.settings import LocalSettings, SchedulerSettings, Settings  # noqa: E402

TOKEN = "hai_bench_admin_token_0123456789"
CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')
PAGES = {
    "home": "/",
    "tasks (mine, page 1)": "/tasks",
    "tasks (all users)": "/tasks?all=1",
    "tasks (all, page 10)": "/tasks?all=1&offset=450",
    "tasks (search)": "/tasks?all=1&q=sweep-7",
    "tasks (state)": "/tasks?all=1&state=failed",
    "task detail": "/tasks/{mid}",
}


async def _fill(url: str, n: int) -> None:
    engine = make_engine(url)
    try:
        await create_schema(engine)
        sessions = make_sessions(engine)
        await ensure_admin(sessions, "root", TOKEN)
        now = time.time()
        rng = random.Random(7)
        async with sessions.begin() as s:
            users = []
            for name in ("ann", "bob"):
                u = m.User(name=name, role="internal", active=True, created_at=now)
                s.add(u)
                await s.flush()
                users.append((u.id, name))
            users.append((1, "root"))
        tasks, attempts, events = [], [], []
        for i in range(1, n + 1):
            uid, uname = users[i % 3]
            queued = i % 10 == 0
            state = "queued" if queued else rng.choice(["succeeded"] * 6 + ["failed", "stopped"])
            t0 = now - (n - i) * 30
            tasks.append(
                {"id": i, "name": f"sweep-{i}", "user_id": uid, "user_name": uname,
                 "group": "default", "nodes": 1, "priority": 10, "state": state,
                 "reason": "held" if queued else "", "position": None, "detail": "",
                 "kind": "exec", "argv": ["./train", "--seed", str(i)], "workdir": "/w",
                 "env": {}, "restart_count": 0, "whole_life_state": 0, "submitted_at": t0,
                 "started_at": None if queued else t0 + 1, "ended_at": None if queued else t0 + 20,
                 "exit_code": None if queued else (0 if state == "succeeded" else 1),
                 "suspend_reason": "", "stop_requested": False, "suspend_requested": False,
                 "ran_s": 0.0, "held": queued, "start_failures": 0, "version": 1, "options": {}}
            )  # fmt: skip
            events.append({"task_id": i, "at": t0, "kind": "submitted", "message": "submitted"})
            if not queued:
                attempts.append(
                    {"task_id": i, "number": 0, "nodes": ["local-0"], "priority": 10,
                     "started_at": t0 + 1, "ended_at": t0 + 20, "outcome": state,
                     "exit_code": 0, "log_dir": f"/nonexistent/{i}", "ranks": []}
                )  # fmt: skip
                events.append({"task_id": i, "at": t0 + 20, "kind": state, "message": state})
        samples = [
            {"at": now - k * 60, "group": "default", "nodes": 4, "busy": k % 5, "queued": k % 7,
             "running": k % 5, "preemptions": k % 3}
            for k in range(1440)
        ]  # fmt: skip
        async with sessions.begin() as s:
            await s.execute(insert(m.Task), tasks)
            await s.execute(insert(m.Attempt), attempts)
            await s.execute(insert(m.Event), events)
            await s.execute(insert(m.Sample), samples)
    finally:
        await engine.dispose()


def _time_pages(url: str, home: Path, n: int, repeat: int) -> dict[str, dict[str, float]]:
    asyncio.run(_fill(url, n))
    settings = Settings(
        home=home,
        database_url=url,
        admin_user="root",
        admin_token=TOKEN,
        local=LocalSettings(nodes=4, gpus_per_node=0),
        scheduler=SchedulerSettings(tick_s=5.0, default_quota="unlimited"),
    )
    out: dict[str, dict[str, float]] = {}
    with TestClient(create_app(settings), timeout=60) as client:
        csrf = CSRF.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
        r = client.post("/login", data={"token": TOKEN, "_csrf_token": csrf})
        assert r.status_code == 200 and "Hello, root" in r.text, r.status_code
        for label, path in PAGES.items():
            path = path.format(mid=n // 2 + 1)
            client.get(path)  # warm
            times, cpu = [], []
            for _ in range(repeat):
                t0, c0 = time.perf_counter(), time.process_time()
                r = client.get(path)
                cpu.append((time.process_time() - c0) * 1000)
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, (path, r.status_code, r.text[:300])
            times.sort()
            out[label] = {
                "p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
                "cpu_p50_ms": round(statistics.median(cpu), 1),
                "kb": round(len(r.content) / 1024, 1),
            }
    return out


def log_latency(lines: int) -> dict[str, Any]:
    """From appending a line to the rank's input to its appearance in Chromium's page."""
    from tests.support.browser import NoBrowser, admin_token, chromium, login, server_url
    from tests.support.e2e import start_platform
    from tests.support.pg import ServerDatabase

    echo = (
        "import sys, time\ntrigger = sys.argv[1]\nseen = 0\nprint('started', flush=True)\n"
        "while True:\n    with open(trigger) as f:\n        got = f.read().splitlines()\n"
        "    for line in got[seen:]:\n        print(line, flush=True)\n"
        "    seen = len(got)\n    time.sleep(0.01)\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        plat = start_platform(Path(tmp), 1, ServerDatabase("sqlite"))
        try:
            script = plat.workdir / "echo.py"
            script.write_text(echo)
            trigger = plat.workdir / "trigger.txt"
            trigger.write_text("")
            task_id = plat.submit(script, str(trigger))
            plat.wait_state(task_id, "running")
            url = server_url(plat.home)
            try:
                with chromium() as browser:
                    # bypass_csp: Studio's CSP forbids the eval behind wait_for_function,
                    # whose requestAnimationFrame polling times the line to a frame (~16 ms)
                    page = browser.new_context(bypass_csp=True).new_page()
                    login(page, url, admin_token(plat.home))
                    page.goto(f"{url}/tasks/{task_id}")
                    page.wait_for_function(
                        "document.getElementById('log').textContent.includes('started')"
                    )
                    times = []
                    for i in range(lines):
                        marker = f"line-{i}-{time.time_ns()}"
                        t0 = time.perf_counter()
                        with trigger.open("a") as f:
                            f.write(marker + "\n")
                        page.wait_for_function(
                            f"document.getElementById('log').textContent.includes('{marker}')",
                            polling="raf",
                            timeout=10_000,
                        )
                        times.append((time.perf_counter() - t0) * 1000)
                        time.sleep(0.1 + random.random() * 0.2)
            except NoBrowser as exc:
                return {"skipped": str(exc)}
        finally:
            plat.stop_everything()
    times.sort()
    return {
        "lines": lines,
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
        "max_ms": round(times[-1], 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="1000,2000")
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--pg", action="store_true", help="also on a fresh PostgreSQL database")
    ap.add_argument("--log-lines", type=int, default=20, help="0: skip the browser part")
    args = ap.parse_args()
    result: dict[str, Any] = {"bench": "studio", "render": {}}
    databases = ["sqlite", *(["postgres"] if args.pg else [])]
    for n in (int(x) for x in args.tasks.split(",")):
        for db in databases:
            with tempfile.TemporaryDirectory() as tmp:
                if db == "sqlite":
                    url = f"sqlite+aiosqlite:///{tmp}/hai.db"
                    figures = _time_pages(url, Path(tmp), n, args.repeat)
                else:
                    from tests.support.pg import create_database, drop_database

                    url = create_database()
                    try:
                        figures = _time_pages(url, Path(tmp), n, args.repeat)
                    finally:
                        drop_database(url)
            print(f"\n{n:,} tasks on {db} (ms per request, in process; target < 150 ms)")
            print(f"  {'page':<24} {'p50':>7} {'p95':>7} {'CPU p50':>8} {'KiB':>6}")
            for label, f in figures.items():
                print(
                    f"  {label:<24} {f['p50_ms']:>7.1f} {f['p95_ms']:>7.1f} "
                    f"{f['cpu_p50_ms']:>8.1f} {f['kb']:>6.1f}"
                )
            result["render"][f"{db}-{n}"] = figures
    if args.log_lines:
        lat = log_latency(args.log_lines)
        result["log_latency"] = lat
        if "skipped" in lat:
            print(f"\nlog latency: skipped ({lat['skipped']})")
        else:
            print(
                f"\nlog line to open page ({lat['lines']} lines, target p50 < 500 ms): "
                f"p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms, max {lat['max_ms']} ms"
            )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
