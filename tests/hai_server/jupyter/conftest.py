"""A real server (uvicorn on 127.0.0.1, the local backend) serving real JupyterLab containers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from hai_server.app import create_app
from hai_server.settings import JupyterSettings
from tests.support.pg import free_port
from tests.support.pg_server import ADMIN_TOKEN, make_settings

pytest.importorskip("jupyterlab", reason="the test extra installs JupyterLab")


@dataclass
class Live:
    url: str
    home: Path
    app: Any
    server: Any = None
    thread: Any = None
    settings: Any = None

    def boot(self, settings: Any) -> None:
        """Serve ``settings`` on a new port (the local backend adopts what runs already)."""
        self.settings = settings
        self.app = create_app(settings)
        port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning",
                           lifespan="on")
        )  # fmt: skip
        self.thread = threading.Thread(target=self.server.run, name="jupyter-live", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "did not start"
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{port}"

    def halt(self) -> None:
        """Stop the server (its containers keep running, as ranks do)."""
        self.server.should_exit = True
        self.thread.join(30)

    def restart(self) -> None:
        self.halt()
        self.boot(self.settings)

    def client(self, token: str | None = ADMIN_TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, trust_env=False)

    def user(self, name: str) -> str:
        with self.client() as c:
            # uid 0: the ranks may run as the server (root here) and use its JupyterLab
            r = c.post("/api/v1/admin/users", json={"name": name, "uid": os.geteuid()})
            assert r.status_code == 201, r.text
            return str(r.json()["token"])

    def run(self, coro: Any, timeout: float = 60) -> Any:
        """Run ``coro`` on the server's event loop (its engines belong to it)."""
        loop = self.app.state.reconciler._loop
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    def serving(self, c: httpx.Client, name: str, user: str) -> dict[str, Any]:
        box = self.wait(c, name, lambda b: b["serving"] or b["state"] == "failed")
        assert box["state"] == "running", box
        deadline = time.monotonic() + 60
        while c.get(f"/{user}/{name}/api/status").status_code != 200:
            assert time.monotonic() < deadline, "JupyterLab never answered"
            time.sleep(0.2)
        return box

    def wait(self, c: httpx.Client, name: str, pred: Any, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            got = c.get(f"/api/v1/jupyter/{name}").json()
            if pred(got):
                return got
            assert time.monotonic() < deadline, f"timed out: {got}"
            time.sleep(0.1)


def serve(home: Path, python: str | None = None, gpus: int = 0, **jupyter: Any) -> Iterator[Live]:
    """SQLite only: the API tests run both databases; these start JupyterLab (seconds each)."""
    settings = make_settings(home, f"sqlite+aiosqlite:///{home / 'hai.db'}", nodes=1)
    settings.local.python = python
    settings.local.gpus_per_node = gpus
    settings.jupyter = JupyterSettings(local_cpus=4, local_memory_gib=8, **jupyter)
    live = Live("", home, None)
    live.boot(settings)
    try:
        yield live
    finally:
        with live.client() as c, contextlib.suppress(Exception):
            for box in c.get("/api/v1/jupyter/", params={"all": True}).json()["containers"]:
                c.delete(f"/api/v1/jupyter/{box['name']}", params={"user": box["user"]})
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and any(
                t["state"] in ("queued", "starting", "running")
                for t in c.get("/api/v1/tasks/", params={"all": True}).json()["tasks"]
            ):
                time.sleep(0.1)
        live.halt()
        for pid_file in home.glob("runs/*/rank*/pid"):  # safety net: nothing left running
            with contextlib.suppress(ValueError, OSError):
                os.killpg(int(pid_file.read_text()), signal.SIGKILL)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    yield from serve(tmp_path_factory.mktemp("jupyter-home"))
