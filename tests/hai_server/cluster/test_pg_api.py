"""The task API and services on SQLite and on PostgreSQL (every test runs on both)."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import TestClient

from hai_server.app import create_app
from hai_server.backends.base import NodeState
from hai_server.backends.local.backend import LocalBackend
from tests.support.pg_server import ADMIN_TOKEN, Api, api, make_settings


def test_submit_run_list_and_logs(db_url: str, tmp_path: Path) -> None:
    with api(tmp_path / "home", db_url) as a:
        t = a.submit(["sh", "-c", "echo hello-$HAI_TASK_ID"], str(tmp_path), kind="exec")
        done = a.wait_state(t["id"], {"succeeded", "failed"})
        assert done["state"] == "succeeded", done
        page = a.ok("GET", "/api/v1/tasks")
        assert [x["id"] for x in page["tasks"]] == [t["id"]] and page["total"] == 1
        assert f"hello-{t['id']}" in a.ok("GET", f"/api/v1/tasks/{t['id']}/logs")
        detail = a.ok("GET", f"/api/v1/tasks/{t['id']}")
        assert [e["kind"] for e in detail["events"]][:2] == ["submitted", "start"]
        assert detail["attempts"][0]["outcome"] == "succeeded"


def test_stop_suspend_resume(db_url: str, tmp_path: Path) -> None:
    with api(tmp_path / "home", db_url) as a:
        t = a.submit(["sleep", "30"], str(tmp_path), kind="exec")
        a.wait_state(t["id"], {"running"})
        a.ok("POST", f"/api/v1/tasks/{t['id']}/suspend")
        # sleep never acknowledges: it is stopped at the grace deadline (2 s), then requeued
        a.wait_state(t["id"], {"suspended", "queued", "starting", "running"}, timeout=15)
        a.ok("POST", f"/api/v1/tasks/{t['id']}/stop")
        stopped = a.wait_state(t["id"], {"stopped"}, timeout=20)
        assert stopped["ended_at"] is not None
        assert a.call("POST", f"/api/v1/tasks/{t['id']}/stop").status_code == 409
        again = a.ok("POST", f"/api/v1/tasks/{t['id']}/resume")
        assert again["state"] == "queued"
        a.ok("POST", f"/api/v1/tasks/{t['id']}/stop")
        a.wait_state(t["id"], {"stopped"}, timeout=20)


def test_many_tasks_each_start_once(db_url: str, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    script = f"echo x >> {marks}/$HAI_TASK_ID-$HAI_RESTART_COUNT"
    with api(tmp_path / "home", db_url, nodes=8) as a:
        ids = [a.submit(["sh", "-c", script], str(tmp_path), kind="exec")["id"] for _ in range(30)]
        for i in ids:
            assert a.wait_state(i, {"succeeded", "failed"}, timeout=60)["state"] == "succeeded"
    assert sorted(p.name for p in marks.iterdir()) == sorted(f"{i}-0" for i in ids)
    assert all(p.read_text() == "x\n" for p in marks.iterdir())


def test_health_reports_embedded_cluster_parts(db_url: str, tmp_path: Path) -> None:
    with api(tmp_path / "home", db_url) as a:
        h = a.call("GET", "/healthz").json()  # the whole document: as the admin
        assert h["status"] == "ok" and h["redis"] == "off" and h["leader"] is True
        assert h["leader_lock"] == (
            "solo" if db_url.startswith("sqlite") else "postgresql-advisory-lock"
        )


def test_bad_input_is_422_not_500(db_url: str, tmp_path: Path) -> None:
    with api(tmp_path / "home", db_url) as a:
        assert a.call("POST", "/api/v1/tasks", {"argv": [], "workdir": "/"}).status_code == 422
        r = a.call("POST", "/api/v1/tasks", {"argv": ["true"], "workdir": "/", "group": "nope"})
        assert r.status_code == 422 and "unknown group" in r.json()["message"]
        assert a.call("GET", "/api/v1/tasks", limit=0).status_code == 400  # a query parameter
        assert a.call("GET", "/api/v1/tasks/999999").status_code == 404


def test_a_64_bit_whole_life_state_is_kept(db_url: str, tmp_path: Path) -> None:
    """The SDK allows any 64-bit value (e.g. samples seen); PostgreSQL's INTEGER stops at 2**31."""
    value = 2**40 + 7
    script = tmp_path / "state.py"
    script.write_text(
        "import time\n"
        "from hai_cli import runtime\n"
        "print('restart', runtime.restart_count(), runtime.get_whole_life_state(), flush=True)\n"
        "if runtime.restart_count() == 0:\n"
        f"    runtime.set_whole_life_state({value})\n"
        "    while not runtime.receive_suspend_command():\n"
        "        time.sleep(0.05)\n"
        "    runtime.go_suspend()\n"
    )
    repo = str(Path(__file__).resolve().parents[3])
    argv = ["python3", "-u", str(script)]
    with api(tmp_path / "home", db_url) as a:
        t = a.submit(argv, str(tmp_path), kind="exec", env={"PYTHONPATH": repo}, suspend_after=0.5)
        done = a.wait_state(t["id"], {"succeeded", "failed"})
        assert done["state"] == "succeeded" and done["whole_life_state"] == value, done
        assert done["restart_count"] == 1, done
        # the resumed attempt started from it
        log = a.ok("GET", f"/api/v1/tasks/{t['id']}/logs", attempt=1)
        assert f"restart 1 {value}" in log, log


def test_ids_and_text_a_database_cannot_hold_are_4xx_not_500(db_url: str, tmp_path: Path) -> None:
    with api(tmp_path / "home", db_url) as a:
        t = a.submit(["true"], str(tmp_path), kind="exec")
        for method, path in [
            ("GET", "/api/v1/tasks/99999999999"),
            ("GET", "/api/v1/tasks/99999999999999999999999"),
            ("POST", "/api/v1/tasks/99999999999/stop"),
            ("GET", "/api/v1/tasks/99999999999/why"),
            ("GET", "/api/v1/tasks/99999999999/logs"),
        ]:
            r = a.call(method, path)
            assert r.status_code == 404 and "no task" in r.json()["message"], (path, r.text)
        r = a.call("POST", "/api/v1/admin/tokens/99999999999/revoke")
        assert r.status_code == 404 and "no token" in r.json()["message"], r.text
        body = {"argv": ["true"], "kind": "exec"}
        r = a.call("POST", "/api/v1/tasks", body | {"workdir": "/tmp\x00x"})
        assert r.status_code == 422 and "workdir" in r.json()["message"], r.text
        r = a.call("POST", "/api/v1/tasks", body | {"workdir": "/tmp", "group": "de\x00f"})
        assert r.status_code == 422 and "group" in r.json()["message"], r.text
        r = a.call("POST", "/api/v1/admin/users/root/tokens", {"label": "a\x00b"})
        assert r.status_code == 422 and "label" in r.json()["message"], r.text
        for method, path, what in [
            ("POST", "/api/v1/admin/users/x%00y/disable", "no user"),
            ("POST", "/api/v1/admin/nodes/a%00b/cordon", "no node"),
            ("DELETE", "/api/v1/admin/nodes/a%00b", "no node"),
            ("DELETE", "/api/v1/admin/quotas/a%00b/node_limit", "no quota"),
        ]:
            r = a.call(method, path)
            assert r.status_code == 404 and what in r.json()["message"], (path, r.text)
        r = a.call("GET", "/api/v1/admin/tokens", user="x\x00y")
        assert r.status_code == 404 and "no user" in r.json()["message"], r.text
        assert a.ok("GET", "/api/v1/tasks")["total"] == 1
        assert a.ok("GET", f"/api/v1/tasks/{t['id']}")["id"] == t["id"]


def test_a_backend_node_with_a_long_name_is_scheduled(db_url: str, tmp_path: Path) -> None:
    """Kubernetes node names go up to 253 characters; PostgreSQL enforces column widths."""
    name = ("rack-7." + "gpu-node-" * 30)[:253].rstrip(".-")
    home = tmp_path / "home"
    settings = make_settings(home, db_url)
    backend = LocalBackend(settings.runs_dir, [NodeState(name=name, group="default", zone="z")])
    with TestClient(create_app(settings, backend=backend), timeout=30) as client:
        a = Api(client, ADMIN_TOKEN)
        assert [n["name"] for n in a.ok("GET", "/api/v1/nodes")["nodes"]] == [name]
        t = a.submit(["true"], str(tmp_path), kind="exec")
        done = a.wait_state(t["id"], {"succeeded", "failed"})
        assert done["state"] == "succeeded" and done["attempts"][0]["nodes"] == [name], done
        assert a.ok("POST", f"/api/v1/admin/nodes/{name}/cordon")["cordoned"] is True
