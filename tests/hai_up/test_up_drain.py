"""Suspending tasks before a stop: cordon through the admin API, wait, uncordon after."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from hai_up.drain import Api, active_count, drain, drained_nodes, undrain
from hai_up.errors import UpError

TOKEN = "admin-token-0123456789"


class FakeServer:
    """Nodes and active tasks; a task goes away once every node holding work is cordoned."""

    def __init__(self, nodes: dict[str, bool], tasks: int, suspends: bool = True) -> None:
        self.nodes = dict(nodes)  # name -> cordoned
        self.tasks = tasks
        self.suspends = suspends
        self.calls: list[str] = []


@pytest.fixture
def fake() -> Iterator[tuple[FakeServer, str]]:
    state = FakeServer({"local-0": False, "local-1": True}, tasks=2)

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
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
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
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_drain_then_undrain(fake: tuple[FakeServer, str], tmp_path: Path) -> None:
    state, url = fake
    said: list[str] = []
    api = Api(url, TOKEN)
    assert active_count(api) == 2
    assert drain(api, tmp_path, said.append) == 2
    assert state.nodes == {"local-0": True, "local-1": True} and state.tasks == 0
    # only the node hai-up cordoned is recorded (local-1 was an admin's)
    assert json.loads((tmp_path / "drained.json").read_text()) == {"nodes": ["local-0"]}
    assert said[0].startswith("suspending 2 task(s) with notice (cordoning 1 node(s))")
    assert drained_nodes(tmp_path) == ["local-0"]
    undrain(api, tmp_path, said.append)
    assert state.nodes == {"local-0": False, "local-1": True}  # the admin's cordon stays
    assert not (tmp_path / "drained.json").exists()
    assert said[-1] == "uncordoned 1 node(s): the suspended tasks are scheduled again"


def test_nothing_running_cordons_nothing(fake: tuple[FakeServer, str], tmp_path: Path) -> None:
    state, url = fake
    state.tasks = 0
    assert drain(Api(url, TOKEN), tmp_path, print) == 0
    assert not any(c.startswith("POST") for c in state.calls)
    assert not (tmp_path / "drained.json").exists()


def test_tasks_that_do_not_suspend_stop_nothing(
    fake: tuple[FakeServer, str], tmp_path: Path
) -> None:
    state, url = fake
    state.suspends = False
    with pytest.raises(UpError) as err:
        drain(Api(url, TOKEN), tmp_path, print, timeout_s=1.0)
    assert "task(s) 0, 1 still active 1 s after the suspend notice; nothing was stopped" in (
        err.value.message
    )
    assert json.loads((tmp_path / "drained.json").read_text()) == {"nodes": ["local-0"]}


def test_unreachable_or_refusing_server_is_said_not_fatal(
    fake: tuple[FakeServer, str], tmp_path: Path
) -> None:
    _, url = fake
    said: list[str] = []
    assert drain(Api(url, "wrong-token-0123456789"), tmp_path, said.append) == 0
    assert "HTTP 401" in said[0] and "stopping without notice" in said[0]
    assert active_count(Api("http://127.0.0.1:9", TOKEN, timeout=1)) is None


def test_a_server_that_must_answer_refuses_unless_forced(tmp_path: Path) -> None:
    """Kubernetes: task pods outlive the server, so one that does not answer is a refusal."""
    api = Api("http://127.0.0.1:9", TOKEN, timeout=1)
    with pytest.raises(UpError) as err:
        drain(api, tmp_path, print, must_reach=True)
    assert err.value.exit_code == 4
    assert err.value.message.startswith(
        "cannot reach the platform's API at http://127.0.0.1:9 to suspend the running tasks first"
    )
    assert err.value.message.endswith("nothing was changed (--force goes on without notice)")
    said: list[str] = []
    assert drain(api, tmp_path, said.append, must_reach=True, force=True) == 0
    assert "stopping without notice" in said[0]
    assert not (tmp_path / "drained.json").exists()


def test_forced_drain_goes_on_after_the_timeout(
    fake: tuple[FakeServer, str], tmp_path: Path
) -> None:
    state, url = fake
    state.suspends = False
    said: list[str] = []
    assert drain(Api(url, TOKEN), tmp_path, said.append, timeout_s=1.0, force=True) == 0
    assert said[-1] == (
        "warning: task(s) 0, 1 still active 1 s after the suspend notice; going on without "
        "waiting for them (--force)"
    )
    assert json.loads((tmp_path / "drained.json").read_text()) == {"nodes": ["local-0"]}
