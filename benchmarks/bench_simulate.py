"""Simulate 100,000 generated jobs on 2,000 nodes; print figures and one JSON line.

    python benchmarks/bench_simulate.py [--jobs N] [--nodes N] [--tick S] [--policy P|--compare]

Target: under 2 minutes (wall clock) for the default policy at the default tick.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from hai_cli.simulate import (
    POLICIES,
    generate_trace,
    parse_trace,
    run_policy,
    summarize,
    uniform_cluster,
)
from hai_cli.simulate.engine import DEFAULT_TICK_S

TARGET_S = 120.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--nodes", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tick", type=float, default=DEFAULT_TICK_S)
    parser.add_argument("--policy", default="time-sharing", choices=list(POLICIES))
    parser.add_argument("--compare", action="store_true", help="all three policies")
    args = parser.parse_args()
    t0 = time.perf_counter()
    jobs = parse_trace(generate_trace(args.jobs, args.seed, {"default": args.nodes}))
    prep = time.perf_counter() - t0
    cluster = uniform_cluster(args.nodes)
    print(f"{args.jobs:,} jobs on {args.nodes:,} nodes, tick {args.tick:g} s "
          f"(trace generated and parsed in {prep:.1f} s)")  # fmt: skip
    runs = []
    for policy in POLICIES if args.compare else [args.policy]:
        t0 = time.perf_counter()
        result = run_policy(jobs, cluster, policy, args.tick)
        wall = time.perf_counter() - t0
        s = summarize(result, wall)
        ok = wall < TARGET_S
        by = s["wait_s"]["by_priority"]
        high = ("EXTREME_HIGH", "VERY_HIGH", "HIGH")
        high_p95 = max((by[n]["p95"] for n in high if n in by), default=0.0)
        print(f"  {policy:<13} wall {wall:7.1f} s  ({'ok' if ok else 'MISSED'} < {TARGET_S:g} s)  "
              f"plan() calls {s['plans']:,} ({wall / max(1, s['plans']) * 1000:.2f} ms each)  "
              f"util {s['utilization']:.3f}  preemptions {s['preemptions']:,}  "
              f"wait p95 {s['wait_s']['p95']:.0f} s (HIGH and above {high_p95:.0f} s)")  # fmt: skip
        runs.append(
            {
                "policy": policy,
                "wall_s": round(wall, 2),
                "plans": s["plans"],
                "utilization": s["utilization"],
                "preemptions": s["preemptions"],
                "wait_p95_s": s["wait_s"]["p95"],
                "wait_p95_high_s": high_p95,
                "ok": ok,
            }
        )
    print(json.dumps({"benchmark": "simulate", "jobs": args.jobs, "nodes": args.nodes,
                      "tick_s": args.tick, "target_s": TARGET_S, "runs": runs}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
