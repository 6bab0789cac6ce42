"""Fixtures of the TUI tests: a real embedded server per database for the module, a port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.pg import DATABASES, server_database
from tests.support.tui import Server


@pytest.fixture(scope="module", params=DATABASES)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One server per database: every live test runs on SQLite and on PostgreSQL."""
    with server_database(request.param) as db:
        srv = Server(tmp_path_factory.mktemp("hai-home"), db)
        try:
            yield srv
        finally:
            srv.stop()


@pytest.fixture
def live(server: Server) -> Iterator[Server]:
    """The shared server, emptied of running tasks after each test."""
    yield server
    server.stop_all()


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
