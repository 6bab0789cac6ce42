"""Fixtures of the TUI tests: one real embedded server for the session, a free port."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from tui_helpers import Server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("hai-home"))
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
