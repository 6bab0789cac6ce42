"""``hai-cli run exp.yml`` and ``describe TASK`` on a real embedded server: describe | run
gives an equal submission (the round trip), the file's values can be overridden, and a bad
file is refused with the key and line, nothing submitted."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.support.e2e import EXAMPLES, Platform, cli_command

pytestmark = pytest.mark.e2e
TRAIN = EXAMPLES / "train.py"


def test_describe_then_run_is_the_same_submission(platform: Platform) -> None:
    (platform.workdir / "train.py").write_text(TRAIN.read_text())
    first = platform.submit(
        "train.py", "--steps", "2", "--step-time", "0", "--ckpt-dir", "a b 'c'",
        opts=("--name", "rt", "-p", "HIGH", "-e", "SEED=1", "-e", "X=a=b: c", "-e", "E=",
              "--suspend-after", "30"),  # no -i: the local backend refuses images
    )  # fmt: skip
    platform.wait_state(first, "succeeded")
    text = platform.ok("describe", "rt").stdout
    assert text.startswith("name: rt\nscript: train.py\n"), text
    (platform.workdir / "rt.yml").write_text(text)
    second = platform.json("run", "rt.yml")["id"]
    assert second != first
    a, b = platform.json("describe", str(first)), platform.json("describe", str(second))
    assert a == b
    assert a["env"] == {"SEED": "1", "X": "a=b: c", "E": ""} and a["suspend_after"] == 30
    assert a["image"] is None and a["priority"] == "HIGH"
    platform.wait_state(second, "succeeded")
    # the file again, from another directory, with the command line's overrides
    sub = platform.workdir / "elsewhere"
    sub.mkdir()
    res = subprocess.run(
        [*cli_command(), "run", "../rt.yml", "-p", "LOW", "-n", "1", "-f"],
        capture_output=True, text=True, env=platform.env, cwd=sub, timeout=90, check=False,
    )  # fmt: skip
    assert res.returncode == 0 and "done: final_step=2" in res.stdout, res.stderr
    third = platform.json("status", "rt")
    assert third["priority"] == "LOW" and third["workdir"] == str(platform.workdir)


BAD = [
    ("nodes: 2\n", "bad.yml: key 'script' is missing"),
    ("script: train.py\nnodes: -3\n", "bad.yml:2: key 'nodes' must be at least 1, got -3"),
    ("script: train.py\nprio: HIGH\n", "bad.yml:2: unknown key 'prio'"),
    ("script: train.py\npriority: URGENT\n", "unknown priority 'URGENT'"),
    ("script: nope.py\n", "no such file: nope.py"),
    ("script: train.py\nworkdir: /nonexistent/x\n", "workdir /nonexistent/x: No such file"),
    ("script: train.py\nenvironment:\n  1BAD: x\n", "bad environment variable name '1BAD'"),
]


def test_bad_files_are_refused_with_key_and_line(platform: Platform) -> None:
    (platform.workdir / "train.py").write_text(TRAIN.read_text())
    before = platform.json("list")["total"]
    for text, message in BAD:
        (platform.workdir / "bad.yml").write_text(text)
        res = platform.cli("run", "bad.yml")
        assert res.returncode == 2 and "Traceback" not in res.stderr, (text, res.stderr)
        assert res.stderr.startswith("error: ") and message in res.stderr, (text, res.stderr)
    res = platform.cli("run", "missing.yml")
    assert res.returncode == 2 and "missing.yml: No such file" in res.stderr
    assert platform.json("list")["total"] == before  # nothing was submitted


def test_describe_is_the_owners_only(platform: Platform) -> None:
    mine = platform.submit(TRAIN, "--steps", "1", "--step-time", "0")
    added = platform.ok("admin", "user", "add", "ex-eve").stdout
    token = next(w for w in added.split() if w.startswith("hai_"))
    eve = {"HAI_SERVER_URL": platform.json("whoami")["url"], "HAI_TOKEN": token}
    res = platform.cli("describe", str(mine), env=eve)
    assert res.returncode == 3 and f"no task {mine}" in res.stderr
    assert json.loads(platform.ok("describe", str(mine), "--json").stdout)["nodes"] == 1
