"""Task endpoints under /api/v1/tasks: thin controllers over TaskService, LogService, WhyService."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.params import Parameter
from litestar.response import Stream

from hai_cli.validate import MAX_INT32, MAX_NODES
from hai_server.services.bulk import Selection
from hai_server.services.logs import MAX_LOG_OFFSET, LogService
from hai_server.services.tasks import MAX_PAGE, Caller, SubmitRequest, TaskService
from hai_server.services.why import WhyService


class TaskController(Controller):
    path = "/api/v1/tasks"

    @post("/", status_code=201)
    async def submit(
        self, caller: Caller, tasks: TaskService, data: SubmitRequest
    ) -> dict[str, Any]:
        return await tasks.submit(caller, data)

    @get("/")
    async def list_tasks(
        self,
        caller: Caller,
        tasks: TaskService,
        states_q: str | None = Parameter(query="state", default=None),
        all_users: bool = Parameter(query="all", default=False),
        limit: int = Parameter(default=50, ge=1, le=MAX_PAGE),
        offset: int = Parameter(default=0, ge=0, le=MAX_INT32),
        name: str | None = Parameter(default=None, max_length=255),
    ) -> dict[str, Any]:
        states = [s for s in (states_q or "").split(",") if s]
        return await tasks.list(
            caller,
            states=states or None,
            all_users=all_users,
            limit=limit,
            offset=offset,
            name=name,
        )

    @post("/actions/{verb:str}", status_code=200)
    async def bulk(
        self, caller: Caller, tasks: TaskService, verb: str, data: Selection
    ) -> dict[str, Any]:
        """stop, suspend, resume, hold or release many tasks in one request and transaction."""
        return await tasks.bulk(caller, verb, data)

    @get("/{task_id:int}")
    async def get_task(self, caller: Caller, tasks: TaskService, task_id: int) -> dict[str, Any]:
        return await tasks.get(caller, task_id)

    @get("/{task_id:int}/submission")
    async def submission(self, caller: Caller, tasks: TaskService, task_id: int) -> dict[str, Any]:
        """The request body that submits this task again (what ``hai-cli describe`` prints)."""
        return await tasks.submission(caller, task_id)

    @post("/{task_id:int}/stop", status_code=200)
    async def stop(self, caller: Caller, tasks: TaskService, task_id: int) -> dict[str, Any]:
        return await tasks.stop(caller, task_id)

    @post("/{task_id:int}/suspend", status_code=200)
    async def suspend(self, caller: Caller, tasks: TaskService, task_id: int) -> dict[str, Any]:
        return await tasks.suspend(caller, task_id)

    @post("/{task_id:int}/resume", status_code=200)
    async def resume(self, caller: Caller, tasks: TaskService, task_id: int) -> dict[str, Any]:
        return await tasks.resume(caller, task_id)

    @post("/{task_id:int}/hold", status_code=200)
    async def hold(self, caller: Caller, tasks: TaskService, task_id: int) -> dict[str, Any]:
        return await tasks.hold(caller, task_id, True)

    @post("/{task_id:int}/release", status_code=200)
    async def release(self, caller: Caller, tasks: TaskService, task_id: int) -> dict[str, Any]:
        return await tasks.hold(caller, task_id, False)

    @get("/{task_id:int}/why")
    async def why(self, caller: Caller, why: WhyService, task_id: int) -> dict[str, Any]:
        return await why.why(caller, task_id)

    @get("/{task_id:int}/logs", media_type="text/plain")
    async def logs(
        self,
        caller: Caller,
        logs: LogService,
        task_id: int,
        rank: int = Parameter(default=0, ge=0, le=MAX_NODES - 1),
        attempt: int | None = Parameter(default=None, ge=0, le=MAX_INT32),  # attempts count from 0
        offset: int = Parameter(default=0, ge=0, le=MAX_LOG_OFFSET),
        follow: bool = False,
    ) -> Any:
        if follow:
            stream = await logs.follow(caller, task_id, rank, attempt, offset)
            return Stream(stream, media_type="text/plain")
        return await logs.read(caller, task_id, rank, attempt, offset)
