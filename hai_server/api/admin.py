"""Admin endpoints under /api/v1/admin: thin controllers over AdminService (admins only)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, post, put

from hai_server.services.tasks import Caller


class UserBody(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    role: str = "internal"
    groups: list[str] = []


class RoleBody(msgspec.Struct, forbid_unknown_fields=True):
    role: str


class GroupsBody(msgspec.Struct, forbid_unknown_fields=True):
    groups: list[str]


class TokenBody(msgspec.Struct, forbid_unknown_fields=True):
    label: str = ""


class RevokeBody(msgspec.Struct, forbid_unknown_fields=True):
    token: str


class QuotaBody(msgspec.Struct, forbid_unknown_fields=True):
    principal: str
    resource: str
    quota: int
    expires_at: float | None = None


class NodeBody(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    group: str
    gpus: int = 0
    zone: str = ""


class AdminController(Controller):
    path = "/api/v1/admin"

    # users
    @get("/users")
    async def list_users(self, request: Request, caller: Caller) -> dict[str, Any]:
        return {"users": await request.app.state.admin.list_users(caller)}

    @post("/users", status_code=201)
    async def add_user(self, request: Request, caller: Caller, data: UserBody) -> dict[str, Any]:
        return await request.app.state.admin.add_user(caller, data.name, data.role, data.groups)

    @post("/users/{name:str}/disable", status_code=200)
    async def disable(self, request: Request, caller: Caller, name: str) -> dict[str, Any]:
        return await request.app.state.admin.set_active(caller, name, False)

    @post("/users/{name:str}/enable", status_code=200)
    async def enable(self, request: Request, caller: Caller, name: str) -> dict[str, Any]:
        return await request.app.state.admin.set_active(caller, name, True)

    @put("/users/{name:str}/role", status_code=200)
    async def role(
        self, request: Request, caller: Caller, name: str, data: RoleBody
    ) -> dict[str, Any]:
        return await request.app.state.admin.set_role(caller, name, data.role)

    @put("/users/{name:str}/groups", status_code=200)
    async def groups(
        self, request: Request, caller: Caller, name: str, data: GroupsBody
    ) -> dict[str, Any]:
        return await request.app.state.admin.set_groups(caller, name, data.groups)

    # tokens
    @get("/tokens")
    async def list_tokens(
        self, request: Request, caller: Caller, user: str | None = None
    ) -> dict[str, Any]:
        return {"tokens": await request.app.state.admin.list_tokens(caller, user)}

    @post("/users/{name:str}/tokens", status_code=201)
    async def new_token(
        self, request: Request, caller: Caller, name: str, data: TokenBody | None = None
    ) -> dict[str, Any]:
        label = data.label if data is not None else ""
        return await request.app.state.admin.new_token(caller, name, label)

    @post("/tokens/{token_id:int}/revoke", status_code=200)
    async def revoke(self, request: Request, caller: Caller, token_id: int) -> dict[str, Any]:
        return await request.app.state.admin.revoke_token(caller, token_id=token_id)

    @post("/tokens/revoke", status_code=200)
    async def revoke_by_value(
        self, request: Request, caller: Caller, data: RevokeBody
    ) -> dict[str, Any]:
        return await request.app.state.admin.revoke_token(caller, token=data.token)

    # quotas
    @get("/quotas")
    async def list_quotas(
        self,
        request: Request,
        caller: Caller,
        principal: str | None = None,
    ) -> dict[str, Any]:
        return {"quotas": await request.app.state.admin.list_quotas(caller, principal)}

    @put("/quotas", status_code=200)
    async def set_quota(self, request: Request, caller: Caller, data: QuotaBody) -> dict[str, Any]:
        return await request.app.state.admin.set_quota(
            caller, data.principal, data.resource, data.quota, data.expires_at
        )

    @delete("/quotas/{principal:str}/{resource:str}", status_code=200)
    async def delete_quota(
        self, request: Request, caller: Caller, principal: str, resource: str
    ) -> dict[str, Any]:
        await request.app.state.admin.delete_quota(caller, principal, resource)
        return {"deleted": {"principal": principal, "resource": resource}}

    # nodes (listed by GET /api/v1/nodes, for everyone)
    @post("/nodes", status_code=201)
    async def add_node(self, request: Request, caller: Caller, data: NodeBody) -> dict[str, Any]:
        return await request.app.state.admin.add_node(
            caller, data.name, data.group, data.gpus, data.zone
        )

    @delete("/nodes/{name:str}", status_code=200)
    async def remove_node(self, request: Request, caller: Caller, name: str) -> dict[str, Any]:
        return {"deleted": await request.app.state.admin.remove_node(caller, name)}

    @post("/nodes/{name:str}/cordon", status_code=200)
    async def cordon(self, request: Request, caller: Caller, name: str) -> dict[str, Any]:
        return await request.app.state.admin.cordon(caller, name, True)

    @post("/nodes/{name:str}/uncordon", status_code=200)
    async def uncordon(self, request: Request, caller: Caller, name: str) -> dict[str, Any]:
        return await request.app.state.admin.cordon(caller, name, False)
