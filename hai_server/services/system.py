"""Health, metrics and identity: what operators and probes ask of a replica.

The replica's moving parts (reconciler, cluster links, log fan-out) are given as callables
returning plain dicts, so this module imports none of them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from hai_cli.scheduler.model import priority_name
from hai_server.db import models as m
from hai_server.db.session import Sessions
from hai_server.domain import states as st
from hai_server.metrics import DbSnapshot, Metrics

Probe = Callable[[], dict[str, Any]]


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
        metrics: Metrics | None = None,
        metrics_public: bool = False,
        clock: Callable[[], float] = time.time,
        installation: str = "",
    ) -> None:
        self._installation = installation
        self.metrics_public = metrics_public
        self._metrics = metrics or Metrics(reconciler, logs)
        self._clock = clock
        self._sessions = sessions
        self._backend, self._mode = backend, mode
        self._reconciler, self._cluster, self._logs = reconciler, cluster, logs

    async def health(self) -> tuple[dict[str, Any], int]:
        """The health document and its HTTP status (503 when this replica cannot serve)."""
        body: dict[str, Any] = {"status": "ok", "backend": self._backend, "mode": self._mode}
        if self._installation:
            body["installation"] = self._installation
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
        """Prometheus text exposition of this replica's figures (hai_server/metrics.py)."""
        active = (st.STARTING, st.RUNNING, st.SUSPENDING)
        async with self._sessions() as s:
            tasks = (
                await s.execute(
                    select(m.Task.group, m.Task.priority, m.Task.state, func.count()).group_by(
                        m.Task.group, m.Task.priority, m.Task.state
                    )
                )
            ).all()
            nodes = (
                await s.execute(select(m.Node.group, func.count()).group_by(m.Node.group))
            ).all()
            used = (
                await s.execute(
                    select(m.Task.group, func.sum(m.Task.nodes))
                    .where(m.Task.state.in_(active))
                    .group_by(m.Task.group)
                )
            ).all()
            oldest = (
                await s.execute(
                    select(m.Task.group, func.min(m.Task.submitted_at))
                    .where(m.Task.state == st.QUEUED)
                    .group_by(m.Task.group)
                )
            ).all()
        counts: dict[tuple[str, str, str], int] = {}
        for group, prio, state, n in tasks:
            key = (group, priority_name(prio), state)
            counts[key] = counts.get(key, 0) + n
        now = self._clock()
        snapshot = DbSnapshot(
            tasks=counts,
            nodes=dict(nodes),
            nodes_used={g: int(n or 0) for g, n in used},
            oldest_queued_s={g: max(0.0, now - t) for g, t in oldest if t is not None},
        )
        return self._metrics.render(snapshot).decode()


def installation_id(path: Path | None) -> str:
    """The ``id`` in hai-up's installation marker, "" when there is none or it is unreadable."""
    if path is None:
        return ""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    found = data.get("id") if isinstance(data, dict) else None
    return found if isinstance(found, str) else ""
