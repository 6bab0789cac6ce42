"""Tasks in haienv environments: a 2-rank task imports the environment's packages on every rank
when submitted from a shell where `source haienv NAME` ran, or with --env NAME; not with
--no-inherit. Bad --env refused before anything is stored; remove refused while a task uses
the environment."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.e2e import EXAMPLES, Platform, cli_command
from tests.support.haienv import BASE_PKG, OWN_PKG, Haienv

PROBE = EXAMPLES.parent / "tests/e2e/scripts/envprobe.py"
SCRIPT = shutil.which("haienv", path=str(Path(sys.executable).parent))


@pytest.fixture(scope="module")
def envs(platform2: Platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Haienv]:
    """platform/base (hai_basepkg) and the user's ``mine`` extending it (+ hai_ownpkg)."""
    from tests.support.wheels import make_wheel

    wheels = tmp_path_factory.mktemp("wheels")
    make_wheel(wheels, BASE_PKG)
    make_wheel(wheels, OWN_PKG)
    h = Haienv(platform2.home, user=platform2.env.get("USER") or "root")
    h.env = {k: v for k, v in platform2.env.items() if not k.startswith("HF_ENV")}
    h.env.pop("VIRTUAL_ENV", None)
    spec = platform2.home / "base.toml"
    spec.write_text(
        f'name = "base"\npackages = ["{BASE_PKG}"]\nfind_links = ["{wheels}"]\nno_index = true\n'
    )
    h.ok("create", "--from", str(spec), env=h.as_platform())
    h.ok("create", "mine")
    h.ok("install", "mine", "--no-index", "--find-links", str(wheels), OWN_PKG)
    platform2.env = h.env  # the CLI runs in a shell without an active environment
    yield h


def probes(plat: Platform, task_id: int) -> list[dict[str, str]]:
    out = []
    for rank in (0, 1):
        line = next(x for x in plat.log(task_id, rank=rank).splitlines() if "PROBE " in x)
        out.append(dict(kv.split("=", 1) for kv in line.split("PROBE ", 1)[1].split()))
    return out


def in_env(plat: Platform, h: Haienv, task_id: int, name: str) -> None:
    task = plat.wait_state(task_id, "succeeded", timeout=90)
    assert task["environment"] == f"{name}[{h.user}]"
    prefix = str(h.envs / h.user / name)
    for rank, p in enumerate(probes(plat, task_id)):
        assert p["rank"] == str(rank) and p["env"] == name
        assert p["prefix"] == prefix, p
        assert p["own"].startswith(prefix) and p["base"].startswith(str(h.envs / "platform/base"))


def submit_from_shell(
    plat: Platform, h: Haienv, activate: str, *opts: str
) -> subprocess.CompletedProcess[str]:
    """``hai-cli python envprobe.py -- -n 2 OPTS`` in bash, after ``source haienv ACTIVATE``."""
    cli = " ".join(cli_command())
    bash = f"source {SCRIPT} {activate} || exit 9\n{cli} python {PROBE} -- -n 2 --json {' '.join(opts)}\n"
    return subprocess.run(["bash", "-c", bash], capture_output=True, text=True, env=h.env,
                          cwd=plat.workdir, timeout=120)  # fmt: skip


@pytest.mark.skipif(SCRIPT is None, reason="the haienv script is not installed here")
def test_inherited_from_source_haienv(platform2: Platform, envs: Haienv) -> None:
    res = submit_from_shell(platform2, envs, "mine")
    assert res.returncode == 0, res.stderr
    in_env(platform2, envs, int(json.loads(res.stdout)["id"]), "mine")


def test_env_option(platform2: Platform, envs: Haienv) -> None:
    task_id = platform2.submit(PROBE, opts=("-n", "2", "--env", "mine"))
    in_env(platform2, envs, task_id, "mine")
    status = platform2.ok("status", str(task_id)).stdout
    assert re.search(rf"environment\s+mine\[{envs.user}\]", status), status


@pytest.mark.skipif(SCRIPT is None, reason="the haienv script is not installed here")
def test_no_inherit_runs_without(platform2: Platform, envs: Haienv) -> None:
    res = submit_from_shell(platform2, envs, "mine", "--no-inherit")
    assert res.returncode == 0, res.stderr
    task_id = int(json.loads(res.stdout)["id"])
    task = platform2.wait_state(task_id, "succeeded", timeout=90)
    assert task["environment"] is None
    for p in probes(platform2, task_id):
        assert p["env"] == "none" and p["own"] == "none" and p["base"] == "none"
        assert not p["prefix"].startswith(str(envs.envs))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ("nosuch", "no environment nosuch["),
        ("mine[nobody]", "no environment mine[nobody]"),
        ("a/b", "bad environment name 'a/b'"),
        ("x" * 65, "at most 64"),
    ],
)
def test_bad_env_refused_before_storing(
    platform2: Platform, envs: Haienv, env: str, message: str
) -> None:
    before = platform2.json("list", "--limit", "1000")["total"]
    res = platform2.cli("python", str(PROBE), "--", "--env", env)
    assert res.returncode == 2, res.stderr
    assert res.stderr.count("\n") == 1 and message in res.stderr, res.stderr
    assert platform2.json("list", "--limit", "1000")["total"] == before


def test_remove_refused_while_a_task_uses_it(platform2: Platform, envs: Haienv) -> None:
    envs.ok("create", "busy")
    sleeper = platform2.workdir / "sleeper.py"
    sleeper.write_text("import time\nprint('up', flush=True)\ntime.sleep(600)\n")
    task_id = platform2.submit(sleeper, opts=("--env", "busy"))
    platform2.wait_state(task_id, "running", "queued", timeout=30)
    res = envs.run("remove", "busy")
    assert res.returncode == 2, res.stderr
    assert re.match(
        rf"error: busy\[{envs.user}\] is used by task\(s\) {task_id} \((queued|running|starting)\)",
        res.stderr,
    )
    assert (envs.envs / envs.user / "busy/haienv.json").exists()
    platform2.ok("stop", str(task_id))
    platform2.wait_state(task_id, "stopped", timeout=30)
    envs.ok("remove", "busy")
    assert not (envs.envs / envs.user / "busy").exists()


def test_a_removed_environment_fails_the_rank_clearly(platform2: Platform, envs: Haienv) -> None:
    envs.ok("create", "gone")
    sleeper = platform2.workdir / "sleeper.py"
    sleeper.write_text("import time\nprint('up', flush=True)\ntime.sleep(600)\n")
    blocker = platform2.submit(sleeper, opts=("-n", "2"))  # both nodes busy: the next waits
    platform2.wait_state(blocker, "running", timeout=30)
    task_id = platform2.submit(PROBE, opts=("--env", "gone"))
    assert platform2.task(task_id)["state"] == "queued"
    envs.ok("remove", "gone", "--force")
    platform2.ok("stop", str(blocker))
    task = platform2.wait_state(task_id, "failed", timeout=60)
    assert task["exit_code"] == 127
    assert "[hai] cannot activate haienv: environment" in platform2.log(task_id)
