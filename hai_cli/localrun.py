"""Run a script here instead of submitting it (the original's separators, hai_cli/argv.py).

* ``hai-cli python FILE ARGS`` (no separator): the script replaces hai-cli in the foreground
  with the SDK in local mode (no control directory); the exit code is the script's.
* ``hai-cli python FILE ARGS ++ [--suspend_seconds S] [--life_state N]``: the script runs
  as rank 0 of a one-node task would: the rank variables (ours and the original's
  ``MARSV2_*``/``MASTER_IP``), a real control directory, the initial whole-life state N, and
  after S seconds a suspend notice through the control channel, handled as the platform
  does: a rank that calls ``go_suspend()`` is stopped and counts as suspended (exit 0); one
  that never polled ``receive_suspend_command()`` is stopped at once; one that does not
  answer within the grace gets SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping

from hai_cli import control
from hai_cli.marsv2 import original_env

GRACE_S = 60.0  # as the server's default suspend grace
KILL_AFTER_S = 5.0
POLL_S = 0.05
SDK_VARIABLES = ("HAI_CONTROL_DIR",)  # a local run never talks to a platform's channel


def local_environ(base: Mapping[str, str]) -> dict[str, str]:
    """This shell's environment without the platform's control channel: the SDK in local mode."""
    return {k: v for k, v in base.items() if k not in SDK_VARIABLES}


def exec_here(argv: list[str], base: Mapping[str, str]) -> None:
    """Replace this process with ``argv`` (does not return); OSError when it cannot start."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(argv[0], argv, local_environ(base))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def simulated_environ(
    base: Mapping[str, str],
    *,
    name: str,
    control_dir: str,
    log_dir: str,
    life_state: int,
    suspend_seconds: float | None,
    port: int,
) -> dict[str, str]:
    """The variables rank 0 of a one-node task gets, for a run on this machine."""
    env = local_environ(base)
    ours = {
        "WORLD_SIZE": "1",
        "RANK": "0",
        "NODE_RANK": "0",
        "LOCAL_WORLD_SIZE": "1",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        "HAI_TASK_NAME": name,
        "HAI_USER": base.get("USER") or getpass.getuser(),
        "HAI_NODE": socket.gethostname(),
        "HAI_RESTART_COUNT": "0",
        "HAI_WHOLE_LIFE_STATE": str(life_state),
        "HAI_LOG_DIR": log_dir,
        "HAI_CONTROL_DIR": control_dir,
        "HAI_SIMULATE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(ours)
    env.update(original_env(ours))
    env.update({"HFAI_SIMULATE": "1", "MARSV2_TASK_TYPE": "training"})
    if suspend_seconds is not None:
        env["SIMULATE_SUSPEND"] = f"{suspend_seconds:g}"
    return env


def _say(message: str) -> None:
    sys.stderr.write(f"[hai] {message}\n")
    sys.stderr.flush()


def _stop(child: subprocess.Popen[bytes]) -> int:
    with contextlib.suppress(ProcessLookupError):
        child.terminate()
    try:
        return child.wait(KILL_AFTER_S)
    except subprocess.TimeoutExpired:
        child.kill()
        return child.wait()


def _code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def simulate(
    argv: list[str],
    base: Mapping[str, str],
    *,
    name: str,
    life_state: int,
    suspend_seconds: float | None,
    resume_hint: str,
    grace_s: float = GRACE_S,
) -> int:
    """Run ``argv`` as a simulated rank 0 and return the exit code hai-cli should end with."""
    with tempfile.TemporaryDirectory(prefix="hai-simulate-") as tmp:
        control_dir = os.path.join(tmp, "control")
        os.makedirs(control_dir)
        env = simulated_environ(
            base,
            name=name,
            control_dir=control_dir,
            log_dir=tmp,
            life_state=life_state,
            suspend_seconds=suspend_seconds,
            port=_free_port(),
        )
        started = time.monotonic()
        try:
            child = subprocess.Popen(argv, env=env)
        except OSError as exc:
            _say(f"cannot start {argv[0]!r}: {exc.strerror}")
            return 127
        try:
            return _supervise(child, control_dir, started, suspend_seconds, grace_s, resume_hint)
        except KeyboardInterrupt:
            _stop(child)
            return 130


def _supervise(
    child: subprocess.Popen[bytes],
    control_dir: str,
    started: float,
    suspend_seconds: float | None,
    grace_s: float,
    resume_hint: str,
) -> int:
    notice_at = None if suspend_seconds is None else started + suspend_seconds
    deadline: float | None = None
    while True:
        try:
            return _code(child.wait(POLL_S))
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if deadline is None and notice_at is not None and now >= notice_at:
            deadline = now + grace_s
            control.give_notice(control_dir, time.time() + grace_s)
            _say(f"suspend notice sent (simulated, after {suspend_seconds:g} s)")
            if not control.read_control(control_dir).listening:
                _say(
                    "the script never called receive_suspend_command(): on the platform it "
                    "is stopped at once (suspend_unheard) and loses its unsaved work"
                )
                return _code(_stop(child))
            continue
        if deadline is None:
            continue
        said = control.read_control(control_dir)
        if said.acked:
            _stop(child)
            state = said.whole_life_state
            _say(
                "go_suspend() called: the task would be requeued now"
                + (f" (whole_life_state {state})" if state is not None else "")
            )
            _say(f"resume it as the platform would: {resume_hint} ++ --life_state {state or 0}")
            return 0
        if now >= deadline:
            _say(f"no go_suspend() within the grace ({grace_s:g} s): SIGTERM, as the platform does")
            return _code(_stop(child))
