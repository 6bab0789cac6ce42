"""Experiment files (hai_cli/experiment.py): the strict schema, its errors naming the key and
the line, and dump -> parse giving the same experiment back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hai_cli.experiment import Experiment, ExperimentError, dump, parse

FULL = """\
name: bert
kind: bash
script: run.sh
args: --lr 0.1 'a b'
workdir: sub
nodes: 2
group: a100
priority: 30
haienv: torch[alice]
image: reg/img:1
environment:
  SEED: 1
  EMPTY: ""
options:
  suspend_after: 5
"""


def test_every_key() -> None:
    assert parse(FULL) == Experiment(
        name="bert", kind="bash", script="run.sh", args=("--lr", "0.1", "a b"), workdir="sub",
        nodes=2, group="a100", priority="30", env="torch[alice]", image="reg/img:1",
        environment={"SEED": "1", "EMPTY": ""}, suspend_after=5.0,
    )  # fmt: skip
    assert parse("script: t.py\nargs: [-x, 1, 2.5]\n").args == ("-x", "1", "2.5")


ERRORS = [
    ("name: x\n", "exp.yml: key 'script' is missing"),
    ("script: t.py\nnodse: 2\n", "exp.yml:2: unknown key 'nodse' (known: name, kind,"),
    ("script: t.py\nnodes: two\n", "exp.yml:2: key 'nodes' must be a whole number"),
    ("script: t.py\nnodes: 0\n", "exp.yml:2: key 'nodes' must be at least 1, got 0"),
    ("script: t.py\nnodes: 1.5\n", "exp.yml:2: key 'nodes' must be a whole number"),
    ("script: t.py\nnodes: true\n", "exp.yml:2: key 'nodes' must be a whole number"),
    ("script: [a]\n", "exp.yml:1: key 'script' must be a string"),
    ("script:\n", "exp.yml:1: key 'script' has no value"),
    ("script: t.py\nkind: java\n", "exp.yml:2: key 'kind' must be one of python, bash, exec"),
    ("script: t.py\nargs: {a: 1}\n", "exp.yml:2: key 'args' must be a string"),
    ("script: t.py\nargs: \"'open\"\n", "exp.yml:2: key 'args' is not a shell word list"),
    ("script: t.py\nenvironment: [A]\n", "exp.yml:2: key 'environment' must be a mapping"),
    ("script: t.py\nenvironment:\n  A: [1]\n", "exp.yml:3: key 'environment.A' must be a string"),
    ("script: t.py\noptions:\n  watch: 1\n", "exp.yml:3: unknown option 'watch'"),
    ("script: t.py\noptions:\n  suspend_after: x\n", "exp.yml:3: key 'options.suspend_after' must be a number"),
    ("script: t.py\nscript: u.py\n", "exp.yml:2: key 'script' is given twice"),
    ("script: t.py\nenv: a\nhaienv: b\n", "exp.yml:3: give env or haienv, not both"),
    ("script: \"a\\0b\"\n", "exp.yml:1: key 'script' must not contain NUL"),
    ("- a\n- b\n", "exp.yml: an experiment file is a mapping"),
    ("", "exp.yml: an experiment file is a mapping"),
    ("script: [t.py\n", "exp.yml:2: not valid YAML"),
    ("script: !!python/object:os.system x\n", "exp.yml:1: key 'script' has a tag this format"),
    ("a: &x [*x]\n", "exp.yml:1: unknown key 'a'"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_errors_name_the_key_and_line(text: str, message: str) -> None:
    with pytest.raises(ExperimentError) as info:
        parse(text, "exp.yml")
    assert str(info.value).startswith(message), str(info.value)


def test_a_huge_file_is_refused() -> None:
    with pytest.raises(ExperimentError, match="larger than"):
        parse("script: t.py\n" + "#" * (1 << 20), "exp.yml")


words = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)


@given(
    args=st.lists(words, max_size=5),
    environment=st.dictionaries(st.from_regex(r"[A-Z_][A-Z0-9_]{0,8}", fullmatch=True), words),
    name=words.filter(bool),
    priority=st.sampled_from(["HIGH", "AUTO", "30", "-1"]),
)
def test_dump_then_parse_is_the_same_experiment(
    args: list[str], environment: dict[str, str], name: str, priority: str
) -> None:
    exp = Experiment(
        script="dir/t.py", name=name, args=tuple(args), workdir="/w", nodes=3, group="g",
        priority=priority, env="e[o]", image="i:1", environment=environment, suspend_after=2.5,
    )  # fmt: skip
    assert parse(dump(exp)) == exp


def test_other_commands_do_not_pay_for_yaml() -> None:
    """PyYAML is imported by run/describe only: hai-cli list's budget is tens of ms."""
    import subprocess
    import sys

    code = "import sys, hai_cli.app; print('yaml' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"
