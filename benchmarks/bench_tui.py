"""TUI speed: time to first full render with 1,000 tasks, and the cost of one live update.

Runs the real app headless (Textual's run_test) on the demo client, so the figures are the
UI's own cost: no network. Targets (issue 5): first render < 1 s, an update < 50 ms.

    python benchmarks/bench_tui.py [--tasks 1000] [--updates 30]

The app fetches the newest LIST_LIMIT (1,000) tasks, so the first render has at most that
many rows; the live updates hand the app all --tasks tasks (e.g. --tasks 5000), as a larger
list would. Prints figures (with the load average: the machine may be shared), then one
JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import statistics
import time
from collections.abc import Iterator
from typing import Any

from textual.widgets import Log

from hai_cli.tui.app import LIST_LIMIT, Snapshot, build_app
from hai_cli.tui.demo import NOW, DemoClient
from hai_cli.tui.logs import LogsScreen
from hai_cli.tui.model import Filter
from hai_cli.tui.widgets import KeyedTable

SIZE = (120, 40)


def _ms(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    return {
        "median_ms": round(1000 * statistics.median(values), 2),
        "p95_ms": round(1000 * values[int(0.95 * (len(values) - 1))], 2),
        "max_ms": round(1000 * values[-1], 2),
    }


async def first_render(count: int) -> dict[str, float]:
    client = DemoClient(count)
    t0 = time.perf_counter()
    app = build_app(client, clock=lambda: NOW, live=False)
    app.filter = Filter(all_users=True)
    async with app.run_test(size=SIZE) as pilot:
        while app.updates == 0:
            await asyncio.sleep(0.001)
        t_data = time.perf_counter()
        await pilot.pause()  # let the frame with the data be composed and written
        app.screen._compositor.render_strips()
        t_done = time.perf_counter()
        rows = app.main.query_one(KeyedTable).row_count
    assert rows == min(count, LIST_LIMIT), rows
    return {
        "first_render_s": round(t_done - t0, 3),
        "data_applied_s": round(t_data - t0, 3),
        "rows": rows,
    }


def _mutations(tasks: list[dict[str, Any]], kind: str, step: int) -> list[dict[str, Any]]:
    tasks = copy.deepcopy(tasks)
    if kind == "state changes (50 tasks)":
        states = ("running", "queued", "suspended", "succeeded")
        for t in tasks[step % 20 :: 20]:
            t["state"] = states[(t["id"] + step) % len(states)]
    elif kind == "new tasks on top (5)":
        top = max(t["id"] for t in tasks)
        for k in range(1, 6):
            new = dict(tasks[0], id=top + k, name=f"new-{top + k}", state="queued")
            tasks.insert(0, new)
        del tasks[-5:]
    return tasks


async def updates(count: int, rounds: int) -> dict[str, dict[str, dict[str, float]]]:
    client = DemoClient(count)
    clock = [NOW]
    app = build_app(client, clock=lambda: clock[0], live=False)
    app.filter = Filter(all_users=True)
    out: dict[str, dict[str, dict[str, float]]] = {}
    async with app.run_test(size=SIZE) as pilot:
        while app.updates == 0:
            await asyncio.sleep(0.001)
        await pilot.pause()
        base = client.list_tasks(all_users=True, limit=count)
        nodes = client.nodes()["nodes"]
        me = client.whoami()
        current = base["tasks"]
        for kind in (
            "no change",
            "state changes (50 tasks)",
            "new tasks on top (5)",
            "every age ticks (clock +1 min)",
        ):
            handler: list[float] = []
            with_paint: list[float] = []
            cpu_handler: list[float] = []  # CPU time of this thread: what a busy machine adds
            cpu_paint: list[float] = []  # to the wall-clock figures is waiting for a core
            for step in range(rounds):
                if kind == "every age ticks (clock +1 min)":
                    clock[0] += 60
                else:
                    current = _mutations(current, kind, step)
                snap = Snapshot(me, current, len(current), nodes)
                c0, t0 = time.thread_time(), time.perf_counter()
                app.apply(snap)  # what the UI thread does when a refresh arrives
                c1, t1 = time.thread_time(), time.perf_counter()
                app.screen._compositor.render_strips()  # composing the new frame
                c2, t2 = time.thread_time(), time.perf_counter()
                handler.append(t1 - t0)
                with_paint.append(t2 - t0)
                cpu_handler.append(c1 - c0)
                cpu_paint.append(c2 - c0)
                await pilot.pause()  # let Textual process the refresh (not timed)
            out[kind] = {
                "handler": _ms(handler),
                "with_repaint": _ms(with_paint),
                "handler_cpu": _ms(cpu_handler),
                "with_repaint_cpu": _ms(cpu_paint),
            }
    return out


class FloodClient(DemoClient):
    """A task printing `rate` lines per second, in 50 ms bursts."""

    def __init__(self, lines: int, rate: int) -> None:
        super().__init__(4)
        self.flood, self.rate = lines, rate

    def follow_logs(self, task_id: int, **kwargs: Any) -> Iterator[bytes]:
        line = "[2027-01-15 08:00:00.000000] step {} loss 0.1234 " + "x" * 40 + "\n"
        burst = max(1, self.rate // 20)
        start = time.perf_counter()
        for first in range(0, self.flood, burst):
            due = start + first / self.rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            upto = min(self.flood, first + burst)
            yield "".join(line.format(i) for i in range(first, upto)).encode()
        yield b"FLOOD-DONE\n"


async def log_ingest(lines: int, rate: int) -> dict[str, Any]:
    """Follow a fast printer; time the UI thread's work per batch and the event loop's stalls."""
    app = build_app(FloodClient(lines, rate), clock=lambda: NOW, live=False)
    async with app.run_test(size=SIZE) as pilot:
        while app.updates == 0:
            await asyncio.sleep(0.001)
        await pilot.pause()
        stalls: list[float] = []
        running = True

        async def probe() -> None:  # how late does a 10 ms sleep wake up?
            while running:
                t = time.perf_counter()
                await asyncio.sleep(0.01)
                stalls.append(time.perf_counter() - t - 0.01)

        t0 = time.perf_counter()
        await pilot.press("l")
        screen = app.screen
        assert isinstance(screen, LogsScreen)
        while not screen.lines_seen:
            await asyncio.sleep(0.005)
        opened = time.perf_counter() - t0
        prober = asyncio.create_task(probe())  # stalls while lines pour in
        while screen.lines_seen < lines + 1:
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - t0
        running = False
        await prober
        kept = screen.query_one(Log).line_count
        ticks = list(screen.drain_s)
    return {
        "lines": lines,
        "rate_lines_per_s": rate,
        "seconds": round(elapsed, 3),
        "lines_per_s": round(lines / elapsed),
        "kept": kept,
        "batches": len(ticks),
        **{f"batch_{k}": v for k, v in _ms(ticks).items()},
        "loop_stall_max_ms": round(1000 * max(stalls), 1),
        "first_lines_ms": round(1000 * opened, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--updates", type=int, default=30)
    parser.add_argument("--log-lines", type=int, default=60_000)
    parser.add_argument("--log-rate", type=int, default=20_000, help="lines per second")
    args = parser.parse_args()
    if args.tasks < 1 or args.updates < 1:
        parser.error("--tasks and --updates must be at least 1")

    empty = asyncio.run(first_render(0))
    first = asyncio.run(first_render(args.tasks))
    print(
        f"TUI with {args.tasks} tasks at {SIZE[0]}x{SIZE[1]} (headless, demo client); "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs"
    )
    print(
        f"  first full render: {first['first_render_s'] * 1000:.0f} ms "
        f"(data applied at {first['data_applied_s'] * 1000:.0f} ms)   target < 1000 ms"
    )
    print(f"  the same with 0 tasks (app start-up alone): {empty['first_render_s'] * 1000:.0f} ms")
    upd = asyncio.run(updates(args.tasks, args.updates))
    print(f"  one live update ({args.updates} rounds each)   target < 50 ms")
    for kind, figs in upd.items():
        h, p = figs["handler"], figs["with_repaint"]
        print(
            f"    {kind:<32} handler median {h['median_ms']:6.2f} ms p95 {h['p95_ms']:6.2f}"
            f" | with repaint median {p['median_ms']:6.2f} ms p95 {p['p95_ms']:6.2f}"
        )
        h, p = figs["handler_cpu"], figs["with_repaint_cpu"]
        print(
            f"    {'  (CPU time of the UI thread)':<32} handler median {h['median_ms']:6.2f} ms"
            f" p95 {h['p95_ms']:6.2f} | with repaint median {p['median_ms']:6.2f} ms"
            f" p95 {p['p95_ms']:6.2f}"
        )
    logs = asyncio.run(log_ingest(args.log_lines, args.log_rate))
    print(
        f"  logs: {logs['lines']} lines at {logs['rate_lines_per_s']}/s followed in "
        f"{logs['seconds']:.2f} s, {logs['kept']} kept; UI work per batch median "
        f"{logs['batch_median_ms']:.1f} ms, p95 {logs['batch_p95_ms']:.1f} ms; "
        f"worst event-loop stall {logs['loop_stall_max_ms']:.1f} ms; first lines after "
        f"{logs['first_lines_ms']:.0f} ms"
    )
    worst = max(f["with_repaint"]["p95_ms"] for f in upd.values())
    result = {
        "bench": "tui",
        "tasks": args.tasks,
        "size": f"{SIZE[0]}x{SIZE[1]}",
        "first_render_ms": round(first["first_render_s"] * 1000, 1),
        "first_render_empty_ms": round(empty["first_render_s"] * 1000, 1),
        "logs": logs,
        "updates": upd,
        "worst_update_p95_ms": worst,
        "first_render_ok": first["first_render_s"] < 1.0,
        "first_render_rows": first["rows"],
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "update_ok": worst < 50.0,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
