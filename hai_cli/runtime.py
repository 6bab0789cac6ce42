"""The task SDK: how training code cooperates with the time-sharing scheduler.

Typical use inside a training loop::

    from hai_cli import runtime

    state = runtime.get_whole_life_state()      # 0 on the first run
    for step in range(start, total):
        train_one_step()
        if runtime.receive_suspend_command():   # cheap: one stat() call
            save_checkpoint(step)
            runtime.set_whole_life_state(step)
            runtime.go_suspend()                # the platform stops this rank now

The platform talks to a task through files in ``$HAI_CONTROL_DIR`` (a directory every rank
of an attempt shares): the scheduler creates ``suspend`` to give notice; ``go_suspend()``
writes ``ack.<rank>``; ``set_whole_life_state()`` writes ``whole_life_state``;
``report_checkpoint()`` writes ``checkpoint.<rank>``. Outside a task (no ``HAI_CONTROL_DIR``)
every function works on in-process values, so the same script runs on a laptop unchanged.
Standard library only (the file protocol is ``hai_cli/control.py``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

from hai_cli import control

_local_state: dict[str, int] = {}
_rehearsal_deadline: float | None = None
_listening: str | None = None  # the control directory this process said it listens in


def _control_dir() -> str | None:
    return os.environ.get("HAI_CONTROL_DIR") or None


def _rank() -> int:
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def in_task() -> bool:
    """True when running as a rank started by the platform."""
    return _control_dir() is not None


def _listen(directory: str) -> None:
    """Say once per process that this rank polls for the notice: a rank that never polls
    cannot hear one, so the platform stops it at once instead of waiting out the grace."""
    global _listening
    if _listening == directory:
        return
    _listening = directory
    # when the file cannot be written the platform cannot tell: it waits the whole grace
    with contextlib.suppress(OSError):
        control.write_atomic(control.listening_file(directory, _rank()), f"{time.time():.6f}\n")


class PlatformUnreachable(RuntimeError):
    """``receive_suspend_command(raise_exception=True)`` could not ask the platform."""


def receive_suspend_command(timeout: float = 500, raise_exception: bool = False) -> bool:
    """True once the platform has asked this task to suspend. Cheap enough for every step
    (one stat() call; the first call also says this rank listens).

    ``timeout`` (milliseconds) and ``raise_exception`` are the original SDK's: the answer
    never waits here (it is one file's existence), so ``timeout`` only has to be a number
    >= 0; with ``raise_exception`` a control channel that cannot be read (its directory gone
    or unreadable) raises PlatformUnreachable instead of answering False.
    """
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout >= 0:
        raise ValueError(f"timeout must be a number of milliseconds >= 0, got {timeout!r}")
    directory = _control_dir()
    if directory is None:
        return _rehearsal_deadline is not None and time.time() >= _rehearsal_deadline
    _listen(directory)
    try:
        os.stat(os.path.join(directory, control.SUSPEND))
    except FileNotFoundError:
        if raise_exception and not os.access(directory, os.R_OK | os.X_OK):
            raise PlatformUnreachable(f"cannot read the control channel {directory}") from None
        return False
    except OSError as exc:
        if raise_exception:
            raise PlatformUnreachable(f"cannot read the control channel: {exc}") from None
        return False
    return True


def suspend_deadline() -> float | None:
    """Wall-clock time (epoch seconds) after which the ranks are stopped, or None."""
    directory = _control_dir()
    if directory is None:
        return None
    _listen(directory)
    return control.read_float(os.path.join(directory, control.SUSPEND))


def go_suspend(wait: bool = True) -> None:
    """Say this rank has saved and may be stopped now.

    With ``wait`` (the default) the call does not return: the platform stops the rank once
    every rank has said so. Outside a task it exits the process with status 0.
    """
    directory = _control_dir()
    if directory is None:
        sys.stdout.flush()
        raise SystemExit(0)
    control.write_atomic(control.ack_file(directory, _rank()), f"{time.time():.6f}\n")
    sys.stdout.flush()
    sys.stderr.flush()
    while wait:
        time.sleep(3600)


def set_whole_life_state(value: int) -> None:
    """Keep a small integer across suspends and restarts (e.g. the last saved step)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("whole life state must be an int")
    if not -(2**63) <= value < 2**63:
        raise ValueError("whole life state must fit in 64 bits")
    _local_state["whole_life_state"] = value
    directory = _control_dir()
    if directory is not None:
        control.write_atomic(os.path.join(directory, control.WHOLE_LIFE_STATE), f"{value}\n")


def get_whole_life_state() -> int:
    """The value last given to set_whole_life_state(), in this run or an earlier one."""
    if "whole_life_state" in _local_state:
        return _local_state["whole_life_state"]
    directory = _control_dir()
    if directory is not None:
        value = control.read_int(os.path.join(directory, control.WHOLE_LIFE_STATE))
        if value is not None:
            return value
    try:
        return int(os.environ.get("HAI_WHOLE_LIFE_STATE", "0"))
    except ValueError:
        return 0


def restart_count() -> int:
    """How many times this task has been started before this run (0 on the first run)."""
    try:
        return int(os.environ.get("HAI_RESTART_COUNT", "0"))
    except ValueError:
        return 0


def report_checkpoint() -> None:
    """Tell the scheduler a checkpoint was just saved, so preempting this task loses less."""
    directory = _control_dir()
    if directory is not None:
        control.write_atomic(control.checkpoint_file(directory, _rank()), f"{time.time():.6f}\n")


def set_watchdog_time(seconds: int) -> None:
    """Let rank 0 stay silent ``seconds`` before the platform calls the task hung (0: off).
    Overrides ``--watchdog`` for this attempt (``control/watchdog_s``, read by the platform)."""
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise TypeError("the watchdog time must be a whole number of seconds")
    if seconds < 0:
        raise ValueError("the watchdog time must be >= 0 seconds (0: off)")
    _local_state["watchdog_s"] = seconds
    directory = _control_dir()
    if directory is not None:
        control.write_atomic(os.path.join(directory, control.WATCHDOG_S), f"{seconds}\n")


def get_watchdog_time() -> int | None:
    """The value last given to set_watchdog_time(), or None (the platform's default)."""
    if "watchdog_s" in _local_state:
        return _local_state["watchdog_s"]
    directory = _control_dir()
    return (
        None if directory is None else control.read_int(os.path.join(directory, control.WATCHDOG_S))
    )


def set_priority(priority: int | str) -> None:
    """Ask the platform to schedule this task at ``priority`` from now on (a level name such
    as ``"LOW"``, or its number); it runs on at its current level and is scheduled at the new
    one the next time it waits (after a suspend). The event log records the change."""
    from hai_cli.scheduler.model import parse_priority

    if isinstance(priority, bool) or not isinstance(priority, int | str):
        raise TypeError("priority must be a level name or its number")
    value = parse_priority(priority)  # ValueError names the valid levels
    _local_state["priority"] = value
    directory = _control_dir()
    if directory is not None:
        control.write_atomic(os.path.join(directory, control.PRIORITY), f"{value}\n")


def rehearse_suspend(after_s: float) -> None:
    """Outside the platform, make receive_suspend_command() turn true after ``after_s``."""
    global _rehearsal_deadline
    _rehearsal_deadline = time.time() + after_s


__all__ = [
    "PlatformUnreachable",
    "get_watchdog_time",
    "get_whole_life_state",
    "go_suspend",
    "in_task",
    "receive_suspend_command",
    "rehearse_suspend",
    "report_checkpoint",
    "restart_count",
    "set_priority",
    "set_watchdog_time",
    "set_whole_life_state",
    "suspend_deadline",
]
