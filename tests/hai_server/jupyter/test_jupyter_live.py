"""Real JupyterLab containers through the platform: the proxy's access rules, and a kernel
from a haienv environment executing 1+1 over the websocket API."""

from __future__ import annotations

import time

import httpx

from tests.hai_server.jupyter.conftest import Live


def test_status_through_the_proxy_owner_none_other(live: Live) -> None:
    alice, bob = live.user("alice"), live.user("bob")
    with live.client(alice) as a:
        r = a.post("/api/v1/jupyter/", json={"name": "lab"})
        assert r.status_code == 201, r.text
        assert r.json()["path"] == "/alice/lab/"
        box = live.wait(a, "lab", lambda b: b["serving"] or b["state"] == "failed")
        assert box["state"] == "running", box
        deadline = time.monotonic() + 60
        while True:  # the process runs; JupyterLab answers a moment later
            r = a.get("/alice/lab/api/status")
            if r.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert r.status_code == 200, r.text
        assert "started" in r.json()
    with live.client(None) as anon:
        assert anon.get("/alice/lab/api/status").status_code == 401
        assert anon.get("/alice/nosuch/api/status").status_code == 404
    with live.client(bob) as b:
        assert b.get("/alice/lab/api/status").status_code == 403
        assert b.get("/api/v1/jupyter/lab").status_code == 404  # someone else's: as for tasks
        assert b.get("/api/v1/jupyter/lab", params={"user": "alice"}).status_code == 404
        assert b.post("/api/v1/jupyter/lab/stop").status_code == 404
    with live.client() as admin:  # an admin may open it
        assert admin.get("/alice/lab/api/status").status_code == 200
    with live.client(alice) as a:
        token = a.get("/api/v1/jupyter/lab/token").json()["token"]
    with httpx.Client(base_url=live.url, trust_env=False) as anon:
        assert (
            anon.get(
                "/alice/lab/api/status", headers={"Authorization": f"token {token}"}
            ).status_code
            == 200
        )
        assert (
            anon.get("/alice/lab/api/status", headers={"Authorization": "token nope"}).status_code
            == 401
        )
        r = anon.get("/alice/lab/api/status", params={"token": token})
        assert r.status_code == 200 and "hai_jupyter" in r.headers.get("set-cookie", "")
        assert anon.get("/alice/lab/api/status").status_code == 200  # the cookie now
    with live.client(bob) as b:
        assert b.get("/api/v1/jupyter/lab/token", params={"user": "alice"}).status_code == 404
