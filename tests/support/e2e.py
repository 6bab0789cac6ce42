"""End-to-end fixtures: a real embedded server under a temporary HAI_HOME, driven by hai-cli.

Every fixture that starts a server is parametrized over SQLite (the embedded default) and
PostgreSQL + Redis (``hai-cli server start`` with ``HAI_EMBEDDED_DATABASE_URL``), so each
end-to-end test runs on both: ``test_x[sqlite]``, ``test_x[postgres]``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hai_cli.client import ApiError, Client, ConnectionFailed
from tests.support.pg import DATABASES, ServerDatabase, server_database

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
TERMINAL = {"succeeded", "failed", "stopped"}


def cli_command() -> list[str]:
    exe = shutil.which("hai-cli", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "hai_cli.main"]


class Platform:
    """One embedded server and the CLI pointed at it."""

    def __init__(self, home: Path, env: dict[str, str], database: str = "sqlite") -> None:
        self.home = home
        self.env = env
        self.database = database
        self.workdir = home / "work"
        self.workdir.mkdir(parents=True, exist_ok=True)

    def cli(
        self, *args: str, timeout: float = 90, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cli_command(), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**self.env, **(env or {})},
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
        )

    def ok(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        res = self.cli(*args, **kw)
        assert res.returncode == 0, (
            f"hai-cli {' '.join(args)} -> {res.returncode}\n{res.stdout}\n{res.stderr}"
        )
        return res

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").stdout)

    def submit(self, script: str | Path, *args: str, opts: tuple[str, ...] = ()) -> int:
        res = self.ok("python", str(script), *args, "--", *opts, "--json")
        return int(json.loads(res.stdout)["id"])

    def task(self, task_id: int) -> dict[str, Any]:
        """The task as ``hai-cli status --json`` prints it. Read over the API (the same JSON)
        while the server answers: the waits poll this ten times a second, and a CLI process
        per poll was much of the suite's CPU; the CLI when the server is down (its on-demand
        start is what some tests wait for). ``status --json`` itself: tests/e2e/test_cli.py."""
        client = self._api()
        if client is not None:
            try:
                return client.task(task_id)
            except (ConnectionFailed, ApiError):
                pass  # the CLI says it (or starts the server) as a user would see it
            finally:
                client.close()
        return self.json("status", str(task_id))

    def _api(self) -> Client | None:
        try:
            url = json.loads((self.home / "server.json").read_text())["url"]
            token = (self.home / "embedded.token").read_text().strip()
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return Client(url, token)

    def wait(
        self,
        task_id: int,
        pred: Callable[[dict[str, Any]], bool],
        timeout: float = 60,
        what: str = "",
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        task: dict[str, Any] = {}
        while time.monotonic() < deadline:
            task = self.task(task_id)
            if pred(task):
                return task
            time.sleep(0.1)
        raise AssertionError(
            f"task {task_id} never reached {what or pred}: last seen {json.dumps(task)[:2000]}"
        )

    def wait_state(self, task_id: int, *states: str, timeout: float = 60) -> dict[str, Any]:
        return self.wait(task_id, lambda t: t["state"] in states, timeout, f"state in {states}")

    def log(self, task_id: int, rank: int = 0, attempt: int | None = None) -> str:
        args = ["logs", str(task_id), "--rank", str(rank)]
        if attempt is not None:
            args += ["--attempt", str(attempt)]
        return self.ok(*args).stdout

    def stop_everything(self) -> None:
        with contextlib.suppress(Exception):
            page = self.json("list", "--limit", "1000")
            live = [str(t["id"]) for t in page["tasks"] if t["state"] not in TERMINAL]
            if live:
                self.cli("stop", *live)
                for task_id in live:
                    with contextlib.suppress(AssertionError):
                        self.wait(
                            int(task_id), lambda t: t["state"] in TERMINAL | {"queued"}, timeout=15
                        )
        self.cli("server", "stop", timeout=30)
        # safety net: no rank may outlive the test session
        for pid_file in self.home.glob("runs/*/rank*/pid"):
            with contextlib.suppress(ValueError, OSError):
                os.killpg(int(pid_file.read_text()), signal.SIGKILL)


def clean_env(home: Path, database: ServerDatabase) -> dict[str, str]:
    """This environment without any HAI_* key, plus HAI_HOME and the database to use.

    The database reaches the embedded server through ``HAI_EMBEDDED_*`` on every command, so
    a server that a command starts on demand (after a crash) uses the same database.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAI_")}
    env["HAI_HOME"] = str(home)
    env.update(database.embedded_env())
    return env


def start_platform(root: Path, nodes: int, database: ServerDatabase, **settings: str) -> Platform:
    home = root / "hai"
    env = clean_env(home, database)
    env.update({"HAI_SCHEDULER__TICK_S": "0.5", "COLUMNS": "100"})
    env.update({f"HAI_{k.upper()}": v for k, v in settings.items()})
    plat = Platform(home, env, database.kind)
    plat.ok("server", "start", "--nodes", str(nodes))
    health = plat.json("server", "status")["health"]
    expected = "solo" if database.url is None else "postgresql-advisory-lock"
    assert health["leader_lock"] == expected, health  # the server runs on the database asked for
    return plat


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest) -> Iterator[ServerDatabase]:
    """For a test that starts its own server: SQLite, then a fresh PostgreSQL database."""
    with server_database(request.param) as db:
        yield db


@pytest.fixture(scope="module", params=DATABASES)
def platform(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    """One virtual node, a 3 s suspend grace period."""
    with server_database(request.param) as db:
        plat = start_platform(
            tmp_path_factory.mktemp("e2e"),
            1,
            db,
            scheduler__grace_s="3",
            scheduler__kill_grace_s="2",
        )
        yield plat
        plat.stop_everything()


@pytest.fixture(scope="module", params=DATABASES)
def platform2(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    """Two virtual nodes."""
    with server_database(request.param) as db:
        plat = start_platform(tmp_path_factory.mktemp("e2e2"), 2, db, scheduler__grace_s="3")
        yield plat
        plat.stop_everything()
