"""Admin API and isolation between users, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.pg_server import Api, api


def _user(a: Api, name: str, role: str = "internal", groups: list[str] | None = None) -> Api:
    # the uid of the server's own user: on a root server (CI) ranks run as it, as before
    body = {"name": name, "role": role, "groups": groups or [], "uid": os.getuid()}
    out = a.ok("POST", "/api/v1/admin/users", body)
    assert out["token"].startswith("hai_") and out["name"] == name
    return a.as_(out["token"])


def test_users_tokens_and_refusal_at_once(db_url: str, tmp_path: Path) -> None:
    with api(tmp_path / "home", db_url) as root:
        alice = _user(root, "alice", groups=["team-a"])
        assert alice.ok("GET", "/api/v1/whoami") == {"user": "alice", "role": "internal"}
        users = {u["name"]: u for u in root.ok("GET", "/api/v1/admin/users")["users"]}
        assert users["alice"]["groups"] == ["team-a"] and users["root"]["role"] == "admin"
        assert "token" not in users["alice"]

        # a second token; listing never shows token text
        extra = root.ok("POST", "/api/v1/admin/users/alice/tokens", {"label": "laptop"})
        alice2 = root.as_(extra["token"])
        assert alice2.ok("GET", "/api/v1/whoami")["user"] == "alice"
        listed = root.ok("GET", "/api/v1/admin/tokens", user="alice")["tokens"]
        assert {t["label"] for t in listed} == {"first", "laptop"}
        assert all("token" not in t and "token_hash" not in t for t in listed)

        # revoke by id: refused on the very next request, the other token still works
        root.ok("POST", f"/api/v1/admin/tokens/{extra['id']}/revoke")
        r = alice2.call("GET", "/api/v1/whoami")
        assert r.status_code == 401 and "revoked" in r.json()["message"]
        assert alice.call("GET", "/api/v1/whoami").status_code == 200
        assert root.call("POST", f"/api/v1/admin/tokens/{extra['id']}/revoke").status_code == 409
        # revoke by value
        root.ok("POST", "/api/v1/admin/tokens/revoke", {"token": alice.token})
        assert alice.call("GET", "/api/v1/tasks").status_code == 401

        # disable: refused at once, enable again with a new token
        bob = _user(root, "bob")
        root.ok("POST", "/api/v1/admin/users/bob/disable")
        r = bob.call("GET", "/api/v1/tasks")
        assert r.status_code == 401 and "disabled" in r.json()["message"]
        root.ok("POST", "/api/v1/admin/users/bob/enable")
        assert bob.call("GET", "/api/v1/tasks").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    [
        ("POST", "/api/v1/admin/users", {"name": "root"}, 409, "already exists"),
        ("POST", "/api/v1/admin/users", {"name": "Bad Name"}, 422, "bad user name"),
        ("POST", "/api/v1/admin/users", {"name": "x", "role": "god"}, 422, "bad role"),
        ("POST", "/api/v1/admin/users", {"nme": "x"}, 422, ""),
        ("POST", "/api/v1/admin/users/ghost/disable", None, 404, "no user ghost"),
        ("POST", "/api/v1/admin/users/ghost/tokens", {}, 404, "no user ghost"),
        ("POST", "/api/v1/admin/tokens/9999/revoke", None, 404, "no token"),
        ("POST", "/api/v1/admin/tokens/revoke", {"token": "nope"}, 404, "no token"),
        ("POST", "/api/v1/admin/users/root/disable", None, 409, "yourself"),
        (
            "PUT",
            "/api/v1/admin/quotas",
            {"principal": "a", "resource": "gpu-x", "quota": 1},
            422,
            "bad quota resource",
        ),
        (
            "PUT",
            "/api/v1/admin/quotas",
            {"principal": "a", "resource": "node-default-MEDIUM", "quota": 1},
            422,
            "bad quota resource",
        ),
        (
            "PUT",
            "/api/v1/admin/quotas",
            {"principal": "a", "resource": "node-default-HIGH", "quota": -1},
            422,
            ">= 0",
        ),
        (
            "PUT",
            "/api/v1/admin/quotas",
            {"principal": "a", "resource": "node_limit", "quota": 2.5},
            422,
            "",
        ),
        (
            "PUT",
            "/api/v1/admin/quotas",
            {"principal": "a b", "resource": "node_limit", "quota": 2},
            422,
            "bad group",
        ),
        ("DELETE", "/api/v1/admin/quotas/a/node_limit", None, 404, "no quota"),
        ("POST", "/api/v1/admin/nodes/ghost/cordon", None, 404, "no node ghost"),
    ],
)
def test_bad_admin_input_gets_a_precise_4xx(
    db_url: str, tmp_path: Path, method: str, path: str, body: object, status: int, words: str
) -> None:
    with api(tmp_path / "home", db_url) as root:
        r = root.call(method, path, body)
        assert r.status_code == status, r.text
        assert words in r.json()["message"]


def test_quotas_and_cordons_drive_the_scheduler(db_url: str, tmp_path: Path) -> None:
    import time

    with api(tmp_path / "home", db_url, nodes=2) as root:
        alice = _user(root, "alice")
        # a task admitted while its level had no row (this server is open), whose quota is
        # then lowered to 0 (a 0 row at submit is refused: tests/hai_server/api/
        # test_quota_submit.py): it waits for its quota, not forever at submit
        for n in ("local-0", "local-1"):
            assert root.ok("POST", f"/api/v1/admin/nodes/{n}/cordon")["cordoned"] is True
        t = alice.submit(["true"], str(tmp_path), kind="exec")
        root.ok(
            "PUT",
            "/api/v1/admin/quotas",
            {"principal": "alice", "resource": "node-default-NORMAL", "quota": 0},
        )
        q = root.ok("GET", "/api/v1/admin/quotas", principal="alice")["quotas"]
        assert q == [
            {
                "principal": "alice",
                "resource": "node-default-NORMAL",
                "quota": 0,
                "expires_at": None,
            }
        ]
        root.ok("POST", "/api/v1/admin/nodes/local-0/uncordon")
        waiting = alice.wait_state(t["id"], {"queued"})
        for _ in range(100):
            waiting = alice.ok("GET", f"/api/v1/tasks/{t['id']}")
            if waiting["reason"] == "quota_exceeded":
                break
            time.sleep(0.05)
        assert waiting["reason"] == "quota_exceeded", waiting
        # cordon both nodes, then lift the quota: still no capacity
        root.ok("POST", "/api/v1/admin/nodes/local-0/cordon")
        root.ok(
            "PUT",
            "/api/v1/admin/quotas",
            {"principal": "alice", "resource": "node-default-NORMAL", "quota": 5},
        )
        nodes = {n["name"]: n for n in root.ok("GET", "/api/v1/nodes")["nodes"]}
        assert nodes["local-0"]["state"] == "cordoned"
        assert alice.ok("GET", f"/api/v1/tasks/{t['id']}")["state"] == "queued"
        root.ok("POST", "/api/v1/admin/nodes/local-1/uncordon")
        assert alice.wait_state(t["id"], {"succeeded"})["state"] == "succeeded"


def test_admin_endpoints_are_admin_only(db_url: str, tmp_path: Path) -> None:
    with api(tmp_path / "home", db_url) as root:
        bob = _user(root, "bob")
        for method, path, body in [
            ("GET", "/api/v1/admin/users", None),
            ("POST", "/api/v1/admin/users", {"name": "eve"}),
            ("POST", "/api/v1/admin/users/root/disable", None),
            ("POST", "/api/v1/admin/users/bob/tokens", {}),
            ("GET", "/api/v1/admin/tokens", None),
            ("POST", "/api/v1/admin/tokens/1/revoke", None),
            (
                "PUT",
                "/api/v1/admin/quotas",
                {"principal": "bob", "resource": "node_limit", "quota": 9},
            ),
            ("GET", "/api/v1/admin/quotas", None),
            ("POST", "/api/v1/admin/nodes/local-0/cordon", None),
            ("PUT", "/api/v1/admin/users/bob/role", {"role": "admin"}),
        ]:
            r = bob.call(method, path, body)
            assert r.status_code == 403, (path, r.text)
        assert root.call("GET", "/api/v1/admin/users").status_code == 200
        nobody = root.as_("hai_not_a_token")
        assert nobody.call("GET", "/api/v1/admin/users").status_code == 401


def test_isolation_between_users(db_url: str, tmp_path: Path) -> None:
    with api(tmp_path / "home", db_url) as root:
        alice, bob = _user(root, "alice"), _user(root, "bob")
        t = alice.submit(["sleep", "30"], str(tmp_path), kind="exec")
        tid = t["id"]
        alice.wait_state(tid, {"running"})
        assert bob.ok("GET", "/api/v1/tasks")["total"] == 0
        assert bob.call("GET", "/api/v1/tasks", all="true").status_code == 403
        for method, path in [
            ("GET", f"/api/v1/tasks/{tid}"),
            ("GET", f"/api/v1/tasks/{tid}/logs"),
            ("GET", f"/api/v1/tasks/{tid}/logs?follow=true"),
            ("POST", f"/api/v1/tasks/{tid}/stop"),
            ("POST", f"/api/v1/tasks/{tid}/suspend"),
            ("POST", f"/api/v1/tasks/{tid}/resume"),
        ]:
            r = bob.call(method, path)
            assert r.status_code == 404, (path, r.status_code, r.text)
        assert alice.ok("GET", f"/api/v1/tasks/{tid}")["state"] == "running"
        # admins may see and control everyone's tasks
        assert root.ok("GET", "/api/v1/tasks", all="true")["total"] == 1
        assert root.ok("GET", f"/api/v1/tasks/{tid}")["user"] == "alice"
        root.ok("POST", f"/api/v1/tasks/{tid}/stop")
        assert alice.wait_state(tid, {"stopped"})["state"] == "stopped"
        r = bob.call("POST", f"/api/v1/tasks/{tid}/resume")
        assert r.status_code == 404
        assert root.ok("POST", f"/api/v1/tasks/{tid}/resume")["state"] == "queued"
        root.ok("POST", f"/api/v1/tasks/{tid}/stop")
