"""The CLI's fast path (hai_cli/fastpath.py): the same options as the Typer commands, the
same answers, and every command line it does not fully understand left to Typer."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.core
import typer.main
from typer._click import types

from hai_cli import fastpath
from hai_cli.app import app
from tests.support.e2e import Platform, cli_command, start_platform
from tests.support.pg import ServerDatabase

KINDS = {types.INT: fastpath.INT, types.FLOAT: fastpath.FLOAT, types.STRING: fastpath.TEXT}


def _declared(cmd: Any) -> tuple[dict[str, Any], tuple[str, ...], str | None]:
    """What a Click command accepts, in the fast path's terms."""
    options: dict[str, Any] = {}
    arguments: list[str] = []
    rest = None
    for p in cmd.params:
        if isinstance(p, typer.core.TyperArgument):
            if p.nargs == -1:
                rest = p.name
            else:
                arguments.append(p.name)
            continue
        assert isinstance(p, typer.core.TyperOption), p
        if p.is_flag:
            kind = fastpath.FLAG
        elif p.multiple:
            kind = fastpath.MANY
        else:
            kind = KINDS[p.type]
        default = tuple(p.default or ()) if p.multiple else p.default
        options[p.name] = (kind, tuple(sorted(p.opts + p.secondary_opts)), default)
    return options, tuple(arguments), rest


@pytest.mark.parametrize("name", sorted(fastpath.SPECS))
def test_each_spec_declares_exactly_what_the_typer_command_takes(name: str) -> None:
    cmd = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    spec = fastpath.SPECS[name]
    options, arguments, rest = _declared(cmd)
    mine = {o.dest: (o.kind, tuple(sorted(o.names)), o.default) for o in spec.options}
    assert mine == options
    assert spec.arguments == arguments and spec.rest == rest
    assert spec.interspersed == cmd.context_settings.get("allow_interspersed_args", True)


P = fastpath.parse
NOT_MINE = [
    (fastpath.LIST, ["--help"]),
    (fastpath.LIST, ["-h"]),
    (fastpath.LIST, ["-aj"]),  # combined short flags: Click's business
    (fastpath.LIST, ["--limit"]),  # no value
    (fastpath.LIST, ["--limit", "x"]),  # Typer words the error
    (fastpath.LIST, ["--limit", "1e3"]),
    (fastpath.LIST, ["-l=5"]),
    (fastpath.LIST, ["--json=1"]),
    (fastpath.LIST, ["--bogus"]),
    (fastpath.LIST, ["--lim", "5"]),  # no abbreviations in Click either
    (fastpath.LIST, ["extra"]),
    (fastpath.STATUS, []),
    (fastpath.STATUS, ["1", "2"]),
    (fastpath.STATUS, ["1", "--help"]),
    (fastpath.LOGS, ["1", "--rank", "one"]),
    (fastpath.SUBMIT, []),
    (fastpath.SUBMIT, ["-n", "2", "--"]),  # no FILE
    (fastpath.SUBMIT, ["--nodes", "\x00"]),
    (fastpath.SUBMIT, ["--suspend-after", "soon", "--", "t.py"]),
]


@pytest.mark.parametrize(("spec", "tokens"), NOT_MINE)
def test_what_the_fast_path_leaves_to_typer(spec: fastpath.Spec, tokens: list[str]) -> None:
    with pytest.raises(fastpath._NotMine):
        P(spec, tokens)


def test_values_defaults_and_the_separator() -> None:
    v = P(fastpath.LIST, ["-s", "queued", "--state=running", "-a", "--limit=7", "--json"])
    assert v == {"state": ["queued", "running"], "all_users": True, "limit": 7, "offset": 0,
                 "page": None, "page_size": None, "as_json": True}  # fmt: skip
    assert P(fastpath.LIST, ["-p", "2", "-ps", "10"])["page_size"] == 10
    assert P(fastpath.STATUS, ["--json", "my-task"]) == {"as_json": True, "task_ref": "my-task"}
    assert P(fastpath.STATUS, ["--", "-5"])["task_ref"] == "-5"  # after --, an argument
    assert P(fastpath.LOGS, ["3", "-f", "-r", "1"]) == {
        "follow": True, "rank": 1, "attempt": None, "task_ref": "3"}  # fmt: skip
    # options take the next token whatever it looks like, as Click does
    assert P(fastpath.LOGS, ["3", "--rank", "-1"])["rank"] == -1
    s = P(fastpath.SUBMIT, ["-n", "2", "-e", "A=1", "--env", "base", "--", "t.py", "--lr", "1"])
    assert (s["nodes"], s["environments"], s["env"]) == (2, ["A=1"], ["base"])
    assert (s["file"], s["args"]) == ("t.py", ["--lr", "1"])
    # not interspersed: what follows FILE belongs to the script
    s = P(fastpath.SUBMIT, ["t.py", "-n", "3", "--help"])
    assert (s["nodes"], s["args"]) == (1, ["-n", "3", "--help"])
    assert P(fastpath.SUBMIT, ["--suspend-after", "inf", "--", "t"])["suspend_after"] == float(
        "inf"
    )


def test_completion_and_the_switch_turn_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert fastpath.enabled({})
    assert not fastpath.enabled({"_HAI_CLI_COMPLETE": "complete_bash"})
    assert not fastpath.enabled({"HAI_CLI_NO_FASTPATH": "1"})
    monkeypatch.setenv("HAI_CLI_NO_FASTPATH", "1")
    assert fastpath.run(["list"]) is None


def test_the_hot_commands_do_not_import_typer() -> None:
    """Nor dataclasses (its inspect import is ~7 ms of every command), nor what only starting a
    server, making a token, reading a client file or fitting a terminal needs."""
    code = (
        "import sys\n"
        "import hai_cli.fastpath, hai_cli.commands.tasks, hai_cli.commands.submit\n"
        "import hai_cli.workspace.before_submit, hai_cli.config, hai_cli.embedded\n"
        "from hai_cli.commands.submit import choose_haienv\n"
        "from hai_cli.workspace.before_submit import push_before_submit\n"
        "assert choose_haienv(None, True, {}) is None\n"  # what a plain submission runs
        "assert push_before_submit(None, '/', 't.py') is None\n"
        "heavy = ('typer', 'click', 'rich', 'dataclasses', 'inspect', 'subprocess', 'secrets',\n"
        "         'tomllib', 'shutil')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.fixture(scope="module")
def plat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    p = start_platform(tmp_path_factory.mktemp("fast"), 1, ServerDatabase("sqlite"))
    (p.workdir / "hello.py").write_text("print('hello from the task', flush=True)\n")
    yield p
    p.stop_everything()


def _timeless(text: str) -> str:
    """Output with clock times and ages blanked (the two runs are a moment apart)."""
    text = re.sub(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?", "<time>", text)
    text = re.sub(r"\b\d+(\.\d+)?(ms|s|m|h|d)(\d+[smh])?\b", "<age>", text)
    text = re.sub(r'"(submitted_at|started_at|ended_at|at|time)": [0-9.e+]+', r'"\1": 0', text)
    return re.sub(r" {2,}", " ", text)  # an age's width moves the table's columns


def _both(p: Platform, *args: str) -> tuple[tuple[int, str, str], ...]:
    fast = p.cli(*args)
    slow = p.cli(*args, env={"HAI_CLI_NO_FASTPATH": "1"})
    return tuple((r.returncode, _timeless(r.stdout), _timeless(r.stderr)) for r in (fast, slow))


SAME = [
    ("list",),
    ("list", "--json", "-l", "5"),
    ("list", "-a", "-s", "succeeded"),
    ("list", "-p", "1", "-ps", "2"),
    ("list", "--limit", "0"),  # a validation error: exit 2, the same line
    ("list", "--page", "1", "--offset", "3"),
    ("list", "--limit", "x"),  # left to Typer by the fast path: its usage error
    ("list", "--help"),
    ("status", "1", "--json"),
    ("status", "hello.py"),  # by name
    ("status", "424242"),  # not found: exit 3
    ("status", "no-such-name"),
    ("logs", "1"),
    ("logs", "1", "--rank", "-1"),
    ("logs", "1", "--attempt", "7"),
    ("logs", "1", "-f"),
    ("python", "missing.py", "--", "-n", "1"),  # no such file: exit 2
    ("python", "hello.py", "--", "-n", "0"),
    ("python", "hello.py", "--", "--name", "bad\x1bname"),
    ("python", "hello.py", "--", "-p", "NOPE"),  # refused by the server: 422
    ("python", "hello.py"),  # no separator: runs here
]


def test_fast_and_typer_paths_answer_alike(plat: Platform) -> None:
    first = plat.ok("python", "hello.py", "--", "-f")
    assert "hello from the task" in first.stdout
    mismatches = []
    for args in SAME:
        fast, slow = _both(plat, *args)
        if fast != slow:
            mismatches.append(f"{args}: fast {fast!r} / typer {slow!r}")
    assert not mismatches, "\n".join(mismatches)


def test_a_fast_submission_is_the_same_task(plat: Platform) -> None:
    ids = []
    for env in ({}, {"HAI_CLI_NO_FASTPATH": "1"}):
        res = plat.cli(
            "python", "-n", "1", "hello.py", "a", "--b", "--", "--name", "twin", "-e", "K=V",
            "--json", env=env,
        )  # fmt: skip
        assert res.returncode == 0, res.stderr
        ids.append(plat.json("status", res.stdout.split('"id": ')[1].split(",")[0]))
    for key in ("name", "nodes", "priority", "group", "command"):
        assert ids[0][key] == ids[1][key], key
    assert ids[0]["command"][-2:] == ["a", "--b"]
    assert Path(cli_command()[0]).exists()


def test_run_routes_and_maps_exits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HAI_CLI_NO_FASTPATH", raising=False)
    monkeypatch.delenv("_HAI_CLI_COMPLETE", raising=False)
    seen: list[dict[str, Any]] = []
    outcome: list[BaseException | None] = [None]

    def fake(values: dict[str, Any]) -> None:
        seen.append(values)
        if outcome[0] is not None:
            raise outcome[0]

    monkeypatch.setitem(fastpath.RUN, "list", fake)
    assert fastpath.run(["list", "-a"]) == 0 and seen[-1]["all_users"] is True
    assert fastpath.run(["list", "--help"]) is None and len(seen) == 1
    assert fastpath.run(["whoami"]) is None and fastpath.run([]) is None
    for raised, code in ((SystemExit(3), 3), (SystemExit(None), 0), (KeyboardInterrupt(), 1)):
        outcome[0] = raised
        assert fastpath.run(["list"]) == code
