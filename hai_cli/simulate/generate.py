"""A trace generator: a realistic mix drawn from a seeded random source.

Many small short jobs, some medium ones, few large long ones; several users of very different
activity (Zipf weights); most work at NORMAL, a little at HIGH and above, some LOW; Poisson
arrivals with a daily cycle, scaled so the offered load is about ``load`` x the cluster.
The same (n, seed, cluster sizes, load) always gives the same text.
"""

from __future__ import annotations

import io
import math
import random

from hai_cli.scheduler.model import Priority

USERS = 16
PRIORITY_MIX = [
    (Priority.EXTREME_HIGH, 1),
    (Priority.VERY_HIGH, 3),
    (Priority.HIGH, 10),
    (Priority.ABOVE_NORMAL, 8),
    (Priority.NORMAL, 50),
    (Priority.BELOW_NORMAL, 10),
    (Priority.LOW, 18),
]
# (share, node choices, median duration s, lognormal sigma, max duration s)
SIZE_CLASSES = [
    (0.75, (1, 1, 1, 2), 900.0, 1.0, 6 * 3600.0),
    (0.20, (4, 8), 3600.0, 0.8, 12 * 3600.0),
    (0.05, (16, 32, 64), 4 * 3600.0, 0.6, 24 * 3600.0),
]
CHECKPOINT_MIX = [("0", 25), ("600", 40), ("1800", 25), ("", 10)]
SUSPEND_MIX = [("5", 50), ("15", 30), ("60", 20)]
HEADER = "id,submit_s,user,group,priority,nodes,duration_s,checkpoint_s,suspend_s"


def generate_trace(
    n: int, seed: int, groups: dict[str, int] | None = None, load: float = 0.9
) -> str:
    """Return a CSV trace of ``n`` jobs for a cluster of ``groups`` {name: nodes}."""
    groups = groups or {"default": 64}
    rng = random.Random(seed)
    names = sorted(groups)
    weights = [groups[g] for g in names]
    users = [f"user{i + 1:02d}" for i in range(USERS)]
    user_w = [1.0 / (i + 1) for i in range(USERS)]
    prios, prio_w = zip(*PRIORITY_MIX, strict=True)
    rows = []
    for i in range(n):
        group = rng.choices(names, weights)[0]
        size = groups[group]
        _, choices, median, sigma, longest = _size_class(rng.random())
        nodes = min(rng.choice(choices), max(1, size // 4))
        duration = min(longest, max(60.0, rng.lognormvariate(math.log(median), sigma)))
        rows.append(
            [
                f"j{i + 1:06d}",
                group,
                rng.choices(users, user_w)[0],
                rng.choices(prios, prio_w)[0].name,
                nodes,
                round(duration),
                rng.choices(*zip(*CHECKPOINT_MIX, strict=True))[0],
                rng.choices(*zip(*SUSPEND_MIX, strict=True))[0],
            ]
        )
    # arrivals: offered node-seconds per second = load x nodes, with a daily cycle
    total_nodes = sum(groups.values())
    work = sum(row[4] * row[5] for row in rows)
    mean_gap = work / max(1, n) / (load * total_nodes)
    t = 0.0
    out = io.StringIO()
    out.write(HEADER + "\n")
    for row in rows:
        day = 1.0 + 0.5 * math.sin(2 * math.pi * t / 86400.0)
        t += rng.expovariate(day / mean_gap) if mean_gap > 0 else 0.0
        job_id, group, user, prio, nodes, duration, ckpt, susp = row
        out.write(f"{job_id},{t:.1f},{user},{group},{prio},{nodes},{duration},{ckpt},{susp}\n")
    return out.getvalue()


def _size_class(r: float) -> tuple[float, tuple[int, ...], float, float, float]:
    for cls in SIZE_CLASSES:
        if r < cls[0]:
            return cls
        r -= cls[0]
    return SIZE_CLASSES[-1]
