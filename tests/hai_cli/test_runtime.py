"""The task SDK, inside a (simulated) task and outside one."""

import os
import subprocess
import sys
import time

import pytest

from hai_cli import runtime


@pytest.fixture
def control(tmp_path, monkeypatch):
    monkeypatch.setenv("HAI_CONTROL_DIR", str(tmp_path))
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("HAI_RESTART_COUNT", "2")
    monkeypatch.setenv("HAI_WHOLE_LIFE_STATE", "41")
    runtime._local_state.clear()
    monkeypatch.setattr(runtime, "_listening", None)
    yield tmp_path
    runtime._local_state.clear()


def test_inside_a_task(control) -> None:
    assert runtime.in_task() and runtime.restart_count() == 2
    assert runtime.get_whole_life_state() == 41
    assert not runtime.receive_suspend_command()
    (control / "suspend").write_text(f"{time.time() + 30}\n")
    assert runtime.receive_suspend_command()
    assert runtime.suspend_deadline() > time.time()
    runtime.set_whole_life_state(42)
    assert (control / "whole_life_state").read_text().strip() == "42"
    assert runtime.get_whole_life_state() == 42
    runtime.report_checkpoint()
    assert float((control / "checkpoint.1").read_text()) <= time.time()
    runtime.go_suspend(wait=False)
    assert (control / "ack.1").exists()
    with pytest.raises(TypeError):
        runtime.set_whole_life_state("3")  # type: ignore[arg-type]


def test_the_first_poll_says_the_rank_listens_once(control) -> None:
    from hai_cli.control import read_control

    assert read_control(control).listening == frozenset()
    assert not runtime.receive_suspend_command()
    first = (control / "listening.1").read_text()
    assert read_control(control).listening == frozenset({1})
    for _ in range(3):
        runtime.receive_suspend_command()
    assert (control / "listening.1").read_text() == first  # written once, not per poll
    assert [p.name for p in control.iterdir() if p.name.startswith("listening.")] == ["listening.1"]


def test_outside_a_task_nothing_crashes() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAI_")}
    code = (
        "from hai_cli import runtime as r\n"
        "assert not r.in_task() and r.restart_count() == 0 and r.get_whole_life_state() == 0\n"
        "assert not r.receive_suspend_command() and r.suspend_deadline() is None\n"
        "r.set_whole_life_state(5); assert r.get_whole_life_state() == 5\n"
        "r.report_checkpoint(); r.rehearse_suspend(0); assert r.receive_suspend_command()\n"
        "print('ok'); r.go_suspend(); print('not reached')\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=30
    )
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


def test_receive_suspend_command_is_cheap(control) -> None:
    # correctness check only: one stat per call, no caching that could hide a notice
    assert not runtime.receive_suspend_command()
    (control / "suspend").write_text("1\n")
    assert runtime.receive_suspend_command()
    (control / "suspend").unlink()
    assert not runtime.receive_suspend_command()


def test_set_watchdog_time_writes_the_control_file(control) -> None:
    from hai_cli import control as ctl

    runtime.set_watchdog_time(120)
    assert ctl.read_control(control).watchdog_s == 120
    runtime.set_watchdog_time(0)  # off
    assert (control / "watchdog_s").read_text() == "0\n"
    for bad, error in ((-1, ValueError), (1.5, TypeError), (True, TypeError), ("9", TypeError)):
        with pytest.raises(error):
            runtime.set_watchdog_time(bad)  # type: ignore[arg-type]
    assert ctl.read_control(control).watchdog_s == 0


def test_a_bad_watchdog_file_is_no_value(tmp_path) -> None:
    from hai_cli import control as ctl

    for text in ("-5\n", "abc\n", "\x00\n", ""):
        (tmp_path / "watchdog_s").write_text(text)
        assert ctl.read_control(tmp_path).watchdog_s is None
    (tmp_path / "heartbeat.0").write_text("1 2 3\n")
    (tmp_path / "heartbeat.x").write_text("1 2\n")
    (tmp_path / "heartbeat.1").write_text("10.5 9\n")
    assert ctl.read_control(tmp_path).pulses == {1: (10.5, 9.0)}


def test_the_original_sdk_arguments_and_setters(control) -> None:
    """receive_suspend_command(timeout=, raise_exception=), set_watchdog_time, set_priority."""
    assert runtime.receive_suspend_command(timeout=500, raise_exception=True) is False
    (control / "suspend").write_text(f"{time.time() + 30}\n")
    assert runtime.receive_suspend_command(timeout=0, raise_exception=True) is True
    for bad in (-1, float("nan"), "500", True):
        with pytest.raises(ValueError, match="timeout must be a number of milliseconds"):
            runtime.receive_suspend_command(timeout=bad)  # type: ignore[arg-type]
    runtime.set_watchdog_time(600)
    assert (control / "watchdog_s").read_text() == "600\n"
    assert runtime.get_watchdog_time() == 600
    runtime.set_priority("below_normal")
    assert (control / "priority").read_text() == "5\n"
    runtime.set_priority(40)
    assert (control / "priority").read_text() == "40\n"
    runtime.set_priority("AUTO")
    assert (control / "priority").read_text() == "-1\n"
    with pytest.raises(ValueError, match="unknown priority"):
        runtime.set_priority("URGENT")
    with pytest.raises(ValueError):
        runtime.set_priority(41)
    with pytest.raises(TypeError):
        runtime.set_priority(None)  # type: ignore[arg-type]
    from hai_cli.control import read_control

    assert read_control(control).priority == -1


def test_raise_exception_when_the_channel_is_gone(control) -> None:
    os.rmdir(control)
    assert runtime.receive_suspend_command() is False
    with pytest.raises(runtime.PlatformUnreachable, match="cannot read the control channel"):
        runtime.receive_suspend_command(raise_exception=True)
    control.mkdir()


def test_the_original_import_path_is_the_sdk() -> None:
    code = (
        "from hfai.client import receive_suspend_command, go_suspend, set_whole_life_state, "
        "get_whole_life_state, set_watchdog_time, set_priority, EXP_PRIORITY\n"
        "from hai_cli import runtime\n"
        "assert go_suspend is runtime.go_suspend and EXP_PRIORITY.HIGH == 30\n"
        "print(get_whole_life_state(), receive_suspend_command(timeout=1))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HAI_", "PYTHONPATH"))}
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd="/", check=False
    )
    assert (res.returncode, res.stdout) == (0, "0 False\n"), res.stderr
