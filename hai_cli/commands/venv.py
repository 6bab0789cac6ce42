"""``hai-cli venv ...`` (and ``hai-cli haienv ...``): the ``haienv`` command, as in the original.

``hai_cli.main`` hands these arguments straight to ``haienv`` before Typer loads; the
registration here puts the command in ``hai-cli --help``.
"""

from __future__ import annotations

import typer

NAMES = ("venv", "haienv")


def run(argv: list[str]) -> int:
    from hai_cli.haienv.cli import main

    return main(argv, prog="hai-cli venv")


def register(app: typer.Typer) -> None:
    for name in NAMES:
        _register_one(app, name)


def _register_one(app: typer.Typer, name: str) -> None:
    @app.command(
        name,
        help="Python environments on shared storage (haienv): create, list, remove, config, "
        "activate, install. `hai-cli venv --help` for details.",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                          "help_option_names": []},
        add_help_option=False,
        hidden=name != "venv",
    )  # fmt: skip
    def _cmd(ctx: typer.Context) -> None:
        raise typer.Exit(run(list(ctx.args)))
