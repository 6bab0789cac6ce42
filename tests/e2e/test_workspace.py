"""Workspace sync through the CLI against a real embedded server (both databases): a push
/ pull round trip, a changed file moving alone, .hfignore, and a task submitted from inside
a workspace running in the cluster's copy."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.support.e2e import Platform, cli_command


def ws(plat: Platform, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli_command(), *args], capture_output=True, text=True, timeout=120,
                          env=plat.env, cwd=cwd, stdin=subprocess.DEVNULL)  # fmt: skip


def ok_json(plat: Platform, cwd: Path, *args: str) -> Any:
    res = ws(plat, cwd, *args, "--json")
    assert res.returncode == 0, res
    return json.loads(res.stdout)


def tree(root: Path) -> dict[str, tuple[bytes, bool]]:
    out = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".hfai"]
        for n in names:
            p = Path(folder) / n
            out[str(p.relative_to(root))] = (p.read_bytes(), os.access(p, os.X_OK))
    return out


def test_push_pull_round_trip_and_a_changed_file_moves_alone(platform: Platform) -> None:
    proj = platform.home / "proj"
    (proj / "sub").mkdir(parents=True)
    (proj / "train.py").write_text("import os\nprint('cwd', os.getcwd())\n")
    (proj / "sub/data.bin").write_bytes(os.urandom(300_000))
    (proj / "run.sh").write_text("echo hi\n")
    os.chmod(proj / "run.sh", 0o755)
    for ignored in (".git/HEAD", "__pycache__/m.pyc", ".venv/bin/python", "x.ckpt"):
        (proj / ignored).parent.mkdir(parents=True, exist_ok=True)
        (proj / ignored).write_text("never moves")
    (proj / ".hfignore").write_text("*.ckpt\n")

    made = ok_json(platform, proj, "workspace", "init", "proj")
    remote = Path(made["remote_path"])
    first = ok_json(platform, proj, "workspace", "push")
    assert sorted(first["moved"]) == [".hfignore", "run.sh", "sub/data.bin", "train.py"]
    assert not (remote / ".git").exists() and not (remote / "x.ckpt").exists()
    assert os.access(remote / "run.sh", os.X_OK)

    (proj / "train.py").write_text("import os\nprint('cwd', os.getcwd(), 'v2')\n")
    diff = ws(platform, proj, "workspace", "diff")
    assert diff.returncode == 1 and diff.stdout.splitlines() == ["M train.py"], diff
    second = ok_json(platform, proj, "workspace", "push")
    assert second["moved"] == ["train.py"] and second["unchanged"] == 3
    assert second["bytes"] == len((proj / "train.py").read_bytes())
    assert ws(platform, proj, "workspace", "diff").returncode == 0

    # another machine's copy: init the same name elsewhere and pull
    other = platform.home / "other"
    other.mkdir()
    ok_json(platform, other, "workspace", "init", "proj")
    pulled = ok_json(platform, other, "workspace", "pull")
    assert len(pulled["moved"]) == 4
    assert tree(other) == {k: v for k, v in tree(proj).items()
                           if k in {".hfignore", "run.sh", "sub/data.bin", "train.py"}}  # fmt: skip
    # a change made on the cluster comes back alone
    (remote / "sub/new.txt").write_text("from a task")
    again = ok_json(platform, other, "workspace", "pull")
    assert (
        again["moved"] == ["sub/new.txt"] and (other / "sub/new.txt").read_text() == "from a task"
    )

    listed = ok_json(platform, proj, "workspace", "list")["workspaces"]
    assert [(w["name"], w["files"]) for w in listed] == [("proj", 5)]


def test_a_task_submitted_inside_a_workspace_runs_in_its_copy(platform: Platform) -> None:
    proj = platform.home / "proj2"
    (proj / "sub").mkdir(parents=True)
    (proj / "train.py").write_text("import os\nprint('cwd', os.getcwd())\n")
    remote = Path(ok_json(platform, proj, "workspace", "init", "proj2")["remote_path"])
    res = ws(platform, proj / "sub", "python", "../train.py", "--", "--json")
    assert res.returncode == 0, res
    assert "workspace proj2: pushed 1 file(s) first" in res.stderr
    task = json.loads(res.stdout)
    assert task["workdir"] == str(remote / "sub")
    assert task["command"][-1] == str(remote / "train.py")
    done = platform.wait_state(task["id"], "succeeded", "failed", timeout=60)
    assert done["state"] == "succeeded", done
    assert f"cwd {remote / 'sub'}" in platform.log(task["id"])


def test_bad_input_and_removal(platform: Platform) -> None:
    proj = platform.home / "proj3"
    proj.mkdir()
    for name in ("../x", "a b", ".hidden", "x" * 65):
        res = ws(platform, proj, "workspace", "init", name)
        assert res.returncode == 2 and "bad workspace name" in res.stderr, res
    res = ws(platform, proj, "workspace", "push")
    assert res.returncode == 2 and "not in a workspace" in res.stderr
    ok_json(platform, proj, "workspace", "init", "proj3")
    assert ok_json(platform, proj, "workspace", "remove", "proj3")["removed"]
    res = ws(platform, proj, "workspace", "push")
    assert res.returncode == 3 and "no workspace proj3" in res.stderr, res
    res = ws(platform, proj, "workspace", "remove", "proj3")
    assert res.returncode == 3 and "Traceback" not in res.stderr
