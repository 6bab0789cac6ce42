"""Jupyter container figures on the local backend: create -> JupyterLab answering through the
platform (target < 5 s, warm: a first container has already started once, so the interpreter's
files are in the page cache), and the proxy's overhead per request (p50 of GET
``/{user}/{name}/api/status`` through the server minus the same request straight to
JupyterLab; target < 5 ms).

A real ``hai-server`` process on 127.0.0.1 under a temporary HAI_HOME, real JupyterLab.

    python benchmarks/bench_jupyter.py [--creates 3] [--requests 200]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
TOKEN = "hai_bench_jupyter_admin_token_0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_answering(c: httpx.Client, name: str, user: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        box = c.get(f"/api/v1/jupyter/{name}").json()
        if box["state"] == "failed":
            raise SystemExit(f"container {name} failed: {box}")
        if box.get("serving") and c.get(f"/{user}/{name}/api/status").status_code == 200:
            return
        time.sleep(0.02)
    raise SystemExit(f"container {name} never answered")


def p50_ms(c: httpx.Client, url: str, n: int, headers: dict[str, str] | None = None) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = c.get(url, headers=headers)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, r.text
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--creates", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="hai-bench-jupyter-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAI_")}
    env.update({"HAI_HOME": str(home), "HAI_ADMIN_TOKEN": TOKEN, "HAI_SCHEDULER__TICK_S": "0.2",
                "PYTHONPATH": str(REPO)})  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "hai_server.main", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=open(home / "server.log", "wb"),  # noqa: SIM115
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        with httpx.Client(base_url=url, headers=headers, trust_env=False, timeout=60) as c:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if c.get("/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit((home / "server.log").read_text()[-3000:])
                time.sleep(0.1)
            user = c.get("/api/v1/whoami").json()["user"]
            # warm-up: one container started and deleted (page cache, JupyterLab's first run)
            c.post("/api/v1/jupyter", json={"name": "warm"}).raise_for_status()
            wait_answering(c, "warm", user)
            c.delete("/api/v1/jupyter/warm").raise_for_status()
            creates = []
            for i in range(args.creates):
                name = f"b{i}"
                t0 = time.perf_counter()
                c.post("/api/v1/jupyter", json={"name": name}).raise_for_status()
                wait_answering(c, name, user)
                creates.append(time.perf_counter() - t0)
                if i < args.creates - 1:
                    c.delete(f"/api/v1/jupyter/{name}").raise_for_status()
            last = f"b{args.creates - 1}"
            box = c.get(f"/api/v1/jupyter/{last}").json()
            task = c.get(f"/api/v1/tasks/{box['id']}").json()
            endpoint = task["ranks"][0]["endpoint"]
            token = c.get(f"/api/v1/jupyter/{last}/token").json()["token"]
            direct_url = f"http://{endpoint}/{user}/{last}/api/status"
            through = p50_ms(c, f"/{user}/{last}/api/status", args.requests)
            with httpx.Client(trust_env=False, timeout=30) as d:
                direct = p50_ms(d, direct_url, args.requests, {"Authorization": f"token {token}"})
            through = p50_ms(c, f"/{user}/{last}/api/status", args.requests)  # after warming
            c.delete(f"/api/v1/jupyter/{last}")
            deadline = time.monotonic() + 30  # nothing left running after the server stops
            while c.get("/api/v1/tasks", params={"state": "starting,running"}).json()["total"]:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.1)
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    create_med = statistics.median(creates)
    overhead = through - direct
    print(f"create -> JupyterLab answering (warm): median {create_med:.2f} s, "
          f"runs {', '.join(f'{x:.2f}' for x in creates)} s (target < 5 s)")  # fmt: skip
    print(f"GET api/status p50: through the platform {through:.2f} ms, straight to JupyterLab "
          f"{direct:.2f} ms: proxy overhead {overhead:.2f} ms (target < 5 ms)")  # fmt: skip
    print(json.dumps({"bench": "jupyter", "create_s_median": round(create_med, 3),
                      "create_s": [round(x, 3) for x in creates],
                      "proxy_p50_ms": round(through, 3), "direct_p50_ms": round(direct, 3),
                      "proxy_overhead_p50_ms": round(overhead, 3)}))  # fmt: skip


if __name__ == "__main__":
    main()
