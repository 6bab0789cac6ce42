"""Typed dependency injection: every controller receives the services it uses by name.

``create_app``'s lifespan builds one :class:`Services` per replica and keeps it in the app's
state; the providers below hand its members to the handlers (``tasks: TaskService``, ...),
so no handler reaches into an untyped ``app.state``.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide

from hai_server.services.admin import AdminService
from hai_server.services.auth import AuthService
from hai_server.services.environments import EnvironmentService
from hai_server.services.errors import ServiceError
from hai_server.services.images import ImageService
from hai_server.services.jupyter import JupyterService
from hai_server.services.logs import LogService
from hai_server.services.nodes import NodeService
from hai_server.services.overview import OverviewService
from hai_server.services.storage import StorageService
from hai_server.services.system import SystemService
from hai_server.services.tasks import Caller, TaskService
from hai_server.services.why import WhyService
from hai_server.services.workspaces import WorkspaceService


@dataclass(frozen=True, slots=True)
class Services:
    tasks: TaskService
    admin: AdminService
    nodes: NodeService
    logs: LogService
    why: WhyService
    system: SystemService
    auth: AuthService
    overview: OverviewService
    environments: EnvironmentService
    jupyter: JupyterService
    storage: StorageService
    images: ImageService
    workspaces: WorkspaceService


def _services(state: State) -> Services:
    return state.services  # type: ignore[no-any-return]


def provide_tasks(state: State) -> TaskService:
    return _services(state).tasks


def provide_admin(state: State) -> AdminService:
    return _services(state).admin


def provide_nodes(state: State) -> NodeService:
    return _services(state).nodes


def provide_logs(state: State) -> LogService:
    return _services(state).logs


def provide_why(state: State) -> WhyService:
    return _services(state).why


def provide_system(state: State) -> SystemService:
    return _services(state).system


def provide_overview(state: State) -> OverviewService:
    return _services(state).overview


def provide_auth(state: State) -> AuthService:
    return _services(state).auth


def provide_environments(state: State) -> EnvironmentService:
    return _services(state).environments


def provide_jupyter(state: State) -> JupyterService:
    return _services(state).jupyter


def provide_images(state: State) -> ImageService:
    return _services(state).images


def provide_storage(state: State) -> StorageService:
    return _services(state).storage


def provide_workspaces(state: State) -> WorkspaceService:
    return _services(state).workspaces


async def provide_caller(request: Request, state: State) -> Caller:
    """The authenticated caller (401 without a valid bearer token)."""
    return await _services(state).auth.caller(request.headers.get("authorization", ""))


async def provide_viewer(request: Request, state: State) -> Caller | None:
    """The caller if a valid token came with the request, else None (never 401)."""
    header = request.headers.get("authorization", "")
    if not header:
        return None
    try:
        return await _services(state).auth.caller(header)
    except ServiceError:
        return None


DEPENDENCIES = {
    "caller": Provide(provide_caller),
    "viewer": Provide(provide_viewer),
    "tasks": Provide(provide_tasks, sync_to_thread=False),
    "admin": Provide(provide_admin, sync_to_thread=False),
    # not "nodes": a body field of that name would be taken for the dependency (Litestar)
    "node_service": Provide(provide_nodes, sync_to_thread=False),
    "logs": Provide(provide_logs, sync_to_thread=False),
    "why": Provide(provide_why, sync_to_thread=False),
    "system": Provide(provide_system, sync_to_thread=False),
    "overview": Provide(provide_overview, sync_to_thread=False),
    "auth": Provide(provide_auth, sync_to_thread=False),
    "environments": Provide(provide_environments, sync_to_thread=False),
    "jupyter": Provide(provide_jupyter, sync_to_thread=False),
    "storage": Provide(provide_storage, sync_to_thread=False),
    "images": Provide(provide_images, sync_to_thread=False),
    "workspaces": Provide(provide_workspaces, sync_to_thread=False),
}
