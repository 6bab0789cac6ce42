"""The schema revision this code expects, known without importing Alembic (~0.4 s).

``create_schema`` compares it with the database's ``alembic_version`` and only loads
Alembic when they differ. A test checks it equals the head of ``migrations/versions``:
bump it with every new migration.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

HEAD = "0012"


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer hai-server than this one."""


async def current(engine: AsyncEngine) -> str | None:
    """The database's revision, or None when it has never been migrated."""
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    except Exception:  # no alembic_version table (yet)
        return None
