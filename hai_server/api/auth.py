"""Bearer-token authentication: the token's hash is looked up on every request."""

from __future__ import annotations

from litestar import Request
from sqlalchemy import select

from hai_server.db import models as m
from hai_server.db.session import hash_token
from hai_server.services.errors import Unauthorized
from hai_server.services.tasks import Caller


async def current_caller(request: Request) -> Caller:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token (Authorization: Bearer <token>)")
    sessions = request.app.state.sessions
    async with sessions() as s:
        row = (
            await s.execute(
                select(m.User.id, m.User.name, m.User.role, m.User.active)
                .join(m.Token, m.Token.user_id == m.User.id)
                .where(
                    m.Token.token_hash == hash_token(token.strip()), m.Token.revoked_at.is_(None)
                )
            )
        ).first()
    if row is None:
        raise Unauthorized("invalid or revoked token")
    if not row.active:
        raise Unauthorized(f"user {row.name} is disabled")
    return Caller(user_id=row.id, name=row.name, role=row.role)
