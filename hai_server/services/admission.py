"""What a submission may run as, decided before it is stored: its quota rows and its
owner's role (hai_cli.scheduler.admission), its image (hai_server.domain.images, through
ImageService) and, on a cluster's local backend, its working directory (the storage rows)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hai_cli.scheduler.admission import admit
from hai_cli.scheduler.model import AUTO, PolicyConfig, Priority
from hai_cli.scheduler.quota import EXTERNAL
from hai_server.db.active import storage_row
from hai_server.db.reads import Reads
from hai_server.domain.storage import MountTask
from hai_server.services.errors import QuotaRefused
from hai_server.services.images import ImageService

if TYPE_CHECKING:
    from hai_server.services.storage import StorageService
    from hai_server.services.tasks import Caller, SubmitRequest


@dataclass(frozen=True, slots=True)
class Admitted:
    """The submission as it will be stored: argv (the image's python), env (the image's
    variables under the user's), options (image, train environment)."""

    priority: int
    argv: list[str]
    env: dict[str, str]
    options: dict[str, Any] = field(default_factory=dict)


class Admission:
    def __init__(
        self,
        reads: Reads,
        policy: PolicyConfig | None = None,
        images: ImageService | None = None,
        storage: StorageService | None = None,
    ) -> None:
        """``storage``: check working directories against the storage rows (a cluster's
        local backend, where ranks run in the server's container)."""
        self._reads = reads
        self._policy = policy or PolicyConfig()
        self._images = images
        self._storage = storage

    async def check(
        self, caller: Caller, req: SubmitRequest, group: str, priority: int | None
    ) -> Admitted:
        """``priority`` None: NORMAL, AUTO for external users. 403 for a submission its quota rows (or its owner's role) never let run, or an
        image without quota; 422 for an image the backend cannot run or a working directory
        outside the owner's mounts."""
        if priority is None:
            priority = AUTO if caller.role == EXTERNAL else Priority.NORMAL.value
        rows, groups, images, mounts = await self._reads.submit_context(
            caller.name, caller.role, self._storage is not None
        )
        refusal = admit(
            user=caller.name, role=caller.role, group=group, priority=priority,
            nodes=req.nodes, rows=rows, user_groups=groups, config=self._policy,
            now=time.time(),
        )  # fmt: skip
        if refusal is not None:
            raise QuotaRefused(refusal.message)
        out = Admitted(priority, list(req.argv), dict(req.env))
        if self._images is not None:
            choice = await self._images.choose(caller, req.image, rows, groups, images)
            out.env.clear()
            out.env.update({**choice.env, **req.env})  # the user's -e wins
            if choice.image:
                out.options["image"] = choice.image
            if choice.environment:
                out.options["environment"] = choice.environment
            if choice.python and req.kind == "python" and out.argv[0] in ("python3", "python"):
                out.argv[0] = choice.python
        elif req.image:
            out.options["image"] = req.image
        if self._storage is not None and mounts:
            task = MountTask(group=group, nodes=req.nodes, image=req.image or "",
                             workdir=req.workdir)  # fmt: skip
            storage_rows = [storage_row(r) for r in mounts]
            await self._storage.check_workdir(caller, req.workdir, task, storage_rows, groups)
        return out
