"""``hai-cli images list`` (the built-in images I may use) and ``hai-cli admin images ...``."""

from __future__ import annotations

from typing import Any

import typer

from hai_cli import ui
from hai_cli.safe_text import shown
from hai_cli.table import format_table

JSON = typer.Option(False, "--json", help="machine-readable output")
images_app = typer.Typer(
    help="Built-in images (train environments): -i NAME picks one, the default is the one "
    "with your highest quota.",
    no_args_is_help=True,
)
admin_images_app = typer.Typer(
    help="Built-in images (the original's train_environment table); users need quota "
    "train_environment:NAME to use one.",
    no_args_is_help=True,
)


def _call(method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
    with ui.errors():
        return ui.connect().request(method, "/api/v1" + path, params=params, body=body)


@images_app.command("list", help="List the built-in images you may use (* marks the default).")
def images_list(
    every: bool = typer.Option(False, "-a", "--all", help="every image, allowed or not (admins)"),
    as_json: bool = JSON,
) -> None:
    images = _call("GET", "/images", params={"all": "true" if every else None})["images"]
    if as_json:
        ui.print_json({"images": images})
        return
    if not images:
        typer.echo("no built-in images for you: tasks run in the backend's default image")
        return
    rows = [
        [("* " if i["default"] else "  ") + shown(i["name"]), shown(i["image"]),
         shown(i["python"]), "-" if i["quota"] is None else str(i["quota"]),
         shown(",".join(f"{k}={v}" for k, v in i["environments"].items()) or "-")]
        for i in images
    ]  # fmt: skip
    typer.echo(format_table(["NAME", "IMAGE", "PYTHON", "QUOTA", "ENV"], rows, shrink=4))


@admin_images_app.command("add", help="Add a built-in image: NAME IMAGE.")
def admin_add(
    name: str = typer.Argument(..., metavar="NAME"),
    image: str = typer.Argument(..., metavar="IMAGE"),
    python: str = typer.Option("python3", "--python", help="its interpreter"),
    environments: list[str] = typer.Option(
        [], "-e", "--environments", help="KEY=VALUE its tasks get (repeatable)"
    ),
    as_json: bool = JSON,
) -> None:
    env: dict[str, str] = {}
    for pair in environments:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            ui.die(f"bad -e value {pair!r}: expected KEY=VALUE", ui.EXIT_USAGE)
        env[key] = value
    body = {"name": name, "image": image, "python": python, "environments": env}
    out = _call("POST", "/admin/images", body)
    if as_json:
        ui.print_json(out)
        return
    typer.echo(f"added image {shown(out['name'])} ({shown(out['image'])}); users need quota "
               f"train_environment:{shown(out['name'])}")  # fmt: skip


@admin_images_app.command("remove", help="Remove a built-in image by name.")
def admin_remove(name: str = typer.Argument(..., metavar="NAME"), as_json: bool = JSON) -> None:
    from urllib.parse import quote

    out = _call("DELETE", f"/admin/images/{quote(name, safe='')}")["deleted"]
    if as_json:
        ui.print_json(out)
        return
    typer.echo(f"removed image {shown(out['name'])}")


def register(app: typer.Typer) -> None:
    from hai_cli.commands.admin import admin_app

    app.add_typer(images_app, name="images")
    admin_app.add_typer(admin_images_app, name="images")
