"""Starvation: how long the longest waits get, for large jobs above all, per policy.

    python benchmarks/bench_starvation.py [--jobs 3000] [--nodes 64] [--seeds 1 2 3 4 5]

Generated traces shaped like a production GPU cluster (many small short jobs, some large ones,
load 0.9), replayed through the real policy by the simulator: time-sharing with and without
the reservation rule (``max_backfill_wait_s``), and fifo for reference. Prints, per trace and
policy, the p95 and max wait of large jobs (>= 8 nodes), the longest wait of all, HIGH work's
p50/p95 wait and the utilisation; then one JSON line. Target (issue 15): time-sharing's
longest wait at most 2x fifo's on every trace, HIGH's gain kept.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

from hai_cli.scheduler.model import Priority
from hai_cli.simulate.cluster import uniform_cluster
from hai_cli.simulate.engine import POLICIES, _Engine
from hai_cli.simulate.generate import generate_trace
from hai_cli.simulate.metrics import percentile
from hai_cli.simulate.trace import parse_trace

LARGE = 8


def figures(result, jobs) -> dict:
    large, all_waits, high = [], [], []
    for job, start in zip(jobs, result.first_start, strict=True):
        if start is None:
            continue
        wait = start - job.submit_s
        all_waits.append(wait)
        if job.nodes >= LARGE:
            large.append(wait)
        if job.priority >= Priority.HIGH:
            high.append(wait)
    large.sort(), all_waits.sort(), high.sort()
    busy = result.busy_node_s
    first = min(j.submit_s for j in jobs)
    last = max(f for f in result.finish if f is not None)
    util = busy / (result.capacity_nodes * (last - first))
    return {
        "large_p95_h": round(percentile(large, 95) / 3600, 2),
        "large_max_h": round((large[-1] if large else 0) / 3600, 2),
        "max_wait_h": round(all_waits[-1] / 3600, 2),
        "high_p50_s": round(percentile(high, 50), 1),
        "high_p95_s": round(percentile(high, 95), 1),
        "utilization": round(util, 4),
        "unfinished": sum(1 for f in result.finish if f is None),
    }


def run(jobs, cluster, name: str, overrides: dict) -> dict:
    base = "fifo" if name == "fifo" else "time-sharing"
    config = dataclasses.replace(POLICIES[base], **overrides)
    t0 = time.perf_counter()
    result = _Engine(jobs, cluster, config, name, 30.0).run()
    out = figures(result, jobs)
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--jobs", type=int, default=3000)
    p.add_argument("--nodes", type=int, default=64)
    p.add_argument("--load", type=float, default=0.9)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    p.add_argument("--wait-h", type=float, default=None, help="max_backfill_wait_s in hours")
    args = p.parse_args()
    cluster = uniform_cluster(args.nodes)
    wait = (
        args.wait_h * 3600
        if args.wait_h is not None
        else POLICIES["time-sharing"].max_backfill_wait_s
    )
    variants = {
        "time-sharing (no reservation)": {"max_backfill_wait_s": None},
        "time-sharing": {"max_backfill_wait_s": wait},
        "fifo": {},
    }
    report: dict[str, dict] = {}
    for seed in args.seeds:
        text = generate_trace(args.jobs, seed, {"default": args.nodes}, args.load)
        jobs = parse_trace(text, "generated")
        report[str(seed)] = {name: run(jobs, cluster, name, o) for name, o in variants.items()}
        print(f"trace seed {seed}: {args.jobs} jobs, {args.nodes} nodes, load {args.load}")
        print(f"  {'policy':32} {'large p95':>9} {'large max':>9} {'max wait':>9} "
              f"{'HIGH p50':>9} {'HIGH p95':>9} {'util':>6}")  # fmt: skip
        for name, f in report[str(seed)].items():
            print(f"  {name:32} {f['large_p95_h']:8.1f}h {f['large_max_h']:8.1f}h "
                  f"{f['max_wait_h']:8.1f}h {f['high_p50_s']:8.0f}s {f['high_p95_s']:8.0f}s "
                  f"{f['utilization']:6.3f}")  # fmt: skip
        ratio = report[str(seed)]["time-sharing"]["max_wait_h"] / max(
            report[str(seed)]["fifo"]["max_wait_h"], 1e-9
        )
        print(f"  longest wait, time-sharing / fifo: {ratio:.2f} (target <= 2)")
    print(json.dumps({"benchmark": "starvation", "max_backfill_wait_s": wait,
                      "jobs": args.jobs, "nodes": args.nodes, "traces": report}))  # fmt: skip


if __name__ == "__main__":
    main()
