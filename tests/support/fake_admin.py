"""A fake admin API of the platform (nodes, active tasks, cordon) for hai-up's drain tests."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "admin-token-0123456789"


class FakeServer:
    """Nodes and active tasks; a task goes away once every node holding work is cordoned."""

    def __init__(self, nodes: dict[str, bool], tasks: int, suspends: bool = True) -> None:
        self.nodes = dict(nodes)  # name -> cordoned
        self.tasks = tasks
        self.suspends = suspends
        self.calls: list[str] = []


@contextlib.contextmanager
def fake_admin_api(state: FakeServer, token: str = TOKEN) -> Iterator[str]:
    """Serve ``state`` on 127.0.0.1; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def _send(self, code: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.headers.get("Authorization") != f"Bearer {token}":
                return self._send(401, {"detail": "bad token"})
            state.calls.append(f"GET {self.path}")
            if self.path == "/api/v1/nodes":
                nodes = [{"name": n, "cordoned": c} for n, c in state.nodes.items()]
                return self._send(200, {"nodes": nodes})
            if self.path.startswith("/api/v1/tasks/"):
                if state.suspends and all(state.nodes.values()):
                    state.tasks = 0  # every node cordoned: the tasks were suspended
                return self._send(200, {"tasks": [{"id": i} for i in range(state.tasks)]})
            return self._send(404, {})

        def do_POST(self) -> None:
            state.calls.append(f"POST {self.path}")
            name, verb = self.path.split("/")[-2:]
            state.nodes[name] = verb == "cordon"
            self._send(200, {"name": name})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
