"""Time one plan() call on three cluster sizes; print figures and one JSON line.

    python benchmarks/bench_plan.py [--repeat N]

Cases (nodes / queued / running): 200 / 2,000 / 200; 2,000 / 20,000 / 2,000;
10,000 / 100,000 / 10,000. Targets: < 100 ms for the 2,000-node case, < 1 s for 10,000.
Every node is busy (one running task per node), so the queue is mostly held, high-priority
tasks preempt, a few tasks are already suspending and a few nodes are unhealthy.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import sys
import time

from hai_cli.scheduler import plan
from hai_cli.scheduler.model import (
    Node,
    PolicyConfig,
    Priority,
    QueuedTask,
    QuotaRow,
    RunningTask,
    Snapshot,
)

CASES = [(200, 2_000, 200), (2_000, 20_000, 2_000), (10_000, 100_000, 10_000)]
TARGET_MS = {2_000: 100.0, 10_000: 1000.0}
LEVELS = [int(p) for p in Priority]
WEIGHTS = [1, 2, 8, 8, 50, 11, 20]  # EXTREME_HIGH .. LOW


def build(n_nodes: int, n_queued: int, n_running: int, seed: int = 7) -> Snapshot:
    rng = random.Random(seed)
    users = [f"user{i:03d}" for i in range(max(10, n_nodes // 20))]
    zones = [f"z{i}" for i in range(max(1, n_nodes // 250))]
    nodes = tuple(
        Node(f"n{i:05d}", "default", zones[i % len(zones)], 8, healthy=rng.random() > 0.002)
        for i in range(n_nodes)
    )
    now = 1_000_000.0
    running = tuple(
        RunningTask(
            id=i + 1,
            user=rng.choice(users),
            group="default",
            priority=rng.choices(LEVELS, WEIGHTS)[0],
            nodes=(nodes[i % n_nodes].name,),
            submitted_at=now - rng.uniform(100, 90_000),
            started_at=now - rng.uniform(0, 80_000),
            last_checkpoint_at=now - rng.uniform(0, 3_600) if rng.random() < 0.5 else None,
            suspending=rng.random() < 0.02,
        )
        for i in range(n_running)
    )
    queued = tuple(
        QueuedTask(
            id=n_running + i + 1,
            user=rng.choice(users),
            group="default",
            priority=rng.choices(LEVELS, WEIGHTS)[0],
            nodes=rng.choices([1, 2, 4, 8, 16], [60, 20, 10, 7, 3])[0],
            submitted_at=now - rng.uniform(0, 100_000),
        )
        for i in range(n_queued)
    )
    quotas = (
        QuotaRow("public", "node-default-EXTREME_HIGH", max(1, n_nodes // 100)),
        QuotaRow("public", "node-default-VERY_HIGH", max(2, n_nodes // 20)),
        QuotaRow("public", "node_limit", max(8, n_nodes // 5)),
    )
    usage = {u: rng.uniform(0, 1e6) for u in users}
    return Snapshot(nodes, running, queued, quotas, {}, usage)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="calls per case (median shown)")
    parser.add_argument("--max-nodes", type=int, default=10_000, help="skip larger cases")
    args = parser.parse_args()
    config = PolicyConfig(min_run_s=300.0)
    results = []
    print(f"{'nodes':>7} {'queued':>8} {'running':>8} {'ms/call':>9} {'decisions/s':>12}  "
          f"{'starts':>6} {'suspends':>8}  target")  # fmt: skip
    for n_nodes, n_queued, n_running in CASES:
        if n_nodes > args.max_nodes:
            continue
        snapshot = build(n_nodes, n_queued, n_running)
        times = []
        result = None
        for _ in range(args.repeat):
            # a fresh node tuple each call, as the reconciler builds one every tick (the node
            # index is memoized on the tuple's identity, which only the simulator profits from)
            fresh = dataclasses.replace(snapshot, nodes=tuple(list(snapshot.nodes)))
            t0 = time.perf_counter()
            result = plan(fresh, config, 1_000_000.0)
            times.append(time.perf_counter() - t0)
        assert result is not None
        ms = statistics.median(times) * 1000
        decisions = len(result.decisions)
        target = TARGET_MS.get(n_nodes)
        verdict = (
            "" if target is None else (f"< {target:g} ms " + ("ok" if ms < target else "MISSED"))
        )
        print(f"{n_nodes:>7} {n_queued:>8} {n_running:>8} {ms:>9.1f} {decisions / (ms / 1000):>12,.0f}"
              f"  {len(result.starts()):>6} {len(result.suspends()):>8}  {verdict}")  # fmt: skip
        results.append(
            {
                "nodes": n_nodes,
                "queued": n_queued,
                "running": n_running,
                "ms": round(ms, 2),
                "decisions_per_s": round(decisions / (ms / 1000)),
                "target_ms": target,
                "ok": target is None or ms < target,
            }
        )
    print(json.dumps({"benchmark": "plan", "python": sys.version.split()[0], "cases": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
