"""``simulate --jobs FILE`` (one row per job) and ``--plot FILE.svg`` (utilisation over time and
wait distributions per priority, one curve per policy)."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET

from typer.testing import CliRunner

from hai_cli.simulate.report import JOB_COLUMNS, utilisation_series
from tests.hai_cli.simulate.test_sim_cli import APP


def cli(*args: str):
    return CliRunner().invoke(APP, ["simulate", *args])


def _trace(tmp_path) -> str:
    out = cli("--generate", "200", "--seed", "7", "--nodes", "12")
    path = tmp_path / "t.csv"
    path.write_text(out.stdout)
    return str(path)


def test_jobs_file_has_one_row_per_job_and_policy_and_agrees_with_the_summary(tmp_path) -> None:
    trace, jobs = _trace(tmp_path), tmp_path / "jobs.csv"
    res = cli(trace, "--nodes", "12", "--compare", "--json", "--no-wall", "--jobs", str(jobs))
    assert res.exit_code == 0, res.output
    summaries = {s["policy"]: s for s in map(json.loads, res.stdout.splitlines())}
    with open(jobs, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == JOB_COLUMNS
    for policy, s in summaries.items():
        mine = [r for r in rows if r["policy"] == policy]
        assert len(mine) == s["jobs"] == 200
        assert sum(int(r["preemptions"]) for r in mine) == s["preemptions"]
        lost = sum(float(r["lost_node_s"]) for r in mine)
        assert abs(lost - s["lost_work_node_s"]) < 1.0
        waits = sorted(float(r["wait_s"]) for r in mine if r["wait_s"])
        assert abs(waits[-1] - s["wait_s"]["max"]) < 0.01
        for r in mine:
            if not r["end_s"]:
                continue
            wait, queued = float(r["wait_s"]), float(r["queued_s"])
            assert abs(float(r["first_start_s"]) - float(r["submit_s"]) - wait) < 0.01
            assert queued >= wait - 0.01  # later waits (after suspensions) add up
            assert int(r["preemptions"]) or abs(queued - wait) < 0.01


def test_plot_is_one_svg_with_a_curve_per_policy(tmp_path) -> None:
    trace, plot = _trace(tmp_path), tmp_path / "p.svg"
    res = cli(trace, "--nodes", "12", "--compare", "--plot", str(plot))
    assert res.exit_code == 0, res.output
    root = ET.parse(plot).getroot()  # well-formed XML
    text = plot.read_text()
    assert root.tag.endswith("svg") and "Nodes busy over time" in text
    assert "Wait, NORMAL jobs" in text and "Wait, HIGH jobs" in text
    for policy in ("time-sharing", "priority", "fifo"):
        assert text.count(policy) >= 2  # legend of the utilisation chart and of the waits


def test_utilisation_series_is_a_share_of_the_cluster(tmp_path) -> None:
    from hai_cli.simulate import load_trace, run_policy, uniform_cluster

    result = run_policy(load_trace(_trace(tmp_path)), uniform_cluster(12), "fifo")
    series = utilisation_series(result, points=50)
    assert len(series) == 50
    assert all(0.0 <= u <= 1.0 + 1e-9 for _, u in series)
    assert max(u for _, u in series) > 0.5


def test_bad_output_paths_fail_before_the_replay(tmp_path) -> None:
    trace = _trace(tmp_path)
    res = cli(trace, "--nodes", "12", "--jobs", str(tmp_path / "nope" / "j.csv"))
    assert res.exit_code == 2 and "no such directory" in res.output
    res = cli(trace, "--nodes", "12", "--plot", str(tmp_path))
    assert res.exit_code == 2 and "is a directory" in res.output
    res = cli("--generate", "5", "--jobs", str(tmp_path / "j.csv"))
    assert res.exit_code == 2 and "not with --generate" in res.output
