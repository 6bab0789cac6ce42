"""Task use cases: write the desired state and wake the reconciler. Never call a backend."""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
from sqlalchemy import func, or_
from sqlalchemy.orm.exc import StaleDataError

from hai_cli.scheduler.model import parse_priority, priority_name
from hai_server.db import models as m
from hai_server.db.apply import add_event
from hai_server.db.reads import Reads
from hai_server.db.session import Sessions
from hai_server.db.submit import insert_task
from hai_server.domain import states as lc
from hai_server.domain.transition import event, transition
from hai_server.services.errors import Conflict, Forbidden, Invalid, NotFound

T = TypeVar("T")
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,255}$")
MAX_PAGE = 1000
MAX_ID = 2**31 - 1  # ids are INTEGER columns: 32-bit on PostgreSQL (a larger id is no task)


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: int
    name: str
    role: str

    @property
    def admin(self) -> bool:
        return self.role == "admin"


class SubmitRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A submission: the API's request body as it is (msgspec validates the types)."""

    argv: list[str]
    workdir: str
    name: str | None = None
    nodes: int = 1
    priority: str | int = "NORMAL"
    group: str | None = None
    env: dict[str, str] = msgspec.field(default_factory=dict)
    kind: str = "python"
    suspend_after: float | None = None
    image: str | None = None


def guarded(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Retry a use case whose guarded write lost a race with the reconciler (or a replica)."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> T:
        for attempt in range(5):
            try:
                return await fn(*args, **kwargs)
            except StaleDataError:
                await asyncio.sleep(0.005 * (attempt + 1))
        raise Conflict("the task kept changing while it was being updated; try again")

    return wrapper


class TaskService:
    def __init__(
        self,
        sessions: Sessions,
        wake: Callable[[], None],
        default_group: str = "default",
        reads: Reads | None = None,
    ) -> None:
        self._sessions = sessions
        self._wake = wake
        self._default_group = default_group
        self._reads = reads or Reads(sessions.kw["bind"])

    # -- submit ------------------------------------------------------------------------
    async def submit(self, caller: Caller, req: SubmitRequest) -> dict[str, Any]:
        priority, group, name = self._validate(req)
        size = await self._reads.group_size(group)
        if size == 0:
            groups = await self._reads.groups()
            raise Invalid(f"unknown group {group!r}; known groups: {', '.join(groups) or 'none'}")
        if req.nodes > size:
            raise Invalid(f"the task asks for {req.nodes} nodes but group {group!r} has {size}")
        values = {
            "name": name,
            "user_id": caller.user_id,
            "user_name": caller.name,
            "group": group,
            "nodes": req.nodes,
            "priority": priority,
            "state": lc.QUEUED,
            "reason": "new",
            "kind": req.kind,
            "argv": list(req.argv),
            "workdir": req.workdir,
            "env": dict(req.env),
            "submitted_at": time.time(),
            "suspend_after": req.suspend_after,
            "options": {"image": req.image} if req.image else {},
        }
        message = (
            f"submitted by {caller.name}: {req.nodes} node(s) in {group} "
            f"at {priority_name(priority)}"
        )
        task = await insert_task(self._reads.engine, values, message)
        self._wake()
        return task_json(task)

    def _validate(self, req: SubmitRequest) -> tuple[int, str, str]:
        if not req.argv or not all(isinstance(a, str) for a in req.argv):
            raise Invalid("argv must be a non-empty list of strings")
        if not req.workdir.startswith("/") or "\x00" in req.workdir:
            raise Invalid("workdir must be an absolute path (without NUL)")
        if not 1 <= req.nodes <= 10000:
            raise Invalid(f"nodes must be between 1 and 10000, got {req.nodes}")
        try:
            priority = parse_priority(req.priority)
        except ValueError as exc:
            raise Invalid(str(exc)) from None
        for key, value in req.env.items():
            if not _ENV_KEY.match(key):
                raise Invalid(f"bad environment variable name {key!r}: use letters, digits and _")
            if not isinstance(value, str) or "\x00" in value:
                raise Invalid(f"environment variable {key} must be a string without NUL")
        if req.suspend_after is not None and req.suspend_after < 0:
            raise Invalid("suspend_after must be >= 0 seconds")
        if req.kind not in ("python", "bash", "exec"):
            raise Invalid("kind must be python, bash or exec")
        group = req.group or self._default_group
        if "\x00" in group:  # PostgreSQL cannot even compare text with a NUL in it
            raise Invalid(f"unknown group {group!r}")
        name = req.name or _default_name(req.argv)
        if not _NAME.match(name):
            raise Invalid("name must be 1 to 255 printable characters")
        return priority, group, name

    # -- read --------------------------------------------------------------------------
    async def list(
        self,
        caller: Caller,
        *,
        states: list[str] | None = None,
        all_users: bool = False,
        limit: int = 50,
        offset: int = 0,
        group: str | None = None,
        search: str | None = None,
    ) -> dict[str, Any]:
        """A page of tasks, newest first. ``group``: only that node group; ``search``: a name
        containing it (case-insensitive) or, all digits, that id as well."""
        if all_users and not caller.admin:
            raise Forbidden("only admins may list every user's tasks")
        if not 1 <= limit <= MAX_PAGE:
            raise Invalid(f"limit must be between 1 and {MAX_PAGE}")
        if not 0 <= offset <= MAX_ID:  # a larger offset cannot even be bound in SQL
            raise Invalid(f"offset must be between 0 and {MAX_ID}")
        for st in states or []:
            if st not in lc.STATES:
                raise Invalid(f"unknown state {st!r}; use one of {', '.join(lc.STATES)}")
        filters = []
        if not all_users:
            filters.append(m.Task.user_id == caller.user_id)
        if states:
            filters.append(m.Task.state.in_(states))
        if group:
            if "\x00" in group:
                raise Invalid("a group name cannot contain NUL")
            filters.append(m.Task.group == group)
        if search:
            if "\x00" in search or len(search) > 255:
                raise Invalid("a search is at most 255 characters, without NUL")
            match = func.lower(m.Task.name).contains(search.lower(), autoescape=True)
            if search.isascii() and search.isdigit() and int(search) <= MAX_ID:
                match = or_(match, m.Task.id == int(search))
            filters.append(match)
        rows, total = await self._reads.task_page(filters, limit, offset)
        return {
            "tasks": [task_json(t) for t in rows],
            "total": total,
            "limit": limit,
            "offset": offset,
        }

    async def get(self, caller: Caller, task_id: int) -> dict[str, Any]:
        _check_id(task_id)
        found = await self._reads.task_detail(task_id)
        if found is None or not _visible(found[0], caller):
            raise NotFound(f"no task {task_id}")
        t, attempts, events = found
        out = task_json(t)
        out["attempts"] = [attempt_json(a) for a in attempts]
        out["events"] = [{"at": e.at, "kind": e.kind, "message": e.message} for e in events]
        out["ranks"] = out["attempts"][-1]["ranks"] if attempts else []
        return out

    async def _owned(self, s: Any, caller: Caller, task_id: int) -> m.Task:
        _check_id(task_id)
        t = await s.get(m.Task, task_id)
        if t is None or not _visible(t, caller):
            raise NotFound(f"no task {task_id}")
        return t

    # -- control -----------------------------------------------------------------------
    @guarded
    async def stop(self, caller: Caller, task_id: int) -> dict[str, Any]:
        async with self._sessions.begin() as s:
            t = await self._owned(s, caller, task_id)
            now = time.time()
            if t.state in (lc.QUEUED, lc.SUSPENDED):
                add_event(
                    s,
                    transition(
                        t, lc.STOPPED, now=now, kind="stopped",
                        message=f"stopped by {caller.name} while waiting",
                    ),
                )  # fmt: skip
            elif t.state in lc.ACTIVE:
                if not t.stop_requested:
                    t.stop_requested = True
                    add_event(s, event(t, now, "stop", f"stop requested by {caller.name}"))
            else:
                raise Conflict(f"task {task_id} is already {t.state}")
            out = task_json(t)
        self._wake()
        return out

    @guarded
    async def suspend(self, caller: Caller, task_id: int) -> dict[str, Any]:
        async with self._sessions.begin() as s:
            t = await self._owned(s, caller, task_id)
            if t.state not in (lc.STARTING, lc.RUNNING):
                raise Conflict(
                    f"task {task_id} is {t.state}; only a starting or running task can be suspended"
                )
            if t.stop_requested:
                raise Conflict(f"task {task_id} is being stopped")
            t.suspend_requested = True
            out = task_json(t)
        self._wake()
        return out

    @guarded
    async def resume(self, caller: Caller, task_id: int) -> dict[str, Any]:
        async with self._sessions.begin() as s:
            t = await self._owned(s, caller, task_id)
            if t.state not in (lc.STOPPED, lc.FAILED, lc.SUSPENDED):
                raise Conflict(
                    f"task {task_id} is {t.state}; only a stopped, failed or suspended task "
                    "can be resumed"
                )
            t.retry_at, t.start_failures = None, 0
            add_event(
                s,
                transition(
                    t, lc.QUEUED, now=time.time(), kind="resumed", reason="new",
                    message=f"resumed by {caller.name}; queued in its old place",
                ),
            )  # fmt: skip
            out = task_json(t)
        self._wake()
        return out

    @guarded
    async def hold(self, caller: Caller, task_id: int, held: bool) -> dict[str, Any]:
        """Hold a waiting task out of scheduling (it keeps its place), or release it."""
        async with self._sessions.begin() as s:
            t = await self._owned(s, caller, task_id)
            verb = "held" if held else "released"
            if held and t.state not in (lc.QUEUED, lc.SUSPENDED):
                raise Conflict(
                    f"task {task_id} is {t.state}; only a queued or suspended task can be held"
                )
            if t.held != held:
                t.held = held
                add_event(s, event(t, time.time(), verb, f"{verb} by {caller.name}"))
            out = task_json(t)
        self._wake()
        return out

    async def check_access(self, caller: Caller, task_id: int) -> Any:
        """The task's row (read-only) if the caller may see it; else NotFound."""
        _check_id(task_id)
        t = await self._reads.task(task_id)
        if t is None or not _visible(t, caller):
            raise NotFound(f"no task {task_id}")
        return t


def _check_id(task_id: int) -> None:
    """An id no INTEGER column can hold is no task (PostgreSQL would fail the query)."""
    if not 0 < task_id <= MAX_ID:
        raise NotFound(f"no task {task_id}")


def _visible(t: Any, caller: Caller) -> bool:
    return bool(t.user_id == caller.user_id or caller.admin)


def _default_name(argv: list[str]) -> str:
    for arg in argv[1:]:
        if not arg.startswith("-"):
            return arg.rsplit("/", 1)[-1][:255]
    return argv[0].rsplit("/", 1)[-1][:255]


def task_json(t: Any) -> dict[str, Any]:
    """The stable task record of the API and of ``hai-cli --json`` (documented in the README)."""
    queued = t.state == lc.QUEUED
    return {
        "id": t.id,
        "name": t.name,
        "user": t.user_name,
        "state": t.state,
        "priority": priority_name(t.priority),
        "priority_value": t.priority,
        "run_priority": priority_name(t.run_priority) if t.run_priority is not None else None,
        "group": t.group,
        "nodes": t.nodes,
        "restart_count": t.restart_count,
        "reason": (t.reason or None)
        if queued
        else (t.suspend_reason or None if t.state == lc.SUSPENDING else None),
        "position": t.position if queued else None,
        "detail": t.detail or None,
        "kind": t.kind,
        "command": list(t.argv),
        "workdir": t.workdir,
        "whole_life_state": t.whole_life_state,
        "submitted_at": t.submitted_at,
        "started_at": t.started_at,
        "ended_at": t.ended_at,
        "exit_code": t.exit_code,
        "stop_requested": t.stop_requested,
        "held": bool(t.held),
        "suspend_deadline": t.suspend_deadline if t.state == lc.SUSPENDING else None,
        "last_checkpoint_at": t.last_checkpoint_at,
    }


def attempt_json(a: Any) -> dict[str, Any]:
    return {
        "number": a.number,
        "nodes": list(a.nodes),
        "priority": priority_name(a.priority),
        "started_at": a.started_at,
        "ended_at": a.ended_at,
        "outcome": a.outcome or ("running" if a.ended_at is None else ""),
        "exit_code": a.exit_code,
        "ranks": list(a.ranks or []),
    }
