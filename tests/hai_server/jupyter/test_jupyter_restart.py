"""A container outlives a server restart: JupyterLab runs under the rank wrapper, and the new
server adopts it like any rank (same process, same URL, same token)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.hai_server.jupyter.conftest import Live, serve


@pytest.fixture
def restartable(tmp_path) -> Iterator[Live]:  # type: ignore[no-untyped-def]
    yield from serve(tmp_path / "home")


def test_adopted_after_a_server_restart(restartable: Live) -> None:
    live = restartable
    with live.client() as c:
        assert c.post("/api/v1/jupyter/", json={"name": "keep"}).status_code == 201
        box = live.serving(c, "keep", "root")
        pid_before = sorted(p.read_text() for p in live.home.glob("runs/*/rank0/pid"))
        token = c.get("/api/v1/jupyter/keep/token").json()["token"]
    live.restart()
    with live.client() as c:
        again = live.wait(c, "keep", lambda b: b["serving"])
        assert (again["id"], again["state"]) == (box["id"], "running")
        assert c.get("/root/keep/api/status").status_code == 200
        assert c.get("/api/v1/jupyter/keep/token").json()["token"] == token
    assert sorted(p.read_text() for p in live.home.glob("runs/*/rank0/pid")) == pid_before
