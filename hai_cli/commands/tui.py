"""``hai-cli tui``: the interactive terminal UI (Textual is imported only when it runs)."""

from __future__ import annotations

import sys

import typer

from hai_cli import ui

REQUEST_TIMEOUT_S = 8.0


def register(app: typer.Typer) -> None:
    @app.command("tui", help="Open the live terminal UI: tasks, details, logs, nodes, actions.")
    def tui_cmd(
        refresh: float = typer.Option(
            2.0, "--refresh", metavar="SECONDS", help="how often to poll the server"
        ),
        demo: bool = typer.Option(
            False, "--demo", help="show fixed demo data instead of a server (try the UI)"
        ),
    ) -> None:
        if refresh < 0.2:
            ui.die("--refresh must be at least 0.2 seconds", ui.EXIT_USAGE)
        python = sys.executable
        if demo:
            from hai_cli.tui.demo import DemoClient

            client = DemoClient(40)
        else:
            from hai_cli import config, embedded
            from hai_cli.client import Client

            with ui.errors():
                target = config.configured_target()
                if target is not None:
                    python = "python3"  # a remote server runs tasks with its own interpreter
                else:
                    target = embedded.ensure()
                try:
                    # short timeout: quitting waits for requests in flight
                    client = Client(target.url, target.token, timeout=REQUEST_TIMEOUT_S)
                except ValueError as exc:
                    ui.die(str(exc), ui.EXIT_USAGE)
        from hai_cli.tui.app import build_app

        build_app(client, refresh_s=refresh, python=python).run()
