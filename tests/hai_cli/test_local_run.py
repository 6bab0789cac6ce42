"""The original's separators, run for real: no separator runs the script here (its exit code
is hai-cli's), ``++`` runs it as a simulated rank 0 with a suspend notice through the real
control channel. No server is involved: HAI_SERVER_URL points at a closed port."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hai_cli import localrun
from tests.support.e2e import EXAMPLES, cli_command

ENVDUMP = """\
import json, os, sys
keys = [k for k in os.environ if k.startswith(("HAI_", "MARSV2_", "MASTER_", "HFAI_")) or k in
        ("RANK", "WORLD_SIZE", "SIMULATE_SUSPEND")]
print(json.dumps({"argv": sys.argv[1:], "env": {k: os.environ[k] for k in keys}}))
sys.exit(int(os.environ.get("EXIT_WITH", "0")))
"""
DEAF = "import time\nprint('working', flush=True)\ntime.sleep(60)\n"
STUBBORN = """\
import time
from hai_cli import runtime
while True:
    runtime.receive_suspend_command()  # hears the notice, never saves
    time.sleep(0.05)
"""


@pytest.fixture
def work(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    (tmp_path / "envdump.py").write_text(ENVDUMP)
    (tmp_path / "deaf.py").write_text(DEAF)
    (tmp_path / "stubborn.py").write_text(STUBBORN)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HAI_", "MARSV2_"))}
    env.update(
        HAI_HOME=str(tmp_path / "home"),
        HAI_SERVER_URL="http://127.0.0.1:1",
        HAI_TOKEN="x",
        HAI_CONTROL_DIR=str(tmp_path / "not-a-channel"),  # a local run must not use it
    )
    return tmp_path, env


def cli(work: tuple[Path, dict[str, str]], *args: str, **env: str) -> subprocess.CompletedProcess:
    cwd, base = work
    return subprocess.run(
        [*cli_command(), *args], capture_output=True, text=True, cwd=cwd,
        env={**base, **env}, stdin=subprocess.DEVNULL, timeout=60, check=False,
    )  # fmt: skip


def test_no_separator_runs_the_script_here_with_its_exit_code(work: tuple) -> None:
    res = cli(work, "python", "envdump.py", "--lr", "1", "-n", "2", EXIT_WITH="7")
    assert res.returncode == 7, res.stderr
    out = json.loads(res.stdout)
    assert out["argv"] == ["--lr", "1", "-n", "2"]  # every argument is the script's
    assert "HAI_CONTROL_DIR" not in out["env"]  # the SDK is in local mode
    assert not (work[0] / "home" / "server.json").exists()  # nothing was submitted


def test_bash_and_exec_run_here_too(work: tuple) -> None:
    script = work[0] / "run.sh"
    script.write_text('#!/bin/sh\necho "args:$*"\nexit 3\n')
    assert cli(work, "bash", "run.sh", "a", "b").stdout == "args:a b\n"
    script.chmod(0o755)
    res = cli(work, "exec", "./run.sh", "c")
    assert (res.returncode, res.stdout) == (3, "args:c\n")


def test_plus_plus_gives_a_cluster_like_environment(work: tuple) -> None:
    res = cli(work, "python", "envdump.py", "x", "++", "--life_state", "5", "-ss", "100")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    env = out["env"]
    assert out["argv"] == ["x"]
    assert env["RANK"] == env["MARSV2_RANK"] == "0" and env["WORLD_SIZE"] == "1"
    assert env["HAI_WHOLE_LIFE_STATE"] == env["MARSV2_WHOLE_LIFE_STATE"] == "5"
    assert env["MASTER_IP"] == env["MASTER_ADDR"] == "127.0.0.1" and int(env["MASTER_PORT"]) > 0
    assert env["HFAI_SIMULATE"] == "1" and env["SIMULATE_SUSPEND"] == "100"
    assert env["MARSV2_TASK_TYPE"] == "training" and env["MARSV2_NB_NAME"] == "envdump.py"
    assert Path(env["HAI_CONTROL_DIR"]).name == "control"
    assert not Path(env["HAI_CONTROL_DIR"]).exists()  # a temporary channel, removed after


def test_plus_plus_rehearses_a_suspend_and_the_resume(work: tuple) -> None:
    train = str(EXAMPLES / "train.py")
    args = ("--steps", "400", "--step-time", "0.02", "--ckpt-dir", "ck")
    res = cli(work, "python", train, *args, "++", "--suspend_seconds", "1")
    assert res.returncode == 0, res.stderr
    saved = json.loads((work[0] / "ck" / "train-local.json").read_text())["step"]
    assert 0 < saved < 400 and f"saved step {saved}; going to suspend" in res.stdout
    assert "suspend notice sent (simulated, after 1 s)" in res.stderr
    assert f"(whole_life_state {saved})" in res.stderr
    assert f"++ --life_state {saved}" in res.stderr  # how to resume, as the platform would
    again = cli(work, "python", train, *args, "++", "--life_state", str(saved))
    assert again.returncode == 0 and f"whole_life_state={saved}" in again.stdout
    assert f"start: step={saved} " in again.stdout and "done: final_step=400" in again.stdout


def test_a_script_that_never_polls_is_stopped_at_once(work: tuple) -> None:
    res = cli(work, "python", "deaf.py", "++", "-ss", "0.5")
    assert res.returncode == 143 and "suspend_unheard" in res.stderr, res.stderr


def test_no_go_suspend_within_the_grace_is_sigterm(
    work: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd, env = work
    monkeypatch.chdir(cwd)
    code = localrun.simulate(
        [sys.executable, "stubborn.py"],
        {**env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        name="stubborn",
        life_state=0,
        suspend_seconds=0.3,
        resume_hint="hai-cli python stubborn.py",
        grace_s=0.5,
    )
    assert code == 143
