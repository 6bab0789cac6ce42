"""Idle culling wired to a real JupyterLab, on a virtual clock (``check(now=...)``) with a faked
GPU reading: a busy kernel is never culled; an idle kernel with a busy GPU is not either; idle
both -> stopped with the reason in status, the notebooks still on disk."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.hai_server.jupyter.conftest import Live, serve


@pytest.fixture(scope="module")
def culled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """One training node with a (virtual) GPU; containers culled after 60 s idle; the culler's
    own loop never fires (the test drives it)."""
    yield from serve(
        tmp_path_factory.mktemp("culled"), gpus=1,
        cull={"*": {"idle_s": 60, "gpu_threshold_pct": 5}}, cull_check_s=86400,
    )  # fmt: skip


def _run_cell(ws_url: str, token: str, code: str, done: threading.Event) -> None:
    from websockets.sync.client import connect

    msg = {
        "header": {"msg_id": uuid.uuid4().hex, "username": "t", "session": uuid.uuid4().hex,
                   "msg_type": "execute_request", "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
    }  # fmt: skip
    with connect(ws_url, additional_headers={"Authorization": f"Bearer {token}"}, proxy=None) as ws:
        ws.send(json.dumps(msg))
        while True:
            reply = json.loads(ws.recv(timeout=120))
            if reply["msg_type"] == "execute_reply":
                done.set()
                return


def test_busy_kernel_busy_gpu_then_idle(culled: Live) -> None:
    alice = culled.user("alice")
    culler = culled.app.state.culler
    gpu = {"pct": 0.0}
    readings: list[tuple[int, ...]] = []

    async def fake_gpu(devices: tuple[int, ...]) -> float:
        readings.append(devices)
        return gpu["pct"]

    culler.gpu_reader = fake_gpu
    with culled.client(alice) as c:
        made = c.post("/api/v1/jupyter/", json={"name": "g", "exclusive": True, "group": "default"})
        assert made.status_code == 201, made.text
        culled.serving(c, "g", "alice")
        assert (
            c.put("/alice/g/api/contents/keep.ipynb", json={"type": "notebook"}).status_code == 201
        )
        kid = c.post("/alice/g/api/kernels", json={"name": "python3"}).json()["id"]
        ws = culled.url.replace("http://", "ws://") + f"/alice/g/api/kernels/{kid}/channels"
        done = threading.Event()
        cell = threading.Thread(
            target=_run_cell, args=(ws, alice, "import time; time.sleep(6)", done)
        )
        cell.start()
        deadline = time.monotonic() + 30
        while c.get(f"/alice/g/api/kernels/{kid}").json()["execution_state"] != "busy":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        later = time.time() + 3600  # an hour on: everything looks old
        assert culled.run(culler.check(now=later)) == []  # busy kernel: kept
        cell.join(60)
        assert done.is_set()
        gpu["pct"] = 80.0
        assert culled.run(culler.check(now=later)) == []  # idle kernel, busy GPU: kept
        assert readings and readings[-1] == (0,)  # the node's GPU was read
        gpu["pct"] = 1.0
        stopped = culled.run(culler.check(now=later))
        assert [v.reason for _, v in stopped] == ["idle"], c.get("/alice/g/api/kernels").json()
        box = culled.wait(c, "g", lambda b: b["state"] == "stopped")
        assert box["stop_reason"].startswith("idle: no kernel or terminal active for")
        assert "GPUs under 5%" in box["stop_reason"]
        assert box["reason"] == box["stop_reason"]
    ws_root = culled.home / "workspace" / "alice" / "jupyter"
    assert (ws_root / "keep.ipynb").is_file()  # notebooks kept
