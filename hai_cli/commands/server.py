"""``hai-cli server start|stop|status|run``: the embedded server under $HAI_HOME."""

from __future__ import annotations

import contextlib
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


NODES = typer.Option(
    None, "--nodes", help="virtual nodes on this machine (default: as last time, else 1)"
)
PORT = typer.Option(
    None, "--port", help="port on 127.0.0.1 (default: as last time, else one chosen once)"
)


def _check_settings(nodes: int | None, port: int | None) -> None:
    from hai_cli import validate as check

    if nodes is not None:
        ui.checked(check.whole, "--nodes", nodes, 1, 256)
    if port is not None:
        ui.checked(check.whole, "--port", port, 1, 65535)


@server_app.command(
    "start",
    help="Start the embedded server in the background. Its settings (--nodes, --port, "
    "--database-url, --redis-url) are kept in $HAI_HOME/embedded.json for every later start.",
)
def start_cmd(
    nodes: int = NODES,
    port: int = PORT,
    database_url: str = DATABASE_URL,
    redis_url: str = REDIS_URL,
) -> None:
    from hai_cli import embedded

    _check_settings(nodes, port)
    try:
        info = embedded.start(
            nodes, database_url=database_url or None, redis_url=redis_url or None, port=port
        )
    except embedded.EmbeddedError as exc:
        code = ui.EXIT_USAGE if "already running" in str(exc) else ui.EXIT_UNREACHABLE
        ui.die(str(exc), code)
    typer.echo(f"embedded server running (pid {info.pid}) at {info.url}")


ACTIVE = ("starting", "running", "suspending")


def _active_tasks(info: object) -> list[dict] | None:
    """Every user's tasks that hold ranks (None when the server cannot say)."""
    from hai_cli import embedded
    from hai_cli.client import Client

    try:
        client = Client(info.url, embedded.token(), timeout=10)  # type: ignore[attr-defined]
        page = client.list_tasks(states=list(ACTIVE), all_users=True, limit=1000)
    except Exception:
        return None
    return list(page["tasks"])


def _stop_tasks(info: object, tasks: list[dict], timeout: float) -> list[dict]:
    """Stop ``tasks`` and wait for them to end; the ones still active after ``timeout``."""
    import time

    from hai_cli import embedded
    from hai_cli.client import ApiError, Client

    client = Client(info.url, embedded.token(), timeout=10)  # type: ignore[attr-defined]
    for t in tasks:
        with contextlib.suppress(ApiError):  # ended meanwhile
            client.action(t["id"], "stop")
    deadline = time.monotonic() + timeout
    while True:
        left = _active_tasks(info) or []
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


@server_app.command(
    "stop",
    help="Stop the embedded server. Running tasks keep running and are adopted at the next "
    "start; --tasks stops them first.",
)
def stop_cmd(
    tasks: bool = typer.Option(
        False, "--tasks", help="stop every running task first (and wait for its ranks to end)"
    ),
    timeout: float = typer.Option(60.0, "--timeout", help="seconds to wait for --tasks"),
) -> None:
    from hai_cli import embedded

    info, _ = embedded.read_state()
    active = _active_tasks(info) if info is not None else None
    if info is not None and tasks and active:
        left = _stop_tasks(info, active, timeout)
        if left:
            ids = ", ".join(str(t["id"]) for t in left)
            ui.die(f"task(s) {ids} did not stop within {timeout:.0f} s; the server keeps running")
        typer.echo(f"stopped {len(active)} task(s)")
        active = []
    info = embedded.stop()
    if info is None:
        ui.die("the embedded server is not running", ui.EXIT_FAILED)
    typer.echo(f"stopped the embedded server (pid {info.pid})")
    if active:
        ranks = sum(int(t.get("nodes") or 1) for t in active)
        active.sort(key=lambda t: int(t["id"]))
        ids = ", ".join(str(t["id"]) for t in active[:10]) + (", ..." if len(active) > 10 else "")
        typer.echo(
            f"{len(active)} task(s) ({ids}) keep running: {ranks} rank process(es), adopted "
            "at the next start (any hai-cli command starts it). To stop them too: "
            "hai-cli server start && hai-cli server stop --tasks"
        )
    elif active is None:
        typer.echo("(could not ask the server which tasks were running)")


@server_app.command(
    "recover",
    help="Make the local admin work again (revoked token, disabled or demoted admin): writes "
    "a new $HAI_HOME/embedded.token and restarts the embedded server with it. Needs write "
    "access to $HAI_HOME, nothing else.",
)
def recover_cmd() -> None:
    from hai_cli import embedded
    from hai_cli.config import hai_home

    home = hai_home()
    try:
        embedded.new_token(home)
    except OSError as exc:
        ui.die(f"cannot write a new token under {home}: {exc.strerror}", ui.EXIT_AUTH)
    was = embedded.stop(home)
    try:
        info = embedded.start(home=home, recover=True)
    except embedded.EmbeddedError as exc:
        ui.die(str(exc), ui.EXIT_UNREACHABLE)
    typer.echo(
        f"admin access restored with a new token in {home}/embedded.token; embedded server "
        f"{'restarted' if was else 'running'} (pid {info.pid}) at {info.url}"
    )


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
    nodes: int = NODES,
    port: int = PORT,
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
    _check_settings(nodes, port)
    home = hai_home()
    kept = embedded.resolve_settings(
        home,
        nodes=nodes,
        port=port,
        database_url=database_url or None,
        redis_url=redis_url or None,
    )
    env = embedded.server_env(home)
    cmd = embedded.server_command(
        home,
        int(kept["port"]),  # type: ignore[call-overload]
        kept.get("nodes"),  # type: ignore[arg-type]
        kept.get("database_url"),  # type: ignore[arg-type]
        kept.get("redis_url"),  # type: ignore[arg-type]
    )
    os.execve(sys.executable, cmd, env)


def register(app: typer.Typer) -> None:
    app.add_typer(server_app, name="server")
