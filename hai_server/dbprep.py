"""Database work ``hai-server`` does before it listens: migrate, refuse a newer schema, seed.

Run before uvicorn so a refusal is one clear line and exit code 3, not a lifespan traceback.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from hai_server.db.revision import SchemaTooNew
from hai_server.db.session import create_schema, make_engine, make_sessions
from hai_server.services.errors import ServiceError
from hai_server.services.seed import apply_seed, load_seed

EXIT_SCHEMA = 3


async def _prepare(url: str, seed: Path | None) -> dict[str, str]:
    engine = make_engine(url)
    try:
        await create_schema(engine)
        if seed is None:
            return {}
        return await apply_seed(make_sessions(engine), load_seed(seed))
    finally:
        await engine.dispose()


def prepare_or_exit(url: str, seed: Path | None = None) -> None:
    """Migrate (and seed). On failure print one line and exit; print seeded tokens once."""
    try:
        tokens = asyncio.run(_prepare(url, seed))
    except SchemaTooNew as exc:
        print(f"hai-server: refusing to start: {exc}", file=sys.stderr)
        sys.exit(EXIT_SCHEMA)
    except ServiceError as exc:
        print(f"hai-server: seed failed: {exc.message}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:
        print(f"hai-server: cannot open the database: {exc}", file=sys.stderr)
        sys.exit(1)
    for user, token in tokens.items():
        print(f"seeded user {user}; token (shown once): {token}")
