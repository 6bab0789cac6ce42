"""Provision a database from a seed file (what hai-up renders instead of an init.sql).

TOML, applied idempotently through :class:`AdminService` (so the same validation holds)::

    [[users]]
    name = "alice"
    role = "internal"          # admin | internal | external
    groups = ["team-a"]
    token = "hai_..."          # optional: a known token; else one is generated and reported
    uid = 1000                 # optional: its ranks run as this uid (gid: gid, else the uid)

    [[quotas]]
    principal = "team-a"       # a user, a user group, or "public"
    resource = "node-default-NORMAL"   # or node_limit
    quota = 4

An existing user keeps its tokens; its role and groups are set to the file's. A given token
is added when missing. Generated tokens are returned (and printed once by ``hai-server``).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hai_server.db import models as m
from hai_server.db.session import Sessions, hash_token
from hai_server.services.admin import AdminService
from hai_server.services.errors import Invalid
from hai_server.services.tasks import Caller

SEEDER = Caller(user_id=0, name="seed", role="admin")


def load_seed(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise Invalid(f"cannot read seed file {path}: {exc}") from None
    unknown = set(data) - {"users", "quotas"}
    if unknown:
        raise Invalid(f"seed file {path}: unknown sections {', '.join(sorted(unknown))}")
    return data


async def apply_seed(sessions: Sessions, data: dict[str, Any]) -> dict[str, str]:
    """Apply a seed document. Returns {user: token} for tokens generated now."""
    admin = AdminService(sessions, lambda: None)
    created: dict[str, str] = {}
    for entry in data.get("users", []):
        name = str(entry.get("name", ""))
        role = str(entry.get("role", "internal"))
        groups = [str(g) for g in entry.get("groups", [])]
        token = entry.get("token")
        uid, gid = entry.get("uid"), entry.get("gid")
        async with sessions() as s:
            exists = (await s.execute(select(m.User.id).where(m.User.name == name))).first()
        if exists is None:
            out = await admin.add_user(SEEDER, name, role, groups, token, uid=uid, gid=gid)
            if token is None:
                created[name] = out["token"]
            continue
        await admin.set_role(SEEDER, name, role)
        await admin.set_groups(SEEDER, name, groups)
        if token is not None:
            async with sessions.begin() as s:
                digest = hash_token(token)
                if (
                    await s.execute(select(m.Token.id).where(m.Token.token_hash == digest))
                ).first():
                    continue
                user_id = (await s.execute(select(m.User.id).where(m.User.name == name))).scalar()
                s.add(m.Token(user_id=user_id, token_hash=digest, label="seed", created_at=0.0))
    for q in data.get("quotas", []):
        try:
            quota = q["quota"]
            await admin.set_quota(
                SEEDER, str(q["principal"]), str(q["resource"]), quota, q.get("expires_at")
            )
        except KeyError as exc:
            raise Invalid(
                f"a quota entry needs principal, resource and quota: missing {exc}"
            ) from None
    return created
