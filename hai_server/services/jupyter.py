"""Jupyter dev containers: tasks of kind ``jupyter`` (one node), addressed by ``(user, name)``.

A container is created as a queued task and goes through the reconciler like any task: the
placement of shared Jupyter groups (hai_cli.scheduler.jupyter) or, for an exclusive one, the
time-sharing policy at priority LOW (preemptible, with the usual notice). Its JupyterLab's
token is made here, kept in the task's options (never in a task's API record) and given only
to its owner and admins. Never calls a backend.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import msgspec

from hai_cli import validate as check
from hai_cli.scheduler.model import Priority
from hai_server.db import jupyter as rows
from hai_server.db import models as m
from hai_server.db.session import Sessions, hash_token, new_token
from hai_server.db.submit import insert_task
from hai_server.domain import states as lc
from hai_server.services.environments import EnvironmentService
from hai_server.services.errors import Conflict, Invalid, NotFound
from hai_server.services.quota_jupyter import check_quota
from hai_server.services.tasks import IMAGE_RE, Caller, TaskService

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
MAX_CPUS = 4096.0
MAX_MEMORY_GIB = 1 << 20
TAIL_LINES = 15

Text64 = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class CreateRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``hai-cli jupyter create``: every field but the name may be left out."""

    name: Text64
    group: Text64 | None = None
    cpus: float | None = None
    memory_gib: float | None = None
    gpus: int | None = None
    exclusive: bool = False
    env: Text64 | None = None  # haienv NAME or NAME[owner]: the default kernel
    image: Annotated[str, msgspec.Meta(min_length=1, max_length=512, pattern=IMAGE_RE)] | None = (
        None
    )


@dataclass(frozen=True, slots=True)
class JupyterConfig:
    groups: tuple[str, ...]  # shared Jupyter groups
    default_group: str
    training_group: str  # where an exclusive container goes without -g
    workspace: str
    default_cpus: float
    default_memory_gib: float
    python: str = sys.executable  # runs hai_cli.jupyterrun (the server's, with JupyterLab)


@dataclass(frozen=True, slots=True)
class Route:
    """Where the proxy sends ``/{user}/{name}/``: the container's task and JupyterLab."""

    task_id: int
    user_id: int
    state: str
    endpoint: str  # HOST:PORT, "" while it is not serving
    token: str


def check_name(name: str) -> str:
    try:
        check.display_name("name", name, 63)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    if not NAME_RE.fullmatch(name):
        raise Invalid(
            f"bad container name {name!r}: 1-63 letters, digits, . _ - (it is part of the "
            "URL /{user}/{name}/), starting with a letter or digit"
        )
    return name


def _number(what: str, value: float, top: float) -> float:
    if isinstance(value, bool) or value != value or not 0 < value <= top:  # NaN != NaN
        raise Invalid(f"{what} must be more than 0 and at most {top:.10g}, got {value!r}")
    return float(value)


class JupyterService:
    def __init__(
        self,
        sessions: Sessions,
        tasks: TaskService,
        environments: EnvironmentService | None,
        config: JupyterConfig,
        wake: Callable[[], None],
    ) -> None:
        self._sessions = sessions
        self._tasks = tasks
        self._environments = environments
        self.config = config
        self._wake = wake

    # -- create ------------------------------------------------------------------------
    async def create(self, caller: Caller, req: CreateRequest, server_url: str) -> dict[str, Any]:
        name = check_name(req.name)
        shared_groups = self.config.groups
        if req.exclusive and req.gpus is not None:
            raise Invalid("--gpus and --exclusive contradict each other (exclusive: whole node)")
        group = req.group or (
            self.config.training_group if req.exclusive else self.config.default_group
        )
        try:
            check.display_name("group", group, 64)
        except ValueError as exc:
            raise Invalid(str(exc)) from None
        async with self._sessions() as s:
            nodes = await rows.nodes_of(s, group)
            existing = await rows.containers(s, caller.user_id, name)
        if not nodes:
            raise Invalid(f"unknown group {group!r}: it has no nodes")
        if req.exclusive and group in shared_groups:
            raise Invalid(f"group {group!r} is a shared Jupyter group: an exclusive container "
                          "takes a whole node of a training group (-g GROUP)")  # fmt: skip
        if not req.exclusive and group not in shared_groups:
            raise Invalid(f"group {group!r} is not a Jupyter group ({', '.join(shared_groups)}); "
                          "use --exclusive to take a whole node of it")  # fmt: skip
        cpus = _number("--cpu", req.cpus if req.cpus is not None else self.config.default_cpus,
                       MAX_CPUS)  # fmt: skip
        mem = _number("--mem", req.memory_gib if req.memory_gib is not None
                      else self.config.default_memory_gib, MAX_MEMORY_GIB)  # fmt: skip
        gpus = req.gpus or 0
        if isinstance(gpus, bool) or not 0 <= gpus <= check.MAX_NODES:
            raise Invalid(f"--gpus must be a whole number from 0, got {req.gpus!r}")
        if not req.exclusive:
            big_cpus = max(n.cpus for n in nodes)
            big_mem = max(n.memory_gib for n in nodes)
            big_gpus = max(n.gpus for n in nodes)
            if cpus > big_cpus or mem > big_mem or gpus > big_gpus:
                raise Invalid(
                    f"asks for {cpus:g} CPU(s), {mem:g} GiB, {gpus} GPU(s); the largest node "
                    f"of {group} has {big_cpus:g} CPU(s), {big_mem:g} GiB, {big_gpus} GPU(s)"
                )
        if existing:
            other = existing[0]
            hint = (
                "stop it first" if other.state in lc.UNFINISHED
                else f"hai-cli jupyter start {name}, or delete it first"
            )  # fmt: skip
            raise Conflict(f"you already have a container {name} ({other.state}): {hint}")
        env_ref = None
        if req.env is not None:
            if self._environments is None:
                raise Invalid("this server has no haienv root")
            env_name, env_owner = self._environments.check(req.env, None, caller.name)
            env_ref = f"{env_name}[{env_owner}]"
        if not req.exclusive:
            async with self._sessions() as s:
                await check_quota(s, caller.name, group, cpus, mem)
        workdir = os.path.join(self.config.workspace, caller.name)
        with contextlib.suppress(OSError):  # on a cluster: shared storage the pod mounts
            Path(workdir, "jupyter").mkdir(parents=True, exist_ok=True)
        cli_token = new_token()
        async with self._sessions.begin() as s:
            s.add(m.Token(user_id=caller.user_id, token_hash=hash_token(cli_token),
                          label=f"jupyter:{name}"[:64], created_at=time.time()))  # fmt: skip
        options: dict[str, Any] = {
            "jupyter": {
                "cpus": cpus, "memory_gib": mem, "gpus": gpus, "exclusive": req.exclusive,
                "env": env_ref, "token": secrets.token_urlsafe(32), "cli_token": cli_token,
                "server_url": server_url,
            }
        }  # fmt: skip
        if req.image:
            options["image"] = req.image
        priority = int(Priority.LOW if req.exclusive else Priority.NORMAL)
        values = {
            "name": name, "user_id": caller.user_id, "user_name": caller.name, "group": group,
            "nodes": 1, "priority": priority, "state": lc.QUEUED, "reason": "new",
            "kind": rows.KIND, "argv": [self.config.python, "-m", "hai_cli.jupyterrun"],
            "workdir": workdir, "env": {}, "submitted_at": time.time(), "options": options,
        }  # fmt: skip
        what = "a whole node" if req.exclusive else f"{cpus:g} CPU(s), {mem:g} GiB"
        task = await insert_task(
            self._sessions.kw["bind"], values,
            f"Jupyter container {name} created by {caller.name}: {what} in {group}",
        )  # fmt: skip
        self._wake()
        async with self._sessions() as s:
            t = await s.get(m.Task, task.id)
            assert t is not None
            return await self._json(s, t)

    # -- read ----------------------------------------------------------------------------
    async def list(self, caller: Caller, all_users: bool = False) -> list[dict[str, Any]]:
        async with self._sessions() as s:
            found = await rows.containers(s, None if all_users and caller.admin else caller.user_id)
            return [await self._json(s, t) for t in found]

    async def find(self, caller: Caller, name: str, user: str | None = None) -> m.Task:
        """The container ``name`` of ``user`` (default: the caller); NotFound for what the
        caller may not see (someone else's, unless admin)."""
        if "\x00" in name or (user and "\x00" in user) or len(name) > 255:
            raise NotFound(f"no container {name!r}")
        async with self._sessions() as s:
            owner_id = caller.user_id
            if user and user != caller.name:
                row = await rows.user_named(s, user) if caller.admin else None
                if row is None:
                    raise NotFound(f"no container {name!r}")
                owner_id = row.id
            found = await rows.containers(s, owner_id, name)
        if not found:
            raise NotFound(f"no container {name!r}")
        return found[0]

    async def get(self, caller: Caller, name: str, user: str | None = None) -> dict[str, Any]:
        t = await self.find(caller, name, user)
        async with self._sessions() as s:
            return await self._json(s, t)

    async def token(self, caller: Caller, name: str, user: str | None = None) -> dict[str, Any]:
        """The container's JupyterLab token: its owner's and admins' only."""
        t = await self.find(caller, name, user)
        j = (t.options or {}).get("jupyter") or {}
        return {"name": t.name, "user": t.user_name, "token": j.get("token", ""),
                "path": f"/{t.user_name}/{t.name}/"}  # fmt: skip

    # -- control -----------------------------------------------------------------------
    async def stop(self, caller: Caller, name: str, user: str | None = None) -> dict[str, Any]:
        t = await self.find(caller, name, user)
        if t.state not in lc.UNFINISHED:
            raise Conflict(f"container {name} is not running ({t.state})")
        await self._tasks.stop(caller, t.id)
        return await self.get(caller, name, user)

    async def start(self, caller: Caller, name: str, user: str | None = None) -> dict[str, Any]:
        t = await self.find(caller, name, user)
        if t.state in lc.UNFINISHED:
            raise Conflict(f"container {name} is already {t.state}")
        await self._tasks.resume(caller, t.id)
        async with self._sessions.begin() as s:
            row = await s.get(m.Task, t.id)
            if row is not None and row.options.get("jupyter", {}).get("stop_reason"):
                row.options = _without_stop_reason(row.options)
        return await self.get(caller, name, user)

    async def delete(self, caller: Caller, name: str, user: str | None = None) -> dict[str, Any]:
        """Stop the container if it runs and forget it (its notebooks stay on disk)."""
        t = await self.find(caller, name, user)
        if t.state in lc.UNFINISHED:
            await self._tasks.stop(caller, t.id)
        async with self._sessions.begin() as s:
            row = await s.get(m.Task, t.id)
            if row is None:
                raise NotFound(f"no container {name!r}")
            j = dict(row.options.get("jupyter") or {})
            cli = j.pop("cli_token", None)
            j["deleted"] = True
            row.options = {**row.options, "jupyter": j}
            if cli:
                tok = await rows.token_row(s, hash_token(cli))
                if tok is not None and tok.revoked_at is None:
                    tok.revoked_at = time.time()
        self._wake()
        return {"name": name, "user": t.user_name, "deleted": True}

    async def route(self, user: str, name: str) -> Route | None:
        """The proxy's lookup: the container ``/{user}/{name}/`` (None: there is none)."""
        if "\x00" in user or "\x00" in name or len(user) > 64 or len(name) > 255:
            return None
        async with self._sessions() as s:
            owner = await rows.user_named(s, user)
            if owner is None:
                return None
            found = await rows.containers(s, owner.id, name)
            if not found:
                return None
            t = found[0]
            attempt = await rows.current_attempt(s, t) if t.state == lc.RUNNING else None
        endpoint = ""
        if attempt is not None and attempt.ranks:
            endpoint = str(attempt.ranks[0].get("endpoint") or "")
        token = str(((t.options or {}).get("jupyter") or {}).get("token", ""))
        return Route(t.id, t.user_id, t.state, endpoint, token)

    async def _json(self, s: Any, t: m.Task) -> dict[str, Any]:
        j = (t.options or {}).get("jupyter") or {}
        attempt = await rows.current_attempt(s, t) if t.state in lc.ACTIVE else None
        serving = bool(attempt and attempt.ranks and attempt.ranks[0].get("endpoint"))
        why = None
        if t.state == lc.QUEUED:
            why = t.reason or None
        elif t.state in (lc.STOPPED, lc.FAILED):
            why = j.get("stop_reason") or t.detail or None
        return {
            "id": t.id, "name": t.name, "user": t.user_name, "state": t.state,
            "group": t.group, "node": attempt.nodes[0] if attempt and attempt.nodes else None,
            "cpus": j.get("cpus"), "memory_gib": j.get("memory_gib"), "gpus": j.get("gpus", 0),
            "exclusive": bool(j.get("exclusive")), "env": j.get("env"),
            "image": (t.options or {}).get("image"), "path": f"/{t.user_name}/{t.name}/",
            "serving": serving and t.state == lc.RUNNING, "reason": why,
            "position": t.position if t.state == lc.QUEUED else None,
            "detail": t.detail or None, "exit_code": t.exit_code,
            "submitted_at": t.submitted_at, "started_at": t.started_at, "ended_at": t.ended_at,
            "stop_reason": j.get("stop_reason"),
        }  # fmt: skip


def _without_stop_reason(options: dict[str, Any]) -> dict[str, Any]:
    j = dict(options.get("jupyter") or {})
    j.pop("stop_reason", None)
    return {**options, "jupyter": j}
