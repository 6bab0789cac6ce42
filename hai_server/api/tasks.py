"""Task endpoints under /api/v1/tasks: thin controllers over TaskService and LogService."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import Parameter
from litestar.response import Stream

from hai_server.api.schemas import SubmitBody
from hai_server.services.tasks import Caller, SubmitRequest


class TaskController(Controller):
    path = "/api/v1/tasks"

    @post("/", status_code=201)
    async def submit(self, request: Request, caller: Caller, data: SubmitBody) -> dict[str, Any]:
        req = SubmitRequest(**{f: getattr(data, f) for f in data.__struct_fields__})
        return await request.app.state.tasks.submit(caller, req)

    @get("/")
    async def list_tasks(
        self,
        request: Request,
        caller: Caller,
        states_q: str | None = Parameter(query="state", default=None),
        all_users: bool = Parameter(query="all", default=False),
        limit: int = Parameter(default=50),
        offset: int = Parameter(default=0),
    ) -> dict[str, Any]:
        states = [s for s in (states_q or "").split(",") if s]
        return await request.app.state.tasks.list(
            caller, states=states or None, all_users=all_users, limit=limit, offset=offset
        )

    @get("/{task_id:int}")
    async def get_task(self, request: Request, caller: Caller, task_id: int) -> dict[str, Any]:
        return await request.app.state.tasks.get(caller, task_id)

    @post("/{task_id:int}/stop", status_code=200)
    async def stop(self, request: Request, caller: Caller, task_id: int) -> dict[str, Any]:
        return await request.app.state.tasks.stop(caller, task_id)

    @post("/{task_id:int}/suspend", status_code=200)
    async def suspend(self, request: Request, caller: Caller, task_id: int) -> dict[str, Any]:
        return await request.app.state.tasks.suspend(caller, task_id)

    @post("/{task_id:int}/resume", status_code=200)
    async def resume(self, request: Request, caller: Caller, task_id: int) -> dict[str, Any]:
        return await request.app.state.tasks.resume(caller, task_id)

    @get("/{task_id:int}/why")
    async def why(self, request: Request, caller: Caller, task_id: int) -> dict[str, Any]:
        return await request.app.state.why.why(caller, task_id)

    @get("/{task_id:int}/logs", media_type="text/plain")
    async def logs(
        self,
        request: Request,
        caller: Caller,
        task_id: int,
        rank: int = 0,
        attempt: int | None = None,
        offset: int = 0,
        follow: bool = False,
    ) -> Any:
        svc = request.app.state.logs
        if follow:
            stream = await svc.follow(caller, task_id, rank, attempt, offset)
            return Stream(stream, media_type="text/plain")
        return await svc.read(caller, task_id, rank, attempt, offset)
