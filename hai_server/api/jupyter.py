"""Jupyter container endpoints under /api/v1/jupyter: thin controllers over JupyterService.

Containers are tasks of kind ``jupyter``, but users name them (``/{user}/{name}/`` is their
URL), so this API addresses them by name; ``hai-cli status ID`` and the task API still show
the task behind each one.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.params import Parameter
from litestar.response import Stream

from hai_server.services.jupyter import CreateRequest, JupyterService
from hai_server.services.logs import MAX_LOG_OFFSET, LogService
from hai_server.services.tasks import Caller

TAIL_LINES = 15
User = Parameter(query="user", default=None, max_length=64)


def tail(text: bytes, lines: int = TAIL_LINES) -> list[str]:
    return text.decode("utf-8", "replace").splitlines()[-lines:]


class JupyterController(Controller):
    path = "/api/v1/jupyter"

    @post("/", status_code=201)
    async def create(
        self, caller: Caller, jupyter: JupyterService, data: CreateRequest, request: Request
    ) -> dict[str, Any]:
        server_url = str(request.base_url).rstrip("/")
        return await jupyter.create(caller, data, server_url)

    @get("/")
    async def list_containers(
        self, caller: Caller, jupyter: JupyterService,
        all_users: bool = Parameter(query="all", default=False),
    ) -> dict[str, Any]:  # fmt: skip
        return {"containers": await jupyter.list(caller, all_users)}

    @get("/{name:str}")
    async def status(
        self, caller: Caller, jupyter: JupyterService, logs: LogService, name: str,
        user: str | None = User,
    ) -> dict[str, Any]:  # fmt: skip
        out = await jupyter.get(caller, name, user)
        if out["state"] == "failed":  # why it failed: JupyterLab's last words
            out["log_tail"] = tail(await logs.read(caller, out["id"], 0, None, 0))
        return out

    @get("/{name:str}/token")
    async def token(
        self, caller: Caller, jupyter: JupyterService, name: str, user: str | None = User
    ) -> dict[str, Any]:
        return await jupyter.token(caller, name, user)

    @post("/{name:str}/stop", status_code=200)
    async def stop(
        self, caller: Caller, jupyter: JupyterService, name: str, user: str | None = User
    ) -> dict[str, Any]:
        return await jupyter.stop(caller, name, user)

    @post("/{name:str}/start", status_code=200)
    async def start(
        self, caller: Caller, jupyter: JupyterService, name: str, user: str | None = User
    ) -> dict[str, Any]:
        return await jupyter.start(caller, name, user)

    @delete("/{name:str}", status_code=200)
    async def remove(
        self, caller: Caller, jupyter: JupyterService, name: str, user: str | None = User
    ) -> dict[str, Any]:
        return await jupyter.delete(caller, name, user)

    @get("/{name:str}/logs", media_type="text/plain")
    async def logs(
        self, caller: Caller, jupyter: JupyterService, logs: LogService, name: str,
        user: str | None = User, follow: bool = False,
        offset: int = Parameter(default=0, ge=0, le=MAX_LOG_OFFSET),
    ) -> Any:  # fmt: skip
        task = await jupyter.find(caller, name, user)
        if follow:
            return Stream(await logs.follow(caller, task.id, 0, None, offset),
                          media_type="text/plain")  # fmt: skip
        return await logs.read(caller, task.id, 0, None, offset)
