"""The real app on a real socket: uvicorn on 127.0.0.1 in a thread, for clients that speak HTTP
(schemathesis, the authorization matrix). The backend is the fake one unless given: generated
submissions must never run as processes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from hai_server.app import create_app
from hai_server.backends.base import Backend, NodeState
from hai_server.backends.fake import FakeBackend
from tests.support.pg import free_port
from tests.support.pg_server import make_settings


@contextmanager
def live_server(
    home: Path, db_url: str, backend: Backend | None = None, nodes: int = 4
) -> Iterator[str]:
    """Serve the app; yields its base URL. Stops it (lifespan and all) on exit."""
    be = backend or FakeBackend([NodeState(f"fake-{i}", "default") for i in range(nodes)])
    app = create_app(make_settings(home, db_url, nodes=nodes), backend=be)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
