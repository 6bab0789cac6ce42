"""The README, followed from the top, works: its shell blocks run in order in one bash
session (as if pasted into one terminal) on a fresh HAI_HOME, and every command's exit code
and output are checked against the table below. A README command the table does not know
fails the test, so the table (and this test) follow the README.

Two blocks are not run, each for a stated reason (SKIPPED); the install command's prefix is
checked as text (it installs what running needs only) and the rest of that line runs, with
this checkout's venv standing in for the one it would create. The embedded server runs on
its default database (SQLite), as a reader's would. Command synopses with placeholders (the
workspace and Jupyter sections) are ```text blocks, not commands to paste: they are not run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.e2e import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

INSTALL = (
    "python3 -m pip install -q uv && uv venv -q --allow-existing --python 3.11 .venv && "
    "uv pip install -q -p .venv -e . && "
)
SKIPPED = {
    # how the block's first command starts -> why it is not run here
    INSTALL.replace("-e . && ", "-e '.[test]' && ") + ".venv/bin/task test": (
        "runs this very test suite"
    ),
    "hai-up config > config.sh": "deploys a platform to Kubernetes or Docker (tests/hai_up)",
}
MARK = "@@readme@@"

# (a regex the README command matches, its exit code, regexes its output must match)
EXPECTED: list[tuple[str, int, tuple[str, ...]]] = [
    (r"^\.venv/bin/hai-cli python examples/train\.py --steps 20 -- -f && .*server stop$", 0,
     (r"submitted task 1 \(train\.py\)", r"done: final_step=20", r"task 1 succeeded",
      r"stopped the embedded server")),
    (r"^source \.venv/bin/activate$", 0, ()),
    (r"^hai-cli server start --nodes 2 ", 0, (r"embedded server .*running|started",)),
    (r"--steps 200 -- -n 2 -p LOW --name long", 0, (r"submitted task 2 \(long\): 2 node",)),
    (r"--steps 5 -- -p HIGH --name urgent -f", 0,
     (r"submitted task 3 \(urgent\)", r"done: final_step=5", r"task 3 succeeded")),
    (r"^hai-cli list ", 0, (r"\n\s*3\s+urgent\s+succeeded", r"\n\s*2\s+long\s+(queued|starting|running)")),
    (r"^hai-cli status long ", 0,
     (r"task 2 long", r"preempted to make room for task 3", r"requeued")),
    (r"^hai-cli logs long -f ", 0,
     (r"start: step=[1-9]\d* restart_count=1 whole_life_state=[1-9]",
      r"done: final_step=200", r"task 2 succeeded")),
    (r"^hai-cli python examples/rendezvous\.py -- -n 2 -f ", 0,
     (r"rank 0/2", r"task 4 succeeded")),
    (r"--steps 100 -- --suspend-after 3 -f ", 0,
     (r"suspend notice: saved step \d+", r"restart_count=1", r"done: final_step=100",
      r"task 5 succeeded")),
    (r"--steps 300 -- -n 2 --name big ", 0, (r"submitted task 6 \(big\): 2 node",)),
    (r"^hai-cli python examples/train\.py -- --name small ", 0, (r"submitted task 7 \(small\)",)),
    (r"^hai-cli why small ", 0, (r"task 7", r"(?i)node|capacity|free")),
    (r"^hai-cli stop big small$", 0, (r"task 6 \(big\): stop", r"task 7 \(small\): stopped")),
    (r"^hai-cli server stop$", 0, (r"stopped the embedded server",)),
    (r"^hai-cli python examples/train\.py --steps 3 +#", 0,
     (r"^start: step=0 restart_count=0 whole_life_state=0 rank=0", r"done: final_step=3")),
    (r"--steps 3 -- -n 2 -p HIGH -g default -e SEED=1 --name bert -f$", 0,
     (r"submitted task 8 \(bert\): 2 node\(s\), group default, priority HIGH",
      r"task 8 succeeded")),
    (r"--steps 50 \+\+ --suspend_seconds 2 --life_state 5$", 0,
     (r"whole_life_state=5", r"suspend notice sent \(simulated, after 2 s\)",
      r"go_suspend\(\) called", r"\+\+ --life_state \d+")),
    (r"^hai-cli describe bert > bert\.yml ", 0, ()),
    (r"^hai-cli run bert\.yml -p LOW -f ", 0, (r"task 9 \(bert\): 2 node.*priority LOW", r"task 9 succeeded")),
    (r"^haienv create torch ", 0, (r"created torch\[",)),
    (r"rendezvous\.py -- -n 2 --env torch -f ", 0, (r"rendezvous ok", r"task 10 succeeded")),
    (r"^HF_ENV_NAME=torch hai-cli python examples/rendezvous\.py", 0, (r"task 11 succeeded",)),
    (r"^source haienv torch ", 0, ()),
    (r"^python -c 'import sys; print\(sys\.prefix\)'", 0, (r"/torch\n",)),
    (r"^deactivate; source \.venv/bin/activate ", 0, ()),
    (r"^haienv list ", 0, (r"torch",)),
    (r"^haienv config append torch --extra-environment SEED=1 ", 0, ()),
    (r"^haienv remove torch ", 0, (r"torch",)),
]  # fmt: skip


def shell_blocks(text: str) -> list[list[str]]:
    """The README's ```bash blocks, each a list of its command lines."""
    return [
        [line for line in block.splitlines() if line.strip()]
        for block in re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M)
    ]


def expectation(line: str) -> tuple[int, tuple[str, ...]]:
    found = [(code, outs) for pattern, code, outs in EXPECTED if re.search(pattern, line)]
    assert len(found) == 1, f"README command {line!r} matches {len(found)} table rows"
    return found[0]


def test_the_readme_from_the_top(tmp_path: Path) -> None:
    blocks = shell_blocks((REPO / "README.md").read_text())
    assert blocks[0][0].startswith(INSTALL), "the first command installs what running needs"
    assert "[test]" not in blocks[0][0]
    skipped = [b for b in blocks if b[0].startswith(tuple(SKIPPED))]
    assert len(skipped) == len(SKIPPED), "a skipped block changed"
    lines = [line for b in blocks if b not in skipped for line in b]
    lines[0] = lines[0].removeprefix(INSTALL)
    checks = [expectation(line) for line in lines]

    work = tmp_path / "checkout"  # what a reader has: the examples and the venv
    shutil.copytree(REPO / "examples", work / "examples")
    (work / ".venv").symlink_to(REPO / ".venv")
    script = "".join(f'{{ {line}\n}} 2>&1\necho "{MARK} $?"\n' for line in lines)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HAI_", "HF_ENV", "HAIENV", "VIRTUAL_ENV", "PYTHON"))
    }
    env.update(
        HAI_HOME=str(tmp_path / "hai"),
        HOME=str(tmp_path / "home"),
        PATH="/usr/local/bin:/usr/bin:/bin",
        COLUMNS="100",
    )
    try:
        res = subprocess.run(
            ["bash", "--norc", "--noprofile"], input=script, capture_output=True, text=True,
            cwd=work, env=env, timeout=600, check=False,
        )  # fmt: skip
    finally:
        subprocess.run(
            [str(REPO / ".venv/bin/hai-cli"), "server", "stop", "--tasks"],
            capture_output=True, env=env, cwd=work, timeout=60, check=False,
        )  # fmt: skip
    parts = res.stdout.split(MARK)
    assert len(parts) == len(lines) + 1, f"the session ended early:\n{res.stdout}\n{res.stderr}"
    for i, (line, (code, outs)) in enumerate(zip(lines, checks, strict=True)):
        out = parts[i] if i == 0 else parts[i].split("\n", 1)[1]
        got = int(parts[i + 1].split("\n", 1)[0])
        assert got == code, f"{line!r} exited {got}, not {code}:\n{out}"
        for pattern in outs:
            assert re.search(pattern, out, flags=re.M), f"{line!r}: no {pattern!r} in:\n{out}"
        assert "Traceback" not in out, f"{line!r}:\n{out}"
