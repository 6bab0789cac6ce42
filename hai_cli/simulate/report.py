"""What a simulation gives beyond its summary: one row per job, and a picture.

``job_rows`` (pure) gives, per job, when it was submitted, first started and ended, how long
it waited, how often it was suspended and the work it lost, so a user can find who waited
longest and why. ``plot_svg`` draws utilisation over time and the distribution of waits per
priority, one curve per policy (pygal, imported only when a plot is asked for).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from hai_cli.simulate.engine import SimResult, submitted_priority_name
from hai_cli.simulate.metrics import PRIORITY_ORDER

JOB_COLUMNS = (
    "policy", "id", "user", "group", "priority", "nodes", "duration_s", "submit_s",
    "first_start_s", "end_s", "wait_s", "queued_s", "preemptions", "lost_node_s",
)  # fmt: skip


def job_rows(result: SimResult) -> Iterable[dict[str, Any]]:
    """One row per job of ``result``. ``wait_s``: submit -> first start; ``queued_s``: all the
    time it spent waiting (first wait and the waits after each suspension)."""
    for i, job in enumerate(result.jobs):
        start, end = result.first_start[i], result.finish[i]
        yield {
            "policy": result.policy,
            "id": job.name,
            "user": job.user,
            "group": job.group,
            "priority": submitted_priority_name(job),
            "nodes": job.nodes,
            "duration_s": round(job.duration_s, 3),
            "submit_s": round(job.submit_s, 3),
            "first_start_s": None if start is None else round(start, 3),
            "end_s": None if end is None else round(end, 3),
            "wait_s": None if start is None else round(start - job.submit_s, 3),
            "queued_s": round(result.queued[i], 3) if end is not None else None,
            "preemptions": result.preempted[i] if result.preempted else 0,
            "lost_node_s": round(result.lost[i], 3) if result.lost else 0.0,
        }


def jobs_csv(results: Sequence[SimResult]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=JOB_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for result in results:
        for row in job_rows(result):
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()


def utilisation_series(result: SimResult, points: int = 200) -> list[tuple[float, float]]:
    """(hours since the first submission, share of nodes busy) averaged over equal bins."""
    if not result.busy:
        return []
    t0 = min(j.submit_s for j in result.jobs)
    t1 = result.busy[-1][0]
    if t1 <= t0:
        return []
    width = (t1 - t0) / points
    series = []
    steps = result.busy
    k, level = 0, 0
    for b in range(points):
        lo, hi = t0 + b * width, t0 + (b + 1) * width
        area, t = 0.0, lo
        while k < len(steps) and steps[k][0] <= hi:
            at, nodes = steps[k]
            if at > t:
                area += level * (at - t)
                t = at
            level = nodes
            k += 1
        area += level * (hi - t)
        series.append(((lo - t0) / 3600, area / width / result.capacity_nodes))
    return series


def wait_cdf(result: SimResult, priority: str) -> list[tuple[float, float]]:
    """(wait in hours, share of the priority's jobs that waited at most that long)."""
    waits = sorted(
        start - job.submit_s
        for job, start in zip(result.jobs, result.first_start, strict=True)
        if start is not None and submitted_priority_name(job) == priority
    )
    n = len(waits)
    return [(w / 3600, (i + 1) / n) for i, w in enumerate(waits)]


def plot_svg(results: Sequence[SimResult]) -> str:
    """One SVG: utilisation over time on top, a wait CDF per priority below."""
    import pygal
    from pygal.style import CleanStyle

    width, height = 900, 320
    charts = []
    util = pygal.XY(
        width=width, height=height, style=CleanStyle, show_dots=False, stroke=True,
        title="Nodes busy over time", x_title="hours", y_title="utilisation",
        range=(0, 1), legend_at_bottom=True, truncate_legend=-1,
    )  # fmt: skip
    for r in results:
        util.add(r.policy, utilisation_series(r))
    charts.append(util.render(is_unicode=True))
    present = [p for p in PRIORITY_ORDER if any(wait_cdf(r, p) for r in results)]
    for p in present:
        cdf = pygal.XY(
            width=width // 2, height=height - 40, style=CleanStyle, show_dots=False,
            title=f"Wait, {p} jobs", x_title="hours waited", y_title="share of jobs",
            range=(0, 1), legend_at_bottom=True, truncate_legend=-1,
        )  # fmt: skip
        for r in results:
            cdf.add(r.policy, _thin(wait_cdf(r, p)))
        charts.append(cdf.render(is_unicode=True))
    return _stack(charts, width, height)


def _thin(points: list[tuple[float, float]], most: int = 400) -> list[tuple[float, float]]:
    if len(points) <= most:
        return points
    step = len(points) / most
    return [points[int(i * step)] for i in range(most)] + [points[-1]]


def _stack(svgs: list[str], width: int, height: int) -> str:
    """Lay the charts out in one SVG: the first full width, the rest two per row."""
    parts, y = [], 0
    first, rest = svgs[0], svgs[1:]
    parts.append(_place(first, 0, y, width, height))
    y += height
    for i in range(0, len(rest), 2):
        for j, svg in enumerate(rest[i : i + 2]):
            parts.append(_place(svg, j * (width // 2), y, width // 2, height - 40))
        y += height - 40
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" '
        f'viewBox="0 0 {width} {y}">{"".join(parts)}</svg>\n'
    )


def _place(svg: str, x: int, y: int, w: int, h: int) -> str:
    body = svg.split("?>", 1)[-1]  # no XML declaration inside another SVG
    return body.replace("<svg ", f'<svg x="{x}" y="{y}" width="{w}" height="{h}" ', 1)
