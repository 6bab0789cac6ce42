"""The hang watchdog live: real ranks under a real embedded server, heartbeats every 0.2 s.

A rank that sleeps silently past its watchdog time gets the ``watchdog`` event and the
configured action: ``restart`` (requeued from its checkpoint, then finishes) on SQLite and
PostgreSQL; ``notify`` (shown as ``hung`` in status, list and why) on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.e2e import Platform, start_platform
from tests.support.pg import DATABASES, server_database

HANG = Path(__file__).parent / "scripts" / "hang.py"
FAST = {"scheduler__heartbeat_s": "0.2", "scheduler__kill_grace_s": "1"}


@pytest.fixture(scope="module", params=DATABASES)
def restarting(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    with server_database(request.param) as db:
        plat = start_platform(
            tmp_path_factory.mktemp("wd"), 1, db, scheduler__watchdog_action="restart", **FAST
        )
        yield plat
        plat.stop_everything()


@pytest.fixture(scope="module")
def notifying(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with server_database("sqlite") as db:
        plat = start_platform(tmp_path_factory.mktemp("wdn"), 1, db, **FAST)
        yield plat
        plat.stop_everything()


def kinds(task: dict) -> list[str]:
    return [e["kind"] for e in task["events"]]


def test_a_silent_rank_is_restarted_from_its_checkpoint(restarting: Platform) -> None:
    task_id = restarting.submit(HANG, "silent", opts=("--watchdog", "2"))
    done = restarting.wait_state(task_id, "succeeded", "failed", "stopped", timeout=60)
    assert done["state"] == "succeeded" and done["restart_count"] == 1, done
    event = next(e for e in done["events"] if e["kind"] == "watchdog")
    assert "rank 0 on local-0 printed nothing for" in event["message"]
    assert "(watchdog 2.0 s)" in event["message"] and "action: restart" in event["message"]
    assert "hung, not its node" in event["message"]
    order = kinds(done)
    assert order.index("watchdog") < order.index("suspend") < order.index("requeued")
    assert "heartbeat_lost" not in order  # its heartbeat went on: a hang, not a dead node
    assert done["watchdog_s"] == 2
    assert "attempt 1 starts" in restarting.log(task_id, attempt=1)


def test_set_watchdog_time_from_code_overrides_the_default(restarting: Platform) -> None:
    task_id = restarting.submit(HANG, "code")  # the server's default is 30 min
    done = restarting.wait_state(task_id, "succeeded", "failed", "stopped", timeout=60)
    assert done["restart_count"] == 1 and "(watchdog 1.0 s)" in next(
        e["message"] for e in done["events"] if e["kind"] == "watchdog"
    )


def test_a_rank_that_keeps_printing_is_left_alone(restarting: Platform) -> None:
    task_id = restarting.submit(HANG, "chatty", opts=("--watchdog", "1"))
    done = restarting.wait_state(task_id, "succeeded", "failed", "stopped", timeout=60)
    assert done["state"] == "succeeded" and done["restart_count"] == 0
    assert "watchdog" not in kinds(done)


def test_notify_shows_the_hang_in_status_list_and_why(notifying: Platform) -> None:
    task_id = notifying.submit(HANG, "silent", opts=("--watchdog", "1"))
    hung = notifying.wait(task_id, lambda t: t.get("reason") == "hung", timeout=30, what="hung")
    assert hung["state"] == "running" and hung["hung_at"] and "watchdog" in kinds(hung)
    shown = notifying.ok("status", str(task_id)).stdout
    assert "hung" in shown and "rank 0 silent" in shown
    assert "hung" in notifying.ok("list").stdout
    why = notifying.json("why", str(task_id))
    assert why["summary"].startswith("hung: rank 0 on local-0 printed nothing")
    assert "watchdog: rank 0" in notifying.ok("why", str(task_id)).stdout
    notifying.ok("stop", str(task_id))
    stopped = notifying.wait_state(task_id, "stopped", timeout=30)
    assert stopped["hung_at"] is None  # only a running task is shown hung


def test_bad_watchdog_values_are_refused(notifying: Platform) -> None:
    for value, words in (("-1", "--watchdog must be between 0 and 2592000"),
                         ("99999999999", "--watchdog must be between 0 and 2592000"),
                         ("abc", "'abc' is not a valid int")):  # fmt: skip
        res = notifying.cli("python", str(HANG), "--", "--watchdog", value)
        assert res.returncode == 2, res
        assert words in res.stderr and "Traceback" not in res.stderr
