"""Health, metrics and identity: what operators and probes ask of a replica.

The replica's moving parts (reconciler, cluster links, log fan-out) are given as callables
returning plain dicts, so this module imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select, text

from hai_server.db import models as m
from hai_server.db.session import Sessions
from hai_server.domain import states as st

Probe = Callable[[], dict[str, Any]]

_LOG_METRICS = (
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


class SystemService:
    def __init__(
        self,
        sessions: Sessions,
        *,
        backend: str,
        mode: str,
        reconciler: Probe,
        cluster: Probe,
        logs: Probe,
        metrics_public: bool = False,
    ) -> None:
        self.metrics_public = metrics_public
        self._sessions = sessions
        self._backend, self._mode = backend, mode
        self._reconciler, self._cluster, self._logs = reconciler, cluster, logs

    async def health(self) -> tuple[dict[str, Any], int]:
        """The health document and its HTTP status (503 when this replica cannot serve)."""
        body: dict[str, Any] = {"status": "ok", "backend": self._backend, "mode": self._mode}
        try:
            async with self._sessions() as s:
                await s.execute(text("SELECT 1"))
            body["database"] = "ok"
        except Exception as exc:
            body["database"] = f"error: {exc}"
            body["status"] = "degraded"
        rec = self._reconciler()
        body["reconciler"] = rec
        if rec["error"]:
            body["status"] = "degraded"
        failing = body["status"] != "ok"
        # Redis is a hint: without it this replica still serves and schedules (1 s timer), so
        # it reports "degraded" but stays in service (200) rather than failing every probe.
        body.update(self._cluster())
        body["logs"] = self._logs()
        if body["redis"] == "down":
            body["status"] = "degraded"
        return body, 503 if failing else 200

    async def metrics(self) -> str:
        """Prometheus text exposition of this replica's figures."""
        async with self._sessions() as s:
            counts = dict(
                (await s.execute(select(m.Task.state, func.count()).group_by(m.Task.state))).all()
            )
            nodes = (await s.execute(select(func.count()).select_from(m.Node))).scalar_one()
        rec = self._reconciler()
        lines = [
            "# HELP hai_tasks Tasks by state.",
            "# TYPE hai_tasks gauge",
            *(f'hai_tasks{{state="{state}"}} {counts.get(state, 0)}' for state in st.STATES),
            "# HELP hai_nodes Nodes known to the scheduler.",
            "# TYPE hai_nodes gauge",
            f"hai_nodes {nodes}",
            "# HELP hai_reconciler_ticks_total Reconciler ticks since start.",
            "# TYPE hai_reconciler_ticks_total counter",
            f"hai_reconciler_ticks_total {rec['ticks']}",
            "# HELP hai_reconciler_last_tick_seconds Duration of the last tick.",
            "# TYPE hai_reconciler_last_tick_seconds gauge",
            f"hai_reconciler_last_tick_seconds {rec['last_tick_ms'] / 1000:.6f}",
        ]
        fan = self._logs()
        for name, kind, about in _LOG_METRICS:
            lines += [
                f"# HELP hai_logs_{name} {about}",
                f"# TYPE hai_logs_{name} {kind}",
                f"hai_logs_{name} {fan[name.removesuffix('_total')]}",
            ]
        return "\n".join(lines) + "\n"
