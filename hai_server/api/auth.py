"""Bearer-token authentication: the token's hash, looked up (cached: see db/callers.py)."""

from __future__ import annotations

from litestar import Request

from hai_server.db.session import hash_token
from hai_server.services.errors import Unauthorized
from hai_server.services.tasks import Caller


async def current_caller(request: Request) -> Caller:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token (Authorization: Bearer <token>)")
    state = request.app.state
    digest = hash_token(token.strip())
    row = state.callers.get(digest)
    if row is None:
        generation = state.callers.generation
        row = await state.reads.caller(digest)
        if row is not None:
            state.callers.put(digest, row, generation)
    if row is None:
        raise Unauthorized("invalid or revoked token")
    if not row.active:
        raise Unauthorized(f"user {row.name} is disabled")
    return Caller(user_id=row.id, name=row.name, role=row.role)
