"""``hai-cli workspace init NAME | push | pull | diff | list | remove NAME``: workspace sync.

A local directory mirrored to ``{workspaces root}/{user}/NAME`` on the cluster through the
server (hai_cli/workspace). Inside an initialised directory ``hai-cli python FILE -- ...``
pushes first and runs the task in the mirrored copy.
"""

from __future__ import annotations

from pathlib import Path

import typer

from hai_cli import ui
from hai_cli.safe_text import shown
from hai_cli.table import format_table

app = typer.Typer(
    help="Sync a local directory with its copy on the cluster (the original's haiworkspace).",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)


def _here() -> object:
    from hai_cli.workspace.local import find

    cfg = find(Path.cwd())
    if cfg is None:
        ui.die("not in a workspace: run hai-cli workspace init NAME here first", ui.EXIT_USAGE)
    return cfg


def _say(quiet: bool) -> object:
    return (lambda _m: None) if quiet else (lambda m: typer.echo(m, err=True))


@app.command("init", help="Make this directory the workspace NAME (created on the cluster).")
def init_cmd(
    name: str = typer.Argument(..., help="workspace name: letters, digits, . _ -"),
    force: bool = typer.Option(False, "--force", help="re-initialise a directory already bound"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    from hai_cli.workspace import local, paths

    ui.checked(paths.workspace_name, name)
    here = Path.cwd()
    if here == Path(here.anchor) or here == Path.home():
        ui.die(f"refusing to make {here} a workspace: pick a project directory", ui.EXIT_USAGE)
    bound = local.find(here)
    if bound is not None and not force and (bound.root != here or bound.name != name):
        ui.die(f"{here} is already in workspace {bound.name} ({bound.root}); use --force",
               ui.EXIT_USAGE)  # fmt: skip
    with ui.errors():
        client = ui.connect()
        made = client.request("POST", f"/api/v1/workspaces/{name}")
    local.write_config(here, name, made["remote_path"], client.url)
    if as_json:
        ui.print_json({"name": name, "local": str(here), "remote_path": made["remote_path"]})
    else:
        typer.echo(f"workspace {name}: {here} <-> {made['remote_path']}")


@app.command("push", help="Send new and changed files to the cluster (only those move).")
def push_cmd(
    delete: bool = typer.Option(False, "--delete", help="also delete remote files gone here"),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="no progress lines"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    _sync("push", delete, quiet, as_json)


@app.command("pull", help="Fetch new and changed files from the cluster (remote wins).")
def pull_cmd(
    delete: bool = typer.Option(False, "--delete", help="also delete local files gone there"),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="no progress lines"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    _sync("pull", delete, quiet, as_json)


def _sync(way: str, delete: bool, quiet: bool, as_json: bool) -> None:
    from hai_cli.workspace import sync

    cfg = _here()
    with ui.errors():
        client = ui.connect()
        try:
            fn = sync.push if way == "push" else sync.pull
            res = fn(client, cfg, delete=delete, say=_say(quiet or as_json))  # type: ignore[arg-type]
        except sync.SyncError as exc:
            ui.die(str(exc), ui.EXIT_FAILED)
    if as_json:
        ui.print_json(res.as_json())
        return
    arrow = "->" if way == "push" else "<-"
    typer.echo(f"{way}: {len(res.moved)} file(s), {res.bytes} bytes {arrow} "
               f"{cfg.name}; {res.diff.same} unchanged"  # type: ignore[attr-defined]
               + (f"; {len(res.deleted)} deleted" if res.deleted else ""))  # fmt: skip
    if res.skipped:
        typer.echo(f"skipped {len(res.skipped)} symlink(s) or special file(s): "
                   + ", ".join(shown(p) for p in res.skipped[:5]), err=True)  # fmt: skip


@app.command("diff", help="What differs between here and the cluster's copy.")
def diff_cmd(
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    from hai_cli.workspace import sync

    cfg = _here()
    with ui.errors():
        client = ui.connect()
        d, *_ = sync.compare(client, cfg)  # type: ignore[arg-type]
    if as_json:
        ui.print_json({"only_local": d.only_local, "only_remote": d.only_remote,
                       "changed": d.changed, "unchanged": d.same})  # fmt: skip
        return
    for mark, items in (("+", d.only_local), ("-", d.only_remote), ("M", d.changed)):
        for p in items:
            typer.echo(f"{mark} {shown(p)}")
    typer.echo(f"{len(d.only_local)} only here (+), {len(d.only_remote)} only on the cluster (-), "
               f"{len(d.changed)} changed (M), {d.same} unchanged", err=True)  # fmt: skip
    raise typer.Exit(0 if d.clean else 1)


@app.command("list", help="Your workspaces on the cluster.")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="print as JSON")) -> None:
    with ui.errors():
        data = ui.connect().request("GET", "/api/v1/workspaces")
    if as_json:
        ui.print_json(data)
        return
    rows = [[w["name"], str(w["files"]), _size(w["bytes"]), w["remote_path"]]
            for w in data["workspaces"]]  # fmt: skip
    typer.echo(format_table(["NAME", "FILES", "SIZE", "REMOTE"], rows, shrink=3,
                            right=frozenset({1, 2})))  # fmt: skip


@app.command("remove", help="Delete the workspace NAME on the cluster (local files stay).")
def remove_cmd(
    name: str = typer.Argument(..., help="the workspace to delete (typed out, on purpose)"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    from hai_cli.workspace import paths

    ui.checked(paths.workspace_name, name)
    with ui.errors():
        data = ui.connect().request("DELETE", f"/api/v1/workspaces/{name}")
    if as_json:
        ui.print_json(data)
    else:
        typer.echo(f"removed workspace {name} from the cluster")


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="workspace")
