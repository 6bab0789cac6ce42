"""Task use cases: write the desired state and wake the reconciler. Never call a backend."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from sqlalchemy import func, or_
from sqlalchemy.orm.exc import StaleDataError

from hai_cli import validate as check
from hai_cli.scheduler.model import parse_priority, priority_name
from hai_server.db import models as m
from hai_server.db.apply import add_event
from hai_server.db.reads import Reads
from hai_server.db.session import Sessions
from hai_server.db.submit import insert_task
from hai_server.domain import states as lc
from hai_server.services.actions import Refused, act
from hai_server.services.admission import Admission
from hai_server.services.bulk import DryRun, Selection, act_all, selection_filters
from hai_server.services.environments import EnvironmentService
from hai_server.services.errors import Conflict, Forbidden, Invalid, NotFound

T = TypeVar("T")
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


# What the OpenAPI document says of each field (msgspec checks these bounds first); the
# precise rules, with their messages, are hai_cli.validate's, applied by TaskService.submit.
_VISIBLE = "^[^\\x00-\\x1f\\x7f-\\x9f]+$"
IMAGE_RE = "^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$"
ENV_KEY_RE = "^[A-Za-z_][A-Za-z0-9_]{0,254}$"
# the patterns above in words, for the 422 that names them
PATTERN_WORDS = {
    _VISIBLE: "without control characters (U+0000-U+001F, U+007F-U+009F)",
    "^/": "starting with / (an absolute path)",
    ENV_KEY_RE: "naming a variable: letters, digits and _, not starting with a digit",
    IMAGE_RE: "naming an image: letters, digits and . _ / : @ + -",
}
Arg = Annotated[str, msgspec.Meta(max_length=check.MAX_ARG_BYTES)]
Argv = Annotated[list[Arg], msgspec.Meta(min_length=1, max_length=check.MAX_ARGV)]
Workdir = Annotated[str, msgspec.Meta(pattern="^/", max_length=check.MAX_PATH_BYTES)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=check.MAX_NAME, pattern=_VISIBLE)]
Group = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=_VISIBLE)]
EnvName = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
Nodes = Annotated[int, msgspec.Meta(ge=1, le=check.MAX_NODES)]
EnvKey = Annotated[str, msgspec.Meta(pattern=ENV_KEY_RE)]
EnvValue = Annotated[str, msgspec.Meta(max_length=check.MAX_ENV_VALUE_BYTES)]
Env = Annotated[dict[EnvKey, EnvValue], msgspec.Meta(max_length=check.MAX_ENV)]
Seconds = Annotated[float, msgspec.Meta(ge=0, le=check.MAX_SUSPEND_AFTER_S)]
WatchdogSeconds = Annotated[int, msgspec.Meta(ge=0, le=check.MAX_WATCHDOG_S)]
Image = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=check.MAX_IMAGE, pattern=IMAGE_RE),
]
Priority = Annotated[
    str | int,
    msgspec.Meta(
        description="EXTREME_HIGH, VERY_HIGH, HIGH, ABOVE_NORMAL, NORMAL, BELOW_NORMAL, LOW, "
        "AUTO, or one of their numbers (50, 40, 30, 20, 10, 5, 0)"
    ),
]


class SubmitRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A submission: the API's request body as it is (msgspec validates types and bounds)."""

    argv: Argv
    workdir: Workdir
    name: Name | None = None
    nodes: Nodes = 1
    priority: Priority | None = None  # None: NORMAL, AUTO for external users
    group: Group | None = None
    env: Env = msgspec.field(default_factory=dict)
    kind: Literal["python", "bash", "exec"] = "python"
    suspend_after: Seconds | None = None
    image: Image | None = None
    # the hang watchdog: seconds rank 0 may stay silent (None: the server's default; 0: off)
    watchdog_s: WatchdogSeconds | None = None
    # NAME or NAME[owner]: the ranks run in that environment; the owner, when NAME has none
    # (default: the caller). Checked by EnvironmentService.check, whose messages are precise.
    haienv: EnvName | None = None
    haienv_owner: EnvName | None = None


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
        environments: EnvironmentService | None = None,
        admission: Admission | None = None,
    ) -> None:
        self._sessions = sessions
        self._wake = wake
        self._default_group = default_group
        self._reads = reads or Reads(sessions.kw["bind"])
        self._admission = admission or Admission(self._reads)
        self._environments = environments

    # -- submit ------------------------------------------------------------------------
    async def submit(self, caller: Caller, req: SubmitRequest) -> dict[str, Any]:
        priority, group, name = self._validate(req)
        size = await self._reads.group_size(group)
        if size == 0:
            groups = await self._reads.groups()
            raise Invalid(f"unknown group {group!r}; known groups: {', '.join(groups) or 'none'}")
        if req.nodes > size:
            raise Invalid(f"the task asks for {req.nodes} nodes but group {group!r} has {size}")
        admitted = await self._admission.check(caller, req, group, priority)
        priority = admitted.priority
        env_name = env_owner = None
        if req.haienv is not None or req.haienv_owner is not None:
            if self._environments is None:
                raise Invalid("this server has no haienv root: a task cannot name an environment")
            if req.haienv is None:
                raise Invalid("haienv_owner without haienv")
            env_name, env_owner = self._environments.check(
                req.haienv, req.haienv_owner, caller.name
            )
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
            "argv": admitted.argv,
            "workdir": req.workdir,
            "env": admitted.env,
            "submitted_at": time.time(),
            "suspend_after": req.suspend_after,
            "watchdog_s": req.watchdog_s,
            "options": admitted.options,
            "haienv_name": env_name,
            "haienv_owner": env_owner,
        }
        message = (
            f"submitted by {caller.name}: {req.nodes} node(s) in {group} "
            f"at {priority_name(priority)}"
            + (f", in haienv {env_name}[{env_owner}]" if env_name else "")
        )
        task = await insert_task(self._reads.engine, values, message)
        self._wake()
        return task_json(task)

    def _validate(self, req: SubmitRequest) -> tuple[int | None, str, str]:
        """Every field by the shared rules of hai_cli.validate (422 with the first problem)."""
        try:
            check.argv(req.argv)
            check.workdir(req.workdir)
            check.whole("nodes", req.nodes, 1, check.MAX_NODES)
            check.env(req.env)
            if req.suspend_after is not None:
                check.seconds("suspend_after", req.suspend_after, check.MAX_SUSPEND_AFTER_S)
            if req.watchdog_s is not None:
                check.whole("watchdog_s", req.watchdog_s, 0, check.MAX_WATCHDOG_S)
            check.kind(req.kind)
            if req.image is not None:
                check.image(req.image)
            group = check.display_name("group", req.group or self._default_group, 64)
            name = check.display_name("name", req.name or _default_name(req.argv))
            priority = None if req.priority is None else parse_priority(req.priority)
        except ValueError as exc:
            raise Invalid(str(exc)) from None
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
        name: str | None = None,
    ) -> dict[str, Any]:
        """A page of tasks, newest first. ``group``: only that node group; ``search``: a name
        containing it (case-insensitive) or, all digits, that id as well; ``name``: exactly
        that name (how the CLI finds a task by name)."""
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
        if name is not None:
            if "\x00" in name or len(name) > 255:
                raise Invalid("a task name is at most 255 characters, without NUL")
            filters.append(m.Task.name == name)
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
    async def control(self, caller: Caller, task_id: int, verb: str) -> dict[str, Any]:
        """stop, suspend, resume, hold or release one task (a 409 when it does not apply)."""
        async with self._sessions.begin() as s:
            t = await self._owned(s, caller, task_id)
            try:
                events = act(t, verb, caller.name, time.time())
            except Refused as exc:
                raise Conflict(f"task {task_id} {exc.reason}") from None
            for ev in events:
                add_event(s, ev)
            out = task_json(t)
        self._wake()
        return out

    async def stop(self, caller: Caller, task_id: int) -> dict[str, Any]:
        return await self.control(caller, task_id, "stop")

    async def suspend(self, caller: Caller, task_id: int) -> dict[str, Any]:
        return await self.control(caller, task_id, "suspend")

    async def resume(self, caller: Caller, task_id: int) -> dict[str, Any]:
        return await self.control(caller, task_id, "resume")

    async def hold(self, caller: Caller, task_id: int, held: bool) -> dict[str, Any]:
        """Hold a waiting task out of scheduling (it keeps its place), or release it."""
        return await self.control(caller, task_id, "hold" if held else "release")

    @guarded
    async def bulk(self, caller: Caller, verb: str, sel: Selection) -> dict[str, Any]:
        """Apply ``verb`` to every task ``sel`` picks, in one transaction (scancel-like).

        Tasks picked by filter are only those the verb applies to; tasks named by id that it
        does not apply to (or that do not exist, or are someone else's) are reported, not
        errors. With ``dry_run`` nothing changes: the answer says what would."""
        filters, wanted = await selection_filters(self._reads, caller, verb, sel)
        changed: list[dict[str, Any]] = []
        skipped: list[dict[str, Any]] = []
        missing: list[int] = []
        try:
            async with self._sessions.begin() as s:
                missing = await act_all(
                    s, caller, verb, filters, wanted, changed, skipped, task_json, sel.outcome
                )
                if sel.dry_run:
                    raise DryRun  # roll the transaction back: nothing changes
        except DryRun:
            pass
        if changed and not sel.dry_run:
            self._wake()
        return {
            "verb": verb,
            "dry_run": sel.dry_run,
            "changed": changed,
            "skipped": skipped,
            "missing": missing,
        }

    async def submission(self, caller: Caller, task_id: int) -> dict[str, Any]:
        """The request body that submits this task again (``hai-cli describe``): the caller's
        own variables included, so only who may see the task gets it (else 404)."""
        return submission_json(await self.check_access(caller, task_id))

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
    """The script's or program's base name, without the characters a name may not have."""
    program = next((a for a in argv[1:] if not a.startswith("-")), argv[0])
    base = program.rsplit("/", 1)[-1]
    clean = "".join(ch for ch in base if check.hidden_char(ch) is None)[: check.MAX_NAME]
    return clean if clean.strip() else "task"


def task_json(t: Any) -> dict[str, Any]:
    """The stable task record of the API and of ``hai-cli --json`` (documented in the README)."""
    queued = t.state == lc.QUEUED
    hung = hung_since(t)
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
        else (t.suspend_reason or None if t.state == lc.SUSPENDING else "hung" if hung else None),
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
        "environment": f"{t.haienv_name}[{t.haienv_owner}]" if t.haienv_name else None,
        "image": (t.options or {}).get("image"),
        "train_environment": (t.options or {}).get("environment"),
        "watchdog_s": t.watchdog_s,
        "hung_at": hung,
    }


def hung_since(t: Any) -> float | None:
    """When the watchdog found the running attempt hung (None: not hung, or not running)."""
    hung_at = getattr(t, "hung_at", None)
    if t.state != lc.RUNNING or hung_at is None or hung_at < (t.started_at or 0.0):
        return None
    return float(hung_at)


def submission_json(t: Any) -> dict[str, Any]:
    """A task as the SubmitRequest that created it (its fields, by the same names)."""
    options = t.options or {}
    return {
        "argv": list(t.argv),
        "workdir": t.workdir,
        "name": t.name,
        "nodes": t.nodes,
        "priority": priority_name(t.priority),
        "group": t.group,
        "env": dict(t.env or {}),
        "kind": t.kind,
        "suspend_after": t.suspend_after,
        "image": options.get("environment") or options.get("image"),  # -i NAME or a ref
        "haienv": t.haienv_name,
        "haienv_owner": t.haienv_owner,
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
