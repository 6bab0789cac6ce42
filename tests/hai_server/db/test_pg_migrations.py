"""Alembic migrations on SQLite and PostgreSQL: upgrade from empty, refuse a newer schema."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from hai_server.db.migrate import SchemaTooNew, head_revision
from hai_server.db.models import Base
from hai_server.db.revision import HEAD
from hai_server.db.session import create_schema, make_engine


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def _migrate_twice_and_diff(url: str) -> tuple[str, list[object]]:
    engine = make_engine(url)
    try:
        await create_schema(engine)
        await create_schema(engine)  # idempotent
        async with engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
            )
        return str(version), diff
    finally:
        await engine.dispose()


def test_revision_constant_is_the_migrations_head() -> None:
    assert head_revision() == HEAD, "bump hai_server/db/revision.py HEAD with a new migration"


def test_empty_database_is_upgraded_to_head_and_matches_the_models(db_url: str) -> None:
    version, diff = run(_migrate_twice_and_diff(db_url))
    assert version == head_revision()
    assert diff == [], f"models and migrations differ; add a migration: {diff}"


async def _stamp_future(url: str) -> None:
    engine = make_engine(url)
    try:
        await create_schema(engine)
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
        with pytest.raises(SchemaTooNew, match="newer hai-server"):
            await create_schema(engine)
    finally:
        await engine.dispose()


def test_a_newer_database_is_refused(db_url: str) -> None:
    run(_stamp_future(db_url))


def test_hai_server_refuses_a_newer_database_with_one_clear_line(db_url: str, tmp_path) -> None:
    run(_stamp_future(db_url))
    env = {"HAI_DATABASE_URL": db_url, "HAI_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    p = subprocess.run(
        [sys.executable, "-m", "hai_server.main", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 3, p.stderr
    assert "refusing to start" in p.stderr and "9999_future" in p.stderr
    assert "Traceback" not in p.stderr


async def _legacy(url: str) -> str:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:  # what create_all made before migrations existed
            await conn.run_sync(Base.metadata.create_all)
        await create_schema(engine)
        async with engine.connect() as conn:
            return str(
                (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
            )
    finally:
        await engine.dispose()


def test_a_database_made_by_create_all_is_adopted(db_url: str) -> None:
    assert run(_legacy(db_url)) == head_revision()


async def _task_reloptions(url: str) -> list[str] | None:
    engine = make_engine(url)
    try:
        await create_schema(engine)
        async with engine.connect() as conn:
            return (
                await conn.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'tasks'"))
            ).scalar()
    finally:
        await engine.dispose()


def test_tasks_leave_room_for_hot_updates_on_postgresql(pg_url: str) -> None:
    assert run(_task_reloptions(pg_url)) == ["fillfactor=70"]
