"""Alembic environment: runs on the connection :mod:`hai_server.db.migrate` hands over.

The server never needs an ``alembic.ini``: the configuration is built in code. To run the
``alembic`` command line by hand (e.g. ``alembic revision --autogenerate``), use
``python -m hai_server.db.migrate alembic ARGS...`` which builds the same configuration.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from hai_server.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or ""
    engine = create_engine(_sync_url(url))
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # type: ignore[attr-defined]
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _sync_url(url: str) -> str:
    return url.replace("+aiosqlite", "")


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
