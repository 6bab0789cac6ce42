"""What an operator builds dashboards and alerts on: this replica's Prometheus families.

Three kinds of figures, all rendered by ``prometheus_client``:

* **counters of what the loop did**, counted from the events of the writes it applied
  (``count_writes``): starts, suspends by reason (``preempted`` is a preemption), node
  failures, start failures (``final``: the task failed for good, or will be retried), attempts
  lost, victims that never listened for the notice, and task ends by outcome;
* **histograms** of the tick and of ``plan()`` (the pure policy) durations; the API's request
  latency by route template, method and status comes from Litestar's Prometheus middleware
  (``hai_api_*``, in the process-wide registry rendered after this one);
* **gauges read from the database at scrape time** (``set_snapshot``): tasks by group,
  priority and state, nodes and nodes in use per group, the age of the oldest queued task per
  group; and the replica's own figures (reconciler ticks, log fan-out) through probes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hai_server.domain import states as st
from hai_server.domain.changes import TaskWrite

Probe = Callable[[], Mapping[str, Any]]

SUSPEND_REASONS = ("preempted", "time_slice", "user", "rehearsal", "node_failure")
_TICK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_PLAN_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)

LOG_FAMILIES = (
    ("streams", "gauge", "Rank logs followed on this replica (one tail each)."),
    ("followers", "gauge", "logs -f streams open on this replica."),
    ("tailing", "gauge", "Rank logs this replica tails for every replica (Redis lease held)."),
    ("tail_polls_total", "counter", "File reads of tails (tailer, or polling without Redis)."),
    ("catchup_reads_total", "counter", "File reads of followers behind their tail's buffer."),
    ("gap_fills_total", "counter", "File reads filling gaps between chunks heard from Redis."),
    ("published_total", "counter", "Log chunks published to Redis."),
    ("received_total", "counter", "Log chunks received from other replicas through Redis."),
    ("leases_total", "counter", "Times this replica became a rank log's tailer."),
    ("follows_total", "counter", "logs -f streams opened on this replica."),
    ("dropped_total", "counter", "Chunks heard while behind (their bytes read from the file)."),
)


@dataclass
class DbSnapshot:
    """The database's figures at scrape time (db/usage or services read them)."""

    tasks: Mapping[tuple[str, str, str], int] = field(default_factory=dict)  # group, prio, state
    nodes: Mapping[str, int] = field(default_factory=dict)  # group -> nodes
    nodes_used: Mapping[str, int] = field(default_factory=dict)  # group -> nodes running tasks
    oldest_queued_s: Mapping[str, float] = field(default_factory=dict)  # group -> age


def event_counts(writes: Iterable[TaskWrite]) -> list[tuple[str, tuple[str, ...]]]:
    """``(family, labels)`` for each thing the applied ``writes`` record (pure)."""
    out: list[tuple[str, tuple[str, ...]]] = []
    for w in writes:
        state = w.values.get("state")
        for ev in w.events:
            if ev.kind == "start":
                out.append(("starts", ()))
            elif ev.kind == "suspend":
                reason = str(w.values.get("suspend_reason") or "")
                out.append(("suspends", (reason if reason in SUSPEND_REASONS else "other",)))
            elif ev.kind == "node_failure":
                out.append(("node_failures", ()))
            elif ev.kind == "start_failed":
                out.append(("start_failures", ("true" if state == st.FAILED else "false",)))
            elif ev.kind == "lost":
                out.append(("lost", ()))
            elif ev.kind == "suspend_unheard":
                out.append(("unheard", ()))
        if state in st.TERMINAL:
            out.append(("ends", (str(state),)))
    return out


class _Probes(Collector):
    """The figures kept elsewhere (reconciler, log fan-out, the database snapshot)."""

    def __init__(self, reconciler: Probe, logs: Probe) -> None:
        self._reconciler, self._logs = reconciler, logs
        self.snapshot = DbSnapshot()

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        by_state: dict[str, int] = dict.fromkeys(st.STATES, 0)
        for (_g, _p, state), n in snap.tasks.items():
            by_state[state] = by_state.get(state, 0) + n
        fam = GaugeMetricFamily("hai_tasks", "Tasks by state.", labels=["state"])
        for state in st.STATES:
            fam.add_metric([state], by_state[state])
        yield fam
        fam = GaugeMetricFamily(
            "hai_group_tasks", "Tasks by group, priority and state.",
            labels=["group", "priority", "state"],
        )  # fmt: skip
        for (group, prio, state), n in sorted(snap.tasks.items()):
            fam.add_metric([group, prio, state], n)
        yield fam
        yield GaugeMetricFamily(
            "hai_nodes", "Nodes known to the scheduler.", sum(snap.nodes.values())
        )
        fam = GaugeMetricFamily("hai_group_nodes", "Nodes per group.", labels=["group"])
        for group, n in sorted(snap.nodes.items()):
            fam.add_metric([group], n)
        yield fam
        fam = GaugeMetricFamily(
            "hai_group_nodes_used", "Nodes running a task, per group.", labels=["group"]
        )
        for group in sorted(snap.nodes):
            fam.add_metric([group], snap.nodes_used.get(group, 0))
        yield fam
        fam = GaugeMetricFamily(
            "hai_oldest_queued_seconds",
            "Age of the oldest queued task per group (0: none queued).",
            labels=["group"],
        )
        for group in sorted(set(snap.nodes) | set(snap.oldest_queued_s)):
            fam.add_metric([group], snap.oldest_queued_s.get(group, 0.0))
        yield fam
        rec = self._reconciler()
        yield CounterMetricFamily(
            "hai_reconciler_ticks", "Reconciler ticks since start.", rec["ticks"]
        )
        yield GaugeMetricFamily(
            "hai_reconciler_last_tick_seconds", "Duration of the last tick.",
            rec["last_tick_ms"] / 1000,
        )  # fmt: skip
        fan = self._logs()
        for name, kind, about in LOG_FAMILIES:
            value = fan[name.removesuffix("_total")]
            if kind == "counter":
                yield CounterMetricFamily(f"hai_logs_{name.removesuffix('_total')}", about, value)
            else:
                yield GaugeMetricFamily(f"hai_logs_{name}", about, value)


class Metrics:
    """One replica's registry (one per app: tests run several apps in one process)."""

    def __init__(self, reconciler: Probe, logs: Probe) -> None:
        r = self.registry = CollectorRegistry(auto_describe=False)
        self._probes = _Probes(reconciler, logs)
        r.register(self._probes)
        self._counters: dict[str, Counter] = {
            "starts": Counter("hai_task_starts", "Attempts started.", registry=r),
            "suspends": Counter(
                "hai_task_suspends",
                "Suspends begun, by reason (preempted: a preemption).",
                ["reason"],
                registry=r,
            ),
            "node_failures": Counter(
                "hai_node_failures", "Attempts suspended because a node failed.", registry=r
            ),
            "start_failures": Counter(
                "hai_start_failures",
                "Starts that failed (final: the task failed; otherwise retried after a back-off).",
                ["final"],
                registry=r,
            ),
            "lost": Counter(
                "hai_attempts_lost", "Attempts the backend no longer knew (requeued).", registry=r
            ),
            "unheard": Counter(
                "hai_suspends_unheard",
                "Victims stopped at once because no rank listened for the notice.",
                registry=r,
            ),
            "ends": Counter(
                "hai_task_ends", "Tasks ended by the loop, by outcome.", ["outcome"], registry=r
            ),
        }
        for reason in SUSPEND_REASONS:  # every series exists from the start (rate() needs it)
            self._counters["suspends"].labels(reason)
        for final in ("true", "false"):
            self._counters["start_failures"].labels(final)
        for outcome in sorted(st.TERMINAL):
            self._counters["ends"].labels(outcome)
        self.tick = Histogram(
            "hai_tick_seconds", "Reconciler tick duration.", buckets=_TICK_BUCKETS, registry=r
        )
        self.plan = Histogram(
            "hai_plan_seconds", "plan() (the pure policy) duration.", buckets=_PLAN_BUCKETS,
            registry=r,
        )  # fmt: skip

    def count_writes(self, writes: Sequence[TaskWrite]) -> None:
        """Count what the applied ``writes`` record."""
        for family, labels in event_counts(writes):
            counter = self._counters[family]
            (counter.labels(*labels) if labels else counter).inc()

    def observe_tick(self, tick_ms: float, phases: Mapping[str, float]) -> None:
        self.tick.observe(tick_ms / 1000)
        if "plan" in phases:
            self.plan.observe(phases["plan"] / 1000)

    def render(self, snapshot: DbSnapshot) -> bytes:
        """The exposition text: this replica's families, then the process-wide registry
        (the API middleware's request metrics, process and Python runtime figures)."""
        self._probes.snapshot = snapshot
        return generate_latest(self.registry) + generate_latest(REGISTRY)
