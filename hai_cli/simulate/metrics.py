"""Figures of a simulation run: waits, completion times, utilization, preemption cost."""

from __future__ import annotations

import math
from typing import Any

from hai_cli.scheduler.model import Priority
from hai_cli.simulate.engine import SimResult, submitted_priority_name

PRIORITY_ORDER = [p.name for p in Priority] + ["AUTO"]  # EXTREME_HIGH first


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _r(x: float) -> float:
    return round(x, 3)


def summarize(result: SimResult, wall_s: float | None = None) -> dict[str, Any]:
    """One JSON-ready dict; ``wall_s`` (real seconds) goes last and only when given."""
    waits: list[float] = []
    jcts: list[float] = []
    by_prio: dict[str, list[float]] = {}
    first_submit = min(j.submit_s for j in result.jobs)
    last_finish = first_submit
    unfinished = 0
    for job, start, finish in zip(result.jobs, result.first_start, result.finish, strict=True):
        if start is None or finish is None:
            unfinished += 1
            continue
        wait = start - job.submit_s
        waits.append(wait)
        jcts.append(finish - job.submit_s)
        by_prio.setdefault(submitted_priority_name(job), []).append(wait)
        last_finish = max(last_finish, finish)
    waits.sort()
    jcts.sort()
    makespan = last_finish - first_submit
    capacity = result.capacity_nodes * makespan
    out: dict[str, Any] = {
        "policy": result.policy,
        "jobs": len(result.jobs),
        "unfinished": unfinished,
        "makespan_s": _r(makespan),
        "utilization": _r(result.busy_node_s / capacity) if capacity > 0 else 0.0,
        "preemptions": result.preemptions,
        "lost_work_node_s": _r(result.lost_work_node_s),
        "wait_s": {
            "p50": _r(percentile(waits, 50)),
            "p95": _r(percentile(waits, 95)),
            "max": _r(waits[-1] if waits else 0.0),
            "by_priority": {
                name: {
                    "p50": _r(percentile(sorted(by_prio[name]), 50)),
                    "p95": _r(percentile(sorted(by_prio[name]), 95)),
                }
                for name in PRIORITY_ORDER
                if name in by_prio
            },
        },
        "jct_s": {"p50": _r(percentile(jcts, 50)), "p95": _r(percentile(jcts, 95))},
        "plans": result.plans,
    }
    if wall_s is not None:
        out["wall_s"] = round(wall_s, 3)
    return out
