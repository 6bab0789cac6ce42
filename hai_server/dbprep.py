"""Database work ``hai-server`` does before it listens: migrate, refuse a newer schema, seed,
apply an init SQL file (``--init-sql``, what hai-up renders).

Run before uvicorn so a refusal is one clear line and exit code 3, not a lifespan traceback.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path

from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from hai_server.db.revision import SchemaTooNew
from hai_server.db.session import create_schema, make_engine, make_sessions
from hai_server.services.errors import ServiceError
from hai_server.services.seed import apply_seed, load_seed

EXIT_SCHEMA = 3


class InitSqlError(Exception):
    """The init SQL file could not be read or one of its statements failed."""


def split_sql(text: str) -> list[str]:
    """Split a SQL script into statements (quotes and comments respected; no dollar quoting)."""
    statements: list[str] = []
    buf = ""
    for line in text.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            statements.append(buf.strip())
            buf = ""
    rest = [ln for ln in buf.splitlines() if ln.strip() and not ln.strip().startswith("--")]
    if rest:
        raise InitSqlError(f"the last statement is not terminated by ';': {rest[0].strip()!r}")
    return statements


def read_init_sql(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InitSqlError(f"cannot read {path}: {exc}") from None
    return split_sql(text)


async def apply_sql(engine: AsyncEngine, statements: list[str]) -> None:
    """Run every statement in ONE transaction: all of them take effect, or none."""
    async with engine.begin() as conn:
        for number, statement in enumerate(statements, 1):
            try:
                await conn.exec_driver_sql(statement)
            except SQLAlchemyError as exc:
                orig = getattr(exc, "orig", None) or exc
                first = str(orig).strip().splitlines()[0] if str(orig).strip() else repr(orig)
                head = " ".join(statement.split())[:80]
                raise InitSqlError(f"statement {number} ({head}...): {first}") from None


async def _prepare(url: str, seed: Path | None, init_sql: Path | None = None) -> dict[str, str]:
    statements = read_init_sql(init_sql) if init_sql is not None else []
    engine = make_engine(url)
    try:
        await create_schema(engine)
        if init_sql is not None:
            await apply_sql(engine, statements)
        if seed is None:
            return {}
        return await apply_seed(make_sessions(engine), load_seed(seed))
    finally:
        await engine.dispose()


def prepare_or_exit(url: str, seed: Path | None = None, init_sql: Path | None = None) -> None:
    """Migrate (init SQL, seed). On failure print one line and exit; print seeded tokens once."""
    try:
        tokens = asyncio.run(_prepare(url, seed, init_sql))
    except InitSqlError as exc:
        print(f"hai-server: init SQL {init_sql} failed, nothing applied: {exc}", file=sys.stderr)
        sys.exit(2)
    except SchemaTooNew as exc:
        print(f"hai-server: refusing to start: {exc}", file=sys.stderr)
        sys.exit(EXIT_SCHEMA)
    except ServiceError as exc:
        print(f"hai-server: seed failed: {exc.message}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:
        print(f"hai-server: cannot open the database: {exc}", file=sys.stderr)
        sys.exit(1)
    except (OperationalError, InterfaceError) as exc:  # unreachable, refused, bad credentials
        first = str(exc.orig or exc).strip().splitlines()[0]
        print(f"hai-server: cannot open the database: {first}", file=sys.stderr)
        sys.exit(1)
    for user, token in tokens.items():
        print(f"seeded user {user}; token (shown once): {token}")
