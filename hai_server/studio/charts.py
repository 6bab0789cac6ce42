"""Small SVG charts drawn on the server: geometry only (pure), the template draws the shapes.

A chart is a dict: ``width``/``height``, ``series`` (each a name, a colour index and an SVG
``points`` string) or ``bars`` (x, y, w, h, label, value), the y-axis maximum and the time
labels. The numbers come from OverviewService.history.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

WIDTH, HEIGHT = 480, 160
PAD_L, PAD_R, PAD_T, PAD_B = 34, 8, 8, 22
HOUR_S, DAY_S = 3600.0, 86400.0


def _nice_max(value: float) -> float:
    """The smallest of 1, 2, 5 x 10^k at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1.0
    scale = 1.0
    while True:
        for step in (1, 2, 5):
            if step * scale >= value:
                return step * scale
        scale *= 10


def _label(ts: float, span: float) -> str:
    fmt = "%H:%M" if span <= 2 * DAY_S else "%m-%d"
    return time.strftime(fmt, time.gmtime(ts))


def line_chart(
    series: dict[str, list[tuple[float, float]]], t0: float, t1: float, y_max: float | None = None
) -> dict[str, Any]:
    """Lines over [t0, t1]; ``y_max`` fixes the top (e.g. 100 for percentages)."""
    span = max(t1 - t0, 1.0)
    top = y_max or _nice_max(max((y for pts in series.values() for _, y in pts), default=0))
    inner_w, inner_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B
    out = []
    for i, (name, pts) in enumerate(sorted(series.items())):
        coords = [
            f"{PAD_L + inner_w * (t - t0) / span:.1f},{PAD_T + inner_h * (1 - min(y, top) / top):.1f}"
            for t, y in sorted(pts)
            if t0 <= t <= t1
        ]
        out.append({"name": name, "colour": i % 6, "points": " ".join(coords), "n": len(coords)})
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "series": out,
        "bars": [],
        "y_max": _fmt(top),
        "x_labels": _x_labels(t0, t1),
        "empty": not any(s["n"] for s in out),
        **_frame(),
    }


def bar_chart(buckets: dict[float, float], t0: float, t1: float, bucket_s: float) -> dict[str, Any]:
    """One bar per ``bucket_s`` from t0 to t1 (missing buckets are 0)."""
    first = t0 - t0 % bucket_s
    starts = []
    b = first
    while b <= t1:
        starts.append(b)
        b += bucket_s
    top = _nice_max(max(buckets.values(), default=0))
    inner_w, inner_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B
    slot = inner_w / max(len(starts), 1)
    bars = []
    for i, start in enumerate(starts):
        value = buckets.get(start, 0.0)
        h = inner_h * min(value, top) / top
        bars.append(
            {
                "x": round(PAD_L + i * slot + slot * 0.1, 1),
                "y": round(PAD_T + inner_h - h, 1),
                "w": round(slot * 0.8, 1),
                "h": round(h, 1),
                "value": _fmt(value),
                "label": _label(start, t1 - t0),
            }
        )
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "series": [],
        "bars": bars,
        "y_max": _fmt(top),
        "x_labels": _x_labels(t0, t1),
        "empty": not any(buckets.get(s, 0) for s in starts),
        **_frame(),
    }


def _frame() -> dict[str, float]:
    return {"left": PAD_L, "right": WIDTH - PAD_R, "top": PAD_T, "bottom": HEIGHT - PAD_B}


def _x_labels(t0: float, t1: float) -> list[dict[str, Any]]:
    span = max(t1 - t0, 1.0)
    inner_w = WIDTH - PAD_L - PAD_R
    return [
        {"x": round(PAD_L + inner_w * f, 1), "text": _label(t0 + span * f, span), "anchor": anchor}
        for f, anchor in ((0.0, "start"), (0.5, "middle"), (1.0, "end"))
    ]


def _fmt(v: float) -> str:
    return f"{v:.0f}" if v >= 10 or v == int(v) else f"{v:.1f}"


MIN_SPAN_S = 600.0
MAX_POINTS = 240  # per line: more than the chart's pixels would show


def downsample(
    points: list[tuple[float, float]], t0: float, t1: float
) -> list[tuple[float, float]]:
    """At most MAX_POINTS points: the mean of each of MAX_POINTS equal slices of [t0, t1]."""
    if len(points) <= MAX_POINTS:
        return points
    width = max(t1 - t0, 1.0) / MAX_POINTS
    sums: dict[int, list[float]] = {}
    for t, y in points:
        acc = sums.setdefault(int((t - t0) // width), [0.0, 0.0, 0.0])
        acc[0] += t
        acc[1] += y
        acc[2] += 1
    return [(a[0] / a[2], a[1] / a[2]) for _, a in sorted(sums.items())]


def home_charts(history: dict[str, Any], t0: float, t1: float) -> list[dict[str, Any]]:
    """The four charts of Home: utilisation per group (%), queued tasks, preemptions per
    hour, the user's GPU-hours (node-hours on a cluster without GPUs) per day. The sample
    charts start at the first sample when that is later than ``t0`` (a young server), and
    span at least ``MIN_SPAN_S``."""
    first = min((s["at"] for s in history["samples"]), default=t0)
    t0 = max(t0, min(first, t1 - MIN_SPAN_S))
    util: dict[str, list[tuple[float, float]]] = defaultdict(list)
    queued: dict[float, float] = defaultdict(float)
    preempt: dict[float, float] = defaultdict(float)
    for s in history["samples"]:
        util[s["group"]].append((s["at"], 100.0 * s["busy"] / s["nodes"] if s["nodes"] else 0.0))
        queued[s["at"]] += s["queued"]
        preempt[s["at"] - s["at"] % HOUR_S] += s["preemptions"]
    usage = history["my_usage"]
    gpus = any(u["gpu_hours"] for u in usage)
    per_day = {u["day"]: u["gpu_hours" if gpus else "node_hours"] for u in usage}
    day0 = t1 - 6 * DAY_S  # the last seven days
    util = {g: downsample(pts, t0, t1) for g, pts in util.items()}
    queued_line = downsample(sorted(queued.items()), t0, t1)
    none = "No samples yet: the server records them every studio.sample_interval_s."
    return [
        {"title": "Utilisation per group (% of usable nodes busy)", "none": none,
         **line_chart(dict(util), t0, t1, y_max=100.0)},
        {"title": "Queued tasks", "none": none,
         **line_chart({"queued": queued_line}, t0, t1)},
        {"title": "Preemptions per hour", "none": "No preemptions in this window.",
         **bar_chart(dict(preempt), t0, t1, HOUR_S)},
        {"title": f"My {'GPU' if gpus else 'node'}-hours per day (7 days)",
         "none": "None of your tasks ran in the last 7 days.",
         **bar_chart(per_day, day0, t1, DAY_S)},
    ]  # fmt: skip
