"""why gives an ETA to a task waiting for a suspending victim (the suspend deadline reaches the
policy: once dropped on the way, ``why`` never gave one)."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import TestClient

from hai_server.app import create_app
from hai_server.settings import SchedulerSettings
from tests.support.pg_server import ADMIN_TOKEN, Api, make_settings


def test_a_task_waiting_for_a_suspending_victim_gets_an_eta(db_url: str, tmp_path: Path) -> None:
    work = tmp_path / "w"
    work.mkdir()
    settings = make_settings(tmp_path / "home", db_url, nodes=1)
    settings.scheduler = SchedulerSettings(tick_s=0.2, grace_s=600, kill_grace_s=0)
    with TestClient(create_app(settings), timeout=30) as client:
        root = Api(client, ADMIN_TOKEN)
        # a LOW task that never listens for the notice, then a HIGH one that needs its node
        low = root.submit(["sleep", "600"], str(work), kind="exec", priority="LOW")
        root.wait_state(low["id"], {"running"})
        high = root.submit(["true"], str(work), kind="exec", priority="HIGH")
        root.wait_state(low["id"], {"suspending"})
        why = root.wait_for(
            high["id"], lambda t: t["reason"] == "waiting_for_preemption"
        ) and root.ok("GET", f"/api/v1/tasks/{high['id']}/why")
        assert why["waiting_for"] == [low["id"]]
        assert why["eta_s"] is not None and 0 < why["eta_s"] <= 600
        assert any(line.startswith("estimated start: in about") for line in why["lines"])
        root.ok("POST", f"/api/v1/tasks/{low['id']}/stop")
        root.wait_state(high["id"], {"succeeded"})
