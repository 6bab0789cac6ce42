"""``hai-cli admin ...`` against a real hai-server (SQLite and PostgreSQL), ``hai-server --seed``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.pg import free_port
from tests.support.pg_server import ADMIN_TOKEN, ServerProc, server_env

pytestmark = pytest.mark.e2e


def cli(url: str, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAI_")}
    env.update({"HAI_SERVER_URL": url, "HAI_TOKEN": token, "HAI_HOME": "/nonexistent"})
    return subprocess.run(
        [sys.executable, "-m", "hai_cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_admin_cli(db_url: str, tmp_path: Path) -> None:
    server = ServerProc(tmp_path, server_env(tmp_path, db_url, None, nodes=2), free_port(), "s")
    server.start()
    try:
        r = cli(server.url, ADMIN_TOKEN, "admin", "user", "add", "alice", "-g", "team-a")
        assert r.returncode == 0, r.stderr
        token = re.search(r"(hai_\S+)", r.stdout).group(1)  # type: ignore[union-attr]
        r = cli(server.url, token, "whoami")
        assert r.stdout.startswith("alice (internal)")

        r = cli(server.url, ADMIN_TOKEN, "admin", "user", "add", "alice")
        assert r.returncode == 2 and "already exists" in r.stderr
        r = cli(
            server.url, ADMIN_TOKEN, "admin", "quota", "set", "alice", "node-default-HIGH", "-1"
        )
        assert r.returncode == 2 and "must be >= 0" in r.stderr
        r = cli(server.url, ADMIN_TOKEN, "admin", "quota", "set", "alice", "gpus", "2")
        assert r.returncode == 2 and "bad quota resource" in r.stderr
        r = cli(
            server.url, ADMIN_TOKEN, "admin", "quota", "set", "team-a", "node-default-HIGH", "3"
        )
        assert r.returncode == 0, r.stderr
        r = cli(server.url, ADMIN_TOKEN, "admin", "quota", "list", "--json")
        assert '"node-default-HIGH"' in r.stdout
        jup = ["admin", "quota", "jupyter", "alice", "jupyter", "--mem", "128", "--cpus", "8"]
        r = cli(server.url, ADMIN_TOKEN, *jup, "--count", "10")
        assert r.returncode == 0, r.stderr
        assert "quota jupyter:jupyter of alice: 128 GiB, 8 CPUs, 10 containers" in r.stdout
        r = cli(server.url, ADMIN_TOKEN, "admin", "quota", "list", "--json")
        assert '"quota": 12800810' in r.stdout  # the original's MMMMCCCQQ
        r = cli(server.url, ADMIN_TOKEN, *jup, "--count", "100")
        assert r.returncode == 2 and "count must be a whole number 0-99" in r.stderr
        r = cli(server.url, token, "admin", "user", "list")
        assert r.returncode == 5 and "admin role" in r.stderr
        r = cli(server.url, ADMIN_TOKEN, "admin", "node", "cordon", "local-1")
        assert r.returncode == 0 and "cordoned local-1" in r.stdout
        r = cli(server.url, ADMIN_TOKEN, "admin", "node", "list")
        assert re.search(r"local-1\s+default\s+\S+\s+0\s+cordoned", r.stdout), r.stdout
        r = cli(server.url, ADMIN_TOKEN, "admin", "node", "cordon", "ghost")
        assert r.returncode == 3 and "no node ghost" in r.stderr
        r = cli(server.url, ADMIN_TOKEN, "admin", "user", "disable", "ghost")
        assert r.returncode == 3 and "no user ghost" in r.stderr
        r = cli(server.url, ADMIN_TOKEN, "admin", "token", "revoke", token)
        assert r.returncode == 0, r.stderr
        r = cli(server.url, token, "whoami")
        assert r.returncode == 5 and "revoked" in r.stderr
    finally:
        server.stop()


def test_seed_file_provisions_a_fresh_database(db_url: str, tmp_path: Path) -> None:
    seed = tmp_path / "seed.toml"
    seed.write_text(
        """
[[users]]
name = "ops"
role = "admin"
token = "hai_ops_known_token_0123456789"

[[users]]
name = "bob"
groups = ["team-b"]

[[quotas]]
principal = "team-b"
resource = "node-default-NORMAL"
quota = 2
"""
    )
    env = server_env(tmp_path, db_url, None, nodes=2)
    env.pop("HAI_ADMIN_TOKEN")
    run = [sys.executable, "-m", "hai_server.main", "--seed", str(seed)]
    first = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert re.search(r"seeded user bob; token \(shown once\): hai_\S+", first.stdout)
    assert "ops" not in first.stdout  # a given token is never printed
    again = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "seeded user" not in again.stdout  # idempotent
    seed.write_text('[[quotas]]\nprincipal = "x"\nresource = "bad"\nquota = 1\n')
    bad = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "bad quota resource" in bad.stderr

    server = ServerProc(tmp_path, env, free_port(), "s").start()
    try:
        r = cli(server.url, "hai_ops_known_token_0123456789", "admin", "quota", "list")
        assert r.returncode == 0 and re.search(r"team-b\s+node-default-NORMAL\s+2", r.stdout)
        r = cli(server.url, "hai_ops_known_token_0123456789", "admin", "user", "list")
        assert re.search(r"bob\s+internal\s+yes\s+-\s+team-b", r.stdout), r.stdout
    finally:
        server.stop()


def test_admin_node_add_and_remove(db_url: str, tmp_path: Path) -> None:
    server = ServerProc(tmp_path, server_env(tmp_path, db_url, None, nodes=1), free_port(), "s")
    server.start()
    try:
        add = ["admin", "node", "add", "gpu-7", "--group", "a100", "--gpus", "8"]
        r = cli(server.url, ADMIN_TOKEN, *add, "--zone", "rack-2")
        assert r.returncode == 0, r.stderr
        assert "registered node gpu-7 (group a100); not ready" in r.stdout
        r = cli(server.url, ADMIN_TOKEN, *add)
        assert r.returncode == 2 and "node gpu-7 already exists" in r.stderr
        r = cli(server.url, ADMIN_TOKEN, "admin", "node", "add", "gpu 8", "-g", "a100")
        assert r.returncode == 2 and "bad node name" in r.stderr
        r = cli(server.url, ADMIN_TOKEN, "admin", "node", "add", "gpu-8", "--gpus", "-1", "-g", "x")
        assert r.returncode == 2 and "gpus must be" in r.stderr
        r = cli(server.url, ADMIN_TOKEN, "admin", "node", "add", "gpu-8")
        assert r.returncode == 2 and "--group" in r.stderr  # usage: the group is required
        r = cli(server.url, ADMIN_TOKEN, "admin", "node", "add", "gpu-8", "-g", "h100", "--json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["state"] == "unhealthy"

        r = cli(server.url, ADMIN_TOKEN, "admin", "node", "list", "--json")
        nodes = {n["name"]: n for n in json.loads(r.stdout)["nodes"]}
        assert sorted(nodes) == ["gpu-7", "gpu-8", "local-0", "local-jupyter"]
        assert (nodes["gpu-7"]["group"], nodes["gpu-7"]["gpus"]) == ("a100", 8)
        assert nodes["gpu-7"]["zone"] == "rack-2" and nodes["gpu-7"]["state"] == "unhealthy"
        r = cli(server.url, ADMIN_TOKEN, "admin", "node", "list")
        assert re.search(r"gpu-7\s+a100\s+rack-2\s+8\s+unhealthy", r.stdout), r.stdout

        r = cli(server.url, ADMIN_TOKEN, "admin", "node", "cordon", "gpu-7", "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["cordoned"] is True
        r = cli(server.url, ADMIN_TOKEN, "admin", "node", "remove", "local-0")
        assert r.returncode == 2 and "reported by the backend" in r.stderr
        r = cli(server.url, ADMIN_TOKEN, "admin", "node", "remove", "gpu-7")
        assert r.returncode == 0 and "removed node gpu-7" in r.stdout
        r = cli(server.url, ADMIN_TOKEN, "admin", "node", "remove", "gpu-8", "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["deleted"]["name"] == "gpu-8"
        r = cli(server.url, ADMIN_TOKEN, "admin", "node", "remove", "gpu-7")
        assert r.returncode == 3 and "no node gpu-7" in r.stderr

        r = cli(server.url, ADMIN_TOKEN, "admin", "user", "add", "carol")
        token = re.search(r"(hai_\S+)", r.stdout).group(1)  # type: ignore[union-attr]
        r = cli(server.url, token, "admin", "node", "add", "gpu-9", "-g", "a100")
        assert r.returncode == 5 and "admin role" in r.stderr
        r = cli(server.url, token, "admin", "node", "remove", "local-0")
        assert r.returncode == 5 and "admin role" in r.stderr
        r = cli(server.url, ADMIN_TOKEN, "admin", "node", "list", "--json")
        assert [n["name"] for n in json.loads(r.stdout)["nodes"]] == ["local-0", "local-jupyter"]
    finally:
        server.stop()
