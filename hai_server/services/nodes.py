"""Node administration and the node list.

The backend's inventory is the authority on the nodes it reports (the reconciler copies their
group, zone, GPUs and health; on Kubernetes the group comes from a node label). ``add_node``
registers a node the backend does not report (yet): it is listed as unhealthy ("registered;
not reported by the backend") and nothing is scheduled on it. Once the backend reports that
name, the node is an ordinary one, with the backend's group, zone and GPUs. A cordon is the
admin's own and survives either way, so a node can be registered and cordoned before it
joins. ``remove_node`` deletes the record of a node the backend does not report (a
registration, or a machine the reconciler found missing from the backend's inventory) when
no active task holds it. Both decisions are read from the database, which the leader's
reconciler keeps in step with the backend: the API and services never ask a backend.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from hai_server.db import models as m
from hai_server.db.nodes import MISSING, node_holders
from hai_server.db.session import Sessions
from hai_server.services.admin import absent, check_group
from hai_server.services.errors import Conflict, Forbidden, Invalid, NotFound
from hai_server.services.tasks import Caller

_NODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$")
MAX_GPUS = 1024
REGISTERED = "registered by an admin; not reported by the backend"


def _require(caller: Caller) -> None:
    if not caller.admin:
        raise Forbidden("this needs the admin role")


def _not_reported(node: m.Node) -> bool:
    """A registration (``admin node add``, or hai-up's init.sql: "registered by hai-up, ...")
    the backend has not reported yet, or a node the reconciler found missing from it."""
    return not node.healthy and (
        node.message == MISSING or node.message.startswith("registered by ")
    )


def check_node_name(name: str) -> str:
    if not _NODE.fullmatch(name):
        raise Invalid(
            f"bad node name {name!r}: 1-128 letters, digits, _ . -, starting with a letter or digit"
        )
    return name


def node_json(n: m.Node, tasks: list[int]) -> dict[str, Any]:
    """A node as ``GET /api/v1/nodes`` lists it."""
    state = (
        "unhealthy" if not n.healthy else "cordoned" if n.cordoned else "busy" if tasks else "free"
    )
    return {
        "name": n.name,
        "group": n.group,
        "zone": n.zone,
        "gpus": n.gpus,
        "healthy": n.healthy,
        "cordoned": n.cordoned,
        "state": state,
        "tasks": sorted(tasks),
        "message": n.message,
    }


class NodeService:
    def __init__(self, sessions: Sessions, wake: Callable[[], None]) -> None:
        self._sessions = sessions
        self._wake = wake

    async def list_nodes(self, caller: Caller) -> dict[str, Any]:
        """Every node with its state and the active tasks holding it (any user may look)."""
        async with self._sessions() as s:
            rows = (
                (await s.execute(select(m.Node).order_by(m.Node.group, m.Node.name)))
                .scalars()
                .all()
            )
            holders = await node_holders(s)
        return {"nodes": [node_json(n, holders.get(n.name, [])) for n in rows]}

    async def add_node(
        self, caller: Caller, name: str, group: str, gpus: int = 0, zone: str = ""
    ) -> dict[str, Any]:
        """Register a node the backend does not report (yet); see the module docstring."""
        _require(caller)
        check_node_name(name)
        check_group(group)
        if zone:
            check_group(zone)
        if isinstance(gpus, bool) or not isinstance(gpus, int) or not 0 <= gpus <= MAX_GPUS:
            raise Invalid(f"gpus must be a whole number from 0 to {MAX_GPUS}, got {gpus!r}")
        try:
            async with self._sessions.begin() as s:
                if await s.get(m.Node, name) is not None:
                    raise Conflict(f"node {name} already exists")
                node = m.Node(
                    name=name,
                    group=group,
                    zone=zone,
                    gpus=gpus,
                    healthy=False,
                    cordoned=False,
                    message=REGISTERED,
                    updated_at=time.time(),
                )
                s.add(node)
                await s.flush()
                out = node_json(node, [])
        except IntegrityError:  # the reconciler (or another admin) inserted it meanwhile
            raise Conflict(f"node {name} already exists") from None
        self._wake()
        return out

    async def remove_node(self, caller: Caller, name: str) -> dict[str, Any]:
        """Forget a node the backend does not report and no active task holds."""
        _require(caller)
        if absent(name):
            raise NotFound(f"no node {name!r}")
        async with self._sessions.begin() as s:
            node = await s.get(m.Node, name)
            if node is None:
                raise NotFound(f"no node {name}")
            # the record the leader's reconciler keeps: registered, or gone from the inventory
            if not _not_reported(node):
                raise Conflict(
                    f"node {name} is reported by the backend; remove it there first "
                    "(or cordon it here)"
                )
            tasks = (await node_holders(s)).get(name, [])
            if tasks:
                ids = ", ".join(str(t) for t in sorted(tasks))
                raise Conflict(f"node {name} is held by active task(s) {ids}")
            out = node_json(node, [])
            await s.delete(node)
        self._wake()
        return out

    async def cordon(self, caller: Caller, name: str, cordoned: bool) -> dict[str, Any]:
        """Cordon: nothing new starts on the node, and what runs there is suspended with notice
        (node_failure) and requeued, as for an unhealthy node (POLICY.md rule 1)."""
        _require(caller)
        if absent(name):
            raise NotFound(f"no node {name!r}")
        async with self._sessions.begin() as s:
            result = await s.execute(
                update(m.Node)
                .where(m.Node.name == name)
                .values(cordoned=cordoned, updated_at=time.time())
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound(f"no node {name}")
            node = await s.get(m.Node, name)
            assert node is not None
            out = node_json(node, (await node_holders(s)).get(name, []))
        self._wake()
        return out
