"""A script written against the original SDK (``hfai.client``, ``timeout=``, ``MARSV2_*``)
runs unchanged on the platform and survives a preemption: it hears the notice, saves its
whole-life state, is requeued and resumes where it stopped; its set_priority() reaches the
task and set_watchdog_time() the control channel."""

from __future__ import annotations

import re

import pytest

from tests.support.e2e import EXAMPLES, Platform

pytestmark = pytest.mark.e2e
SCRIPT = EXAMPLES.parent / "tests" / "e2e" / "scripts" / "original_sdk.py"
TRAIN = EXAMPLES / "train.py"


def test_an_original_script_survives_a_preemption(platform: Platform) -> None:
    old = platform.submit(SCRIPT, "200", "0.05", opts=("-p", "LOW", "--name", "orig"))
    first = platform.wait(old, lambda t: "start=0" in platform.log(old), what="its first line")
    line = platform.log(old).splitlines()[0]
    assert f"start=0 rank=0 master=127.0.0.1 task={old} name=orig type=training" in line
    assert "state_env=0 log=rank-0.log watchdog_file=900" in line
    first = platform.wait(old, lambda t: t["priority"] == "BELOW_NORMAL", what="set_priority")
    assert any(
        e["kind"] == "priority" and "set its priority to BELOW_NORMAL (was LOW)" in e["message"]
        for e in first["events"]
    )

    high = platform.submit(TRAIN, "--steps", "3", "--step-time", "0.05", opts=("-p", "HIGH"))
    requeued = platform.wait(old, lambda t: t["restart_count"] == 1, timeout=30, what="requeued")
    assert "suspend_ack" in [e["kind"] for e in requeued["events"]]
    saved = int(re.search(r"suspending at step (\d+)", platform.log(old, attempt=0)).group(1))  # type: ignore[union-attr]
    platform.wait_state(high, "succeeded", timeout=30)
    done = platform.wait_state(old, "succeeded", timeout=60)
    assert done["whole_life_state"] == saved
    second = platform.log(old, attempt=1)
    assert f"start={saved} " in second and f"state_env={saved} " in second
    assert "finished 200" in second
