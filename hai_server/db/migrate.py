"""Schema migrations at server start: upgrade to head, refuse a database newer than us.

The Alembic configuration lives in code (no ``alembic.ini`` to ship). On PostgreSQL the
upgrade runs under a transaction-scoped advisory lock, so replicas starting together on an
empty database migrate it once. A database created by the old ``create_all`` (tables but no
``alembic_version``) is stamped at the first revision, then upgraded.

By hand: ``python -m hai_server.db.migrate [--url URL] current|upgrade|history`` or
``python -m hai_server.db.migrate alembic ARGS...`` (e.g. ``revision --autogenerate -m x``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from hai_server.db.revision import SchemaTooNew

MIGRATIONS = Path(__file__).with_name("migrations")
BASELINE = "0001"
MIGRATION_LOCK = 0x4A1_0001  # pg advisory lock key for "migrating"
__all__ = ["SchemaTooNew", "alembic_config", "head_revision", "upgrade", "upgrade_sync"]


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def upgrade_sync(conn: Connection) -> str:
    """Upgrade the database behind ``conn`` to head. Returns the revision reached."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    script = ScriptDirectory.from_config(cfg)
    current = current_revision(conn)
    if current is not None:
        try:
            script.get_revision(current)
        except CommandError:
            raise SchemaTooNew(
                f"the database schema is at revision {current!r}, which this hai-server does "
                f"not know (it knows up to {script.get_current_head()!r}): the database was "
                "migrated by a newer hai-server. Run that version, or restore a backup taken "
                "before the upgrade."
            ) from None
    elif inspect(conn).has_table("users"):
        command.stamp(cfg, BASELINE)  # made by create_all before migrations existed
    command.upgrade(cfg, "head")
    return current_revision(conn) or ""


async def upgrade(engine: AsyncEngine) -> str:
    async with engine.begin() as conn:
        return await conn.run_sync(upgrade_sync)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    url = os.environ.get("HAI_DATABASE_URL", "")
    if args[:1] == ["--url"] and len(args) > 1:
        url, args = args[1], args[2:]
    if not args:
        sys.exit(__doc__)
    sync_url = url.replace("+aiosqlite", "")
    if args[0] == "alembic":
        from alembic.config import CommandLine

        cli = CommandLine(prog="python -m hai_server.db.migrate alembic")
        options = cli.parser.parse_args(args[1:])
        cfg = alembic_config(sync_url)
        cfg.cmd_opts = options
        cli.run_cmd(cfg, options)
        return
    cfg = alembic_config(sync_url)
    {"current": command.current, "upgrade": lambda c: command.upgrade(c, "head")}.get(
        args[0], command.history
    )(cfg)


if __name__ == "__main__":
    main()
