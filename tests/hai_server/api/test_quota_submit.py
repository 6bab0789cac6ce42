"""Quotas and roles at submit through the API, on a cluster-mode server (no row: no access),
on SQLite and on PostgreSQL: refusals are 403 naming the row; admitted tasks run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from litestar.testing import TestClient

from hai_server.app import create_app
from hai_server.settings import SchedulerSettings, Settings
from tests.support.pg_server import ADMIN_TOKEN, Api, make_settings


@contextmanager
def cluster_api(home: Path, db_url: str, nodes: int = 4) -> Iterator[Api]:
    """A server as a cluster runs it: the default quota left unset (resolved to 0)."""
    base = make_settings(home, db_url, nodes=nodes)
    settings = Settings(**{**base.model_dump(), "scheduler": SchedulerSettings(tick_s=0.2)})
    assert settings.scheduler.default_quota == 0 and not settings.embedded
    with TestClient(create_app(settings), timeout=30) as client:
        yield Api(client, ADMIN_TOKEN)


def _user(a: Api, name: str, role: str = "internal", groups: list[str] | None = None) -> Api:
    body = {"name": name, "role": role, "groups": groups or [], "uid": os.getuid()}
    return a.as_(a.ok("POST", "/api/v1/admin/users", body)["token"])


def _submit(a: Api, wd: Path, **extra: object) -> object:
    return a.call("POST", "/api/v1/tasks", {"argv": ["true"], "workdir": str(wd),
                                             "kind": "exec", **extra})  # fmt: skip


def _quota(a: Api, principal: str, resource: str, n: int) -> None:
    a.ok("PUT", "/api/v1/admin/quotas", {"principal": principal, "resource": resource, "quota": n})


def test_cluster_quota_and_role_rules_at_submit(db_url: str, tmp_path: Path) -> None:
    with cluster_api(tmp_path / "home", db_url) as root:
        alice = _user(root, "alice", groups=["vision"])
        ext = _user(root, "ext", role="external")

        # no row at all: nobody may run, the admin included; the message says what to do
        r = _submit(root, tmp_path)
        assert r.status_code == 403, r.text
        body = r.json()
        assert body["error"] == "quota_refused"
        assert "no quota row node-default-NORMAL applies to root" in body["message"]
        assert "hai-cli admin quota set" in body["message"]

        _quota(root, "public", "node-default-NORMAL", 2)
        _quota(root, "vision", "node-default-HIGH", 3)
        # within the public row: admitted, and it runs
        t = alice.ok("POST", "/api/v1/tasks",
                     {"argv": ["true"], "workdir": str(tmp_path), "kind": "exec"})  # fmt: skip
        alice.wait_state(t["id"], {"succeeded"})
        # larger than the row: refused, row and owner named
        r = _submit(alice, tmp_path, nodes=3)
        assert r.status_code == 403
        assert (
            "quota node-default-NORMAL (row of public) allows alice 2 node(s)"
            in r.json()["message"]
        )
        # a level without a row; the hint names where there is room
        r = _submit(alice, tmp_path, priority="LOW")
        assert r.status_code == 403
        assert "levels with quota in default: HIGH (3), NORMAL (2)" in r.json()["message"]
        # the group row opens HIGH for alice only
        assert _submit(alice, tmp_path, priority="HIGH", nodes=3).status_code == 201
        assert _submit(root, tmp_path, priority="HIGH").status_code == 403
        # AUTO larger than every level
        r = _submit(alice, tmp_path, priority="AUTO", nodes=4)
        assert r.status_code == 403 and "AUTO: no level in group default" in r.json()["message"]

        # external: AUTO only, said plainly; without -p the server picks AUTO for them
        r = _submit(ext, tmp_path, priority="NORMAL")
        assert r.status_code == 403 and r.json()["error"] == "quota_refused"
        assert "external users submit at AUTO only" in r.json()["message"]
        t = ext.ok("POST", "/api/v1/tasks",
                   {"argv": ["true"], "workdir": str(tmp_path), "kind": "exec"})  # fmt: skip
        assert t["priority"] == "AUTO"
        done = ext.wait_state(t["id"], {"succeeded"})
        assert done["state"] == "succeeded"
        # internal users without -p still get NORMAL
        t = alice.ok("POST", "/api/v1/tasks",
                     {"argv": ["true"], "workdir": str(tmp_path), "kind": "exec"})  # fmt: skip
        assert t["priority"] == "NORMAL"


def test_external_users_get_no_default_quota_even_on_an_open_server(
    db_url: str, tmp_path: Path
) -> None:
    from tests.support.pg_server import api

    with api(tmp_path / "home", db_url) as root:  # default_quota = "unlimited"
        ext = _user(root, "ext", role="external")
        r = _submit(ext, tmp_path)
        assert r.status_code == 403 and "no quota row" in r.json()["message"]
        _quota(root, "external", "node-default-LOW", 1)  # a row for the role
        assert _submit(ext, tmp_path).status_code == 201
        assert _submit(root, tmp_path, nodes=4, priority="EXTREME_HIGH").status_code == 201
