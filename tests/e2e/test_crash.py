"""The embedded server is killed with SIGKILL while a task runs: nothing is lost."""

from __future__ import annotations

import json
import os
import signal
import time

from tests.support.e2e import EXAMPLES, start_platform
from tests.support.pg import ServerDatabase


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited (reaped, or a zombie waiting for its parent)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_ranks_outlive_a_killed_server_and_are_adopted(tmp_path, database: ServerDatabase) -> None:
    plat = start_platform(tmp_path, 1, database)
    try:
        task_id = plat.submit(EXAMPLES / "train.py", "--steps", "40", "--step-time", "0.1")
        plat.wait(
            task_id,
            lambda t: t["state"] == "running" and "step 3 " in plat.log(task_id),
            what="running",
        )
        pid = json.loads((plat.home / "server.json").read_text())["pid"]
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while not _gone(pid):
            assert time.monotonic() < deadline, "the killed server is still there"
            time.sleep(0.02)
        # the next command finds the dead server, starts a new one, which adopts the rank
        task = plat.wait_state(task_id, "succeeded", timeout=60)
        assert task["restart_count"] == 0  # the same attempt finished: no work lost
        assert "done: final_step=40" in plat.log(task_id)
        assert json.loads((plat.home / "server.json").read_text())["pid"] != pid
    finally:
        plat.stop_everything()
