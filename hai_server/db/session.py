"""Engine and session factory. SQLite (embedded default) and PostgreSQL share everything here."""

from __future__ import annotations

import hashlib
import os
import secrets
import time

from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from hai_server.db.models import Token, User

Sessions = async_sessionmaker[AsyncSession]


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    # pre-ping: one round trip per checkout (~0.1 ms) so that the first request after a
    # PostgreSQL restart gets a fresh connection instead of a 503 on a dead one
    # (tests/e2e/test_faults.py restarts PostgreSQL mid-run)
    return create_async_engine(
        url, pool_size=10, max_overflow=20, pool_recycle=1800, pool_pre_ping=True
    )


def make_sessions(engine: AsyncEngine) -> Sessions:
    return async_sessionmaker(engine, expire_on_commit=False)


async def create_schema(engine: AsyncEngine) -> None:
    """Migrate the database to this version's schema (see :mod:`hai_server.db.migrate`)."""
    from hai_server.db import revision

    if await revision.current(engine) == revision.HEAD:
        return  # the common case, without loading Alembic
    from hai_server.db.migrate import upgrade

    await upgrade(engine)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "hai_" + secrets.token_urlsafe(32)


async def ensure_admin(
    sessions: Sessions, name: str, token: str | None, recover: bool = False
) -> str | None:
    """Create the first admin when the database has no user. Returns the new token, if any.

    ``recover`` (``hai-cli server recover``, which needs write access to ``$HAI_HOME``): the
    named admin is made an active admin again and ``token`` valid again, even if revoked.

    Replicas starting together on a fresh PostgreSQL database all read "no user" (READ
    COMMITTED) and all insert; the losers' unique violation means someone else did it: they
    read again and find the admin (and the token) in place.
    """
    for attempt in range(5):
        try:
            return await _ensure_admin_once(sessions, name, token, recover)
        except IntegrityError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


async def _ensure_admin_once(
    sessions: Sessions, name: str, token: str | None, recover: bool = False
) -> str | None:
    async with sessions.begin() as s:
        if (await s.execute(select(User.id).limit(1))).first() is not None:
            user = (await s.execute(select(User).where(User.name == name))).scalar_one_or_none()
            if user is not None and user.uid is None:
                # made before users carried a uid: it is the one who runs the server
                user.uid, user.gid = os.getuid(), os.getgid()
            if recover:
                if user is None:
                    user = User(name=name, role="admin", active=True, created_at=time.time())
                    user.uid, user.gid = os.getuid(), os.getgid()
                    s.add(user)
                    await s.flush()
                user.role, user.active = "admin", True
            if token is None:
                return None
            # a given admin token is always valid for the named admin (idempotent re-provisioning)
            digest = hash_token(token)
            found = (await s.execute(select(Token).where(Token.token_hash == digest))).scalar()
            exists = found
            if recover and found is not None and user is not None:
                found.revoked_at, found.user_id = None, user.id
            if user is not None and exists is None:
                s.add(
                    Token(user_id=user.id, token_hash=digest, label="admin", created_at=time.time())
                )
            return None
        token = token or new_token()
        now = time.time()
        # the first admin is the one who runs the server: its ranks run as the server does
        user = User(
            name=name, role="admin", active=True, created_at=now, uid=os.getuid(), gid=os.getgid()
        )
        s.add(user)
        await s.flush()
        s.add(Token(user_id=user.id, token_hash=hash_token(token), label="admin", created_at=now))
        return token
