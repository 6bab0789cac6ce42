"""Real JupyterLab containers through the platform: the proxy's access rules, and a kernel
from a haienv environment executing 1+1 over the websocket API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import time
import uuid

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


def _execute(ws_url: str, headers: dict[str, str], code: str) -> str:
    """Run ``code`` on a kernel over JupyterLab's websocket API; the text/plain result."""
    from websockets.sync.client import connect

    msg_id = uuid.uuid4().hex
    request = {
        "header": {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex,
                   "msg_type": "execute_request", "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
    }  # fmt: skip
    with connect(ws_url, additional_headers=headers, proxy=None, open_timeout=30) as ws:
        ws.send(json.dumps(request))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            reply = json.loads(ws.recv(timeout=90))
            if reply.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if reply["msg_type"] == "execute_result":
                return str(reply["content"]["data"]["text/plain"])
            if reply["msg_type"] == "error":
                raise AssertionError(reply["content"])
    raise AssertionError("no execute_result")


def test_kernel_of_a_haienv_executes_over_the_websocket(live: Live) -> None:
    carol = live.user("carol")
    site = sysconfig.get_paths()["purelib"]  # where the test extra put ipykernel
    made = subprocess.run(
        [sys.executable, "-m", "haienv", "create", "k1", "--no-extend", "-p", sys.executable,
         "--extra-search-dir", site],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={**os.environ, "HAIENV_PATH": str(live.home / "envs" / "carol"), "USER": "carol"},
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    with live.client(carol) as c:
        r = c.post("/api/v1/jupyter/", json={"name": "kern", "env": "k1"})
        assert r.status_code == 201, r.text
        assert r.json()["env"] == "k1[carol]"
        box = live.wait(c, "kern", lambda b: b["serving"] or b["state"] == "failed")
        assert box["state"] == "running", box
        deadline = time.monotonic() + 60
        while c.get("/carol/kern/api/status").status_code != 200:
            assert time.monotonic() < deadline, "JupyterLab never answered"
            time.sleep(0.2)
        specs = c.get("/carol/kern/api/kernelspecs").json()
        assert specs["kernelspecs"]["hai-k1"]["spec"]["display_name"] == "k1[python]"
        assert specs["default"] == "hai-k1"
        kernel = c.post("/carol/kern/api/kernels", json={"name": "hai-k1"})
        assert kernel.status_code == 201, kernel.text
        kid = kernel.json()["id"]
        ws = live.url.replace("http://", "ws://") + f"/carol/kern/api/kernels/{kid}/channels"
        assert _execute(ws, {"Authorization": f"Bearer {carol}"}, "1+1") == "2"
        prefix = _execute(ws, {"Authorization": f"Bearer {carol}"}, "import sys; sys.prefix")
        assert str(live.home / "envs" / "carol" / "k1") in prefix
        # the notebooks live in the workspace, and hai-cli is initialised for carol
        env = _execute(ws, {"Authorization": f"Bearer {carol}"},
                       "import os; (os.getcwd(), os.environ['HAI_SERVER_URL'], "
                       "os.environ['HAI_USER'])")  # fmt: skip
        assert f"'{live.home / 'workspace' / 'carol'}'" in env  # cwd: the user's workspace
        assert live.url in env and "carol" in env
        saved = c.put("/carol/kern/api/contents/n.ipynb", json={"type": "notebook"})
        assert saved.status_code == 201, saved.text
        assert (live.home / "workspace" / "carol" / "jupyter" / "n.ipynb").is_file()
