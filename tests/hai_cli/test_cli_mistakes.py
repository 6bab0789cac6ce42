"""Forty-odd mistakes a user makes with hai-cli, each a table row: the exit code and the one
line that says what is wrong (no traceback, nothing sent or changed). The first table needs no
server (the CLI refuses before it connects: it points at a closed port to prove it); the second
runs against a real embedded server on both databases."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.e2e import Platform, cli_command

SCRIPT = "train.py"
NOT_UTF8 = os.fsdecode(b"caf\xe9.py")

OFFLINE = [
    # (arguments, exit code, the message's words)
    (["python", "missing.py"], 2, "no such file: missing.py"),
    (["python", SCRIPT, "--", "-p"], 2, "option -p needs a value"),
    (["python", SCRIPT, "--", "-n", "2", "--name"], 2, "option --name needs a value"),
    (["python", "-g"], 2, "option -g needs a value"),
    (["python", SCRIPT, "--", "-n", "0"], 2, "--nodes must be at least 1, got 0"),
    (
        ["python", SCRIPT, "--", "--name", "a\x1b[2Jb"],
        2,
        "--name contains the control or formatting character U+001B",
    ),
    (["python", SCRIPT, "--", "--name", "x\x1b]0;pwned\x07"], 2, "U+001B"),
    (["python", SCRIPT, "--", "--name", "gpj.\u202eexe"], 2, "U+202E"),
    (["python", SCRIPT, "--", "--name", "a\u009bb"], 2, "U+009B"),
    (
        ["python", SCRIPT, "--", "--name", "x" * 300],
        2,
        "--name is 300 characters long; at most 255",
    ),
    (["python", SCRIPT, "--", "-g", "g\x1b[1m"], 2, "--group contains the control"),
    (["python", SCRIPT, "--", "-e", "1BAD=x"], 2, "bad environment variable name '1BAD'"),
    (["python", SCRIPT, "--", "-e", "A-B=x"], 2, "bad environment variable name 'A-B'"),
    (["python", SCRIPT, "--", "-e", "NOEQUALS"], 2, "bad -e value 'NOEQUALS': expected KEY=VALUE"),
    (
        ["python", SCRIPT, "--", "-e", "BIG=" + "v" * 40000],
        2,
        "environment variable BIG is 40000 bytes long",
    ),
    (["python", SCRIPT, "--", "-i", "a b"], 2, "bad image 'a b'"),
    (["python", SCRIPT, "--", "--suspend-after", "-1"], 2, "--suspend-after must be >= 0 seconds"),
    (["python", SCRIPT, *["x" * 120_000] * 5, "--"], 2, "bytes in all; at most 524288"),
    (["python", NOT_UTF8], 2, "is not valid UTF-8"),
    (["python", NOT_UTF8, "--"], 2, "is not valid UTF-8"),
    (["python", "missing.py", "--"], 2, "no such file: missing.py"),
    (["python", "missing.py", "++"], 2, "no such file: missing.py"),
    (["python", ".", "++"], 2, "not a file: ."),
    (["exec", SCRIPT], 2, "not executable: train.py"),
    (["python", SCRIPT, "++", "-n", "2"], 2, "unknown option after ++: '-n'"),
    (["python", "-n", "2", SCRIPT, "++"], 2, "platform options (-n) submit a task: use --"),
    (["python", SCRIPT, "++", "--life_state"], 2, "option --life_state needs a value"),
    (["python", SCRIPT, "++", "-ss", "-5"], 2, "--suspend_seconds must be between 0 and"),
    (["python", SCRIPT, "++", "-ss", "inf"], 2, "--suspend_seconds must be between 0 and"),
    (["python", SCRIPT, "++", "-ls", str(2**70)], 2, "--life_state must be between"),
    (["list", "--limit", "0"], 2, "--limit must be between 1 and 1000, got 0"),
    (["list", "--limit", str(2**70)], 2, "--limit must be between 1 and 1000"),
    (["list", "--offset", "-1"], 2, "--offset must be between 0 and 2147483647, got -1"),
    (["logs", "1", "--rank", "-1"], 2, "--rank must be between 0 and 9999, got -1"),
    (["logs", "1", "--attempt", "-1"], 2, "--attempt must be between 0 and 2147483647, got -1"),
    (["logs", "1", "--attempt", str(2**63)], 2, "--attempt must be between 0 and 2147483647"),
    (["server", "start", "--nodes", "0"], 2, "--nodes must be between 1 and 256, got 0"),
    (["server", "start", "--port", "70000"], 2, "--port must be between 1 and 65535, got 70000"),
    (["list"], 4, "cannot reach the server at http://127.0.0.1:1"),
    (["status", "3"], 4, "cannot reach the server"),
    (["status", "some-name"], 4, "cannot reach the server"),
    (["status", "a\x07b"], 2, "task name contains the control or formatting character U+0007"),
    (["logs", "x" * 300], 2, "task name is 300 characters long; at most 255"),
]
# click's own usage errors: exit 2, the last line says what is wrong
USAGE = [
    (
        ["list", "--limit", "ten"],
        "Error: Invalid value for '-l' / '--limit': 'ten' is not a valid int",
    ),
    (["stop"], "error: say which tasks to stop: IDs, a filter"),
    (["frobnicate"], "Error: No such command 'frobnicate'"),
]


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cli_command(), *args], capture_output=True, text=True, cwd=cwd, env=env,
        stdin=subprocess.DEVNULL, timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    work = tmp_path_factory.mktemp("mistakes")
    (work / SCRIPT).write_text("print('hi')\n")
    with open(os.path.join(os.fsencode(work), b"caf\xe9.py"), "w") as fh:  # not UTF-8
        fh.write("print('hi')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAI_")}
    env.update(HAI_HOME=str(work / "home"), HAI_SERVER_URL="http://127.0.0.1:1", HAI_TOKEN="x")
    return work, env


@pytest.mark.parametrize(("args", "code", "words"), OFFLINE)
def test_offline_mistakes(
    offline: tuple[Path, dict[str, str]], args: list[str], code: int, words: str
) -> None:
    work, env = offline
    res = _run(args, work, env)
    assert res.returncode == code, (args, res.returncode, res.stderr)
    assert "Traceback" not in res.stderr and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], res.stderr
    assert not (work / "home" / "server.json").exists()  # no embedded server was started


@pytest.mark.parametrize(("args", "last_line"), USAGE)
def test_usage_mistakes(
    offline: tuple[Path, dict[str, str]], args: list[str], last_line: str
) -> None:
    work, env = offline
    res = _run(args, work, env)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith(last_line), res.stderr


ONLINE = [
    (["status", "99999"], 3, "no task 99999"),
    (["status", str(2**70)], 3, f"no task {2**70}"),
    (["logs", "99999"], 3, "no task 99999"),
    (["stop", "99999"], 3, "no task 99999"),
    (["why", "99999"], 3, "no task 99999"),
    (["python", SCRIPT, "--", "-g", "nope"], 2, "unknown group 'nope'"),
    (["python", SCRIPT, "--", "-p", "URGENT"], 2, "unknown priority 'URGENT'"),
    (["python", SCRIPT, "--", "-n", "5"], 2, "asks for 5 nodes but group 'default' has 1"),
    (["list", "--state", "sleeping"], 2, "unknown state 'sleeping'"),
    (["admin", "user", "add", "Bad Name"], 2, "bad user name 'Bad Name'"),
    (["admin", "token", "revoke", "999999"], 3, "no token 999999"),
    (["admin", "node", "cordon", "no-such-node"], 3, "no-such-node"),
    (["server", "start"], 2, "already running"),
]


def test_online_mistakes(platform: Platform) -> None:
    (platform.workdir / SCRIPT).write_text("print('hi')\n")
    before = platform.json("list", "--all", "--limit", "1000")["total"]
    for args, code, words in ONLINE:
        res = platform.cli(*args)
        assert res.returncode == code, (args, res.returncode, res.stderr)
        lines = res.stderr.strip().splitlines()
        assert "Traceback" not in res.stderr, res.stderr
        assert lines[-1].startswith("error: ") and words in lines[-1], (args, res.stderr)
    bad = platform.cli("list", env={"HAI_SERVER_URL": _url(platform), "HAI_TOKEN": "hai_wrong"})
    assert bad.returncode == 5 and "invalid or revoked token" in bad.stderr
    assert platform.json("list", "--all", "--limit", "1000")["total"] == before  # nothing made


def _url(platform: Platform) -> str:
    return str(platform.json("server", "status")["url"])
