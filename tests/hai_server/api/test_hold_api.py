"""hold / release through the API, on both databases: a held task waits with reason "held"
and keeps its place; released, it starts. Only a waiting task can be held; another user's
task is 404."""

from __future__ import annotations

from pathlib import Path

from tests.support.pg_server import api


def test_hold_and_release(db_url: str, tmp_path: Path) -> None:
    work = tmp_path / "w"
    work.mkdir()
    with api(tmp_path / "home", db_url, nodes=1) as root:
        first = root.submit(["sleep", "30"], str(work), kind="exec")
        root.wait_state(first["id"], {"running"})
        waiting = root.submit(["true"], str(work), kind="exec")
        held = root.ok("POST", f"/api/v1/tasks/{waiting['id']}/hold")
        assert held["held"] is True and held["state"] == "queued"
        t = root.wait_state(waiting["id"], {"queued"})
        assert t["held"] is True
        # the plan marks it held (the reason is written by the next tick)
        t = root.wait_for(waiting["id"], lambda t: t["reason"] == "held")
        why = root.ok("GET", f"/api/v1/tasks/{waiting['id']}/why")
        assert why["reason"] == "held" and "release" in why["summary"]
        events = [e["kind"] for e in root.ok("GET", f"/api/v1/tasks/{waiting['id']}")["events"]]
        assert events[-1] == "held"

        # holding a running task is a conflict; another user's task is not found
        r = root.call("POST", f"/api/v1/tasks/{first['id']}/hold")
        assert r.status_code == 409 and "only a queued or suspended task" in r.json()["message"]
        bob = root.as_(root.ok("POST", "/api/v1/admin/users", {"name": "bob"})["token"])
        assert bob.call("POST", f"/api/v1/tasks/{waiting['id']}/release").status_code == 404
        assert bob.call("POST", "/api/v1/tasks/999999/hold").status_code == 404

        root.ok("POST", f"/api/v1/tasks/{first['id']}/stop")
        released = root.ok("POST", f"/api/v1/tasks/{waiting['id']}/release")
        assert released["held"] is False
        assert root.wait_state(waiting["id"], {"succeeded"})["exit_code"] == 0
