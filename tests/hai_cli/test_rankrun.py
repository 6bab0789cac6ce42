"""The rank wrapper: timestamps, exit codes, process groups, signals."""

import os
import re
import signal
import subprocess
import sys
import time


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
