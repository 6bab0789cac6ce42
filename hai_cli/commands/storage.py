"""``hai-cli storage list`` (my mounts) and ``hai-cli admin storage list|add|remove``."""

from __future__ import annotations

from typing import Any

import typer

from hai_cli import ui
from hai_cli.safe_text import shown
from hai_cli.table import format_table

JSON = typer.Option(False, "--json", help="machine-readable output")
storage_app = typer.Typer(help="Storage: the mounts your tasks get.", no_args_is_help=True)
admin_storage_app = typer.Typer(
    help="Storage rows (the original's storage table): host path -> mount path for owners "
    "(users, groups, roles, public), with {user.user_name}/{task.id} templates and conditions.",
    no_args_is_help=True,
)
MOUNT_TYPES = "Directory, File, DirectoryOrCreate, FileOrCreate, Socket, ConfigMap, pvc"


WIDTH = 80


def _fit(rows: list[list[str]], headers: list[str], paths: tuple[int, ...]) -> list[list[str]]:
    """Shorten the path columns (keeping their ends: the part that differs) so the table fits
    WIDTH columns."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    fixed = sum(w for i, w in enumerate(widths) if i not in paths) + 2 * (len(headers) - 1)
    budget = max(WIDTH - fixed, 8 * len(paths))
    share = max(budget // len(paths), 8)
    return [
        [("…" + c[-(share - 1) :]) if i in paths and len(c) > share else c for i, c in enumerate(r)]
        for r in rows
    ]


def _call(method: str, path: str, body: Any = None) -> Any:
    with ui.errors():
        return ui.connect().request(method, "/api/v1" + path, body=body)


@storage_app.command("list", help="List the mounts your tasks get (templates filled in).")
def storage_list(as_json: bool = JSON) -> None:
    mounts = _call("GET", "/storage")["mounts"]
    if as_json:
        ui.print_json({"mounts": mounts})
        return
    if not mounts:
        typer.echo("no storage mounts")
        return
    rows = [
        [shown(x["mount_path"]), shown(x["source"]), x["mount_type"] or "-",
         "ro" if x["read_only"] else "rw"]
        for x in mounts
    ]  # fmt: skip
    headers = ["MOUNT", "SOURCE", "TYPE", "MODE"]
    typer.echo(format_table(headers, _fit(rows, headers, (0, 1)), shrink=1, width=WIDTH))


@admin_storage_app.command("list", help="List every storage row.")
def admin_list(as_json: bool = JSON) -> None:
    rows = _call("GET", "/admin/storage")["storage"]
    if as_json:
        ui.print_json({"storage": rows})
        return
    if not rows:
        typer.echo("no storage rows")
        return
    table = [
        [str(r["id"]), shown(r["mount_path"]), shown(r["host_path"]),
         shown(",".join(r["owners"])), r["mount_type"] or "-",
         ("ro" if r["read_only"] else "rw") + ("" if r["action"] == "add" else " rm")
         + ("" if r["active"] else " off"),
         shown(" and ".join(r["conditions"]) or "-")]
        for r in rows
    ]  # fmt: skip
    headers = ["ID", "MOUNT", "HOST", "OWNERS", "TYPE", "MODE", "IF"]
    table = _fit(table, headers, (1, 2))
    typer.echo(format_table(headers, table, shrink=6, right=frozenset({0}), width=WIDTH))


@admin_storage_app.command(
    "add", help="Add a row: HOST_PATH MOUNT_PATH (templates such as {user.user_name})."
)
def admin_add(
    host_path: str = typer.Argument(..., metavar="HOST_PATH", help="or a ConfigMap NAME[/KEY]"),
    mount_path: str = typer.Argument(..., metavar="MOUNT_PATH"),
    owners: list[str] = typer.Option(
        ["public"], "-o", "--owner", help="user, group, role or public (repeatable)"
    ),
    conditions: list[str] = typer.Option(
        [], "-c", "--condition", help='e.g. "task.nodes >= 2" (repeatable: all must hold)'
    ),
    mount_type: str = typer.Option("Directory", "-t", "--type", help=MOUNT_TYPES),
    read_only: bool = typer.Option(False, "--ro", help="read-only"),
    remove: bool = typer.Option(False, "--remove", help="a row that drops this mount"),
    inactive: bool = typer.Option(False, "--inactive", help="add it switched off"),
    as_json: bool = JSON,
) -> None:
    body = {
        "host_path": host_path, "mount_path": mount_path, "owners": owners,
        "conditions": conditions, "mount_type": mount_type, "read_only": read_only,
        "action": "remove" if remove else "add", "active": not inactive,
    }  # fmt: skip
    row = _call("POST", "/admin/storage", body)
    if as_json:
        ui.print_json(row)
        return
    typer.echo(f"storage row {row['id']}: {shown(row['host_path'])} -> {shown(row['mount_path'])}")


@admin_storage_app.command("remove", help="Remove a row by its id (see admin storage list).")
def admin_remove(row_id: int = typer.Argument(..., metavar="ID"), as_json: bool = JSON) -> None:
    out = _call("DELETE", f"/admin/storage/{row_id}")["deleted"]
    if as_json:
        ui.print_json(out)
        return
    typer.echo(f"removed storage row {out['id']} ({shown(out['mount_path'])})")


def register(app: typer.Typer) -> None:
    from hai_cli.commands.admin import admin_app

    app.add_typer(storage_app, name="storage")
    admin_app.add_typer(admin_storage_app, name="storage")
