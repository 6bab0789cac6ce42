"""Storage rows and built-in images: ``/api/v1/storage`` (my mounts), ``/api/v1/images``
(the images I may use), and their admin routes under ``/api/v1/admin``."""

from __future__ import annotations

from typing import Any

from litestar import Controller, delete, get, post

from hai_server.services.images import ImageBody, ImageService
from hai_server.services.storage import StorageBody, StorageService
from hai_server.services.tasks import Caller


class StorageController(Controller):
    path = "/api/v1"

    @get("/storage")
    async def mine(self, caller: Caller, storage: StorageService) -> dict[str, Any]:
        return {"mounts": await storage.mine(caller)}

    @get("/admin/storage")
    async def list_rows(self, caller: Caller, storage: StorageService) -> dict[str, Any]:
        return {"storage": await storage.list(caller)}

    @post("/admin/storage", status_code=201)
    async def add_row(
        self, caller: Caller, storage: StorageService, data: StorageBody
    ) -> dict[str, Any]:
        return await storage.add(caller, data)

    @delete("/admin/storage/{row_id:int}", status_code=200)
    async def remove_row(
        self, caller: Caller, storage: StorageService, row_id: int
    ) -> dict[str, Any]:
        return {"deleted": await storage.remove(caller, row_id)}

    @get("/images")
    async def images(
        self, caller: Caller, images: ImageService, all: bool = False
    ) -> dict[str, Any]:
        return {"images": await images.list(caller, every=all)}

    @post("/admin/images", status_code=201)
    async def add_image(
        self, caller: Caller, images: ImageService, data: ImageBody
    ) -> dict[str, Any]:
        return await images.add(caller, data)

    @delete("/admin/images/{name:str}", status_code=200)
    async def remove_image(self, caller: Caller, images: ImageService, name: str) -> dict[str, Any]:
        return {"deleted": await images.remove(caller, name)}
