"""The ``hai-cli`` Typer application: every command module registers itself here."""

from __future__ import annotations

import typer

from hai_cli.commands import simulate

app = typer.Typer(
    name="hai-cli",
    help="HAI Platform: submit and watch training tasks on a time-sharing GPU cluster.",
    no_args_is_help=True,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

for module in (simulate,):
    module.register(app)
