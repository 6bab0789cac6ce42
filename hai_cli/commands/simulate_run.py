"""The body of ``hai-cli simulate`` (imported only when the command runs)."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from hai_cli.simulate import (
    POLICIES,
    Cluster,
    InputError,
    generate_trace,
    load_cluster,
    load_trace,
    run_policy,
    summarize,
    uniform_cluster,
)

DEFAULT_GENERATE_NODES = 64


def run(
    *,
    trace: str | None,
    nodes: int | None,
    cluster: str | None,
    policy: str,
    compare: bool,
    as_json: bool,
    no_wall: bool,
    tick: float,
    generate: int | None,
    seed: int,
    load: float,
    jobs: str | None = None,
    plot: str | None = None,
) -> int:
    """Run the command; returns the exit code (2 for bad input, after one line on stderr)."""
    try:
        if nodes is not None and cluster is not None:
            raise InputError("give --nodes or --cluster, not both")
        if generate is not None:
            if jobs or plot:
                raise InputError("--jobs and --plot describe a replay; not with --generate")
            return _generate(generate, seed, nodes, cluster, load, trace)
        for path, what in ((jobs, "--jobs"), (plot, "--plot")):
            if path is not None:
                _check_writable(path, what)
        if trace is None:
            raise InputError("missing TRACE (a CSV file), or use --generate N")
        if nodes is None and cluster is None:
            raise InputError("give the cluster: --nodes N or --cluster FILE")
        the_cluster = _cluster(nodes, cluster)
        if not compare and policy not in POLICIES:
            raise InputError(f"unknown policy {policy!r}; use one of {', '.join(POLICIES)}")
        if not tick > 0:
            raise InputError(f"--tick must be > 0, got {tick}")
        trace_jobs = load_trace(trace)
        summaries, results = [], []
        for name in POLICIES if compare else [policy]:
            t0 = time.perf_counter()
            result = run_policy(trace_jobs, the_cluster, name, tick)
            results.append(result)
            wall = time.perf_counter() - t0
            summary = summarize(result, None if no_wall else wall)
            summaries.append(summary)
            if as_json:
                print(json.dumps(summary), flush=True)
        if not as_json:
            print(render_table(summaries, len(the_cluster.nodes), tick))
        if jobs is not None:
            from hai_cli.simulate.report import jobs_csv

            _write(jobs, jobs_csv(results))
        if plot is not None:
            from hai_cli.simulate.report import plot_svg

            _write(plot, plot_svg(results))
        return 0
    except InputError as exc:
        print(f"hai-cli simulate: error: {exc}", file=sys.stderr)
        return 2


def _check_writable(path: str, what: str) -> None:
    """Refuse before the (long) replay a path that cannot be written."""
    import os

    parent = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise InputError(f"{what} {path}: is a directory")
    if not os.path.isdir(parent):
        raise InputError(f"{what} {path}: no such directory {parent}")
    if not os.access(parent, os.W_OK):
        raise InputError(f"{what} {path}: cannot write in {parent}")


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}") from None


def _cluster(nodes: int | None, path: str | None) -> Cluster:
    if path is not None:
        return load_cluster(path)
    assert nodes is not None
    return uniform_cluster(nodes)


def _generate(
    n: int, seed: int, nodes: int | None, cluster: str | None, load: float, trace: str | None
) -> int:
    if trace is not None:
        raise InputError("--generate prints a trace; do not give TRACE as well")
    if n < 1:
        raise InputError(f"--generate needs a number of jobs >= 1, got {n}")
    if not 0 < load <= 10:
        raise InputError(f"--load must be in (0, 10], got {load}")
    if cluster is not None:
        groups = load_cluster(cluster).group_sizes()
    else:
        groups = uniform_cluster(nodes or DEFAULT_GENERATE_NODES).group_sizes()
    sys.stdout.write(generate_trace(n, seed, groups, load))
    return 0


def human(seconds: float) -> str:
    """A short duration: 42s, 3m20s, 2h05m, 1.5d."""
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400 * 2:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{seconds / 86400:.1f}d"


def render_table(summaries: list[dict[str, Any]], nodes: int, tick: float) -> str:
    """Readable tables: one row per policy, then p95 wait by priority."""
    head = ["policy", "jobs", "makespan", "util", "preempt", "lost node-h",
            "wait p50", "wait p95", "wait max", "jct p50", "jct p95", "wall"]  # fmt: skip
    rows = [head]
    for s in summaries:
        w, j = s["wait_s"], s["jct_s"]
        rows.append(
            [
                s["policy"],
                str(s["jobs"]),
                human(s["makespan_s"]),
                f"{s['utilization'] * 100:.1f}%",
                str(s["preemptions"]),
                f"{s['lost_work_node_s'] / 3600:.1f}",
                human(w["p50"]),
                human(w["p95"]),
                human(w["max"]),
                human(j["p50"]),
                human(j["p95"]),
                f"{s['wall_s']:.2f}s" if "wall_s" in s else "-",
            ]
        )
    lines = [f"{nodes} nodes, tick {tick:g} s", *_grid(rows)]
    levels: list[str] = []
    for s in summaries:
        for name in s["wait_s"]["by_priority"]:
            if name not in levels:
                levels.append(name)
    prio_rows = [["wait p95 by priority", *[s["policy"] for s in summaries]]]
    for name in levels:
        cells = [name]
        for s in summaries:
            entry = s["wait_s"]["by_priority"].get(name)
            cells.append(human(entry["p95"]) if entry else "-")
        prio_rows.append(cells)
    unfinished = [f"{s['policy']}: {s['unfinished']}" for s in summaries if s["unfinished"]]
    tail = [f"never finished (quota or capacity): {', '.join(unfinished)}"] if unfinished else []
    return "\n".join([*lines, "", *_grid(prio_rows), *tail])


def _grid(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for k, r in enumerate(rows):
        cells = [c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)]
        out.append("  ".join(cells).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return out
