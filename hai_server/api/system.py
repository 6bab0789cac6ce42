"""Health, metrics, identity and nodes: thin handlers over SystemService and NodeService."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Response, get

from hai_server.services.nodes import NodeService
from hai_server.services.system import SystemService
from hai_server.services.tasks import Caller


@get("/healthz", exclude_from_auth=True)
async def healthz(system: SystemService) -> Response[dict[str, Any]]:
    body, status = await system.health()
    return Response(body, status_code=status)


@get("/metrics", media_type=MediaType.TEXT)
async def metrics(system: SystemService) -> str:
    return await system.metrics()


@get("/api/v1/whoami")
async def whoami(caller: Caller) -> dict[str, Any]:
    return {"user": caller.name, "role": caller.role}


@get("/api/v1/nodes")
async def nodes(caller: Caller, nodes: NodeService) -> dict[str, Any]:
    return await nodes.list_nodes(caller)
