"""The nodes screen: groups at a glance (usage bar, sparkline), per-node health and holders."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from hai_cli.tui.model import bar, clip, group_usage, sparkline
from hai_cli.tui.widgets import Banner, KeyedTable

NODE_STYLE = {"free": "green", "busy": "cyan", "cordoned": "yellow", "unhealthy": "bold red"}
NODE_COLUMNS = (
    ("name", "NODE", 12),
    ("group", "GROUP", 8),
    ("zone", "ZONE", 8),
    ("gpus", "GPUS", 4),
    ("state", "STATE", 9),
    ("tasks", "HELD BY", 24),
)


def usage_text(
    nodes: Sequence[dict[str, Any]], history: Mapping[str, Sequence[int]], width: int = 80
) -> Text:
    """One line per group: name, bar, busy/total, unhealthy, and the busy-node sparkline."""
    out = Text()
    bw = 10 if width < 100 else 24
    header = f"{'GROUP':<9}{'USAGE':<{bw}}{'  BUSY':<10}{'   DOWN':<8}{'  TASKS':<12}BUSY OVER TIME"
    out.append(header + "\n", style="bold")
    bar_width = bw
    for g in group_usage(nodes):
        out.append(f"{clip(g.name, 8):<8} ", style="bold")
        out.append(bar(g.busy, g.nodes, bar_width), style="cyan")
        out.append(f" {g.busy:>2}/{g.nodes:<2} busy")
        bad = g.unhealthy + g.cordoned
        out.append(f" {bad:>2} down" if bad else "        ", style="bold red" if bad else "")
        out.append(f" {len(g.tasks):>3} tasks  ")
        out.append(sparkline(list(history.get(g.name, []))[-20:], top=g.nodes), style="green")
        out.append("\n")
    out.rstrip()
    return out or Text("no nodes", style="dim")


def node_rows(
    nodes: Sequence[dict[str, Any]], owners: Mapping[int, str] | None = None
) -> list[tuple[str, tuple[str, ...]]]:
    """(key, values) rows for the node table, in NODE_COLUMNS order; holders are shown as
    ``id user`` when the task is known (owners: task id -> user)."""
    owners = owners or {}
    rows = []
    for n in nodes:
        held = [f"{t} {owners[t]}" if t in owners else str(t) for t in n.get("tasks") or []]
        tasks = ", ".join(held) or "-"
        if n.get("message"):
            tasks = f"{tasks} ({n['message']})"
        values = (
            str(n["name"]),
            str(n.get("group", "")),
            str(n.get("zone") or "-"),
            str(n.get("gpus", 0)),
            str(n.get("state", "?")),
            tasks,
        )
        rows.append((values[0], values))
    return rows


def node_cell(column: str, value: str) -> Text:
    if column == "state":
        return Text(value, style=NODE_STYLE.get(value, ""), no_wrap=True, end="")
    if column == "gpus":
        return Text(value, justify="right", no_wrap=True, end="")
    return Text(value, no_wrap=True, end="")


class NodesScreen(Screen):
    BINDINGS = [Binding("escape,n", "app.pop_screen", "Back")]

    DEFAULT_CSS = """
    NodesScreen #usage { height: auto; max-height: 8; padding: 0 1; border-bottom: solid $primary; }
    NodesScreen KeyedTable { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Banner(id="nodesbanner")
        yield Static(id="usage")
        yield KeyedTable(id="nodes")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(KeyedTable).set_columns(NODE_COLUMNS, node_cell)
        self.show_nodes()

    def show_nodes(self) -> None:
        app: Any = self.app
        nodes = app.nodes_data
        self.query_one("#usage", Static).update(
            usage_text(nodes, app.usage_history, self.app.size.width)
        )
        owners = {t["id"]: str(t.get("user", "")) for t in app.tasks}
        self.query_one(KeyedTable).sync(node_rows(nodes, owners))
        banner = self.query_one(Banner)
        if app.error:
            banner.show(app.error)
        else:
            banner.hide()
