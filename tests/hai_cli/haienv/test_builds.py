"""``haienv build``: the digest and the plan as tables; real versioned builds with uv, offline
(a tiny wheel from the tests): built, skipped when unchanged, rebuilt beside the old version
and switched, a failure leaves the current one, a hand-made environment is not taken over."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hai_cli.haienv import builds
from hai_cli.haienv.builds import Current, plan, spec_digest
from hai_cli.haienv.meta import EnvMeta
from hai_cli.haienv.spec import parse_spec
from tests.support.haienv import BASE_PKG, Haienv


def spec(text: str) -> object:
    return parse_spec(text, "t.toml", default_name="base")


BASE = 'name = "base"\npackages = ["a"]\n[environment]\nX = "1"\n'


@pytest.mark.parametrize(
    ("other", "python", "same"),
    [
        ('# a comment\nname = "base"\npackages = [ "a" ]\n\n[environment]\nX = "1"\n', "p", True),
        ('packages = ["a"]\n[environment]\nX = "1"\n', "p", True),  # name from the file
        ('name = "base"\npackages = ["a", "b"]\n[environment]\nX = "1"\n', "p", False),
        ('name = "base"\npackages = ["a"]\n[environment]\nX = "2"\n', "p", False),
        ('name = "base"\npackages = ["a"]\nno_index = true\n[environment]\nX = "1"\n', "p", False),
        (BASE, "another interpreter", False),  # a new image's Python rebuilds
    ],
)
def test_spec_digest(other: str, python: str, same: bool) -> None:
    assert (spec_digest(spec(BASE), "p") == spec_digest(spec(other), python)) is same
    assert len(spec_digest(spec(BASE), "p")) == 16


def test_digest_names_the_python_and_the_builders_interpreter() -> None:
    pinned = spec('python = "3.11"\n')
    assert spec_digest(pinned, "a") != spec_digest(spec(""), "a")
    assert spec_digest(pinned, "a") != spec_digest(spec('python = "3.12"\n'), "a")
    # a new image's Python rebuilds even a pinned spec (its interpreter may be gone)
    assert spec_digest(pinned, "a") != spec_digest(pinned, "b")


def meta(digest: str | None) -> EnvMeta:
    return EnvMeta("base", "platform", "/e/platform/.builds/base-x", "3.11.2", "/s",
                   spec_digest=digest)  # fmt: skip


@pytest.mark.parametrize(
    ("current", "action", "why"),
    [
        (Current("absent"), "build", "no environment"),
        (Current("link", meta("d1")), "skip", "unchanged"),
        (Current("link", meta("d0")), "rebuild", "d0 -> d1"),
        (Current("link", meta(None)), "rebuild", "- -> d1"),
        (Current("link"), "build", "leads to no environment"),
        (Current("dir", meta(None)), "refuse", "made by haienv create"),
        (Current("dir", meta("d1")), "skip", "unchanged"),
        (Current("dir"), "refuse", "not an environment"),
        (Current("other"), "refuse", "haienv remove base"),
    ],
)
def test_plan(current: Current, action: str, why: str) -> None:
    decided = plan("base", "d1", current)
    assert decided.action == action and why in decided.why


# -- real builds ---------------------------------------------------------------------------


def write_spec(path: Path, wheels: Path, *, packages: tuple[str, ...] = (BASE_PKG,),
               value: str = "1") -> Path:  # fmt: skip
    pkgs = ", ".join(f'"{p}"' for p in packages)
    path.write_text(
        f'name = "base"\npackages = [{pkgs}]\nfind_links = ["{wheels}"]\nno_index = true\n'
        f'[environment]\nHAI_TEST_VALUE = "{value}"\n'
    )
    return path


def build(h: Haienv, *specs: Path) -> subprocess.CompletedProcess[str]:
    return h.run("build", "--json", *map(str, specs), env=h.as_platform())


def results(res: subprocess.CompletedProcess[str]) -> list[dict]:
    return [json.loads(line) for line in res.stdout.splitlines()]


def imports(python: Path, module: str) -> str:
    """The real path of the file ``module`` is imported from."""
    code = f"import {module}, os; print(os.path.realpath({module}.__file__))"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.slow
def test_build_skip_rebuild_and_failure(haienv: Haienv, wheelhouse: Path, tmp_path: Path) -> None:
    h, root = haienv, haienv.envs / "platform"
    spec_file = write_spec(tmp_path / "base.toml", wheelhouse)
    first = build(h, spec_file)
    assert first.returncode == 0, first.stderr
    (built,) = results(first)
    assert built["status"] == "built" and built["previous"] is None
    v1 = Path(built["prefix"])
    assert v1.parent == root / ".builds" and v1.name == f"base-{built['digest']}"
    assert os.readlink(root / "base") == f".builds/{v1.name}"  # relative: valid at any mount
    assert str(v1) in imports(root / "base/bin/python", BASE_PKG)
    on_disk = json.loads((root / "base/haienv.json").read_text())
    assert on_disk["spec_digest"] == built["digest"] and on_disk["owner"] == "platform"

    # a rank of a task with --env base[platform]: the launch names the link, the wrapper
    # resolves it once, so the task runs in version 1 even if the link moves meanwhile
    from hai_cli.haienv.activation import rank_environ

    launch = {"HF_ENV_NAME": "base", "HF_ENV_OWNER": "platform", "VIRTUAL_ENV": str(root / "base")}
    rank = rank_environ({**launch, "PATH": "/usr/bin"})
    assert rank is not None and rank["VIRTUAL_ENV"] == str(v1)
    assert rank["PATH"] == f"{v1}/bin:/usr/bin" and rank["HAI_TEST_VALUE"] == "1"

    # a user environment made now extends version 1
    h.ok("create", "mine")
    mine_python = h.envs / "alice/mine/bin/python"
    assert str(v1) in imports(mine_python, BASE_PKG)

    # unchanged: skipped, nothing touched
    stamp = (v1 / "haienv.json").stat().st_mtime_ns
    (again,) = results(build(h, spec_file))
    assert again["status"] == "skipped" and again["prefix"] == str(v1)
    assert (v1 / "haienv.json").stat().st_mtime_ns == stamp

    # changed: rebuilt beside, link switched, version 1 kept for what still uses it
    write_spec(spec_file, wheelhouse, value="2")
    (rebuilt,) = results(build(h, spec_file))
    assert rebuilt["status"] == "rebuilt" and rebuilt["previous"] == str(v1)
    v2 = Path(rebuilt["prefix"])
    assert v2 != v1 and os.path.realpath(root / "base") == str(v2)
    assert json.loads((root / "base/haienv.json").read_text())["environment"] == {
        "HAI_TEST_VALUE": "2"
    }
    assert str(v1) in imports(mine_python, BASE_PKG)  # pinned to the version it extended
    listed = json.loads(h.ok("list", "-u", "platform", "--json").stdout)
    assert [(e["name"], e["path"]) for e in listed] == [("base", str(v2))]  # .builds hidden

    # a package that cannot be installed: one line, exit 1, the current version stays
    write_spec(spec_file, wheelhouse, packages=(BASE_PKG, "hai_missingpkg"))
    failed = h.run("build", str(spec_file), env=h.as_platform())
    assert failed.returncode == 1 and failed.stdout == ""
    assert len(failed.stderr.strip().splitlines()) == 1
    assert failed.stderr.startswith("error: base[platform]: build failed: uv pip install failed")
    assert "hai-missingpkg" in failed.stderr  # (uv normalises the name)
    assert os.path.realpath(root / "base") == str(v2)
    assert sorted(p.name for p in (root / ".builds").iterdir()) == sorted(
        [".lock", v1.name, v2.name]
    )  # nothing half-made left

    # back to the first spec: its version is still there, switched to without a build
    write_spec(spec_file, wheelhouse)
    (back,) = results(build(h, spec_file))
    assert back["status"] == "rebuilt" and back["prefix"] == str(v1)
    assert back["seconds"] < 1.0

    # haienv remove (as the platform) drops the current version and its link only
    h.ok("remove", "base", "--force", env=h.as_platform())
    assert not os.path.lexists(root / "base") and not v1.exists() and v2.exists()


@pytest.mark.slow
def test_build_refuses_an_environment_made_by_hand(haienv: Haienv, tmp_path: Path) -> None:
    h = haienv
    h.ok("create", "base", "--no-extend", env=h.as_platform())
    spec_file = tmp_path / "base.toml"
    spec_file.write_text('name = "base"\n')
    res = h.run("build", str(spec_file), env=h.as_platform())
    assert res.returncode == 1
    assert res.stderr.strip() == (
        "error: base[platform]: build failed: base exists and is made by haienv create, not by a "
        "build; remove it (haienv remove base) for builds to manage it"
    )
    assert not (h.envs / "platform/.builds").exists() or not any(
        p.name.startswith("base-") for p in (h.envs / "platform/.builds").iterdir()
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "base"\npackages = "x"\n', ":2: key 'packages' must be a list"),
        ('name = "a/b"\n', ":1: key 'name' is bad"),
        ("name = \n", ":1: not valid TOML"),
    ],
)
def test_build_bad_spec_changes_nothing(haienv: Haienv, tmp_path: Path, text: str,
                                        message: str) -> None:  # fmt: skip
    good = tmp_path / "good.toml"
    good.write_text('name = "good"\n')
    bad = tmp_path / "t.toml"
    bad.write_text(text)
    res = haienv.run("build", str(good), str(bad), env=haienv.as_platform())
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.startswith(f"error: {bad}{message}") and len(res.stderr.splitlines()) == 1
    assert not (haienv.envs / "platform").exists()


def test_build_two_specs_one_name(haienv: Haienv, tmp_path: Path) -> None:
    for n in ("a", "b"):
        (tmp_path / f"{n}.toml").write_text('name = "same"\n')
    res = haienv.run("build", str(tmp_path / "a.toml"), str(tmp_path / "b.toml"))
    assert res.returncode == 2 and "two specs name environment 'same'" in res.stderr


@pytest.mark.slow
def test_concurrent_builds_make_one_version(haienv: Haienv, tmp_path: Path) -> None:
    spec_file = tmp_path / "base.toml"
    spec_file.write_text('name = "base"\n')
    cmd = [sys.executable, "-m", "haienv", "build", "--json", str(spec_file)]
    env = {**haienv.env, **haienv.as_platform()}
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert sorted(o["status"] for o in outs) == ["built", "skipped"]
    assert len({o["prefix"] for o in outs}) == 1
    assert [p.name for p in (haienv.envs / "platform/.builds").iterdir() if p.name != ".lock"]


def test_switch_replaces_only_links(tmp_path: Path) -> None:
    target = tmp_path / ".builds" / "base-1"
    target.mkdir(parents=True)
    builds.switch(str(tmp_path), "base", str(target))
    assert os.readlink(tmp_path / "base") == ".builds/base-1"
    (tmp_path / "own").mkdir()
    with pytest.raises(OSError):
        builds.switch(str(tmp_path), "own", str(target))
    assert (tmp_path / "own").is_dir() and not (tmp_path / "own").is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".builds", "base", "own"]
