"""Run one rank: ``python3 -m hai_cli.rankrun --log PATH --status-dir DIR -- CMD...``.

The wrapper every backend uses to start the user's command. It

* starts CMD in its own process group (so the platform can signal the whole tree), and
  adopts every process CMD leaves behind, even one that left the group with ``setsid()``
  (``hai_cli.proctree``): they get the signals the rank gets and are killed when CMD ends,
* writes every line CMD prints (stdout and stderr) to PATH, each prefixed with the time
  ``[YYYY-mm-dd HH:MM:SS.ffffff] `` (lines longer than 64 KiB are split),
* writes ``DIR/pid`` (the group id) at start and ``DIR/exit_code`` at the end,
* forwards SIGTERM and SIGINT to the child's group, and exits with the child's code,
* heartbeats (when ``HAI_CONTROL_DIR`` is set): every ``HAI_HEARTBEAT_S`` seconds (default 5)
  a thread writes ``control/heartbeat.<RANK>`` = "<now> <time of CMD's last output>". The
  pulse says this wrapper and its node are alive whatever CMD does; the second number is
  what the hang watchdog reads (a pulse that goes on while the output stops: a hung
  command; a pulse that stops: a dead node or wrapper),
* gives CMD the original platform's variable names next to ours (``MASTER_IP``,
  ``MARSV2_RANK``, ``MARSV2_WHOLE_LIFE_STATE``, ...: hai_cli/marsv2.py), on every backend,
* activates the task's haienv when the launch named one (``HF_ENV_NAME``, ``VIRTUAL_ENV``):
  PATH, PYTHONPATH and the environment's variables from its metadata (about a millisecond);
  an environment that is gone fails the rank with exit code 127 and says so in its log.

It outlives the server that started it, so a restarted server finds its ranks again.
Standard library only, so it also runs in a task image that has nothing else.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import signal
import subprocess
import sys
import threading
import time

from hai_cli import control, proctree
from hai_cli.marsv2 import original_env

_MAX_LINE = 65536
DEFAULT_HEARTBEAT_S = 5.0


def _stamp() -> bytes:
    return _dt.datetime.now().strftime("[%Y-%m-%d %H:%M:%S.%f] ").encode()


class _Pulse:
    """The heartbeat thread of one rank: ``output_at`` is moved by the copy loop."""

    def __init__(self, control_dir: str, rank: int, interval_s: float) -> None:
        self.control_dir = control_dir
        self.rank = rank
        self.interval_s = interval_s
        self.output_at = time.time()  # the silence is counted from the start
        self.done = threading.Event()

    def beat(self) -> None:
        with contextlib.suppress(OSError):
            control.write_heartbeat(self.control_dir, self.rank, time.time(), self.output_at)

    def run(self) -> None:
        while not self.done.wait(self.interval_s):
            self.beat()


def _pulse_from_env() -> _Pulse | None:
    directory = os.environ.get("HAI_CONTROL_DIR")
    if not directory:
        return None
    try:
        rank = int(os.environ.get("RANK", "0"))
        interval = float(os.environ.get("HAI_HEARTBEAT_S", DEFAULT_HEARTBEAT_S))
    except ValueError:
        return None
    if not 0.05 <= interval <= 3600:
        interval = DEFAULT_HEARTBEAT_S
    return _Pulse(directory, rank, interval)


def _copy_lines(src: int, log_path: str, pulse: _Pulse | None = None) -> None:
    """Copy bytes from ``src`` to the log, stamping the start of each line."""
    with open(log_path, "ab", buffering=0) as out:
        pending = b""
        while True:
            chunk = os.read(src, 65536)
            if not chunk:
                break
            if pulse is not None:
                pulse.output_at = time.time()
            pending += chunk
            lines = pending.split(b"\n")
            pending = lines.pop()
            while len(pending) > _MAX_LINE:
                lines.append(pending[:_MAX_LINE])
                pending = pending[_MAX_LINE:]
            if lines:
                stamp = _stamp()
                out.write(b"".join(stamp + line + b"\n" for line in lines))
        if pending:
            out.write(_stamp() + pending + b"\n")


def _fail(log_path: str, status_dir: str, message: str) -> int:
    with open(log_path, "ab") as out:
        out.write(_stamp() + f"[hai] {message}\n".encode())
    control.write_atomic(control.rank_file(status_dir, control.EXIT_CODE), "127\n")
    return 127


def run(log_path: str, status_dir: str, cmd: list[str]) -> int:
    os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
    os.makedirs(status_dir, exist_ok=True)
    env: dict[str, str] | None = None  # None: this environment (no haienv)
    if os.environ.get("HF_ENV_NAME") and os.environ.get("VIRTUAL_ENV"):
        # only a task in a haienv pays for importing the activation
        from hai_cli.haienv import activation
        from hai_cli.haienv.errors import HaienvError

        try:
            env = activation.rank_environ(os.environ)
        except HaienvError as exc:
            return _fail(log_path, status_dir, f"cannot activate haienv: {exc}")
    env = dict(os.environ if env is None else env)
    env.update(original_env(env, log_path))
    proctree.become_subreaper()  # orphans of CMD's tree come back to us, setsid or not
    read_fd, write_fd = os.pipe()
    try:
        child = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=write_fd,
            stderr=write_fd,
            start_new_session=True,
        )
    except OSError as exc:
        os.close(write_fd)
        os.close(read_fd)
        return _fail(log_path, status_dir, f"cannot start {cmd[0]!r}: {exc.strerror}")
    os.close(write_fd)
    control.write_atomic(control.rank_file(status_dir, control.PID), f"{child.pid}\n")

    signalled: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        signalled.append(signum)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signum)
        proctree.signal_tree(signum, skip_group=child.pid)  # and what left the group

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    pulse = _pulse_from_env()
    if pulse is not None:
        pulse.beat()
        threading.Thread(target=pulse.run, name="heartbeat", daemon=True).start()
    # the log is copied in a thread: a process CMD left behind may hold the pipe open, and the
    # rank's end must not wait for it
    copier = threading.Thread(target=_copy_lines, args=(read_fd, log_path, pulse), daemon=True)
    copier.start()
    code = child.wait()
    on_its_own = not signalled  # read at once: a stop arriving from now on came too late
    proctree.kill_tree()  # the rank is over: nothing it started outlives it
    copier.join(timeout=5)
    if not copier.is_alive():
        os.close(read_fd)
    if pulse is not None:
        pulse.done.set()
    if code < 0:
        code = 128 - code  # killed by a signal: shell convention 128 + signum
    if on_its_own:
        control.write_atomic(control.rank_file(status_dir, control.UNSIGNALLED), "1\n")
    control.write_atomic(control.rank_file(status_dir, control.EXIT_CODE), f"{code}\n")
    return code


USAGE = "usage: hai_cli.rankrun --log FILE --status-dir DIR -- COMMAND [ARGS...]"


def parse_args(argv: list[str]) -> tuple[str, str, list[str]]:
    """(log, status dir, command) of the wrapper's fixed command line; ValueError when it is
    not that shape. (No argparse: ~8 ms of every rank's start, for a line only the backends
    write.)"""
    values: dict[str, str] = {}
    i = 0
    while i < len(argv) and argv[i] != "--":
        key, eq, value = argv[i].partition("=")
        if key not in ("--log", "--status-dir"):
            raise ValueError(f"unknown argument {argv[i]!r}")
        if not eq:
            if i + 1 >= len(argv):
                raise ValueError(f"{key} needs a value")
            i += 1
            value = argv[i]
        values[key] = value
        i += 1
    missing = [k for k in ("--log", "--status-dir") if k not in values]
    if missing:
        raise ValueError(f"missing {' and '.join(missing)}")
    cmd = argv[i + 1 :]
    if not cmd:
        raise ValueError("no command given after --")
    return values["--log"], values["--status-dir"], cmd


def main(argv: list[str] | None = None) -> int:
    try:
        log, status_dir, cmd = parse_args(sys.argv[1:] if argv is None else argv)
    except ValueError as exc:
        sys.stderr.write(f"{USAGE}\nhai_cli.rankrun: error: {exc}\n")
        return 2
    return run(log, status_dir, cmd)


if __name__ == "__main__":
    sys.exit(main())
