"""haienv endpoints: which tasks use an environment (``haienv remove`` refuses while any do)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get

from hai_server.services.environments import EnvironmentService
from hai_server.services.tasks import Caller


class EnvironmentController(Controller):
    path = "/api/v1/environments"

    @get("/{owner:str}/{name:str}/tasks")
    async def tasks_using(
        self, caller: Caller, environments: EnvironmentService, owner: str, name: str
    ) -> dict[str, Any]:
        return await environments.tasks_using(owner, name)
