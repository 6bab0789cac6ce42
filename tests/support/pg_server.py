"""Helpers of the API and replica tests: an in-process app and real server processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from hai_server.app import create_app
from hai_server.settings import LocalSettings, SchedulerSettings, Settings

ADMIN_TOKEN = "hai_test_admin_token_0123456789"


def make_settings(
    home: Path, db_url: str, redis_url: str | None = None, nodes: int = 4, **local: Any
) -> Settings:
    return Settings(
        home=home,
        database_url=db_url,
        redis_url=redis_url,
        admin_user="root",
        admin_token=ADMIN_TOKEN,
        local=LocalSettings(nodes=nodes, gpus_per_node=0, **local),
        # open like the embedded server: a cluster's "no row, no access" default is tested
        # on its own (tests/hai_server/api/test_quota_submit.py)
        scheduler=SchedulerSettings(tick_s=0.2, grace_s=2, default_quota="unlimited"),
    )


@contextmanager
def api(
    home: Path, db_url: str, redis_url: str | None = None, nodes: int = 4, **local: Any
) -> Iterator[Api]:
    app = create_app(make_settings(home, db_url, redis_url, nodes, **local))
    with TestClient(app, timeout=30) as client:
        yield Api(client, ADMIN_TOKEN)


class Api:
    """A TestClient bound to one token; ``as_(token)`` gives the same client as someone else."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.token = token

    def as_(self, token: str) -> Api:
        return Api(self.client, token)

    @property
    def app(self) -> Any:
        return self.client.app

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        r = self.client.request(
            method,
            path,
            json=body,
            params={k: v for k, v in params.items() if v is not None},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        return r

    def ok(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        r = self.call(method, path, body, **params)
        assert r.status_code < 300, (r.status_code, r.text)
        return r.json() if "json" in r.headers.get("content-type", "") else r.text

    def submit(self, argv: list[str], workdir: str, **extra: Any) -> dict[str, Any]:
        return self.ok("POST", "/api/v1/tasks", {"argv": argv, "workdir": workdir, **extra})

    def wait_state(self, task_id: int, states: set[str], timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            t = self.ok("GET", f"/api/v1/tasks/{task_id}")
            if t["state"] in states or time.monotonic() > deadline:
                assert t["state"] in states, t
                return t
            time.sleep(0.05)

    def wait_for(self, task_id: int, pred: Any, timeout: float = 20) -> dict[str, Any]:
        """The task once ``pred(task)`` holds (polled; AssertionError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            t = self.ok("GET", f"/api/v1/tasks/{task_id}")
            if pred(t):
                return t
            assert time.monotonic() < deadline, f"timed out; task is {t}"
            time.sleep(0.05)


# -- real server processes ------------------------------------------------------------------
class ServerProc:
    """One ``hai-server`` process (a replica) on 127.0.0.1."""

    def __init__(self, home: Path, env: dict[str, str], port: int, name: str) -> None:
        self.home, self.port, self.name = home, port, name
        self.url = f"http://127.0.0.1:{port}"
        self.log = home / f"{name}.log"
        self._env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, wait: bool = True) -> ServerProc:
        out = open(self.log, "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hai_server.main",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            env=self._env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if wait:
            self.wait_up()
        return self

    def wait_up(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-3000:]}")
            try:
                self.health()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not come up: {self.log.read_text()[-3000:]}")

    def health(self) -> dict[str, Any]:
        req = urllib.request.Request(self.url + "/healthz")
        token = self._env.get("HAI_ADMIN_TOKEN", ADMIN_TOKEN)
        req.add_header("Authorization", f"Bearer {token}")  # the whole document: as the admin
        try:
            with urllib.request.urlopen(req, timeout=2) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read())

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def server_env(home: Path, db_url: str, redis_url: str | None, nodes: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAI_")}
    env.update(
        {
            "HAI_HOME": str(home),
            "HAI_DATABASE_URL": db_url,
            "HAI_ADMIN_TOKEN": ADMIN_TOKEN,
            "HAI_ADMIN_USER": "root",
            "HAI_BACKEND": "local",
            "HAI_LOCAL__NODES": str(nodes),
            "HAI_LOCAL__GPUS_PER_NODE": "0",
            "HAI_SCHEDULER__TICK_S": "1.0",
            "HAI_SCHEDULER__DEFAULT_QUOTA": "unlimited",  # open, as make_settings
            "HAI_LOG_LEVEL": "info",
        }
    )
    if redis_url:
        env["HAI_REDIS_URL"] = redis_url
    return env
