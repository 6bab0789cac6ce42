"""Suspend and resume with real processes: the heart of time-sharing."""

from __future__ import annotations

import re
import time

from hai_server.reconciler.judge import LISTEN_WINDOW_S
from tests.support.e2e import EXAMPLES, Platform

TRAIN = EXAMPLES / "train.py"


def _events(task: dict) -> list[str]:
    return [e["kind"] for e in task["events"]]


def test_low_task_checkpoints_yields_to_high_and_resumes(platform: Platform) -> None:
    low = platform.submit(  # 15 s of work: the high task comes long before its end
        TRAIN, "--steps", "150", "--step-time", "0.1", opts=("-p", "LOW", "--name", "low")
    )
    platform.wait(
        low, lambda t: t["state"] == "running" and "step 5 " in platform.log(low), what="step 5"
    )
    high = platform.submit(
        TRAIN, "--steps", "5", "--step-time", "0.05", opts=("-p", "HIGH", "--name", "high")
    )

    # the low task gets the notice, saves, calls go_suspend() and goes back to the queue
    low_t = platform.wait(low, lambda t: t["restart_count"] == 1, timeout=30, what="requeued")
    suspend = next(e for e in low_t["events"] if e["kind"] == "suspend")
    assert f"to make room for task {high}" in suspend["message"]
    assert "suspend_ack" in _events(low_t), "the low task acknowledged by go_suspend()"
    first = platform.log(low, attempt=0)
    saved = int(re.search(r"saved step (\d+)", first).group(1))  # type: ignore[union-attr]

    high_t = platform.wait_state(high, "succeeded", timeout=30)
    assert high_t["exit_code"] == 0
    low_t = platform.wait_state(low, "succeeded", timeout=60)
    assert low_t["restart_count"] == 1
    assert low_t["whole_life_state"] == saved
    second = platform.log(low, attempt=1)
    assert f"start: step={saved} restart_count=1 whole_life_state={saved}" in second
    assert "done: final_step=150" in second
    # the high task started only after the low one let go of the node
    high_start = next(e["at"] for e in high_t["events"] if e["kind"] == "start")
    low_requeue = next(e["at"] for e in low_t["events"] if e["kind"] == "requeued")
    assert high_start >= low_requeue
    assert [a["outcome"] for a in low_t["attempts"]] == ["suspended", "succeeded"]


def _at(task: dict, kind: str) -> float:
    return next(e["at"] for e in task["events"] if e["kind"] == kind)


def test_task_that_ignores_the_notice_is_killed_at_the_deadline(platform: Platform) -> None:
    stubborn = platform.submit(
        EXAMPLES.parent / "tests/e2e/scripts/stubborn.py",
        "300",
        "--ignore-term",
        "--poll",  # it polls, so it gets the whole grace (3 s here), then SIGTERM, SIGKILL
        "--then",
        "20",  # the resumed attempt need not take 30 s more
        opts=("-p", "LOW"),
    )
    platform.wait(
        stubborn,
        lambda t: t["state"] == "running" and "step 3" in platform.log(stubborn),
        what="running",
    )
    high = platform.submit(TRAIN, "--steps", "3", "--step-time", "0.05", opts=("-p", "HIGH"))
    task = platform.wait(stubborn, lambda t: t["restart_count"] == 1, timeout=30, what="requeued")
    kinds = _events(task)
    assert "suspend_deadline" in kinds and "suspend_ack" not in kinds
    assert "suspend_unheard" not in kinds
    assert _at(task, "suspend_deadline") - _at(task, "suspend") >= 3.0  # the whole grace
    log0 = platform.log(stubborn, attempt=0)
    assert "notice received, ignoring it" in log0
    assert "got SIGTERM, ignoring it" in log0  # SIGTERM first ...
    assert task["attempts"][0]["exit_code"] == 137  # ... then SIGKILL
    platform.wait_state(high, "succeeded", timeout=30)
    final = platform.wait_state(stubborn, "succeeded", timeout=60)
    log1 = platform.log(stubborn, attempt=1)
    assert "stubborn start restart_count=1" in log1 and "stubborn done" in log1
    assert final["restart_count"] == 1


def test_a_victim_that_never_polls_is_stopped_without_waiting_the_grace(
    platform: Platform,
) -> None:
    deaf = platform.submit(
        EXAMPLES.parent / "tests/e2e/scripts/stubborn.py", "300", "--then", "5",
        opts=("-p", "LOW"),
    )  # fmt: skip
    platform.wait(  # running past the window in which a new attempt is not called deaf
        deaf,
        lambda t: (
            t["state"] == "running"
            and "step 3" in platform.log(deaf)
            and time.time() - t["started_at"] > LISTEN_WINDOW_S + 0.2
        ),
        what="running",
    )
    high = platform.submit(TRAIN, "--steps", "3", "--step-time", "0.05", opts=("-p", "HIGH"))
    task = platform.wait(deaf, lambda t: t["restart_count"] == 1, timeout=30, what="requeued")
    kinds = _events(task)
    assert "suspend_unheard" in kinds and "suspend_deadline" not in kinds
    unheard = next(e for e in task["events"] if e["kind"] == "suspend_unheard")
    assert "does not listen for notices" in unheard["message"]
    # stopped at once: the preemptor did not wait out the 3 s grace
    assert _at(task, "suspend_unheard") - _at(task, "suspend") < 3.0
    assert task["attempts"][0]["exit_code"] == 143  # SIGTERM was enough
    high_t = platform.wait_state(high, "succeeded", timeout=30)
    assert _at(high_t, "start") - _at(task, "suspend") < 3.0
    platform.wait_state(deaf, "succeeded", timeout=60)


def test_suspend_after_rehearsal_exercises_checkpoint_code(platform: Platform) -> None:
    task_id = platform.submit(
        TRAIN, "--steps", "15", "--step-time", "0.1", opts=("--suspend-after", "0.5")
    )
    task = platform.wait_state(task_id, "succeeded", timeout=60)
    assert task["restart_count"] == 1
    assert any("rehearsal" in e["message"] for e in task["events"])
    assert "done: final_step=15" in platform.log(task_id, attempt=1)
    assert task["whole_life_state"] > 0


def test_user_suspend_resume_and_stop(platform: Platform) -> None:
    task_id = platform.submit(TRAIN, "--steps", "400", "--step-time", "0.05")
    platform.wait(
        task_id,
        lambda t: t["state"] == "running" and "step 2 " in platform.log(task_id),
        what="running",
    )
    res = platform.ok("suspend", str(task_id))
    assert "suspend requested" in res.stdout
    platform.wait(
        task_id,
        lambda t: t["restart_count"] == 1 and t["state"] == "running",
        timeout=30,
        what="resumed",
    )
    platform.ok("stop", str(task_id))
    task = platform.wait_state(task_id, "stopped", timeout=30)
    assert task["ended_at"] is not None
    # a stopped task can be resumed; it keeps its id and counts the restart
    resumed = platform.json("resume", str(task_id))
    assert resumed["state"] == "queued" and resumed["restart_count"] == 2
    platform.wait(task_id, lambda t: t["state"] == "running", timeout=30)
    platform.ok("stop", str(task_id))
    platform.wait_state(task_id, "stopped", timeout=30)


def test_follow_exits_with_the_task_outcome(platform: Platform) -> None:
    script = EXAMPLES.parent / "tests/e2e/scripts/exit_code.py"
    res = platform.cli("python", str(script), "3", "--", "-f")
    assert res.returncode == 3, res.stderr
    assert "rank 0 exiting with 3" in res.stdout
    ok = platform.cli("python", str(TRAIN), "--steps", "2", "--step-time", "0.01", "--", "-f")
    assert ok.returncode == 0, ok.stderr
    assert "done: final_step=2" in ok.stdout
