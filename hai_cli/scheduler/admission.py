"""Admission at submit: refuse a submission that can never run, naming the row that forbids it.

Pure (standard library only). The scheduler holds a task over its quota (``quota_exceeded``)
until nodes it holds free up; that is right for a task that fits its quota once the user's
other tasks end, and wrong for one that never can: a task larger than its level's row (or
than ``node_limit``) would wait forever. :func:`admit` tells the two apart on the rows alone,
counting nothing the user holds now:

- an external user submits at AUTO only (the original forced it; here it is said);
- explicit level: the level row that applies must allow the task's nodes (no row in a
  cluster is ``default_quota`` 0: no access), and so must ``node_limit``;
- AUTO: some level must allow them (the message names the largest row).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hai_cli.scheduler.model import AUTO, PolicyConfig, QuotaRow, Snapshot, priority_name
from hai_cli.scheduler.quota import (
    DEFAULT_PRINCIPAL,
    EXTERNAL,
    INTERNAL,
    LEVELS_HIGH_FIRST,
    NO_ROW,
    NODE_LIMIT,
    QuotaBook,
    level_resource,
)

QUOTA_REFUSED = "quota"
ROLE_REFUSED = "role"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a submission can never run: ``kind`` is quota or role; ``resource`` and
    ``principal`` name the row (principal ``(no row)``/``(default)`` when none matched)."""

    kind: str
    message: str
    resource: str | None = None
    principal: str | None = None
    limit: int | None = None


def admit(
    *,
    user: str,
    role: str,
    group: str,
    priority: int,
    nodes: int,
    rows: Iterable[QuotaRow],
    user_groups: tuple[str, ...],
    config: PolicyConfig,
    now: float,
) -> Refusal | None:
    """None if the submission may run some day under the quota rows, else the refusal."""
    if role == EXTERNAL and priority != AUTO:
        return Refusal(
            ROLE_REFUSED,
            f"external users submit at AUTO only (the highest level where their quota has "
            f"room), not {priority_name(priority)}: drop -p or use -p AUTO",
        )
    roles: Mapping[str, str] = {} if role == INTERNAL else {user: role}
    book = QuotaBook(
        Snapshot(quotas=tuple(rows), user_groups={user: user_groups}, roles=roles), config, now
    )
    total, total_by = book.limit(user, NODE_LIMIT)
    if total is not None and nodes > total:
        return _refuse(user, NODE_LIMIT, total_by, total, nodes, " (all groups together)")
    if priority != AUTO:
        resource = level_resource(group, priority)
        limit, principal = book.limit(user, resource)
        if limit is None or nodes <= limit:
            return None
        return _refuse(user, resource, principal, limit, nodes, _hint(book, user, group))
    best: tuple[int, str, str | None] | None = None
    for level in LEVELS_HIGH_FIRST:
        resource = level_resource(group, level)
        limit, principal = book.limit(user, resource)
        if limit is None or nodes <= limit:
            return None
        if best is None or limit > best[0]:
            best = (limit, resource, principal)
    assert best is not None
    limit, resource, principal = best
    hint = f" (AUTO: no level in group {group} allows more)"
    return _refuse(user, resource, principal, limit, nodes, hint)


def _refuse(
    user: str, resource: str, principal: str | None, limit: int, nodes: int, hint: str
) -> Refusal:
    if principal in (NO_ROW, DEFAULT_PRINCIPAL) and limit == 0:
        why = (
            f"no quota row {resource} applies to {user} (no row means no access on this "
            f"platform){hint}; an admin grants it with: hai-cli admin quota set USER|GROUP|public "
            f"{resource} N"
        )
    else:
        whose = (
            "scheduler.default_quota" if principal == DEFAULT_PRINCIPAL else f"row of {principal}"
        )
        why = (
            f"quota {resource} ({whose}) allows {user} {limit} node(s), this task asks for "
            f"{nodes}: it could never run{hint}"
        )
    return Refusal(QUOTA_REFUSED, why, resource, principal, limit)


def _hint(book: QuotaBook, user: str, group: str) -> str:
    """The levels whose rows would allow more, e.g. ``; levels with quota: HIGH (4)``."""
    found = []
    for level in LEVELS_HIGH_FIRST:
        limit, _ = book.limit(user, level_resource(group, level))
        if limit is None:
            found.append(f"{priority_name(level)} (no limit)")
        elif limit > 0:
            found.append(f"{priority_name(level)} ({limit})")
    if not found:
        return ""
    return f"; levels with quota in {group}: {', '.join(found)}"


__all__ = ["QUOTA_REFUSED", "ROLE_REFUSED", "Refusal", "admit"]
