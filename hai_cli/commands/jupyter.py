"""``hai-cli jupyter``: Jupyter dev containers (create, list, status, open, stop, start, delete,
logs). A container is a task of kind ``jupyter``; its URL is ``{server}/{user}/{name}/``."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import Any

import typer

from hai_cli import ui
from hai_cli.client import ApiError, Client
from hai_cli.safe_text import shown

jupyter_app = typer.Typer(
    name="jupyter",
    help="Jupyter dev containers: a JupyterLab of yours at {server}/{user}/{name}/, with every "
    "haienv environment that has ipykernel as a kernel.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)
USER_HELP = "someone else's container (admins)"
JSON_HELP = "machine-readable output"


def register(app: typer.Typer) -> None:
    app.add_typer(jupyter_app)


def _url(client: Client, box: dict[str, Any]) -> str:
    return client.url + box["path"]


def _resources(box: dict[str, Any]) -> str:
    if box.get("exclusive"):
        return "whole node"
    gpus = f" {box['gpus']}g" if box.get("gpus") else ""
    return f"{box.get('cpus') or 0:g}c {box.get('memory_gib') or 0:g}G{gpus}"


def _note(box: dict[str, Any]) -> str:
    if box["state"] == "running":
        return "serving" if box.get("serving") else "starting JupyterLab"
    if box["state"] == "queued":
        pos = box.get("position")
        return f"{box.get('reason') or '-'}" + (f" #{pos}" if pos else "")
    return box.get("stop_reason") or box.get("reason") or ""


@jupyter_app.command("create", help="Create a container and wait until its JupyterLab answers.")
def create_cmd(
    name: str = typer.Argument(..., metavar="NAME", help="1-63 letters, digits, . _ -"),
    group: str = typer.Option(None, "-g", "--group", help="node group (default: the Jupyter one)"),
    cpus: float = typer.Option(None, "--cpu", help="CPUs (shared group)"),
    mem: float = typer.Option(None, "--mem", metavar="GiB", help="memory in GiB (shared group)"),
    gpus: int = typer.Option(None, "--gpus", help="GPUs (shared group)"),
    exclusive: bool = typer.Option(
        False, "--exclusive", help="a whole training node, preemptible like a LOW task"
    ),
    env: str = typer.Option(None, "--env", metavar="HAIENV", help="default kernel's haienv"),
    image: str = typer.Option(None, "-i", "--image", help="container image (Kubernetes)"),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="wait until JupyterLab answers"),
    timeout: float = typer.Option(120.0, "--timeout", help="seconds to wait at most"),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    if exclusive and gpus is not None:
        ui.die("--gpus and --exclusive contradict each other", ui.EXIT_USAGE)
    body = {"name": name, "group": group, "cpus": cpus, "memory_gib": mem, "gpus": gpus,
            "exclusive": exclusive, "env": env, "image": image}  # fmt: skip
    with ui.errors():
        client = ui.connect()
        box = client.jupyter_create({k: v for k, v in body.items() if v is not None})
        if wait:
            box = _wait_serving(client, box, timeout)
    if as_json:
        ui.print_json({**box, "url": _url(client, box)})
    else:
        typer.echo(f"container {shown(box['name'])}: {box['state']} ({_note(box)})")
        typer.echo(f"url: {_url(client, box)}  (hai-cli jupyter open {shown(box['name'])})")
    if box["state"] == "failed":
        for line in box.get("log_tail") or []:
            typer.echo(f"  {shown(line)}", err=True)
        raise typer.Exit(ui.EXIT_FAILED)


def _wait_serving(client: Client, box: dict[str, Any], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        box = client.jupyter(box["name"])
        if box["state"] in ("failed", "stopped", "succeeded"):
            return box
        if box.get("serving"):
            try:
                client.get_path(box["path"] + "api/status")
                return box
            except ApiError:
                pass
        time.sleep(0.1)
    typer.echo(f"still {box['state']} after {timeout:g} s ({_note(box)})", err=True)
    return box


@jupyter_app.command("list", help="Your containers: state, resources, URL or why they wait.")
def list_cmd(
    all_users: bool = typer.Option(False, "-a", "--all", help="everyone's (admins)"),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    from hai_cli.table import format_table

    with ui.errors():
        client = ui.connect()
        boxes = client.jupyter_list(all_users)["containers"]
    if as_json:
        ui.print_json([{**b, "url": _url(client, b)} for b in boxes])
        return
    if not boxes:
        typer.echo("no containers (hai-cli jupyter create NAME)")
        return
    now = time.time()
    headers = ["NAME", *(["USER"] if all_users else []), "STATE", "GROUP", "RES", "AGE", "NOTE"]
    rows = [
        [shown(b["name"]), *([shown(b["user"])] if all_users else []), b["state"],
         shown(b["group"]), _resources(b), ui.age(b["submitted_at"], now), shown(_note(b))]
        for b in boxes
    ]  # fmt: skip
    typer.echo(format_table(headers, rows, width=80, shrink=len(headers) - 1,
                            color_col=2 if all_users else 1))  # fmt: skip


@jupyter_app.command("status", help="One container: state, resources, node, URL, why stopped.")
def status_cmd(
    name: str = typer.Argument(..., metavar="NAME"),
    user: str = typer.Option(None, "-u", "--user", help=USER_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    with ui.errors():
        client = ui.connect()
        box = client.jupyter(name, user=user)
    if as_json:
        ui.print_json({**box, "url": _url(client, box)})
        return
    fields = [
        ("name", box["name"]), ("user", box["user"]), ("state", box["state"]),
        ("note", _note(box)), ("task", str(box["id"])), ("group", box["group"]),
        ("node", box.get("node") or "-"), ("resources", _resources(box)),
        ("env", box.get("env") or "-"), ("url", _url(client, box)),
        ("created", ui.clock(box["submitted_at"])), ("started", ui.clock(box["started_at"])),
    ]  # fmt: skip
    for key, value in fields:
        typer.echo(f"{key:10} {shown(value)}")
    for line in box.get("log_tail") or []:
        typer.echo(f"  | {shown(line)}")


def _browser_available() -> bool:
    if sys.platform == "darwin" or os.environ.get("BROWSER"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@jupyter_app.command("open", help="Print the container's URL (with its token) and open a "
                     "browser when one is available.")  # fmt: skip
def open_cmd(
    name: str = typer.Argument(..., metavar="NAME"),
    user: str = typer.Option(None, "-u", "--user", help=USER_HELP),
    browser: bool = typer.Option(True, "--browser/--no-browser", help="try to open a browser"),
) -> None:
    with ui.errors():
        client = ui.connect()
        box = client.jupyter(name, user=user)
        token = client.jupyter(name, "token", user=user)["token"]
    url = f"{_url(client, box)}lab?token={token}"
    typer.echo(url)
    if box["state"] != "running":
        typer.echo(f"note: the container is {box['state']} ({_note(box)})", err=True)
    if browser and _browser_available():
        import webbrowser

        with contextlib.suppress(webbrowser.Error):
            webbrowser.open(url)


def _action(verb: str, method: str, help_text: str) -> None:
    @jupyter_app.command(verb, help=help_text)
    def _cmd(
        name: str = typer.Argument(..., metavar="NAME"),
        user: str = typer.Option(None, "-u", "--user", help=USER_HELP),
        as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    ) -> None:
        with ui.errors():
            out = ui.connect().jupyter(name, "" if verb == "delete" else verb, method, user)
        if as_json:
            ui.print_json(out)
        elif verb == "delete":
            typer.echo(f"container {shown(name)} deleted (its notebooks stay in the workspace)")
        else:
            typer.echo(f"container {shown(name)}: {out['state']}")


_action("stop", "POST", "Stop a container (its notebooks stay in the workspace).")
_action("start", "POST", "Start a stopped container again.")
_action("delete", "DELETE", "Stop and forget a container (its notebooks stay).")


@jupyter_app.command("logs", help="Print the container's JupyterLab log; -f follows it.")
def logs_cmd(
    name: str = typer.Argument(..., metavar="NAME"),
    follow: bool = typer.Option(False, "-f", "--follow", help="until the container stops"),
    user: str = typer.Option(None, "-u", "--user", help=USER_HELP),
) -> None:
    with ui.errors():
        client = ui.connect()
        if not follow:
            sys.stdout.write(client.jupyter(name, "logs", user=user))
            return
        try:
            for chunk in client.jupyter_follow(name, user):
                sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
