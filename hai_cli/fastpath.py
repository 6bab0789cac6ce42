"""The commands people type most, run without importing Typer (about half of the CLI's
start-up): ``list``, ``status``, ``logs`` and the submit commands ``python|bash|exec``.

A command line is taken here only when every token is understood: known options with
well-formed values, the right number of arguments. Anything else (``--help``, completion,
an unknown option, ``-n abc``, a missing argument, combined short flags) returns None and
goes to the Typer app, which prints its usual help and errors. Both paths call the same
functions (hai_cli/commands/tasks.py, hai_cli/commands/submit.py), and
tests/hai_cli/test_fastpath.py checks that each SPEC below declares exactly the options,
types and defaults of the Typer command, so the two cannot drift apart.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

FLAG, INT, FLOAT, TEXT, MANY = "flag", "int", "float", "text", "many"


class Opt(NamedTuple):  # NamedTuple, not dataclass: importing dataclasses costs ~7 ms
    dest: str
    kind: str  # FLAG, INT, FLOAT, TEXT (one value) or MANY (repeatable text)
    names: tuple[str, ...]
    default: Any = None


class Spec(NamedTuple):
    options: tuple[Opt, ...]
    arguments: tuple[str, ...]  # names of the single-value arguments, in order
    rest: str | None = None  # the name of a trailing variadic argument
    interspersed: bool = True  # options may follow arguments (Click's default)


LIST = Spec(
    options=(
        Opt("state", MANY, ("-s", "--state"), ()),
        Opt("all_users", FLAG, ("-a", "--all"), False),
        Opt("limit", INT, ("-l", "--limit"), 50),
        Opt("offset", INT, ("--offset",), 0),
        Opt("page", INT, ("-p", "--page")),
        Opt("page_size", INT, ("-ps", "--page-size")),
        Opt("as_json", FLAG, ("--json",), False),
    ),
    arguments=(),
)
STATUS = Spec(options=(Opt("as_json", FLAG, ("--json",), False),), arguments=("task_ref",))
LOGS = Spec(
    options=(
        Opt("follow", FLAG, ("-f", "--follow"), False),
        Opt("rank", INT, ("-r", "--rank"), 0),
        Opt("attempt", INT, ("--attempt",)),
    ),
    arguments=("task_ref",),
)
SUBMIT = Spec(
    options=(
        Opt("nodes", INT, ("-n", "--nodes"), 1),
        Opt("priority", TEXT, ("-p", "--priority")),
        Opt("group", TEXT, ("-g", "--group")),
        Opt("name", TEXT, ("--name",)),
        Opt("environments", MANY, ("-e", "--environments"), ()),
        Opt("env", MANY, ("--env",), ()),
        Opt("no_inherit", FLAG, ("--no-inherit",), False),
        Opt("follow", FLAG, ("-f", "--follow"), False),
        Opt("as_json", FLAG, ("--json",), False),
        Opt("suspend_after", FLOAT, ("--suspend-after",)),
        Opt("image", TEXT, ("-i", "--image")),
        Opt("watchdog", INT, ("--watchdog",)),
        Opt("local", FLAG, ("--local",), False),
        Opt("simulate", FLAG, ("--simulate",), False),
        Opt("suspend_seconds", FLOAT, ("--suspend_seconds",)),
        Opt("life_state", INT, ("--life_state",), 0),
    ),
    arguments=("file",),
    rest="args",
    interspersed=False,
)
SPECS = {"list": LIST, "status": STATUS, "logs": LOGS, "python": SUBMIT, "bash": SUBMIT}
SPECS["exec"] = SUBMIT


class _NotMine(Exception):
    """This command line is for the Typer app."""


def _value(opt: Opt, text: str) -> Any:
    try:
        if opt.kind == INT:
            return int(text)
        if opt.kind == FLOAT:
            return float(text)
    except ValueError:
        raise _NotMine from None  # Typer words the error
    return text


def parse(spec: Spec, tokens: list[str]) -> dict[str, Any]:
    """The values of ``tokens`` under ``spec`` (each option's default when absent); raises
    _NotMine for anything Click would read differently or answer with help or an error."""
    by_name = {name: opt for opt in spec.options for name in opt.names}
    values: dict[str, Any] = {o.dest: list(o.default) if o.kind == MANY else o.default
                              for o in spec.options}  # fmt: skip
    positional: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token == "--":
            positional += tokens[i:]
            break
        if token.startswith("-") and token != "-" and not (positional and not spec.interspersed):
            name, eq, inline = token.partition("=")
            opt = by_name.get(name)
            if opt is None or (eq and not name.startswith("--")):
                raise _NotMine  # help, unknown, combined short flags, -n=2
            if opt.kind == FLAG:
                if eq:
                    raise _NotMine
                values[opt.dest] = True
                continue
            if not eq:
                if i >= len(tokens):
                    raise _NotMine
                inline = tokens[i]
                i += 1
            if opt.kind == MANY:
                values[opt.dest].append(inline)
            else:
                values[opt.dest] = _value(opt, inline)
            continue
        positional.append(token)
    need = len(spec.arguments)
    if len(positional) < need or (len(positional) > need and spec.rest is None):
        raise _NotMine
    values.update(zip(spec.arguments, positional, strict=False))
    if spec.rest is not None:
        values[spec.rest] = positional[need:]
    return values


def _list(v: dict[str, Any]) -> None:
    from hai_cli.commands.tasks import list_tasks

    list_tasks(
        v["state"], v["all_users"], v["limit"], v["offset"], v["page"], v["page_size"],
        v["as_json"],
    )  # fmt: skip


def _status(v: dict[str, Any]) -> None:
    from hai_cli.commands.tasks import show_status

    show_status(v["task_ref"], v["as_json"])


def _logs(v: dict[str, Any]) -> None:
    from hai_cli.commands.tasks import show_logs

    show_logs(v["task_ref"], v["follow"], v["rank"], v["attempt"])


def _submit(kind: str) -> Callable[[dict[str, Any]], None]:
    def run(v: dict[str, Any]) -> None:
        from hai_cli.commands.submit import run_command

        run_command(kind, v.pop("file"), v.pop("args"), **v)

    return run


RUN: dict[str, Callable[[dict[str, Any]], None]] = {
    "list": _list, "status": _status, "logs": _logs,
    "python": _submit("python"), "bash": _submit("bash"), "exec": _submit("exec"),
}  # fmt: skip


def enabled(environ: dict[str, str] | os._Environ[str]) -> bool:
    """Off while the shell asks for completions (Typer answers those) and with
    HAI_CLI_NO_FASTPATH=1 (to compare the two paths, or to rule this one out)."""
    return not environ.get("_HAI_CLI_COMPLETE") and environ.get("HAI_CLI_NO_FASTPATH") != "1"


def run(argv: list[str]) -> int | None:
    """Run ``argv`` (without the program name; submit commands already reordered) when it
    is a fast command line: its exit code. None: give it to the Typer app."""
    if not argv or argv[0] not in SPECS or not enabled(os.environ):
        return None
    try:
        values = parse(SPECS[argv[0]], argv[1:])
    except _NotMine:
        return None
    try:
        RUN[argv[0]](values)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:  # as Click's standalone mode answers these two
        sys.stderr.write("\nAborted!\n")
        return 1
    except BrokenPipeError:  # `hai-cli list | head -1`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes at exit
        return 1
    return 0
