"""``hai-cli admin ...``: users, tokens, quotas and nodes (admin role required)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import typer

from hai_cli import ui

admin_app = typer.Typer(
    help="Administer the platform: users, tokens, quotas, nodes (needs the admin role).",
    no_args_is_help=True,
)
user_app = typer.Typer(
    help="Users: add, list, disable, enable, role, groups.", no_args_is_help=True
)
token_app = typer.Typer(help="Tokens: new (shown once), list, revoke.", no_args_is_help=True)
quota_app = typer.Typer(
    help="Quotas: node-{group}-{PRIORITY} or node_limit per user, group or public.",
    no_args_is_help=True,
)
node_app = typer.Typer(
    help="Nodes: list, add, remove, cordon, uncordon. The backend is the authority on the "
    "nodes it reports; add registers one it does not report (yet).",
    no_args_is_help=True,
)
JSON = typer.Option(False, "--json", help="machine-readable output")


def _call(method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
    with ui.errors():
        return ui.connect().request(method, "/api/v1/admin" + path, params=params, body=body)


def _table(rows: list[dict[str, Any]], columns: list[str], as_json: bool, key: str) -> None:
    if as_json:
        ui.print_json({key: rows})
        return
    widths = [max([len(c), *(len(_cell(r.get(c))) for r in rows)]) for c in columns]
    typer.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for r in rows:
        typer.echo(
            "  ".join(_cell(r.get(c)).ljust(w) for c, w in zip(columns, widths, strict=True))
        )


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "-"
    return str(value)


# -- users --------------------------------------------------------------------------------
@user_app.command("add", help="Create a user and print its first token (shown once).")
def user_add(
    name: str = typer.Argument(..., metavar="NAME"),
    role: str = typer.Option("internal", "--role", help="admin, internal or external"),
    group: list[str] = typer.Option([], "-g", "--group", help="user group (repeatable)"),
    uid: int = typer.Option(None, "--uid", help="POSIX uid its ranks run as (root servers)"),
    gid: int = typer.Option(None, "--gid", help="POSIX gid (default: the uid)"),
    as_json: bool = JSON,
) -> None:
    body = {"name": name, "role": role, "groups": group, "uid": uid, "gid": gid}
    out = _call("POST", "/users", {k: v for k, v in body.items() if v is not None})
    if as_json:
        ui.print_json(out)
        return
    typer.echo(f"created user {out['name']} ({out['role']})")
    typer.echo(f"token (shown once, keep it): {out['token']}")


@user_app.command("list", help="List users with their role, state and groups.")
def user_list(as_json: bool = JSON) -> None:
    rows = _call("GET", "/users")["users"]
    _table(rows, ["name", "role", "active", "uid", "groups"], as_json, "users")


@user_app.command("disable", help="Disable a user: their tokens are refused from now on.")
def user_disable(name: str = typer.Argument(..., metavar="NAME")) -> None:
    _call("POST", f"/users/{quote(name, safe='')}/disable")
    typer.echo(f"disabled user {name}")


@user_app.command("enable", help="Enable a disabled user again.")
def user_enable(name: str = typer.Argument(..., metavar="NAME")) -> None:
    _call("POST", f"/users/{quote(name, safe='')}/enable")
    typer.echo(f"enabled user {name}")


@user_app.command("role", help="Set a user's role (admin, internal, external).")
def user_role(
    name: str = typer.Argument(..., metavar="NAME"), role: str = typer.Argument(..., metavar="ROLE")
) -> None:
    _call("PUT", f"/users/{quote(name, safe='')}/role", {"role": role})
    typer.echo(f"user {name} is now {role}")


@user_app.command("groups", help="Set a user's groups (replaces the old list).")
def user_groups(
    name: str = typer.Argument(..., metavar="NAME"),
    groups: list[str] = typer.Argument(None, metavar="GROUP..."),
) -> None:
    out = _call("PUT", f"/users/{quote(name, safe='')}/groups", {"groups": groups or []})
    typer.echo(f"user {name} groups: {', '.join(out['groups']) or '-'}")


# -- tokens -------------------------------------------------------------------------------
@token_app.command("new", help="Create a token for a user and print it (shown once).")
def token_new(
    user: str = typer.Argument(..., metavar="USER"),
    label: str = typer.Option("", "--label", help="a note to recognise it by"),
    as_json: bool = JSON,
) -> None:
    out = _call("POST", f"/users/{quote(user, safe='')}/tokens", {"label": label})
    if as_json:
        ui.print_json(out)
        return
    typer.echo(f"token {out['id']} for {user} (shown once, keep it): {out['token']}")


@token_app.command("list", help="List tokens (ids, owners, labels; never their text).")
def token_list(
    user: str = typer.Option(None, "--user", help="only this user's tokens"), as_json: bool = JSON
) -> None:
    rows = _call("GET", "/tokens", params={"user": user})["tokens"]
    _table(rows, ["id", "user", "label", "active"], as_json, "tokens")


@token_app.command("revoke", help="Revoke a token by its id (see token list) or its text.")
def token_revoke(token: str = typer.Argument(..., metavar="ID|TOKEN")) -> None:
    if token.isdigit():
        out = _call("POST", f"/tokens/{token}/revoke")
    else:
        out = _call("POST", "/tokens/revoke", {"token": token})
    typer.echo(f"revoked token {out['id']} of {out['user']}")


# -- quotas -------------------------------------------------------------------------------
@quota_app.command(
    "set",
    help="Set a quota: PRINCIPAL RESOURCE NODES (e.g. alice node-a100-HIGH 4).",
    context_settings={"ignore_unknown_options": True},  # so a negative NODES reaches the server
)
def quota_set(
    principal: str = typer.Argument(..., metavar="PRINCIPAL"),
    resource: str = typer.Argument(..., metavar="RESOURCE"),
    quota: int = typer.Argument(..., metavar="NODES"),
    expires_at: float = typer.Option(None, "--expires-at", help="epoch seconds"),
) -> None:
    body = {"principal": principal, "resource": resource, "quota": quota, "expires_at": expires_at}
    _call("PUT", "/quotas", body)
    typer.echo(f"quota {resource} of {principal} = {quota}")


@quota_app.command(
    "jupyter",
    help="Set a Jupyter quota: PRINCIPAL GROUP --mem GiB --cpus N --count N (stored as the "
    "original's MMMMCCCQQ in resource jupyter:GROUP).",
)
def quota_jupyter(
    principal: str = typer.Argument(..., metavar="PRINCIPAL"),
    group: str = typer.Argument(..., metavar="GROUP"),
    mem: int = typer.Option(..., "--mem", metavar="GiB", help="memory of all containers"),
    cpus: int = typer.Option(..., "--cpus", help="CPUs of all containers"),
    count: int = typer.Option(..., "--count", help="containers at once"),
    expires_at: float = typer.Option(None, "--expires-at", help="epoch seconds"),
) -> None:
    from hai_cli.scheduler import jupyter_quota as jq

    limits = ui.checked(jq.make, mem, cpus, count)
    body = {"principal": principal, "resource": jq.resource(group), "quota": limits.encode(),
            "expires_at": expires_at}  # fmt: skip
    _call("PUT", "/quotas", body)
    typer.echo(f"quota {jq.resource(group)} of {principal}: {limits.describe()}")


@quota_app.command("list", help="List quota rows.")
def quota_list(
    principal: str = typer.Option(None, "--principal", help="only this user/group"),
    as_json: bool = JSON,
) -> None:
    rows = _call("GET", "/quotas", params={"principal": principal})["quotas"]
    _table(rows, ["principal", "resource", "quota", "expires_at"], as_json, "quotas")


@quota_app.command("delete", help="Delete one quota row.")
def quota_delete(
    principal: str = typer.Argument(..., metavar="PRINCIPAL"),
    resource: str = typer.Argument(..., metavar="RESOURCE"),
) -> None:
    _call("DELETE", f"/quotas/{quote(principal, safe='')}/{quote(resource, safe='')}")
    typer.echo(f"deleted quota {resource} of {principal}")


# -- nodes --------------------------------------------------------------------------------
@node_app.command("list", help="List nodes with health and cordons.")
def node_list(as_json: bool = JSON) -> None:
    with ui.errors():
        rows = ui.connect().nodes()["nodes"]
    _table(rows, ["name", "group", "zone", "gpus", "state", "cordoned", "tasks"], as_json, "nodes")


@node_app.command(
    "add",
    help="Register a node the backend does not report (yet): it is listed as unhealthy and "
    "nothing runs on it until the backend reports it (then the backend's group, zone and GPUs "
    "apply). Cordon it now to keep it empty after it joins.",
)
def node_add(
    name: str = typer.Argument(..., metavar="NODE"),
    group: str = typer.Option(..., "-g", "--group", help="the node group it belongs to"),
    gpus: int = typer.Option(0, "--gpus", help="GPUs on the node"),
    zone: str = typer.Option("", "--zone", help="placement zone (e.g. a rack or switch)"),
    as_json: bool = JSON,
) -> None:
    body = {"name": name, "group": group, "gpus": gpus, "zone": zone}
    out = _call("POST", "/nodes", body)
    if as_json:
        ui.print_json(out)
        return
    typer.echo(
        f"registered node {out['name']} (group {out['group']}); not ready until the backend "
        "reports it"
    )


@node_app.command(
    "remove",
    help="Forget a node the backend does not report (a registration or a retired machine); "
    "refused while an active task holds it.",
)
def node_remove(name: str = typer.Argument(..., metavar="NODE"), as_json: bool = JSON) -> None:
    out = _call("DELETE", f"/nodes/{quote(name, safe='')}")
    if as_json:
        ui.print_json(out)
        return
    typer.echo(f"removed node {name}")


@node_app.command("cordon", help="Start nothing new on a node (running tasks stay).")
def node_cordon(name: str = typer.Argument(..., metavar="NODE"), as_json: bool = JSON) -> None:
    out = _call("POST", f"/nodes/{quote(name, safe='')}/cordon")
    if as_json:
        ui.print_json(out)
        return
    typer.echo(f"cordoned {name}")


@node_app.command("uncordon", help="Allow new tasks on a node again.")
def node_uncordon(name: str = typer.Argument(..., metavar="NODE"), as_json: bool = JSON) -> None:
    out = _call("POST", f"/nodes/{quote(name, safe='')}/uncordon")
    if as_json:
        ui.print_json(out)
        return
    typer.echo(f"uncordoned {name}")


admin_app.add_typer(user_app, name="user")
admin_app.add_typer(token_app, name="token")
admin_app.add_typer(quota_app, name="quota")
admin_app.add_typer(node_app, name="node")


def register(app: typer.Typer) -> None:
    app.add_typer(admin_app, name="admin")
