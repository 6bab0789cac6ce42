"""Health, metrics, identity and nodes."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Request, Response, get
from sqlalchemy import func, select, text

from hai_server.db import models as m
from hai_server.services import lifecycle as lc
from hai_server.services.admin import node_holders, node_json
from hai_server.services.tasks import Caller


@get("/healthz", exclude_from_auth=True)
async def healthz(request: Request) -> Response[dict[str, Any]]:
    state = request.app.state
    body: dict[str, Any] = {"status": "ok", "backend": state.backend.name, "mode": state.mode}
    try:
        async with state.sessions() as s:
            await s.execute(text("SELECT 1"))
        body["database"] = "ok"
    except Exception as exc:
        body["database"] = f"error: {exc}"
        body["status"] = "degraded"
    rec = state.reconciler
    body["reconciler"] = {
        "ticks": rec.ticks,
        "last_tick_ms": round(rec.last_tick_ms, 2),
        "error": rec.last_error,
    }
    if rec.last_error:
        body["status"] = "degraded"
    failing = body["status"] != "ok"
    # Redis is a hint: without it this replica still serves and schedules (1 s timer), so
    # it reports "degraded" but stays in service (200) rather than failing every probe.
    body.update(state.cluster.health())
    body["logs"] = state.logfan.health()
    if body["redis"] == "down":
        body["status"] = "degraded"
    return Response(body, status_code=503 if failing else 200)


@get("/metrics", media_type=MediaType.TEXT)
async def metrics(request: Request) -> str:
    state = request.app.state
    async with state.sessions() as s:
        counts = dict(
            (await s.execute(select(m.Task.state, func.count()).group_by(m.Task.state))).all()
        )
        nodes = (await s.execute(select(func.count()).select_from(m.Node))).scalar_one()
    lines = [
        "# HELP hai_tasks Tasks by state.",
        "# TYPE hai_tasks gauge",
        *(f'hai_tasks{{state="{st}"}} {counts.get(st, 0)}' for st in lc.STATES),
        "# HELP hai_nodes Nodes known to the scheduler.",
        "# TYPE hai_nodes gauge",
        f"hai_nodes {nodes}",
        "# HELP hai_reconciler_ticks_total Reconciler ticks since start.",
        "# TYPE hai_reconciler_ticks_total counter",
        f"hai_reconciler_ticks_total {state.reconciler.ticks}",
        "# HELP hai_reconciler_last_tick_seconds Duration of the last tick.",
        "# TYPE hai_reconciler_last_tick_seconds gauge",
        f"hai_reconciler_last_tick_seconds {state.reconciler.last_tick_ms / 1000:.6f}",
    ]
    fan = state.logfan.health()
    for name, kind, about in _LOG_METRICS:
        lines += [
            f"# HELP hai_logs_{name} {about}",
            f"# TYPE hai_logs_{name} {kind}",
            f"hai_logs_{name} {fan[name.removesuffix('_total')]}",
        ]
    return "\n".join(lines) + "\n"


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


@get("/api/v1/whoami")
async def whoami(caller: Caller) -> dict[str, Any]:
    return {"user": caller.name, "role": caller.role}


@get("/api/v1/nodes")
async def nodes(request: Request, caller: Caller) -> dict[str, Any]:
    async with request.app.state.sessions() as s:
        rows = (await s.execute(select(m.Node).order_by(m.Node.group, m.Node.name))).scalars().all()
        holders = await node_holders(s)
    return {"nodes": [node_json(n, holders.get(n.name, [])) for n in rows]}
