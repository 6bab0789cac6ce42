"""The rendered init.sql + override.toml make a working platform (no Docker: the server
process is started the way the image's entrypoint starts it, against real PostgreSQL/Redis)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from hai_up.render import render_all
from tests.support.fixtures import rank_python_env
from tests.support.pg import free_port
from tests.support.pg_server import ServerProc
from tests.support.up import ALICE_TOKEN, config


def call(url: str, token: str, method: str = "GET", body: Any = None) -> Any:
    req = urllib.request.Request(
        url,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def test_rendered_files_run_a_local_platform(pg_url: str, redis_url: str, open_tree: Path) -> None:
    # USER_INFO gives alice uid 1000: a root server runs her ranks as that uid, so her work
    # directory and the server's home must let her pass (as they do in the image)
    tmp_path = open_tree
    # her workspace, a storage row of init.sql: the local backend runs ranks only inside
    # the submitter's mounts (hai-up creates it owned by her; here open to her uid)
    work = tmp_path / "hai-platform" / "workspace" / "alice"
    work.mkdir(parents=True)
    for d in (work.parent.parent, work.parent, work):
        os.chmod(d, 0o777)
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    cfg = config(
        tmp_path,
        HAI_BACKEND="local",
        SERVER_REPLICAS="1",
        BIND_ADDRESS="127.0.0.1",
        NODE_GPUS="0",
        EXTERNAL_DATABASE_URL=pg_url,
        EXTERNAL_REDIS_URL=redis_url,
    )
    files = render_all(cfg)
    for name in ("init.sql", "override.toml"):
        (tmp_path / name).write_text(files[name])
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAI_")}
    env.update(
        HAI_CONFIG_FILE=str(tmp_path / "override.toml"),
        HAI_HOME=str(tmp_path / "home"),  # the image mounts these at /var/lib/hai, /var/log/hai
        HAI_LOG_DIR=str(tmp_path / "log"),
        HAI_ADMIN_TOKEN=cfg.admin_token,
        HAI_ADMIN_USER=cfg.admin_user,
        **rank_python_env(),
    )
    init = [sys.executable, "-m", "hai_server.main", "--init-sql", str(tmp_path / "init.sql")]
    out = subprocess.run(init, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    (tmp_path / "home").mkdir(exist_ok=True)
    server = ServerProc(tmp_path / "home", env, free_port(), "server-0").start()
    try:
        health = server.health()
        assert health["status"] == "ok" and health["redis"] == "up", health
        assert call(server.url + "/api/v1/whoami", ALICE_TOKEN)["user"] == "alice"
        try:
            call(server.url + "/api/v1/tasks", ALICE_TOKEN, "POST",
                 {"argv": ["true"], "workdir": str(elsewhere), "kind": "exec"})  # fmt: skip
            raise AssertionError("a working directory outside her mounts was accepted")
        except urllib.error.HTTPError as exc:
            assert exc.code == 422 and "outside your storage mounts" in exc.read().decode()
        task = call(
            server.url + "/api/v1/tasks",
            ALICE_TOKEN,
            "POST",
            {"argv": ["sh", "-c", "echo from-hai-up; id -u"], "workdir": str(work), "kind": "exec"},
        )
        assert task["group"] == "training"  # [scheduler] default_group = TRAINING_GROUP
        deadline = time.monotonic() + 60
        while (state := call(f"{server.url}/api/v1/tasks/{task['id']}", ALICE_TOKEN))[
            "state"
        ] not in ("succeeded", "failed") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert state["state"] == "succeeded", state
        log = urllib.request.Request(
            f"{server.url}/api/v1/tasks/{task['id']}/logs",
            headers={"Authorization": f"Bearer {ALICE_TOKEN}"},
        )
        with urllib.request.urlopen(log, timeout=10) as r:
            text = r.read().decode()
        assert "from-hai-up" in text
        if os.geteuid() == 0:
            assert text.rstrip().endswith("] 1000")  # her ranks ran as her uid
        nodes = call(server.url + "/api/v1/nodes", cfg.admin_token)
        assert sorted((n["name"], n["group"]) for n in nodes["nodes"]) == [
            ("local-0", "training"),
            ("local-1", "training"),
            ("local-jupyter", "jupyter"),  # the local backend serves Jupyter containers too
        ]
    finally:
        server.stop()
