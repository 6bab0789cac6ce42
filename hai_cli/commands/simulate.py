"""``hai-cli simulate``: replay a workload trace through the real policy (placeholder)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command(
        "simulate", help="Replay a workload trace on a virtual clock through the scheduler."
    )
    def simulate_cmd() -> None:
        typer.echo("simulate: not built yet", err=True)
        raise typer.Exit(2)
