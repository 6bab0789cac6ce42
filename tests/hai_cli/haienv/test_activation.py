"""What activation changes (pure), and that the shell code's deactivate undoes it exactly."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from hai_cli.haienv import activation as a
from hai_cli.haienv import meta as m
from hai_cli.haienv.errors import HaienvError, NotFound


def env(
    name: str, owner: str, prefix: str, extends: m.EnvMeta | None = None, **kw: object
) -> m.EnvMeta:
    base = m.Base(extends.owner, extends.name, extends.prefix) if extends else None
    return m.EnvMeta(name, owner, prefix, "3.11.2", f"{prefix}/lib/python3.11/site-packages",
                     extends=base, **kw)  # type: ignore[arg-type]  # fmt: skip


BASE = env("base", "platform", "/e/platform/base", environment={"A": "base", "B": "base"},
           search_dirs=("/opt/b",))  # fmt: skip
MINE = env(
    "mine", "alice", "/e/alice/mine", BASE, environment={"A": "mine"}, search_dirs=("/opt/m",)
)


def test_activation_of_a_chain() -> None:
    act = a.activation([MINE, BASE])
    assert act.set["VIRTUAL_ENV"] == "/e/alice/mine"
    assert (act.set["HF_ENV_NAME"], act.set["HF_ENV_OWNER"]) == ("mine", "alice")
    assert act.set["PIP_PYTHON"] == "/e/alice/mine/bin/python"
    assert (act.set["A"], act.set["B"]) == ("mine", "base")  # the environment's own wins
    assert act.prepend == {"PATH": ("/e/alice/mine/bin", "/e/platform/base/bin"),
                           "PYTHONPATH": ("/opt/m", "/opt/b")}  # fmt: skip
    assert act.unset == ("PYTHONHOME",)


@pytest.mark.parametrize(
    ("before", "path"),
    [
        ({"PATH": "/usr/bin:/bin"}, "/e/alice/mine/bin:/e/platform/base/bin:/usr/bin:/bin"),
        ({}, "/e/alice/mine/bin:/e/platform/base/bin"),
        ({"PATH": "/e/alice/mine/bin:/usr/bin"}, "/e/alice/mine/bin:/e/platform/base/bin:/usr/bin"),
    ],
)
def test_apply_prepends_once(before: dict[str, str], path: str) -> None:
    out = a.apply(a.activation([MINE, BASE]), {**before, "PYTHONHOME": "/x"})
    assert out["PATH"] == path
    assert "PYTHONHOME" not in out


def write_chain(tmp: Path) -> tuple[m.EnvMeta, m.EnvMeta]:
    base = env("base", "platform", str(tmp / "platform/base"), environment={"B": "1"})
    mine = env("mine", "alice", str(tmp / "alice/mine"), base)
    for e in (base, mine):
        Path(e.prefix).mkdir(parents=True)
        m.write(e)
    return base, mine


def test_rank_environ_reads_the_chain(tmp_path: Path) -> None:
    base, mine = write_chain(tmp_path)
    assert a.rank_environ({"PATH": "/bin"}) is None  # no environment: untouched
    out = a.rank_environ({"PATH": "/bin", "HF_ENV_NAME": "mine", "VIRTUAL_ENV": mine.prefix})
    assert out is not None
    assert out["PATH"] == f"{mine.prefix}/bin:{base.prefix}/bin:/bin"
    assert out["B"] == "1"


def test_rank_environ_of_a_removed_environment(tmp_path: Path) -> None:
    base, mine = write_chain(tmp_path)
    shutil.rmtree(base.prefix)
    with pytest.raises(NotFound, match=r"base .*platform/base of mine\[alice\] is gone"):
        a.rank_environ({"HF_ENV_NAME": "mine", "VIRTUAL_ENV": mine.prefix})


def test_a_loop_is_an_error(tmp_path: Path) -> None:
    one = env("one", "u", str(tmp_path / "u/one"))
    two = env("two", "u", str(tmp_path / "u/two"), one)
    one = one.replace(extends=m.Base("u", "two", two.prefix))
    for e in (one, two):
        Path(e.prefix).mkdir(parents=True)
        m.write(e)
    with pytest.raises(HaienvError, match="extends itself"):
        a.load_chain(one.prefix)


def test_strip_removes_an_activated_environment(tmp_path: Path) -> None:
    _base, mine = write_chain(tmp_path)
    active = a.apply(a.activation(a.load_chain(mine.prefix)), {"PATH": "/usr/bin", "X": "1"})
    assert a.strip(active) == {"PATH": "/usr/bin", "X": "1"}
    assert a.strip({"PATH": "/usr/bin"}) == {"PATH": "/usr/bin"}


SHELLS = [s for s in ("sh", "bash", "dash", "zsh") if shutil.which(s)]


@pytest.mark.parametrize("shell", SHELLS)
def test_shell_activate_then_deactivate_restores(shell: str, tmp_path: Path) -> None:
    code = a.render_sh(a.activation([MINE, BASE]))
    script = (
        'export PATH="/usr/bin:/bin" PYTHONHOME=/ph A=orig; unset PYTHONPATH HF_ENV_NAME\n'
        "PS1='$ '\n"
        "before=$(env | sort)\n"
        f"eval {_sh_quote(code)}\n"
        'printf "%s|%s|%s|%s|%s|%s\\n" "$PATH" "$VIRTUAL_ENV" "$A" "${PYTHONHOME-unset}" "$PS1" "$PYTHONPATH"\n'
        "deactivate\n"
        "after=$(env | sort)\n"
        '[ "$before" = "$after" ] && echo SAME || { echo DIFF; diff <(echo "$before") <(echo "$after"); }\n'
        "command -v deactivate >/dev/null 2>&1 && echo STILL || echo GONE\n"
        'printf "%s\\n" "$PS1"\n'
    )
    if shell in ("sh", "dash"):
        script = script.replace(
            '{ echo DIFF; diff <(echo "$before") <(echo "$after"); }', "echo DIFF"
        )
    res = subprocess.run([shell, "-c", script], capture_output=True, text=True, timeout=30)
    lines = res.stdout.splitlines()
    assert lines[0] == (
        "/e/alice/mine/bin:/e/platform/base/bin:/usr/bin:/bin|/e/alice/mine|mine|unset|(mine) $ |"
        "/opt/m:/opt/b"
    ), res.stderr
    assert lines[1:] == ["SAME", "GONE", "$ "], res.stdout + res.stderr


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def test_meta_round_trip() -> None:
    assert m.from_json(MINE.to_json()) == MINE
    assert json.loads(MINE.to_json())["format"] == m.FORMAT
    with pytest.raises(HaienvError, match="unreadable environment metadata x"):
        m.from_json('{"name": "a"}', "x")
