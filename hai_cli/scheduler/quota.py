"""Quotas: which row applies to a user, how many nodes the user holds, whether a start fits.

Rows are ``node-{group}-{PRIORITY}`` (nodes a user may hold at that level in that group) and
``node_limit`` (all nodes of a user). Precedence for one resource: the user's own rows (the
largest if several), else the rows of the user's groups and of the user's role (``internal``,
``external``, ``admin``: the largest wins), else ``public``, else ``PolicyConfig.default_quota``
for level rows (never for external users: their rows only) and no limit for ``node_limit``.
Expired rows (``expires_at <= now``) are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from hai_cli.scheduler.model import (
    PolicyConfig,
    Priority,
    QuotaRow,
    Snapshot,
    priority_name,
)

NODE_LIMIT = "node_limit"
PUBLIC = "public"
EXTERNAL = "external"
INTERNAL = "internal"
DEFAULT_PRINCIPAL = "(default)"  # shown when PolicyConfig.default_quota applied
NO_ROW = "(no row)"  # an external user without a row: no access
LEVELS_HIGH_FIRST: tuple[int, ...] = tuple(sorted((p.value for p in Priority), reverse=True))


_RESOURCES: dict[tuple[str, int], str] = {}  # memo of level_resource (a pure function)


def level_resource(group: str, priority: int) -> str:
    """The quota resource name for nodes at ``priority`` in ``group``."""
    return f"node-{group}-{priority_name(priority)}"


@dataclass(frozen=True, slots=True)
class QuotaInfo:
    """One quota row as it applies to a user: ``limit`` None means unlimited."""

    resource: str
    # user, user group, role, "public", "(default)" or None (no row: no limit, or for an
    # external user, limit 0)
    principal: str | None
    limit: int | None
    in_use: int
    requested: int = 0


class QuotaBook:
    """Quota limits (resolved once per user and resource) and the nodes users hold."""

    def __init__(self, snapshot: Snapshot, config: PolicyConfig, now: float) -> None:
        self._rows: dict[str, dict[str, int]] = {}
        for row in snapshot.quotas:
            if row.expires_at is not None and row.expires_at <= now:
                continue
            by_principal = self._rows.setdefault(row.resource, {})
            old = by_principal.get(row.principal)
            if old is None or row.quota > old:
                by_principal[row.principal] = row.quota
        self._user_groups = snapshot.user_groups
        self._roles = snapshot.roles
        self._default = config.default_quota
        self._limits: dict[tuple[str, str], tuple[int | None, str | None]] = {}
        # nodes held or reserved: (user, level resource) -> n, and user -> n (read-only outside)
        self.used: dict[tuple[str, str], int] = {}
        self.total: dict[str, int] = {}

    def limit(self, user: str, resource: str) -> tuple[int | None, str | None]:
        """Return (limit, principal) for ``user`` and ``resource`` (cached)."""
        key = (user, resource)
        found = self._limits.get(key)
        if found is None:
            found = self._resolve(user, resource)
            self._limits[key] = found
        return found

    def _resolve(self, user: str, resource: str) -> tuple[int | None, str | None]:
        rows = self._rows.get(resource)
        if rows:
            if user in rows:
                return rows[user], user
            best: tuple[int, str] | None = None
            for group in sorted((*self._user_groups.get(user, ()), self.role(user))):
                if group in rows and (best is None or rows[group] > best[0]):
                    best = (rows[group], group)
            if best is not None:
                return best
            if PUBLIC in rows:
                return rows[PUBLIC], PUBLIC
        if resource == NODE_LIMIT:
            return None, None
        if self.role(user) == EXTERNAL:
            return 0, NO_ROW  # no row: no access, whatever the default
        if self._default is None:
            return None, None
        return self._default, DEFAULT_PRINCIPAL

    def role(self, user: str) -> str:
        """The user's role (``internal`` unless the snapshot says otherwise)."""
        return self._roles.get(user, INTERNAL)

    def in_use(self, user: str, resource: str) -> int:
        if resource == NODE_LIMIT:
            return self.total.get(user, 0)
        return self.used.get((user, resource), 0)

    def add(self, user: str, group: str, priority: int, nodes: int) -> None:
        """Count ``nodes`` held (or reserved) by ``user`` at ``priority`` in ``group``."""
        resource = _RESOURCES.get((group, priority))
        if resource is None:
            resource = level_resource(group, priority)
            if len(_RESOURCES) < 10_000:
                _RESOURCES[(group, priority)] = resource
        key = (user, resource)
        self.used[key] = self.used.get(key, 0) + nodes
        self.total[user] = self.total.get(user, 0) + nodes

    def limits(self, user: str, group: str, priority: int) -> tuple[str, int | None, int | None]:
        """(level resource, its limit, the user's node_limit) for a start at ``priority``."""
        resource = level_resource(group, priority)
        return resource, self.limit(user, resource)[0], self.limit(user, NODE_LIMIT)[0]

    def fits(self, user: str, group: str, priority: int, nodes: int) -> bool:
        """Whether ``nodes`` more fit both the level row and ``node_limit``."""
        resource, level_limit, total_limit = self.limits(user, group, priority)
        if level_limit is not None and self.used.get((user, resource), 0) + nodes > level_limit:
            return False
        return total_limit is None or self.total.get(user, 0) + nodes <= total_limit

    def blocking(self, user: str, group: str, priority: int, nodes: int) -> QuotaInfo | None:
        """The first quota row a start of ``nodes`` would exceed, or None if it fits."""
        for resource in (level_resource(group, priority), NODE_LIMIT):
            limit, principal = self.limit(user, resource)
            if limit is None:
                continue
            used = self.in_use(user, resource)
            if used + nodes > limit:
                return QuotaInfo(resource, principal, limit, used, nodes)
        return None

    def info(self, user: str, group: str, priority: int, nodes: int) -> QuotaInfo:
        """The level row that applies (for explanations), whether or not it blocks."""
        resource = level_resource(group, priority)
        limit, principal = self.limit(user, resource)
        return QuotaInfo(resource, principal, limit, self.in_use(user, resource), nodes)

    def resolve_auto(self, user: str, group: str, nodes: int) -> int | None:
        """The highest level at which ``nodes`` more still fit the user's quota, or None."""
        for level in LEVELS_HIGH_FIRST:
            if self.blocking(user, group, level, nodes) is None:
                return level
        return None


__all__ = ["NODE_LIMIT", "PUBLIC", "QuotaBook", "QuotaInfo", "QuotaRow", "level_resource"]
