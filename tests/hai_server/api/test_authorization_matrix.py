"""Every operation of the OpenAPI document x every kind of caller, with the code each must get
(both databases). Generated from the document the server serves, so a new endpoint is in the
matrix the day it is added; the table of bodies below must then name its body (the test says
so).

Callers: no token, a malformed header, a revoked token, a disabled user's token, another
(internal) user, an external user, the admin. Expected: /healthz answers everyone; the first
four get 401 everywhere else; the two users get 403 on admin routes and 404 on the admin's
task (never another user's data), and may list, submit and read what is theirs; the admin is
never refused (no 401/403) and never meets a 5xx.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from hai_server.app import create_app
from hai_server.backends.base import NodeState
from hai_server.backends.fake import FakeBackend
from tests.support.pg_server import ADMIN_TOKEN, make_settings

BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/tasks"): {"argv": ["true"], "workdir": "/tmp", "kind": "exec"},
    ("POST", "/api/v1/admin/users"): {"name": "dave", "uid": 4300},
    ("PUT", "/api/v1/admin/users/{name}/role"): {"role": "internal"},
    ("PUT", "/api/v1/admin/users/{name}/groups"): {"groups": ["default"]},
    ("POST", "/api/v1/admin/users/{name}/tokens"): {"label": "matrix"},
    ("POST", "/api/v1/admin/tokens/revoke"): {"token": "hai_unknown_token_value"},
    ("PUT", "/api/v1/admin/quotas"): {"principal": "public", "resource": "node_limit", "quota": 4},
    ("POST", "/api/v1/admin/nodes"): {"name": "matrix-node", "group": "default"},
    ("POST", "/api/v1/admin/storage"): {"host_path": "/srv/m", "mount_path": "/m"},
    ("POST", "/api/v1/admin/images"): {"name": "matrix", "image": "reg/matrix:1"},
    # the admin's own task by id: someone else's is reported missing, never touched
    ("POST", "/api/v1/tasks/actions/{verb}"): {"ids": [1], "dry_run": True},
    # an exclusive container: the fake backend has no shared Jupyter group
    ("POST", "/api/v1/jupyter"): {"name": "matrix", "group": "default", "exclusive": True},
}
CALLERS = ("none", "malformed", "revoked", "disabled", "user", "external", "admin")
SHUT_OUT = ("none", "malformed", "revoked", "disabled")


@pytest.fixture
def server(
    db_url: str, tmp_path: Path
) -> Iterator[tuple[TestClient, dict[str, dict[str, str]], dict[str, Any]]]:
    backend = FakeBackend([NodeState(f"fake-{i}", "default") for i in range(2)])
    app = create_app(make_settings(tmp_path / "home", db_url, nodes=2), backend=backend)
    with TestClient(app, timeout=30) as client:
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

        def ok(method: str, path: str, body: Any = None, headers: dict | None = None) -> Any:
            r = client.request(method, path, json=body, headers=headers or admin)
            assert r.status_code < 300, (method, path, r.status_code, r.text)
            return r.json()

        token = {}
        for name, role, uid in (("bob", "internal", 4242), ("eve", "external", 4243)):
            token[name] = ok(
                "POST", "/api/v1/admin/users", {"name": name, "role": role, "uid": uid}
            )["token"]
        for name, uid in (("gone", 4244), ("off", 4245), ("carol", 4246)):
            token[name] = ok("POST", "/api/v1/admin/users", {"name": name, "uid": uid})["token"]
        ok("POST", "/api/v1/admin/tokens/revoke", {"token": token["gone"]})
        ok("POST", "/api/v1/admin/users/off/disable")
        ok("POST", "/api/v1/admin/nodes", {"name": "spare", "group": "default"})
        ok(
            "PUT",
            "/api/v1/admin/quotas",
            {"principal": "public", "resource": "node_limit", "quota": 8},
        )
        # external users have their rows only (no default quota): one for their role
        ok(
            "PUT",
            "/api/v1/admin/quotas",
            {"principal": "external", "resource": "node-default-NORMAL", "quota": 8},
        )
        carol_token = ok("POST", "/api/v1/admin/users/carol/tokens", {"label": "x"})
        task = ok("POST", "/api/v1/tasks", {"argv": ["true"], "workdir": "/tmp", "kind": "exec"})
        # the admin's container "carol" (the {name} of the Jupyter routes): not the users'
        ok("POST", "/api/v1/jupyter", {"name": "carol", "group": "default", "exclusive": True})
        headers = {
            "none": {},
            "malformed": {"Authorization": "Basic cm9vdDpyb290"},
            "revoked": {"Authorization": f"Bearer {token['gone']}"},
            "disabled": {"Authorization": f"Bearer {token['off']}"},
            "user": {"Authorization": f"Bearer {token['bob']}"},
            "external": {"Authorization": f"Bearer {token['eve']}"},
            "admin": admin,
        }
        targets = {
            "task_id": task["id"],
            "name": "carol",
            "token_id": carol_token["id"],
            "principal": "public",
            "resource": "node_limit",
            "node": "spare",
            "row_id": 1,
            "verb": "hold",
            "owner": "bob",
            "sha": "0" * 64,
        }
        yield client, headers, targets


def _url(path: str, targets: dict[str, Any]) -> str:
    def fill(m: re.Match[str]) -> str:
        key = m.group(1)
        if key == "name" and "/nodes/" in path:
            key = "node"
        return str(targets[key])

    return re.sub(r"\{(\w+)\}", fill, path)


def _expected(caller: str, method: str, path: str) -> set[int] | None:
    """The codes allowed; None: 'not refused' (any code but 401/403, and no 5xx)."""
    if path == "/healthz":
        return {200}
    if caller in SHUT_OUT:
        return {401}
    if caller == "admin":
        return None
    if path.startswith("/api/v1/admin"):
        return {403}
    if "/actions/" in path:
        return {200}  # a bulk action answers for what it picked (only the caller's tasks)
    if path.startswith("/api/v1/environments/"):
        return None  # anyone may ask which tasks use an environment (its existence is public)
    if path.startswith(("/api/v1/workspaces", "/api/v1/uploads")):
        return None  # the caller's own workspaces (another user's: test_workspaces_api.py)
    if "{task_id}" in path or path.startswith("/api/v1/jupyter/{name}"):
        return {404}  # the admin's task or container: not theirs, not even said to exist
    return {201} if method == "POST" else {200}


def test_every_operation_for_every_caller(server: Any) -> None:
    client, headers, targets = server
    doc = client.get("/schema/openapi.json").json()
    operations = [
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method in ("get", "post", "put", "delete")
    ]
    assert len(operations) >= 30
    missing = [
        op
        for op in operations
        if "requestBody" in doc["paths"][op[1]][op[0].lower()]
        and op not in BODIES
        and doc["paths"][op[1]][op[0].lower()]["requestBody"].get("required", False)
    ]
    assert not missing, f"name a body for these new operations in BODIES: {missing}"
    wrong = []
    cells = 0
    for caller in CALLERS:  # the admin last: its changes come after everyone else's tries
        for method, path in operations:
            r = client.request(
                method,
                _url(path, targets),
                json=BODIES.get((method, path)),
                headers=headers[caller],
            )
            cells += 1
            allowed = _expected(caller, method, path)
            if allowed is None:
                good = r.status_code not in (401, 403) and r.status_code < 500
            else:
                good = r.status_code in allowed
            if r.status_code >= 400:
                assert set(r.json()) == {"error", "message"}, r.text  # one error shape
            if not good:
                wrong.append(f"{caller:9} {method:6} {path}: {r.status_code} {r.text[:120]}")
    assert cells == len(CALLERS) * len(operations)
    assert not wrong, "\n".join(wrong)
