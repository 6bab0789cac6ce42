"""Cluster and account commands: nodes, init, whoami."""

from __future__ import annotations

import typer

from hai_cli import ui


def register(app: typer.Typer) -> None:
    @app.command("nodes", help="List nodes: group, zone, GPUs, health and the tasks holding them.")
    def nodes_cmd(
        tree: bool = typer.Option(False, "--tree", help="groups, their zones and their nodes"),
        ascii_only: bool = typer.Option(False, "-a", "--ascii", help="the tree in ASCII"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        with ui.errors():
            data = ui.connect().nodes()
        if as_json:
            ui.print_json(data)
            return
        if tree:
            from hai_cli.panels import node_tree

            typer.echo(node_tree(data["nodes"], ascii_only), nl=False)
            return
        from hai_cli.render import node_table

        node_table(data["nodes"])

    @app.command(
        "init",
        help="Point hai-cli at a server: hai-cli init TOKEN --url URL (saved under $HAI_HOME).",
    )
    def init_cmd(
        token: str = typer.Argument(..., metavar="TOKEN"),
        url: str = typer.Option(..., "--url", help="server URL, e.g. http://hai.example:8080"),
    ) -> None:
        from hai_cli import config
        from hai_cli.client import Client

        with ui.errors():
            try:
                client = Client(url, token, timeout=10)
            except ValueError as exc:
                ui.die(str(exc), ui.EXIT_USAGE)
            me = client.whoami()
        path = config.write_client_file(url, token)
        typer.echo(f"logged in to {url} as {me['user']} ({me['role']}); saved to {path}")

    @app.command(
        "whoami",
        help="Show the user and server this CLI talks to, and the user's node quota per group "
        "and priority with the nodes in use (bars).",
    )
    def whoami_cmd(
        ascii_only: bool = typer.Option(False, "-a", "--ascii", help="bars in ASCII"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        from hai_cli.panels import quota_panel

        with ui.errors():
            client = ui.connect()
            me = client.whoami()
            quota = client.my_quota()["quota"]
        if as_json:
            ui.print_json({**me, "url": client.url, "quota": quota})
            return
        typer.echo(f"{me['user']} ({me['role']}) at {client.url}")
        typer.echo(quota_panel(quota, ascii_only), nl=False)
