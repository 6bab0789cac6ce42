"""Who is calling: a bearer token -> the :class:`Caller`, through a cache kept coherent across
replicas (db/callers.py)."""

from __future__ import annotations

from hai_server.db.callers import CallerCache
from hai_server.db.reads import Reads
from hai_server.db.session import hash_token
from hai_server.services.errors import Unauthorized
from hai_server.services.tasks import Caller


class AuthService:
    def __init__(self, reads: Reads, cache: CallerCache) -> None:
        self._reads = reads
        self._cache = cache

    async def caller(self, authorization: str) -> Caller:
        """The caller an ``Authorization`` header names; Unauthorized otherwise."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("missing bearer token (Authorization: Bearer <token>)")
        digest = hash_token(token.strip())
        row = self._cache.get(digest)
        if row is None:
            generation = self._cache.generation
            row = await self._reads.caller(digest)
            if row is not None:
                self._cache.put(digest, row, generation)
        if row is None:
            raise Unauthorized("invalid or revoked token")
        if not row.active:
            raise Unauthorized(f"user {row.name} is disabled")
        return Caller(user_id=row.id, name=row.name, role=row.role)
