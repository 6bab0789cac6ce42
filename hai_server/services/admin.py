"""Admin use cases: users, tokens, roles, user groups, quotas, nodes, seeding.

Every method takes the :class:`Caller` and refuses non-admins with 403. Tokens are stored
as SHA-256 digests; a new token's text is returned once, at creation, and never again.
Writes wake the reconciler (a quota or a cordon changes what may run).
Nodes are administered in nodes.py.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from hai_cli.scheduler import jupyter_quota as jq
from hai_cli.scheduler.model import Priority
from hai_server.db import models as m
from hai_server.db.callers import announce_auth_change
from hai_server.db.session import Sessions, hash_token, new_token
from hai_server.services.errors import Conflict, Forbidden, Invalid, NotFound
from hai_server.services.tasks import MAX_ID, Caller

ROLES = ("admin", "internal", "external")
NODE_LIMIT = "node_limit"
USER_NAME_RE = "^[a-z_][a-z0-9_.-]{0,63}$"  # also the API's documented pattern
_NAME = re.compile(USER_NAME_RE)
_GROUP = re.compile(r"^[A-Za-z0-9_.]([A-Za-z0-9_.-]{0,62})$")
_LEVELS = "|".join(sorted((p.name for p in Priority), key=len, reverse=True))
_RESOURCE = re.compile(rf"^node-(?P<group>[A-Za-z0-9_.-]{{1,64}})-(?P<level>{_LEVELS})$")
_IMAGE_RESOURCE = re.compile(r"^train_environment:[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_QUOTA = 1_000_000


def check_resource(resource: str) -> str:
    """Return ``resource`` if it names a quota the platform reads, else raise Invalid."""
    if (
        resource == NODE_LIMIT
        or _RESOURCE.fullmatch(resource)
        or _IMAGE_RESOURCE.fullmatch(resource)
    ):
        return resource
    if resource.startswith(jq.PREFIX) and _GROUP.fullmatch(resource[len(jq.PREFIX) :]):
        return resource
    levels = ", ".join(p.name for p in Priority)
    raise Invalid(
        f"bad quota resource {resource!r}: use node_limit, node-{{group}}-{{PRIORITY}} "
        f"with PRIORITY one of {levels} (e.g. node-default-NORMAL), jupyter:{{group}}, or "
        "train_environment:{name} (a built-in image)"
    )


def check_user_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise Invalid(
            f"bad user name {name!r}: 1-64 characters, lowercase letters, digits, _ . -, "
            "starting with a letter or _"
        )
    return name


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise Invalid(f"bad role {role!r}: use one of {', '.join(ROLES)}")
    return role


MAX_ID_NUMBER = 2**31 - 1


def check_ids(uid: int | None, gid: int | None) -> tuple[int | None, int | None]:
    """A POSIX uid and gid (gid defaults to the uid, as for a user's own group)."""
    for what, value in (("uid", uid), ("gid", gid)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID_NUMBER
        ):
            raise Invalid(f"{what} must be a whole number from 0 to {MAX_ID_NUMBER}, got {value!r}")
    if gid is not None and uid is None:
        raise Invalid("a gid needs a uid")
    return uid, gid if gid is not None or uid is None else uid


def check_group(group: str) -> str:
    if not _GROUP.fullmatch(group):
        raise Invalid(f"bad group name {group!r}: letters, digits, _ . - (at most 64)")
    return group


def absent(text: str) -> bool:
    """True when no row can have this key: PostgreSQL text cannot hold NUL (nor compare it)."""
    return "\x00" in text


def user_json(u: m.User, groups: list[str]) -> dict[str, Any]:
    return {
        "id": u.id,
        "name": u.name,
        "role": u.role,
        "active": u.active,
        "groups": sorted(groups),
        "created_at": u.created_at,
        "uid": u.uid,
        "gid": u.gid,
    }


def token_json(t: m.Token, user: str) -> dict[str, Any]:
    return {
        "id": t.id,
        "user": user,
        "label": t.label,
        "created_at": t.created_at,
        "revoked_at": t.revoked_at,
        "active": t.revoked_at is None,
    }


class AdminService:
    def __init__(
        self,
        sessions: Sessions,
        wake: Callable[[], None],
        on_auth_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._wake = wake
        self._auth_changed = on_auth_change  # after commit: drop this replica's cached tokens

    @staticmethod
    def _require(caller: Caller) -> None:
        if not caller.admin:
            raise Forbidden("this needs the admin role")

    # -- users ---------------------------------------------------------------------------
    async def add_user(
        self,
        caller: Caller,
        name: str,
        role: str = "internal",
        groups: list[str] | None = None,
        token: str | None = None,
        uid: int | None = None,
        gid: int | None = None,
    ) -> dict[str, Any]:
        """Create a user and a first token (returned once as ``token``).

        ``uid``/``gid``: the identity the user's ranks run as when the server runs as root."""
        self._require(caller)
        check_user_name(name)
        _check_role(role)
        uid, gid = check_ids(uid, gid)
        groups = [check_group(g) for g in groups or []]
        if token is not None and len(token) < 16:
            raise Invalid("a given token must have at least 16 characters")
        text = token or new_token()
        now = time.time()
        try:
            async with self._sessions.begin() as s:
                if (await s.execute(select(m.User.id).where(m.User.name == name))).first():
                    raise Conflict(f"user {name} already exists")
                user = m.User(name=name, role=role, active=True, created_at=now, uid=uid, gid=gid)
                s.add(user)
                await s.flush()
                s.add(
                    m.Token(
                        user_id=user.id, token_hash=hash_token(text), label="first", created_at=now
                    )
                )
                for g in dict.fromkeys(groups):
                    s.add(m.UserGroup(user_name=name, group_name=g))
                out = user_json(user, groups)
        except IntegrityError:
            raise Conflict(f"user {name} or that token already exists") from None
        out["token"] = text
        return out

    async def list_users(self, caller: Caller) -> list[dict[str, Any]]:
        self._require(caller)
        async with self._sessions() as s:
            users = (await s.execute(select(m.User).order_by(m.User.name))).scalars().all()
            groups: dict[str, list[str]] = {}
            for ug in (await s.execute(select(m.UserGroup))).scalars():
                groups.setdefault(ug.user_name, []).append(ug.group_name)
        return [user_json(u, groups.get(u.name, [])) for u in users]

    async def _user(self, s: Any, name: str) -> m.User:
        if absent(name):
            raise NotFound(f"no user {name!r}")
        user = (await s.execute(select(m.User).where(m.User.name == name))).scalar_one_or_none()
        if user is None:
            raise NotFound(f"no user {name}")
        return user

    async def set_active(self, caller: Caller, name: str, active: bool) -> dict[str, Any]:
        """Disable (or enable) a user: every request with their tokens is refused at once."""
        self._require(caller)
        async with self._sessions.begin() as s:
            user = await self._user(s, name)
            if not active and user.id == caller.user_id:
                raise Conflict("you cannot disable yourself")
            user.active = active
            await announce_auth_change(s)
            groups = list(
                (
                    await s.execute(
                        select(m.UserGroup.group_name).where(m.UserGroup.user_name == name)
                    )
                ).scalars()
            )
            out = user_json(user, groups)
        self._auth_changed()
        return out

    async def set_role(self, caller: Caller, name: str, role: str) -> dict[str, Any]:
        self._require(caller)
        _check_role(role)
        async with self._sessions.begin() as s:
            user = await self._user(s, name)
            if user.id == caller.user_id and role != "admin":
                raise Conflict("you cannot remove your own admin role")
            user.role = role
            await announce_auth_change(s)
            out = user_json(user, [])
        self._auth_changed()
        return out

    async def set_groups(self, caller: Caller, name: str, groups: list[str]) -> dict[str, Any]:
        self._require(caller)
        groups = [check_group(g) for g in dict.fromkeys(groups)]
        async with self._sessions.begin() as s:
            user = await self._user(s, name)
            await s.execute(delete(m.UserGroup).where(m.UserGroup.user_name == name))
            for g in groups:
                s.add(m.UserGroup(user_name=name, group_name=g))
            out = user_json(user, groups)
        self._wake()
        return out

    # -- tokens --------------------------------------------------------------------------
    async def new_token(self, caller: Caller, user: str, label: str = "") -> dict[str, Any]:
        self._require(caller)
        if len(label) > 64 or "\x00" in label:
            raise Invalid("a token label has at most 64 characters (and no NUL)")
        text = new_token()
        async with self._sessions.begin() as s:
            u = await self._user(s, user)
            row = m.Token(
                user_id=u.id, token_hash=hash_token(text), label=label, created_at=time.time()
            )
            s.add(row)
            await s.flush()
            out = token_json(row, u.name)
        out["token"] = text
        return out

    async def list_tokens(self, caller: Caller, user: str | None = None) -> list[dict[str, Any]]:
        self._require(caller)
        q = select(m.Token, m.User.name).join(m.User, m.User.id == m.Token.user_id)
        async with self._sessions() as s:
            if user is not None:
                await self._user(s, user)
                q = q.where(m.User.name == user)
            rows = (await s.execute(q.order_by(m.Token.id))).all()
        return [token_json(t, name) for t, name in rows]

    async def revoke_token(
        self, caller: Caller, token_id: int | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """Revoke by id (as listed) or by the token's text. Effective on the next request."""
        self._require(caller)
        if (token_id is None) == (token is None):
            raise Invalid("give exactly one of a token id or the token itself")
        if token_id is not None and not 0 < token_id <= MAX_ID:
            raise NotFound(f"no token {token_id}")
        async with self._sessions.begin() as s:
            q = select(m.Token, m.User.name).join(m.User, m.User.id == m.Token.user_id)
            if token_id is not None:
                q = q.where(m.Token.id == token_id)
            else:
                q = q.where(m.Token.token_hash == hash_token(token or ""))
            found = (await s.execute(q)).first()
            if found is None:
                raise NotFound(f"no token {token_id if token_id is not None else '(given)'}")
            row, name = found
            if row.revoked_at is not None:
                raise Conflict(f"token {row.id} is already revoked")
            if await self._last_admin_token(s, row):
                raise Conflict(
                    f"token {row.id} is the last working admin token: revoking it would lock "
                    f"every admin out. Create another first (hai-cli admin token new {name}), "
                    "then revoke this one"
                )
            row.revoked_at = time.time()
            await announce_auth_change(s)
            out = token_json(row, name)
        self._auth_changed()
        return out

    @staticmethod
    async def _last_admin_token(s: Any, row: m.Token) -> bool:
        """Is ``row`` the only unrevoked token of an active admin?"""
        others = await s.execute(
            select(m.Token.id)
            .join(m.User, m.User.id == m.Token.user_id)
            .where(
                m.User.role == "admin",
                m.User.active.is_(True),
                m.Token.revoked_at.is_(None),
                m.Token.id != row.id,
            )
            .limit(1)
        )
        if others.first() is not None:
            return False
        owner = await s.get(m.User, row.user_id)
        return owner is not None and owner.role == "admin" and bool(owner.active)

    # -- quotas --------------------------------------------------------------------------
    async def set_quota(
        self,
        caller: Caller,
        principal: str,
        resource: str,
        quota: int,
        expires_at: float | None = None,
    ) -> dict[str, Any]:
        """Insert or replace one quota row. ``principal``: a user, a user group or public."""
        self._require(caller)
        check_resource(resource)
        check_group(principal)
        if isinstance(quota, bool) or not isinstance(quota, int):
            raise Invalid("quota must be a whole number of nodes")
        if quota < 0:
            raise Invalid(f"quota must be >= 0, got {quota}")
        if resource.startswith(jq.PREFIX):  # MMMMCCCQQ: memory GiB, CPUs, containers
            try:
                jq.decode(quota)
            except ValueError as exc:
                raise Invalid(str(exc)) from None
        elif quota > MAX_QUOTA:
            raise Invalid(f"quota must be <= {MAX_QUOTA}")
        async with self._sessions.begin() as s:
            row = await s.get(m.Quota, (principal, resource))
            if row is None:
                s.add(
                    m.Quota(
                        principal=principal, resource=resource, quota=quota, expires_at=expires_at
                    )
                )
            else:
                row.quota, row.expires_at = quota, expires_at
        self._wake()
        return {
            "principal": principal,
            "resource": resource,
            "quota": quota,
            "expires_at": expires_at,
        }

    async def delete_quota(self, caller: Caller, principal: str, resource: str) -> None:
        self._require(caller)
        if absent(principal) or absent(resource):
            raise NotFound(f"no quota {resource!r} for {principal!r}")
        async with self._sessions.begin() as s:
            row = await s.get(m.Quota, (principal, resource))
            if row is None:
                raise NotFound(f"no quota {resource} for {principal}")
            await s.delete(row)
        self._wake()

    async def list_quotas(
        self, caller: Caller, principal: str | None = None
    ) -> list[dict[str, Any]]:
        self._require(caller)
        q = select(m.Quota).order_by(m.Quota.principal, m.Quota.resource)
        if principal is not None:
            q = q.where(m.Quota.principal == principal)
        async with self._sessions() as s:
            rows = (await s.execute(q)).scalars().all()
        return [
            {
                "principal": r.principal,
                "resource": r.resource,
                "quota": r.quota,
                "expires_at": r.expires_at,
            }
            for r in rows
        ]
