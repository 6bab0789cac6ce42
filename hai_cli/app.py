"""The ``hai-cli`` Typer application: every command module registers itself here."""

from __future__ import annotations

import typer

from hai_cli.commands import (
    admin,
    cluster,
    experiment,
    images,
    jupyter,
    server,
    simulate,
    storage,
    submit,
    tasks,
    tui,
    venv,
    workspace,
)

app = typer.Typer(
    name="hai-cli",
    help="HAI Platform: submit and watch training tasks on a time-sharing GPU cluster.\n\n"
    "Exit codes: 0 ok, 1 failure, 2 bad input, 3 not found, 4 server unreachable, "
    "5 not authorized, 6 a followed task was stopped; a followed failed task exits with its own code.",
    no_args_is_help=True,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from hai_cli.version import version

        typer.echo(version())
        raise typer.Exit(0)


@app.callback()
def _main(
    _show: bool = typer.Option(
        False, "--version", "-V", callback=_version, is_eager=True, help="print the version"
    ),
) -> None:
    """HAI Platform: submit and watch training tasks on a time-sharing GPU cluster."""


for module in (
    submit, experiment, tasks, cluster, server, simulate, admin, storage, images, tui, venv,
    jupyter, workspace,
):  # fmt: skip
    module.register(app)
