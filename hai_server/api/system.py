"""Health, metrics, identity and nodes: thin handlers over SystemService and NodeService."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Response, get

from hai_server.services.errors import Unauthorized
from hai_server.services.nodes import NodeService
from hai_server.services.overview import OverviewService
from hai_server.services.system import SystemService
from hai_server.services.tasks import Caller


@get("/healthz", exclude_from_auth=True)
async def healthz(system: SystemService, viewer: Caller | None) -> Response[dict[str, Any]]:
    """``{"status": ...}`` for anyone (200, or 503 when this replica cannot serve); the whole
    document (replica id, database and reconciler errors, log fan-out) for admins only."""
    body, status = await system.health()
    if viewer is None or not viewer.admin:
        body = {"status": body["status"]}
    return Response(body, status_code=status)


@get("/metrics", media_type=MediaType.TEXT)
async def metrics(system: SystemService, viewer: Caller | None) -> str:
    """Prometheus text; needs a valid token unless HAI_METRICS_PUBLIC=true."""
    if viewer is None and not system.metrics_public:
        raise Unauthorized("/metrics needs a token (or HAI_METRICS_PUBLIC=true on the server)")
    return await system.metrics()


@get("/api/v1/whoami")
async def whoami(caller: Caller) -> dict[str, Any]:
    return {"user": caller.name, "role": caller.role}


@get("/api/v1/whoami/quota")
async def my_quota(caller: Caller, overview: OverviewService) -> dict[str, Any]:
    """The caller's quota rows (group, priority, limit) with the nodes in use under each."""
    return {"quota": await overview.quota_use(caller)}


@get("/api/v1/nodes")
async def nodes(caller: Caller, node_service: NodeService) -> dict[str, Any]:
    return await node_service.list_nodes(caller)
