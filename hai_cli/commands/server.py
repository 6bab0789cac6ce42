"""``hai-cli server start|stop|status|run``: the embedded server under $HAI_HOME."""

from __future__ import annotations

import os
import sys

import typer

from hai_cli import ui

server_app = typer.Typer(
    help="Manage the embedded server (state under $HAI_HOME).", no_args_is_help=True
)


DATABASE_URL = typer.Option(
    None,
    "--database-url",
    envvar="HAI_EMBEDDED_DATABASE_URL",
    help="keep the state in this database instead of SQLite under $HAI_HOME, e.g. "
    "postgresql+psycopg://user:pw@127.0.0.1:5432/hai (HAI_DATABASE_URL is never used here)",
)
REDIS_URL = typer.Option(
    None,
    "--redis-url",
    envvar="HAI_EMBEDDED_REDIS_URL",
    help="publish wake-ups and log lines through this Redis (as a cluster replica does)",
)


@server_app.command("start", help="Start the embedded server in the background.")
def start_cmd(
    nodes: int = typer.Option(None, "--nodes", help="virtual nodes on this machine (default 1)"),
    database_url: str = DATABASE_URL,
    redis_url: str = REDIS_URL,
) -> None:
    from hai_cli import embedded

    if nodes is not None and not 1 <= nodes <= 256:
        ui.die("--nodes must be between 1 and 256", ui.EXIT_USAGE)
    try:
        info = embedded.start(nodes, database_url=database_url or None, redis_url=redis_url or None)
    except embedded.EmbeddedError as exc:
        code = ui.EXIT_USAGE if "already running" in str(exc) else ui.EXIT_UNREACHABLE
        ui.die(str(exc), code)
    typer.echo(f"embedded server running (pid {info.pid}) at {info.url}")


@server_app.command(
    "stop", help="Stop the embedded server (running tasks keep running and are adopted on restart)."
)
def stop_cmd() -> None:
    from hai_cli import embedded

    info = embedded.stop()
    if info is None:
        ui.die("the embedded server is not running", ui.EXIT_FAILED)
    typer.echo(f"stopped the embedded server (pid {info.pid})")


@server_app.command("status", help="Is the embedded server running? Exit 0 if so, 1 if not.")
def status_cmd(
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    from hai_cli import embedded
    from hai_cli.client import Client, ConnectionFailed

    info, stale = embedded.read_state()
    if stale:
        embedded.remove_stale()
    if info is None:
        if as_json:
            ui.print_json({"running": False, "stale_pid_file_removed": stale})
        else:
            typer.echo("not running" + (" (removed a stale pid file)" if stale else ""))
        raise typer.Exit(ui.EXIT_FAILED)
    health: dict = {}
    try:
        health = Client(info.url, embedded.token(), timeout=5).health()
    except (ConnectionFailed, Exception) as exc:
        health = {"status": f"unreachable: {exc}"}
    if as_json:
        ui.print_json({"running": True, "pid": info.pid, "url": info.url, "health": health})
        return
    typer.echo(f"running (pid {info.pid}) at {info.url}: {health.get('status')}")


@server_app.command("run", help="Run the embedded server in the foreground (Ctrl-C stops it).")
def run_cmd(
    nodes: int = typer.Option(None, "--nodes", help="virtual nodes on this machine (default 1)"),
    port: int = typer.Option(0, "--port", help="port (0: any free port)"),
    database_url: str = DATABASE_URL,
    redis_url: str = REDIS_URL,
) -> None:
    from hai_cli import embedded
    from hai_cli.config import hai_home

    info, stale = embedded.read_state()
    if info is not None:
        ui.die(
            f"the embedded server is already running (pid {info.pid}, {info.url})", ui.EXIT_USAGE
        )
    if stale:
        embedded.remove_stale()
    home = hai_home()
    env = embedded.server_env(home)
    cmd = embedded.server_command(home, port, nodes, database_url or None, redis_url or None)
    os.execve(sys.executable, cmd, env)


def register(app: typer.Typer) -> None:
    app.add_typer(server_app, name="server")
