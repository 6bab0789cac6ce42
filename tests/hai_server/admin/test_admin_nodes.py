"""Registering and removing nodes (``/api/v1/admin/nodes``), on SQLite and on PostgreSQL.

The backend is the authority on the nodes it reports; a registered node it does not report is
listed as unhealthy and never scheduled, and becomes an ordinary node (the backend's group,
the admin's cordon kept) once the backend reports it.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from hai_server.db import models as m
from hai_server.db.nodes import MISSING
from hai_server.db.session import create_schema, make_engine, make_sessions
from hai_server.domain import states as lc
from hai_server.services.errors import Conflict, NotFound
from hai_server.services.nodes import REGISTERED, NodeService
from hai_server.services.tasks import Caller
from tests.support.pg_server import api

ADMIN = Caller(user_id=1, name="root", role="admin")


def test_a_registered_node_is_listed_never_scheduled_and_removable(
    db_url: str, tmp_path: Path
) -> None:
    with api(tmp_path / "home", db_url, nodes=2) as root:
        body = {"name": "gpu-7", "group": "a100", "gpus": 8, "zone": "rack-2"}
        r = root.call("POST", "/api/v1/admin/nodes", body)
        assert r.status_code == 201, r.text
        added = r.json()
        assert added == {
            "name": "gpu-7",
            "group": "a100",
            "zone": "rack-2",
            "gpus": 8,
            "healthy": False,
            "cordoned": False,
            "state": "unhealthy",
            "tasks": [],
            "message": REGISTERED,
        }
        listed = {n["name"]: n for n in root.ok("GET", "/api/v1/nodes")["nodes"]}
        assert listed["gpu-7"] == added
        assert listed["local-0"]["state"] == "free"

        # a task for that group waits: the only node of the group is not ready
        t = root.submit(["true"], str(tmp_path), kind="exec", group="a100")
        ticks = root.app.state.reconciler.ticks
        deadline = time.monotonic() + 10
        while root.app.state.reconciler.ticks < ticks + 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        waiting = root.ok("GET", f"/api/v1/tasks/{t['id']}")
        assert waiting["state"] == "queued" and waiting["reason"] == "no_capacity", waiting

        # duplicates: of a registration, and of a node the backend reports
        for name in ("gpu-7", "local-0"):
            r = root.call("POST", "/api/v1/admin/nodes", {"name": name, "group": "a100"})
            assert r.status_code == 409 and "already exists" in r.json()["message"], r.text

        # the backend's nodes are its own: not removable while it reports them
        r = root.call("DELETE", "/api/v1/admin/nodes/local-0")
        assert r.status_code == 409 and "reported by the backend" in r.json()["message"]

        assert root.ok("POST", "/api/v1/admin/nodes/gpu-7/cordon")["cordoned"] is True
        removed = root.ok("DELETE", "/api/v1/admin/nodes/gpu-7")["deleted"]
        assert removed["name"] == "gpu-7" and removed["cordoned"] is True
        assert "gpu-7" not in {n["name"] for n in root.ok("GET", "/api/v1/nodes")["nodes"]}
        for method, path in [
            ("DELETE", "/api/v1/admin/nodes/gpu-7"),
            ("POST", "/api/v1/admin/nodes/gpu-7/cordon"),
            ("POST", "/api/v1/admin/nodes/gpu-7/uncordon"),
        ]:
            r = root.call(method, path)
            assert r.status_code == 404 and "no node gpu-7" in r.json()["message"], r.text
        root.ok("POST", f"/api/v1/tasks/{t['id']}/stop")


@pytest.mark.parametrize(
    "body, words",
    [
        ({"name": "bad name", "group": "g"}, "bad node name"),
        ({"name": "-x", "group": "g"}, "bad node name"),
        ({"name": "n" * 254, "group": "g"}, "bad node name"),
        ({"name": "n1", "group": "a b"}, "bad group name"),
        ({"name": "n1", "group": "g", "zone": "r/1"}, "bad group name"),
        ({"name": "n1", "group": "g", "gpus": -1}, "gpus must be"),
        ({"name": "n1", "group": "g", "gpus": 4096}, "gpus must be"),
        ({"name": "n1", "group": "g", "gpus": 1.5}, "gpus"),
        ({"name": "n1"}, "group"),
        ({"name": "n1", "group": "g", "cpus": 3}, "cpus"),
    ],
)
def test_bad_node_input_is_422(db_url: str, tmp_path: Path, body: dict, words: str) -> None:
    with api(tmp_path / "home", db_url, nodes=1) as root:
        r = root.call("POST", "/api/v1/admin/nodes", body)
        assert r.status_code == 422, r.text
        assert words in r.json()["message"], r.text
        assert [n["name"] for n in root.ok("GET", "/api/v1/nodes")["nodes"]] == [
            "local-0",
            "local-jupyter",  # this machine also serves Jupyter containers
        ]


def test_node_admin_is_admin_only(db_url: str, tmp_path: Path) -> None:
    with api(tmp_path / "home", db_url, nodes=1) as root:
        token = root.ok("POST", "/api/v1/admin/users", {"name": "bob"})["token"]
        bob = root.as_(token)
        for method, path, body in [
            ("POST", "/api/v1/admin/nodes", {"name": "n1", "group": "g"}),
            ("DELETE", "/api/v1/admin/nodes/local-0", None),
            ("POST", "/api/v1/admin/nodes/local-0/cordon", None),
            ("POST", "/api/v1/admin/nodes/local-0/uncordon", None),
        ]:
            r = bob.call(method, path, body)
            assert r.status_code == 403, (path, r.text)
        assert bob.ok("GET", "/api/v1/nodes")["nodes"][0]["name"] == "local-0"
        assert root.ok("GET", "/api/v1/nodes")["nodes"][0]["cordoned"] is False


def test_once_the_backend_reports_it_the_backend_decides_and_the_cordon_stays(
    db_url: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    with api(home, db_url, nodes=1) as root:
        root.ok("POST", "/api/v1/admin/nodes", {"name": "local-1", "group": "a100", "gpus": 8})
        root.ok("POST", "/api/v1/admin/nodes/local-1/cordon")
    # the machine joins: the same platform, its backend now reporting two nodes
    with api(home, db_url, nodes=2) as root:
        nodes = {n["name"]: n for n in root.ok("GET", "/api/v1/nodes")["nodes"]}
        joined = nodes["local-1"]
        assert (joined["group"], joined["gpus"], joined["healthy"]) == ("default", 0, True)
        assert joined["cordoned"] is True and joined["state"] == "cordoned"
        r = root.call("DELETE", "/api/v1/admin/nodes/local-1")
        assert r.status_code == 409, r.text


def test_a_node_gone_from_the_backend_can_be_removed(db_url: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    with api(home, db_url, nodes=2):
        pass
    # the platform comes back with one machine fewer: the reconciler marks the other missing
    with api(home, db_url, nodes=1) as root:
        nodes = {n["name"]: n for n in root.ok("GET", "/api/v1/nodes")["nodes"]}
        assert (nodes["local-1"]["state"], nodes["local-1"]["message"]) == ("unhealthy", MISSING)
        r = root.call("DELETE", "/api/v1/admin/nodes/local-0")
        assert r.status_code == 409 and "reported by the backend" in r.json()["message"]
        assert root.ok("DELETE", "/api/v1/admin/nodes/local-1")["deleted"]["name"] == "local-1"
        assert [n["name"] for n in root.ok("GET", "/api/v1/nodes")["nodes"]] == [
            "local-0",
            "local-jupyter",  # this machine also serves Jupyter containers
        ]


async def _remove_a_held_node(url: str) -> tuple[str, str]:
    engine = make_engine(url)
    await create_schema(engine)
    sessions = make_sessions(engine)
    now = time.time()
    async with sessions.begin() as s:
        user = m.User(name="root", role="admin", active=True, created_at=now)
        s.add(user)
        await s.flush()
        for name in ("gone-1", "gone-2"):
            s.add(m.Node(name=name, group="g", healthy=False, message=MISSING, updated_at=now))
        # what hai-up's init.sql registers; and a node the backend reports, but unhealthy
        hai_up = "registered by hai-up, not yet seen by the backend"
        s.add(m.Node(name="up-1", group="g", healthy=False, message=hai_up, updated_at=0))
        s.add(m.Node(name="sick", group="g", healthy=False, message="NotReady", updated_at=0))
        task = m.Task(
            name="t",
            user_id=user.id,
            user_name="root",
            group="g",
            nodes=1,
            priority=10,
            state=lc.RUNNING,
            argv=["true"],
            workdir="/",
            submitted_at=now,
        )
        s.add(task)
        await s.flush()
        s.add(
            m.Attempt(
                task_id=task.id,
                number=0,
                nodes=["gone-1"],
                priority=10,
                started_at=now,
                log_dir="/",
            )
        )
    # both machines left the backend (e.g. deleted from Kubernetes); a task still holds one
    admin = NodeService(sessions, lambda: None)
    try:
        with pytest.raises(Conflict) as held:
            await admin.remove_node(ADMIN, "gone-1")
        free = await admin.remove_node(ADMIN, "gone-2")
        assert (await admin.remove_node(ADMIN, "up-1"))["name"] == "up-1"
        with pytest.raises(Conflict, match="reported by the backend"):
            await admin.remove_node(ADMIN, "sick")
        with pytest.raises(NotFound):
            await admin.remove_node(ADMIN, "gone-2")
        async with sessions() as s:
            left = sorted(n.name for n in (await s.execute(m.Node.__table__.select())).all())
    finally:
        await engine.dispose()
    assert left == ["gone-1", "sick"]
    return held.value.message, free["name"]


def test_a_node_held_by_an_active_task_is_not_removed(db_url: str) -> None:
    message, removed = asyncio.run(_remove_a_held_node(db_url))
    assert "held by active task(s) 1" in message
    assert removed == "gone-2"
