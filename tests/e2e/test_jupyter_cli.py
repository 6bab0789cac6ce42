"""hai-cli jupyter on the embedded server: `create NAME` with no other flag gives a real
JupyterLab behind the server; list, status, open, logs, stop (notebooks kept), start, delete;
bad input exits 2 with one line, someone's missing container exits 3."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.support.e2e import Platform, start_platform
from tests.support.pg import server_database

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
pytest.importorskip("jupyterlab", reason="the test extra installs JupyterLab")


@pytest.fixture(scope="module")
def plat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """SQLite only: the API tests of containers run on both databases."""
    with server_database("sqlite") as db:
        p = start_platform(tmp_path_factory.mktemp("e2e-jupyter"), 1, db)
        yield p
        p.cli("jupyter", "delete", "lab")
        p.stop_everything()


def test_create_open_stop_start_delete(plat: Platform) -> None:
    made = plat.ok("jupyter", "create", "lab", timeout=180)
    assert "container lab: running (serving)" in made.stdout, made.stdout
    boxes = plat.json("jupyter", "list")
    assert [(b["name"], b["state"], b["group"]) for b in boxes] == [("lab", "running", "jupyter")]
    url = plat.ok("jupyter", "open", "lab", "--no-browser").stdout.strip()
    assert "/lab/lab?token=" in url
    with httpx.Client(trust_env=False, timeout=30) as anon:
        status_url = url.split("lab?token=")[0] + "api/status"
        assert anon.get(status_url).status_code == 401
        token = url.split("token=")[1]
        assert anon.get(status_url, params={"token": token}).status_code == 200
    status = plat.ok("jupyter", "status", "lab").stdout
    assert "state      running" in status and "url" in status
    assert "starting JupyterLab" in plat.ok("jupyter", "logs", "lab").stdout
    home_ws = plat.home / "workspace"
    assert any(home_ws.glob("*/jupyter"))
    assert "container lab:" in plat.ok("jupyter", "stop", "lab").stdout
    box = _wait(plat, "lab", ("stopped",))
    assert box["state"] == "stopped"
    assert any(home_ws.glob("*/jupyter"))  # notebooks kept
    plat.ok("jupyter", "start", "lab")
    assert _wait(plat, "lab", ("running",))["state"] == "running"
    plat.ok("jupyter", "delete", "lab")
    assert plat.json("jupyter", "list") == []


def _wait(plat: Platform, name: str, states: tuple[str, ...]) -> dict:
    import time

    deadline = time.monotonic() + 60
    box: dict = {}
    while time.monotonic() < deadline:
        box = json.loads(plat.ok("jupyter", "status", name, "--json").stdout)
        if box["state"] in states:
            return box
        time.sleep(0.2)
    return box


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["create", "a b"], 2, "bad container name 'a b'"),
        (["create", "x", "--cpu", "0"], 2, "--cpu must be more than 0"),
        (["create", "x", "--mem", "1e5"], 2, "the largest node of jupyter has"),
        (["create", "x", "--mem", "1e9"], 2, "--mem must be more than 0 and at most 1048576"),
        (["create", "x", "-g", "nosuch"], 2, "unknown group 'nosuch'"),
        (["create", "x", "--env", "nosuch"], 2, "no environment nosuch"),
        (["create", "x", "--gpus", "1", "--exclusive"], 2, "contradict"),
        (["status", "nosuch"], 3, "no container 'nosuch'"),
        (["stop", "nosuch"], 3, "no container 'nosuch'"),
        (["status", "a\x01b"], 3, "no container"),
    ],
)
def test_bad_input(plat: Platform, args: list[str], code: int, message: str) -> None:
    res = plat.cli("jupyter", *args)
    assert res.returncode == code, (res.stdout, res.stderr)
    assert message in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_help_everywhere(plat: Platform) -> None:
    for sub in ("create", "list", "status", "open", "stop", "start", "delete", "logs"):
        res = plat.ok("jupyter", sub, "--help")
        assert "Usage" in res.stdout
