"""Bulk stop/suspend/resume/hold/release: which tasks a request picks, and acting on them all
in one transaction (the per-task rules are services/actions.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import msgspec
from sqlalchemy import select

from hai_server.db import models as m
from hai_server.db.apply import add_event
from hai_server.db.reads import Reads
from hai_server.domain import states as lc
from hai_server.services.actions import APPLIES_TO, OUTCOMES, VERBS, Refused, act
from hai_server.services.errors import Forbidden, Invalid, NotFound

MAX_BULK_IDS = 100_000
MAX_ID = 2**31 - 1  # ids are INTEGER columns (as services/tasks.py)


class DryRun(Exception):
    """Raised inside the transaction of a dry run so that it rolls back."""


class Selection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Which tasks a bulk stop/suspend/resume/hold/release acts on (the request body).

    ``ids`` names tasks; the filters pick among the caller's tasks (an admin's ``user`` or
    ``all_users``: someone else's, everyone's); ``all`` says "every task of mine the verb
    applies to" (a request with no ids, no filter and no ``all`` is refused)."""

    ids: list[int] = msgspec.field(default_factory=list)
    states: list[str] = msgspec.field(default_factory=list)
    name: str | None = None
    group: str | None = None
    user: str | None = None
    all_users: bool = False
    all: bool = False
    dry_run: bool = False
    outcome: str | None = None  # stop only: succeeded or failed instead of stopped


async def act_all(
    s: Any, caller: Any, verb: str, filters: list[Any], wanted: set[int],
    changed: list[dict[str, Any]], skipped: list[dict[str, Any]],
    shape: Callable[[Any], dict[str, Any]] | None = None, outcome: str | None = None,
) -> list[int]:  # fmt: skip
    """Act on every visible task ``filters`` pick; ``changed`` gets each as ``shape`` shows
    it (default: :func:`brief`), ``skipped`` the refused ones; returns the ids not found."""
    shape = shape or brief
    now = time.time()
    rows = (await s.scalars(select(m.Task).where(*filters).order_by(m.Task.id))).all()
    seen: set[int] = set()
    for t in rows:
        if not (t.user_id == caller.user_id or caller.admin):
            continue  # someone else's task named by id: reported missing, not shown
        seen.add(t.id)
        try:
            events = act(t, verb, caller.name, now, outcome)
        except Refused as exc:
            skipped.append({**brief(t), "reason": f"task {t.id} {exc.reason}"})
            continue
        for ev in events:
            add_event(s, ev)
        changed.append(shape(t))
    return sorted(wanted - seen)


async def selection_filters(
    reads: Reads, caller: Any, verb: str, sel: Selection
) -> tuple[list[Any], set[int]]:
    """The WHERE clauses that pick the tasks of ``sel``, and the ids it names."""
    if verb not in VERBS:
        raise NotFound(f"no action {verb!r}; use one of {', '.join(VERBS)}")
    if sel.outcome is not None and (verb != "stop" or sel.outcome not in OUTCOMES):
        raise Invalid(f"outcome {sel.outcome!r}: only stop takes one, succeeded or failed")
    if len(sel.ids) > MAX_BULK_IDS:
        raise Invalid(f"at most {MAX_BULK_IDS} ids in one request, got {len(sel.ids)}")
    wanted = set(sel.ids)
    bad = sorted(i for i in wanted if not 0 < i <= MAX_ID)
    by_filter = bool(sel.states or sel.name or sel.group or sel.user or sel.all_users)
    if not wanted and not by_filter and not sel.all:
        raise Invalid("say which tasks: ids, a filter (state, name, group, user) or all")
    for what, text in (("name", sel.name), ("group", sel.group), ("user", sel.user)):
        if text is not None and "\x00" in text:
            raise Invalid(f"{what} must not contain NUL")
    if (sel.user or sel.all_users) and not caller.admin:
        raise Forbidden("only admins may act on other users' tasks")
    for st_ in sel.states:
        if st_ not in lc.STATES:
            raise Invalid(f"unknown state {st_!r}; use one of {', '.join(lc.STATES)}")
    filters: list[Any] = []
    if sel.all_users:
        pass
    elif sel.user:
        uid = await reads.user_id(sel.user)
        if uid is None:
            raise NotFound(f"no user {sel.user!r}")
        filters.append(m.Task.user_id == uid)
    else:
        filters.append(m.Task.user_id == caller.user_id)
    if sel.states:
        filters.append(m.Task.state.in_(sel.states))
    if sel.name:
        filters.append(name_filter(sel.name))
    if sel.group:
        filters.append(m.Task.group == sel.group)
    if wanted:
        filters.append(m.Task.id.in_(sorted(wanted - set(bad))))
    else:  # picked by filter: only the tasks the verb applies to
        filters.append(m.Task.state.in_(APPLIES_TO[verb]))
        if verb == "stop":
            filters.append(m.Task.stop_requested.is_(False))
        elif verb == "suspend":
            filters.append(m.Task.suspend_requested.is_(False))
            filters.append(m.Task.stop_requested.is_(False))
        elif verb in ("hold", "release"):
            filters.append(m.Task.held.is_(verb == "release"))
    return filters, wanted


def brief(t: Any) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "state": t.state, "user": t.user_name,
            "restart_count": t.restart_count, "stop_requested": bool(t.stop_requested)}  # fmt: skip


def name_filter(pattern: str) -> Any:
    """A task name, exactly, or a glob with ``*`` and ``?`` (LIKE underneath, escaped)."""
    if "*" not in pattern and "?" not in pattern:
        return m.Task.name == pattern
    like = (
        pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        .replace("*", "%").replace("?", "_")
    )  # fmt: skip
    return m.Task.name.like(like, escape="\\")
