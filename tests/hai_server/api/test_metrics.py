"""/metrics, parsed with prometheus_client's own parser: the families an operator builds
dashboards and alerts on, after real tasks ran on both databases; and the adapter from the
loop's applied writes to the counters, table-tested."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hai_server.domain.changes import TaskWrite
from hai_server.domain.transition import Event
from hai_server.metrics import event_counts
from tests.support.pg_server import api


def _write(kind: str, **values: object) -> TaskWrite:
    return TaskWrite(1, 0, values=dict(values), events=[Event(1, 0.0, kind, "m")])


@pytest.mark.parametrize(
    ("write", "expected"),
    [
        (_write("start", state="starting"), [("starts", ())]),
        (
            _write("suspend", state="suspending", suspend_reason="preempted"),
            [("suspends", ("preempted",))],
        ),
        (
            _write("suspend", state="suspending", suspend_reason="\x1b[2J" * 50),
            [("suspends", ("other",))],  # a label value never comes from free text
        ),
        (_write("node_failure"), [("node_failures", ())]),
        (_write("start_failed", state="queued"), [("start_failures", ("false",))]),
        (
            _write("start_failed", state="failed"),
            [("start_failures", ("true",)), ("ends", ("failed",))],
        ),
        (_write("lost", state="queued"), [("lost", ())]),
        (_write("suspend_unheard"), [("unheard", ())]),
        (_write("succeeded", state="succeeded"), [("ends", ("succeeded",))]),
        (_write("stopped", state="stopped"), [("ends", ("stopped",))]),
        (_write("running", state="running"), []),
        (TaskWrite(1, None, values={}, events=[]), []),
    ],
)
def test_event_counts(write: TaskWrite, expected: list[tuple[str, tuple[str, ...]]]) -> None:
    assert event_counts([write]) == expected


def _families(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """sample name -> {sorted labels: value}, through the Prometheus text parser."""
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for fam in text_string_to_metric_families(text):
        for sample in fam.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def _one(fams: dict, name: str, **labels: str) -> float:
    return fams[name][tuple(sorted(labels.items()))]


def test_operator_metrics_after_real_tasks(db_url: str, tmp_path: Path) -> None:
    work = tmp_path / "w"
    work.mkdir()
    with api(tmp_path / "home", db_url, nodes=2) as root:
        done = root.submit(["true"], str(work), kind="exec")
        root.wait_state(done["id"], {"succeeded"})
        bad = root.submit(["false"], str(work), kind="exec")
        root.wait_state(bad["id"], {"failed"})
        # a rehearsal: suspended by the platform after 0.3 s, requeued, resumed, finished
        rehearsed = root.submit(
            ["sleep", "30"], str(work), kind="exec", suspend_after=0.3, priority="HIGH"
        )
        root.wait_for(rehearsed["id"], lambda t: t["restart_count"] >= 1, timeout=40)
        root.ok("POST", f"/api/v1/tasks/{rehearsed['id']}/stop")
        root.wait_state(rehearsed["id"], {"stopped"})
        # one waits: a task holding both nodes, and a held one behind it
        blocker = root.submit(["sleep", "60"], str(work), kind="exec", nodes=2)
        root.wait_state(blocker["id"], {"running"})
        waiting = root.submit(["true"], str(work), kind="exec")
        fams = _families(root.ok("GET", "/metrics"))

        assert _one(fams, "hai_task_starts_total") >= 4
        assert _one(fams, "hai_task_ends_total", outcome="succeeded") >= 1
        assert _one(fams, "hai_task_ends_total", outcome="failed") == 1
        assert _one(fams, "hai_task_suspends_total", reason="rehearsal") >= 1
        assert _one(fams, "hai_task_suspends_total", reason="preempted") == 0
        assert _one(fams, "hai_start_failures_total", final="true") == 0
        g = {"group": "default"}
        assert _one(fams, "hai_group_tasks", **g, priority="NORMAL", state="running") == 1
        assert _one(fams, "hai_group_tasks", **g, priority="NORMAL", state="queued") == 1
        assert _one(fams, "hai_group_tasks", **g, priority="NORMAL", state="failed") == 1
        assert _one(fams, "hai_tasks", state="queued") == 1
        assert _one(fams, "hai_group_nodes", **g) == 2
        assert _one(fams, "hai_group_nodes_used", **g) == 2
        assert _one(fams, "hai_oldest_queued_seconds", **g) > 0
        assert _one(fams, "hai_tick_seconds_count") >= 1
        assert _one(fams, "hai_plan_seconds_count") >= 1
        posts = {
            labels: v
            for labels, v in fams["hai_api_requests_total"].items()
            if dict(labels)["path"] == "/api/v1/tasks" and dict(labels)["method"] == "POST"
        }
        assert sum(posts.values()) >= 5, fams["hai_api_requests_total"]
        paths = {dict(labels)["path"] for labels in fams["hai_api_request_duration_seconds_count"]}
        # templates, not ids: no path segment is a number
        assert not any(seg.isdigit() for p in paths for seg in p.split("/")), paths
        assert any(p.startswith("/api/v1/tasks/{") for p in paths), paths
        root.ok("POST", f"/api/v1/tasks/{blocker['id']}/stop")
        root.ok("POST", f"/api/v1/tasks/{waiting['id']}/stop")
