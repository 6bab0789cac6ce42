"""Workspace sync endpoints (``hai-cli workspace``): thin controllers over WorkspaceService.

``/api/v1/workspaces[/NAME]``: list, create, manifest, commit, remove, download a file;
``/api/v1/uploads/SHA256``: resumable content uploads (raw bytes at ``offset``).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.params import Parameter
from litestar.response import Stream

from hai_server.services.errors import Invalid
from hai_server.services.tasks import Caller
from hai_server.services.workspaces import WorkspaceService

MAX_OFFSET = 1 << 50


class WorkspaceController(Controller):
    path = "/api/v1/workspaces"

    @get("/")
    async def list_workspaces(self, caller: Caller, workspaces: WorkspaceService) -> dict[str, Any]:
        return await workspaces.list(caller)

    @post("/{name:str}", status_code=201)
    async def create(
        self, caller: Caller, workspaces: WorkspaceService, name: str
    ) -> dict[str, Any]:
        return await workspaces.create(caller, name)

    @get("/{name:str}")
    async def manifest(
        self, caller: Caller, workspaces: WorkspaceService, name: str
    ) -> dict[str, Any]:
        return await workspaces.manifest(caller, name)

    @post("/{name:str}/commit", status_code=200)
    async def commit(
        self, caller: Caller, workspaces: WorkspaceService, name: str, request: Request
    ) -> dict[str, Any]:
        try:
            body = await request.json()
        except Exception:
            raise Invalid("the body must be JSON: {'files': [...], 'delete': [...]}") from None
        return await workspaces.commit(caller, name, body)

    @post("/{name:str}/files", status_code=200)
    async def download_many(
        self, caller: Caller, workspaces: WorkspaceService, name: str, request: Request
    ) -> Response[bytes]:
        """Small files whole in one answer: ``<sha256> <size>\n<bytes>`` per path asked."""
        try:
            body = await request.json()
        except Exception:
            raise Invalid("the body must be JSON: {'paths': [...]}") from None
        data = await workspaces.read_many(caller, name, body)
        return Response(data, media_type="application/octet-stream")

    @delete("/{name:str}", status_code=200)
    async def remove(
        self, caller: Caller, workspaces: WorkspaceService, name: str
    ) -> dict[str, Any]:
        return await workspaces.remove(caller, name)

    @get("/{name:str}/file")
    async def download(
        self,
        caller: Caller,
        workspaces: WorkspaceService,
        name: str,
        path: str | None = Parameter(query="path", default=None),
        offset: int = Parameter(query="offset", default=0, ge=0, le=MAX_OFFSET),
    ) -> Stream:
        if path is None:
            raise Invalid(
                "the query parameter 'path' (the file's path in the workspace) is required"
            )
        size, body = await workspaces.read(caller, name, path, offset)
        return Stream(
            body,
            media_type="application/octet-stream",
            headers={"Content-Length": str(size)},
        )


class UploadController(Controller):
    path = "/api/v1/uploads"

    @post("/", status_code=200)
    async def bundle(
        self, caller: Caller, workspaces: WorkspaceService, request: Request
    ) -> dict[str, Any]:
        """Small files whole, many in one body: ``<sha256> <size>\n<bytes>`` repeated."""
        return await workspaces.put_bundle(caller, await request.body())

    @get("/{sha:str}")
    async def state(self, caller: Caller, workspaces: WorkspaceService, sha: str) -> dict[str, Any]:
        return await workspaces.upload_state(caller, sha)

    @put("/{sha:str}")
    async def chunk(
        self,
        caller: Caller,
        workspaces: WorkspaceService,
        sha: str,
        request: Request,
        size: int | None = Parameter(query="size", default=None, ge=0, le=MAX_OFFSET),
        offset: int = Parameter(query="offset", default=0, ge=0, le=MAX_OFFSET),
    ) -> dict[str, Any]:
        if size is None:
            raise Invalid("the query parameter 'size' (the file's whole size) is required")
        data = await request.body()
        return await workspaces.put_chunk(caller, sha, size, offset, data)
