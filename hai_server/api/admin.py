"""Admin endpoints under /api/v1/admin: thin controllers over AdminService (admins only)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, delete, get, post, put

from hai_server.services.admin import AdminService
from hai_server.services.nodes import NodeService
from hai_server.services.tasks import Caller


class UserBody(msgspec.Struct, forbid_unknown_fields=True):
    name: str  # its pattern and the roles are documented by api/openapi.py; the service's
    role: str = "internal"  # checks give the precise messages
    groups: list[str] = []
    uid: int | None = None  # the identity its ranks run as when the server runs as root
    gid: int | None = None


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
    async def list_users(self, caller: Caller, admin: AdminService) -> dict[str, Any]:
        return {"users": await admin.list_users(caller)}

    @post("/users", status_code=201)
    async def add_user(self, caller: Caller, admin: AdminService, data: UserBody) -> dict[str, Any]:
        return await admin.add_user(
            caller, data.name, data.role, data.groups, uid=data.uid, gid=data.gid
        )

    @post("/users/{name:str}/disable", status_code=200)
    async def disable(self, caller: Caller, admin: AdminService, name: str) -> dict[str, Any]:
        return await admin.set_active(caller, name, False)

    @post("/users/{name:str}/enable", status_code=200)
    async def enable(self, caller: Caller, admin: AdminService, name: str) -> dict[str, Any]:
        return await admin.set_active(caller, name, True)

    @put("/users/{name:str}/role", status_code=200)
    async def role(
        self, caller: Caller, admin: AdminService, name: str, data: RoleBody
    ) -> dict[str, Any]:
        return await admin.set_role(caller, name, data.role)

    @put("/users/{name:str}/groups", status_code=200)
    async def groups(
        self, caller: Caller, admin: AdminService, name: str, data: GroupsBody
    ) -> dict[str, Any]:
        return await admin.set_groups(caller, name, data.groups)

    # tokens
    @get("/tokens")
    async def list_tokens(
        self, caller: Caller, admin: AdminService, user: str | None = None
    ) -> dict[str, Any]:
        return {"tokens": await admin.list_tokens(caller, user)}

    @post("/users/{name:str}/tokens", status_code=201)
    async def new_token(
        self, caller: Caller, admin: AdminService, name: str, data: TokenBody | None = None
    ) -> dict[str, Any]:
        label = data.label if data is not None else ""
        return await admin.new_token(caller, name, label)

    @post("/tokens/{token_id:int}/revoke", status_code=200)
    async def revoke(self, caller: Caller, admin: AdminService, token_id: int) -> dict[str, Any]:
        return await admin.revoke_token(caller, token_id=token_id)

    @post("/tokens/revoke", status_code=200)
    async def revoke_by_value(
        self, caller: Caller, admin: AdminService, data: RevokeBody
    ) -> dict[str, Any]:
        return await admin.revoke_token(caller, token=data.token)

    # quotas
    @get("/quotas")
    async def list_quotas(
        self,
        caller: Caller,
        admin: AdminService,
        principal: str | None = None,
    ) -> dict[str, Any]:
        return {"quotas": await admin.list_quotas(caller, principal)}

    @put("/quotas", status_code=200)
    async def set_quota(
        self, caller: Caller, admin: AdminService, data: QuotaBody
    ) -> dict[str, Any]:
        return await admin.set_quota(
            caller, data.principal, data.resource, data.quota, data.expires_at
        )

    @delete("/quotas/{principal:str}/{resource:str}", status_code=200)
    async def delete_quota(
        self, caller: Caller, admin: AdminService, principal: str, resource: str
    ) -> dict[str, Any]:
        await admin.delete_quota(caller, principal, resource)
        return {"deleted": {"principal": principal, "resource": resource}}

    # nodes (listed by GET /api/v1/nodes, for everyone)
    @post("/nodes", status_code=201)
    async def add_node(
        self, caller: Caller, node_service: NodeService, data: NodeBody
    ) -> dict[str, Any]:
        return await node_service.add_node(caller, data.name, data.group, data.gpus, data.zone)

    @delete("/nodes/{name:str}", status_code=200)
    async def remove_node(
        self, caller: Caller, node_service: NodeService, name: str
    ) -> dict[str, Any]:
        return {"deleted": await node_service.remove_node(caller, name)}

    @post("/nodes/{name:str}/cordon", status_code=200)
    async def cordon(self, caller: Caller, node_service: NodeService, name: str) -> dict[str, Any]:
        return await node_service.cordon(caller, name, True)

    @post("/nodes/{name:str}/uncordon", status_code=200)
    async def uncordon(
        self, caller: Caller, node_service: NodeService, name: str
    ) -> dict[str, Any]:
        return await node_service.cordon(caller, name, False)
