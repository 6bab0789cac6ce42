"""Which haienv a submission names (--env, inheritance, --no-inherit), and the rank wrapper
activating it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hai_cli.commands.submit import choose_haienv, split_env_options
from hai_cli.haienv import meta


def fake(root: Path, owner: str, name: str) -> str:
    prefix = root / owner / name
    (prefix / "bin").mkdir(parents=True)
    meta.write(meta.EnvMeta(name, owner, str(prefix), "3.11.2", str(prefix / "lib/site"),
                            environment={"FROM_ENV": name}))  # fmt: skip
    return str(prefix)


@pytest.mark.parametrize(
    ("values", "pairs", "name"),
    [
        (["A=1", "mine", "B=x=y"], ["A=1", "B=x=y"], "mine"),
        (["A=1"], ["A=1"], None),
        ([], [], None),
    ],
)
def test_split_env_options(values, pairs, name) -> None:
    assert split_env_options(values) == (pairs, name)


def test_two_names_is_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        split_env_options(["a", "b"])
    assert exc.value.code == 2


@pytest.mark.parametrize(
    ("named", "inherit", "shell", "expected"),
    [
        ("mine", True, {"HF_ENV_NAME": "other"}, ("mine", "alice")),  # --env wins
        ("base", True, {}, ("base", "platform")),  # resolved here: none of mine, the platform's
        ("away", True, {}, ("away", None)),  # not visible here: the server resolves it
        ("mine[bob]", True, {}, ("mine", "bob")),
        (None, True, {"HF_ENV_NAME": "x", "HF_ENV_OWNER": "bob"}, ("x", "bob")),
        (None, True, {"HF_ENV_NAME": "mine"}, ("mine", "alice")),
        (None, False, {"HF_ENV_NAME": "x", "HF_ENV_OWNER": "bob"}, None),  # --no-inherit
        (None, True, {}, None),
    ],
)
def test_choose_haienv(tmp_path, named, inherit, shell, expected) -> None:
    fake(tmp_path / "envs", "alice", "mine")
    fake(tmp_path / "envs", "platform", "base")
    environ = {"HAI_HOME": str(tmp_path), "USER": "alice", **shell}
    assert choose_haienv(named, inherit, environ) == expected


@pytest.mark.parametrize("bad", ["a/b", "..", "x" * 65, "m[../x]"])
def test_bad_env_names_are_usage_errors(tmp_path, bad) -> None:
    with pytest.raises(SystemExit) as exc:
        choose_haienv(bad, True, {"HAI_HOME": str(tmp_path), "USER": "alice"})
    assert exc.value.code == 2


def wrapper(tmp_path: Path, env: dict[str, str], *cmd: str) -> tuple[int, str]:
    args = [sys.executable, "-m", "hai_cli.rankrun", "--log", str(tmp_path / "rank.log"),
            "--status-dir", str(tmp_path / "st"), "--", *cmd]  # fmt: skip
    code = subprocess.run(args, env=env, timeout=60).returncode
    return code, (tmp_path / "rank.log").read_text()


def test_rank_wrapper_activates(tmp_path) -> None:
    prefix = fake(tmp_path / "envs", "alice", "mine")
    env = {**os.environ, "HF_ENV_NAME": "mine", "HF_ENV_OWNER": "alice", "VIRTUAL_ENV": prefix}
    probe = "import os; print(os.environ['PATH'].split(':')[0], os.environ['FROM_ENV'])"
    code, log = wrapper(tmp_path, env, sys.executable, "-c", probe)
    assert code == 0, log
    assert log.split("] ", 1)[1].strip() == f"{prefix}/bin mine"


def test_rank_wrapper_fails_clearly_when_the_environment_is_gone(tmp_path) -> None:
    env = {**os.environ, "HF_ENV_NAME": "gone", "VIRTUAL_ENV": str(tmp_path / "envs/a/gone")}
    code, log = wrapper(tmp_path, env, "true")
    assert code == 127
    assert "[hai] cannot activate haienv: environment" in log and "is gone" in log
    assert (tmp_path / "st/exit_code").read_text().strip() == "127"
