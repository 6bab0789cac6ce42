"""What the PostgreSQL benchmarks share: a server to create databases on, a fresh database,
a free loopback port. Imported by bench_pg.py and bench_logs.py (same folder)."""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def admin_url() -> str:
    """``HAI_BENCH_DATABASE_URL`` (a user that may CREATE DATABASE), else a throwaway
    PostgreSQL from the ``pgserver`` wheel."""
    url = os.environ.get("HAI_BENCH_DATABASE_URL")
    if not url:
        import pgserver

        srv = pgserver.get_server(Path(tempfile.mkdtemp(prefix="hai-bench-pg-")), "delete")
        url = str(srv.get_uri())
    return url.replace("postgresql+psycopg://", "postgresql://")


def fresh_database(admin: str) -> str:
    """Create an empty database there; its SQLAlchemy URL (psycopg 3)."""
    import psycopg

    name = f"hai_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    p = urlsplit(admin)
    return urlunsplit(("postgresql+psycopg", p.netloc, f"/{name}", p.query, ""))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
