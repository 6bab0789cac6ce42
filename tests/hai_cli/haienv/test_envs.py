"""Real environments made with uv, offline: tiny wheels built by the tests, installed with
--no-index --find-links. Every bad input: its exit code, one line, nothing left on disk."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.e2e import cli_command
from tests.support.haienv import BASE_PKG, OWN_PKG, Haienv

pytestmark = pytest.mark.slow


def tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` with a digest of its content (symlinks by target)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_symlink():
            out[str(p)] = "-> " + os.readlink(p)
        elif p.is_file():
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def imports(python: Path, *modules: str) -> subprocess.CompletedProcess[str]:
    code = "import importlib, sys\nfor n in sys.argv[1:]: print(n, importlib.import_module(n).__file__)"
    return subprocess.run([str(python), "-c", code, *modules], capture_output=True, text=True)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Iterator[Haienv]:
    """platform/base (with hai_basepkg, from a spec) and alice's ``mine`` extending it."""
    h = Haienv(tmp_path_factory.mktemp("haienv") / "hai")
    spec = h.home.parent / "base.toml"
    spec.write_text(
        f'name = "base"\npackages = ["{BASE_PKG}"]\nfind_links = ["{wheelhouse}"]\n'
        'no_index = true\n[environment]\nHAI_TEST_FROM = "base"\n'
    )
    h.ok("create", "--from", str(spec), env=h.as_platform())
    h.ok("create", "mine")
    h.ok("install", "mine", "--no-index", "--find-links", str(wheelhouse), OWN_PKG)
    yield h


def test_extended_sees_base_and_own_base_unchanged(made: Haienv, wheelhouse: Path) -> None:
    base, mine = made.envs / "platform/base", made.envs / "alice/mine"
    before = tree(base)
    res = imports(mine / "bin/python", BASE_PKG, OWN_PKG)
    assert res.returncode == 0, res.stderr
    assert f"{base}/lib" in res.stdout and f"{mine}/lib" in res.stdout
    res = imports(base / "bin/python", OWN_PKG)
    assert res.returncode != 0 and "No module named 'hai_ownpkg'" in res.stderr
    # installing more into the extended environment never touches the base
    from tests.support.wheels import make_wheel

    make_wheel(wheelhouse, "hai_thirdpkg")
    made.ok("install", "mine", "--no-index", "--find-links", str(wheelhouse), "hai_thirdpkg")
    assert tree(base) == before
    listed = json.loads(made.ok("list", "--json").stdout)
    assert [(e["user"], e["name"], e["extends"]) for e in listed] == [
        ("alice", "mine", "base[platform]")
    ]
    assert listed[0]["path"] == listed[0]["prefix"] == str(mine)


def test_list_all_user_and_table(made: Haienv) -> None:
    everyone = json.loads(made.ok("list", "-a", "--json").stdout)
    assert [(e["user"], e["name"]) for e in everyone] == [("alice", "mine"), ("platform", "base")]
    assert {"user", "name", "path", "extends", "python"} <= set(everyone[0])
    assert made.ok("list", "-u", "nobody").stdout.startswith("nobody has no environments")
    table = made.ok("list", "-u", "platform").stdout.splitlines()
    assert table[0].split() == ["USER", "NAME", "PYTHON", "EXTENDS", "PATH"]
    assert table[1].split()[:2] == ["platform", "base"]
    assert all(len(line) <= 80 for line in table)
    # hai-cli venv is the same command
    same = subprocess.run([*cli_command(), "venv", "list", "-a", "--json"], capture_output=True,
                          text=True, env=made.env)  # fmt: skip
    assert same.returncode == 0, same.stderr
    assert json.loads(same.stdout) == everyone


def test_source_haienv_and_deactivate(made: Haienv) -> None:
    script = shutil.which("haienv", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the haienv script is not installed next to this interpreter")
    bash = (
        f"source {script} mine || exit 9\n"
        'echo "$HF_ENV_NAME $HF_ENV_OWNER $HAI_TEST_FROM"\n'
        f"python -c 'import {BASE_PKG}, {OWN_PKG}, sys; print(sys.prefix)'\n"
        "deactivate\n"
        'echo "after:${HF_ENV_NAME:-none}"\n'
        f"command -v python >/dev/null && python -c 'import {OWN_PKG}' 2>/dev/null && echo LEAK\n"
        "true\n"
    )
    res = subprocess.run(["bash", "-c", bash], capture_output=True, text=True, env=made.env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [
        "mine alice base", str(made.envs / "alice/mine"), "after:none",
    ], res.stderr  # fmt: skip
    # an unknown one: the shell is left as it was, one line on stderr
    res = subprocess.run(["bash", "-c", f"source {script} nosuch; echo rc=$? ${{VIRTUAL_ENV:-}}"],
                         capture_output=True, text=True, env=made.env)  # fmt: skip
    assert res.stdout.strip() == "rc=3"
    assert res.stderr.strip().startswith("error: no environment 'nosuch'")


def test_set_env_from_python(made: Haienv) -> None:
    code = (
        "import haienv, os\n"
        "print(haienv.set_env('mine'))\n"
        f"import {BASE_PKG}, {OWN_PKG}\n"
        "print(os.environ['HF_ENV_NAME'], os.environ['PATH'].split(':')[0])\n"
        "print([e['name'] for e in haienv.get_envs()])\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=made.env)
    mine = made.envs / "alice/mine"
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [str(mine), f"mine {mine}/bin", "['mine']"]


def test_config_append_show_clear(made: Haienv, tmp_path: Path) -> None:
    made.ok("config", "append", "mine", "--extra-search-dir", str(tmp_path),
            "--extra-environment", "K=v=1")  # fmt: skip
    shown = json.loads(made.ok("config", "show", "mine", "--json").stdout)
    assert shown == {"extra-search-dir": [str(tmp_path)], "extra-environment": {"K": "v=1"}}
    code = made.ok("activate", "mine").stdout
    assert "K=v=1; export K" in code and str(tmp_path) in code
    made.ok("config", "clear", "mine", "--extra-environment")
    shown = json.loads(made.ok("config", "show", "mine", "--json").stdout)
    assert shown == {"extra-search-dir": [str(tmp_path)], "extra-environment": {}}
    made.ok("config", "clear", "mine")
    assert json.loads(made.ok("config", "show", "mine", "--json").stdout)["extra-search-dir"] == []
    # someone else's: readable, not changeable
    res = made.run("config", "append", "base", "--extra-environment", "K=v")
    assert res.returncode == 3 and "you have no environment 'base'" in res.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["create", "mine"], 2, "environment 'mine' already exists"),
        (["create", "a/b"], 2, "bad environment name 'a/b'"),
        (["create", ".."], 2, "bad environment name '..'"),
        (["create", "my env"], 2, "bad environment name 'my env'"),
        (["create", "x" * 65], 2, "is 65 characters; at most 64"),
        (["create", "a\x01b"], 2, "bad environment name 'a\\x01b'"),
        (["create", "n1", "--extends", "nosuch"], 3, "no environment 'nosuch'"),
        (["create", "n2", "--extends", "base[nobody]"], 3, "no environment base[nobody]"),
        (["create", "n3", "--no-extend", "-p", "3.2"], 2, "no Python '3.2' on this machine"),
        (["create", "n4", "--no-extend", "--extends", "base"], 2, "contradict"),
        (["create", "n5", "--extra-environment", "NOEQUALS"], 2, "bad --extra-environment"),
        (["create", "n6", "--from", "/nonexistent.toml"], 2, "cannot read spec"),
        (["remove", "nosuch"], 3, "you have no environment 'nosuch'"),
        (["remove", "base"], 3, "you have no environment 'base'"),
        (["activate", "nosuch"], 3, "no environment 'nosuch'"),
        (["list", "-u", "../x"], 2, "bad owner name"),
        (["frobnicate"], 2, "invalid choice"),
    ],
)
def test_bad_input(made: Haienv, args: list[str], code: int, message: str) -> None:
    before = tree(made.envs)
    res = made.run(*args)
    assert res.returncode == code, res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], res.stderr
    assert "Traceback" not in res.stderr
    assert tree(made.envs) == before


def test_bad_spec_names_line_and_key(made: Haienv, tmp_path: Path) -> None:
    spec = tmp_path / "broken.toml"
    spec.write_text('name = "broken"\npython = "3.11"\npackages = "numpy"\n')
    before = tree(made.envs)
    res = made.run("create", "--from", str(spec))
    assert res.returncode == 2
    assert (
        res.stderr.strip() == f"error: {spec}:3: key 'packages' must be a list of non-empty strings"
    )
    assert tree(made.envs) == before


def test_failed_install_leaves_nothing(made: Haienv, tmp_path: Path, wheelhouse: Path) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(
        f'packages = ["not_in_the_wheelhouse"]\nfind_links = ["{wheelhouse}"]\nno_index = true\n'
    )
    before = tree(made.envs)
    res = made.run("create", "--from", str(spec))
    assert res.returncode == 1
    assert res.stderr.startswith("error: uv pip install failed") and res.stderr.count("\n") == 1
    assert tree(made.envs) == before and not (made.envs / "alice/s").exists()


def test_interrupted_create_leaves_nothing(made: Haienv) -> None:
    target = made.envs / "alice/interrupted"
    proc = subprocess.Popen([sys.executable, "-m", "haienv", "create", "interrupted"],
                            env=made.env, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 30
    while not (target / ".haienv-creating").exists() and time.monotonic() < deadline:
        time.sleep(0.002)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip() == "error: interrupted"
    assert not target.exists(), sorted(p.name for p in target.iterdir())


def test_create_clears_what_a_killed_create_left(made: Haienv) -> None:
    left = made.envs / "alice/left"
    left.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    (left / ".haienv-creating").write_text(f"{dead.pid}\n")
    (left / "junk").write_text("half made")
    assert "left" not in made.ok("list").stdout  # no metadata: not an environment
    made.ok("create", "left", "--no-extend")
    assert not (left / "junk").exists() and (left / "haienv.json").exists()
    made.ok("remove", "left", "--force")
    # a directory that is not ours is never deleted
    (made.envs / "alice/notours").mkdir()
    (made.envs / "alice/notours/data").write_text("keep")
    res = made.run("create", "notours")
    assert res.returncode == 2 and "exists and is not an environment" in res.stderr
    assert (made.envs / "alice/notours/data").read_text() == "keep"


def test_remove_refuses_a_base_and_asks_the_server(made: Haienv) -> None:
    made.ok("create", "child", "--extends", "mine")
    res = made.run("remove", "mine")
    assert res.returncode == 2 and "mine[alice] is the base of child[alice]" in res.stderr
    # no server to ask: said clearly, nothing removed
    res = made.run(
        "remove", "child", env={"HAI_SERVER_URL": "http://127.0.0.1:9", "HAI_TOKEN": "t"}
    )
    assert res.returncode == 4, res.stderr
    assert "cannot check whether tasks use child[alice]" in res.stderr and "--force" in res.stderr
    assert (made.envs / "alice/child/haienv.json").exists()
    made.ok("remove", "child", "--force")
    assert not (made.envs / "alice/child").exists()


def test_standalone_and_remove(made: Haienv) -> None:
    out = json.loads(made.ok("create", "solo", "--no-extend", "--json").stdout)
    assert out["extends"] is None
    solo = made.envs / "alice/solo"
    assert imports(solo / "bin/python", BASE_PKG).returncode != 0  # sees nothing of the base
    made.ok("remove", "solo", "--force")
    assert not solo.exists()


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A 32 KiB tmpfs (root only): too small for a venv."""
    mnt = tmp_path / "full"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32k", "tmpfs", str(mnt)],
                         capture_output=True, text=True)  # fmt: skip
    if res.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {res.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_disk_leaves_nothing(haienv: Haienv, tiny_fs: Path) -> None:
    root = tiny_fs / "alice"
    res = haienv.run("create", "big", "--no-extend", env={"HAIENV_PATH": str(root)})
    assert res.returncode == 1, res.stderr
    assert res.stderr.count("\n") == 1 and "No space left on device" in res.stderr, res.stderr
    assert list(root.iterdir()) == []
