"""The rank wrapper: timestamps, exit codes, process groups, signals."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest


def run(tmp_path, *cmd: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hai_cli.rankrun",
            "--log",
            str(tmp_path / "rank.log"),
            "--status-dir",
            str(tmp_path / "st"),
            "--",
            *cmd,
        ],
        start_new_session=True,
    )


def test_lines_are_stamped_and_exit_code_recorded(tmp_path) -> None:
    p = run(
        tmp_path,
        sys.executable,
        "-c",
        "import sys; print('a'); print('b', file=sys.stderr); sys.stdout.write('tail'); sys.exit(3)",
    )
    assert p.wait(30) == 3
    lines = (tmp_path / "rank.log").read_text().splitlines()
    assert len(lines) == 3
    assert all(re.match(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\] ", x) for x in lines)
    assert {x[29:] for x in lines} == {"a", "b", "tail"}
    assert (tmp_path / "st" / "exit_code").read_text().strip() == "3"


def test_signal_reaches_the_whole_group_and_is_reported(tmp_path) -> None:
    p = run(tmp_path, "bash", "-c", "sleep 60 & sleep 60; wait")
    pid_file = tmp_path / "st" / "pid"
    deadline = time.time() + 20
    while not pid_file.exists() and time.time() < deadline:
        time.sleep(0.02)
    pgid = int(pid_file.read_text())
    os.killpg(pgid, signal.SIGTERM)
    assert p.wait(30) == 143
    assert (tmp_path / "st" / "exit_code").read_text().strip() == "143"
    deadline = time.time() + 5
    alive = "?"
    while time.time() < deadline:
        out = subprocess.run(
            ["ps", "-o", "pid=,stat=", "-g", str(pgid)], capture_output=True, text=True
        )
        alive = [x for x in out.stdout.splitlines() if "Z" not in x.split()[-1]]
        if not alive:
            break
        time.sleep(0.05)
    assert not alive


def test_missing_command(tmp_path) -> None:
    p = run(tmp_path, "/nonexistent/cmd")
    assert p.wait(30) == 127
    assert "cannot start" in (tmp_path / "rank.log").read_text()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_gone(pid: int, within: float = 10) -> bool:
    deadline = time.time() + within
    while time.time() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


# a command that leaves a process behind in a new session holding the log pipe, prints its
# pid, and exits 0: the rank must end at once and take the escapee with it
ESCAPE = (
    "import os, sys, time\n"
    "if os.fork() == 0:\n"
    "    os.setsid()\n"
    "    if os.fork() == 0:\n"
    "        os.write(1, f'escapee {os.getpid()}\\n'.encode())\n"
    "        time.sleep(300)\n"
    "    os._exit(0)\n"
    "time.sleep(0.5)\n"
    "print('main done', flush=True)\n"
)


def test_a_rank_that_forks_a_setsid_daemon_and_exits_ends_and_leaves_nothing(tmp_path) -> None:
    started = time.time()
    p = run(tmp_path, sys.executable, "-c", ESCAPE)
    assert p.wait(30) == 0
    assert time.time() - started < 10  # not held by the escapee's copy of the pipe
    log = (tmp_path / "rank.log").read_text()
    assert "main done" in log
    escapee = int(re.search(r"escapee (\d+)", log).group(1))
    assert _wait_gone(escapee), "the setsid escapee outlived its rank"
    assert (tmp_path / "st" / "exit_code").read_text().strip() == "0"
    assert (tmp_path / "st" / "exit_unsignalled").exists()  # it ended on its own


# a rank whose escapee ignores SIGTERM: the platform's stop (SIGTERM to the wrapper, then
# SIGKILL to the command's group after the grace) still ends it
STUBBORN = (
    "import os, signal, sys, time\n"
    "if os.fork() == 0:\n"
    "    os.setsid()\n"
    "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "    os.write(1, f'escapee {os.getpid()}\\n'.encode())\n"
    "    time.sleep(300)\n"
    "    os._exit(0)\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "os.write(1, f'main {os.getpid()}\\n'.encode())\n"
    "time.sleep(300)\n"
)


def test_stop_reaches_an_escapee_and_the_kill_ends_it(tmp_path) -> None:
    p = run(tmp_path, sys.executable, "-c", STUBBORN)
    log_path = tmp_path / "rank.log"
    # each process writes its line in one write(2): with PYTHONUNBUFFERED (CI's shells set it)
    # print() makes one write per piece, and the parent's and the escapee's pieces interleaved
    deadline = time.time() + 30
    found = None
    while time.time() < deadline and found is None:
        found = re.search(r"escapee (\d+)\n", log_path.read_text() if log_path.exists() else "")
        time.sleep(0.05)
    assert found, f"the escapee never reported its pid: {log_path.read_text()!r}"
    escapee = int(found.group(1))
    assert os.getpgid(escapee) != int((tmp_path / "st" / "pid").read_text())  # it escaped
    p.send_signal(signal.SIGTERM)  # what the platform's stop does first: ignored by both
    time.sleep(0.5)
    assert _alive(escapee)
    os.killpg(int((tmp_path / "st" / "pid").read_text()), signal.SIGKILL)  # the kill wait ends
    assert p.wait(30) == 137
    assert not (tmp_path / "st" / "exit_unsignalled").exists()  # it was told to stop
    assert _wait_gone(escapee), "the escapee survived its rank's kill"


def test_children_left_in_the_group_are_killed_when_the_command_exits(tmp_path) -> None:
    p = run(tmp_path, "bash", "-c", "sleep 300 & echo child $!; exit 4")
    assert p.wait(30) == 4
    child = int(re.search(r"child (\d+)", (tmp_path / "rank.log").read_text()).group(1))
    assert _wait_gone(child)


def test_heartbeat_goes_on_while_the_command_is_silent(tmp_path) -> None:
    """The pulse (wrapper alive) moves on; the last-output time stays where the command
    stopped printing: what tells a hung command from a dead node."""
    from hai_cli import control

    ctl = tmp_path / "control"
    ctl.mkdir()
    env = {**os.environ, "HAI_CONTROL_DIR": str(ctl), "RANK": "2", "HAI_HEARTBEAT_S": "0.1"}
    p = subprocess.Popen(
        [sys.executable, "-m", "hai_cli.rankrun", "--log", str(tmp_path / "rank.log"),
         "--status-dir", str(tmp_path / "st"), "--",
         sys.executable, "-c", "import time; print('hi', flush=True); time.sleep(1.5)"],
        env=env, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.time() + 20
        while "hi" not in _read(tmp_path / "rank.log") and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(0.8)
        said = control.read_control(ctl)
        beat_at, output_at = said.pulses[2]
        assert time.time() - beat_at < 0.6, "the pulse goes on"
        assert beat_at - output_at > 0.5, "the output time stays at the last line"
    finally:
        assert p.wait(30) == 0
    assert list(said.pulses) == [2]


def test_no_heartbeat_outside_a_task(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HAI_CONTROL_DIR"}
    p = subprocess.Popen(
        [sys.executable, "-m", "hai_cli.rankrun", "--log", str(tmp_path / "rank.log"),
         "--status-dir", str(tmp_path / "st"), "--", "true"],
        env=env,
    )  # fmt: skip
    assert p.wait(30) == 0
    assert sorted(os.listdir(tmp_path / "st")) == ["exit_code", "exit_unsignalled", "pid"]


def _read(path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--log", "l", "--status-dir", "s", "--", "true"], ("l", "s", ["true"])),
        (["--status-dir=s", "--log=l", "--", "a", "--log", "x"], ("l", "s", ["a", "--log", "x"])),
        (["--log", "l", "--status-dir", "s", "--"], "no command"),
        (["--log", "l", "--", "true"], "missing --status-dir"),
        (["--log"], "--log needs a value"),
        (["--bogus", "1", "--", "true"], "unknown argument"),
        ([], "missing --log and --status-dir"),
    ],
)
def test_the_wrapper_command_line(argv: list[str], expected: object) -> None:
    from hai_cli.rankrun import parse_args

    if isinstance(expected, tuple):
        assert parse_args(argv) == expected
    else:
        with pytest.raises(ValueError, match=str(expected)):
            parse_args(argv)


def test_the_backend_starts_the_wrapper_without_site(tmp_path) -> None:
    """procs.wrapper_command: ``python -S`` (no site, no import hook), hai_cli still found,
    and the rank's own python gets its usual site-packages back."""
    from hai_server.backends.local.procs import wrapper_command

    probe = "import sys; print('site' in sys.modules, any('site-packages' in p for p in sys.path))"
    cmd = wrapper_command(sys.executable, str(tmp_path / "rank.log"), str(tmp_path / "st"),
                          [sys.executable, "-c", probe])  # fmt: skip
    assert cmd[1] == "-S"
    assert subprocess.run(cmd, timeout=30).returncode == 0
    assert (tmp_path / "rank.log").read_text().rstrip().endswith("True True")
    bad = subprocess.run([*cmd[:4], "--log"], capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "--log needs a value" in bad.stderr
