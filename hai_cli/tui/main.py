"""The main screen: status line, task table, text filter, detail pane."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from hai_cli.tui.detail import detail_text
from hai_cli.tui.model import (
    COLUMN_KEYS,
    COLUMNS,
    LIVE,
    Filter,
    RowMemo,
    cell,
    visible,
    widths,
)
from hai_cli.tui.widgets import Banner, KeyedTable


class MainScreen(Screen):
    BINDINGS = [
        Binding("slash", "filter_text", "Filter"),
        Binding("f", "filter_state", "State"),
        Binding("g", "filter_group", "Group", show=False),
        Binding("m", "mine_all", "Mine/all", show=False),
        Binding("o", "sort_next", "Sort", show=False),
        Binding("l", "app.logs", "Logs"),
        Binding("n", "app.nodes", "Nodes"),
        Binding("j", "app.jupyter", "Jupyter", show=False),  # ? lists it
        Binding("x", "app.task_action('stop')", "Stop"),
        Binding("p", "app.task_action('suspend')", "Suspend"),
        Binding("u", "app.task_action('resume')", "Resume"),
        Binding("h", "app.task_hold", "Hold/release", show=False),
        Binding("c", "app.submit", "Submit", show=False),
        Binding("R", "app.refresh_now", "Refresh", show=False),
        Binding("escape", "escape", "Back", show=False),
    ]

    DEFAULT_CSS = """
    MainScreen #status { height: 1; background: $panel; padding: 0 1; }
    MainScreen KeyedTable { height: 1fr; }
    MainScreen #filter { display: none; }
    MainScreen #filter.-shown { display: block; }
    MainScreen #detail { height: 45%; border-top: solid $primary; padding: 0 1; }
    MainScreen.-zoom KeyedTable { display: none; }
    MainScreen.-zoom #detail { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._wide: bool | None = None
        self._shown: dict[str, Text] = {}
        self._rows = RowMemo()

    @property
    def hai(self) -> Any:
        return self.app

    def compose(self) -> ComposeResult:
        yield Banner(id="banner")
        yield Static(id="status")
        yield KeyedTable(id="tasks")
        yield Input(placeholder="filter: id, name, user, state, group, reason", id="filter")
        with VerticalScroll(id="detail"):
            yield Static(id="detail-body")
        yield Footer()

    def on_mount(self) -> None:
        self._layout(self.app.size.width)
        self.query_one(KeyedTable).focus()
        self.show()

    def on_resize(self) -> None:
        if self._layout(self.app.size.width):
            self.show()

    def _layout(self, width: int) -> bool:
        """Pick column widths for this terminal width; True when they changed."""
        wide = width >= 110
        if wide == self._wide:
            return False
        self._wide = wide
        w = widths(width)
        self.query_one(KeyedTable).set_columns(
            [(c.key, c.label, w[c.key]) for c in COLUMNS],
            lambda column, value: cell(column, value, w[column]),
            live=LIVE,
        )
        return True

    # -- rendering -----------------------------------------------------------------------
    def show(self) -> None:
        """Render the app's current data (called after every fetch and filter change)."""
        if self._wide is None:
            return  # not mounted yet: on_mount renders
        app = self.hai
        now = app.clock()
        flt: Filter = app.filter
        w = widths(self.app.size.width)
        shown = visible(app.tasks, flt)
        table = self.query_one(KeyedTable)
        table.mark_sorted(flt.sort_key, flt.sort_reverse)
        short = w["waiting"] < 20
        table.set_now(now)
        table.sync(self._rows.rows(shown, short))
        me = app.me or {}
        who = f"{me.get('user', '?')} ({me.get('role', '?')})" if me else "connecting…"
        count = f"{len(shown)}/{app.total} tasks"
        if app.total > len(app.tasks):
            count += f" (newest {len(app.tasks)})"
        self._update_if_changed("#status", Text(f"{who} · {flt.describe()} · {count}"))
        banner = self.query_one(Banner)
        if app.error:
            banner.show(app.error)
        else:
            banner.hide()
        self.show_detail()

    def show_detail(self) -> None:
        app = self.hai
        selected = self.selected_id()
        task = app.detail if app.detail and app.detail.get("id") == selected else None
        if task is None and selected is not None:
            task = next((t for t in app.tasks if t["id"] == selected), None)
        why = app.why if task is not None and app.why_for == selected else None
        body = detail_text(task, why, app.clock(), why_unavailable=app.why_unavailable)
        self._update_if_changed("#detail-body", body)

    def _update_if_changed(self, selector: str, text: Text) -> None:
        """Static.update relayouts the screen: skip it when nothing changed."""
        if self._shown.get(selector) != text:
            self._shown[selector] = text
            self.query_one(selector, Static).update(text)

    def selected_id(self) -> int | None:
        key = self.query_one(KeyedTable).selected_key
        return int(key) if key is not None else None

    # -- events --------------------------------------------------------------------------
    def on_keyed_table_row_highlighted(self, event: KeyedTable.RowHighlighted) -> None:
        selected = self.selected_id()
        if selected != self.hai.selected:
            self.hai.selection_changed(selected)
            self.show_detail()

    def on_keyed_table_row_selected(self, event: KeyedTable.RowSelected) -> None:
        self.toggle_class("-zoom")

    def on_keyed_table_header_selected(self, event: KeyedTable.HeaderSelected) -> None:
        key = event.column_key
        if key in COLUMN_KEYS:
            self._set_filter(self.hai.filter.sorted_by(key))

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self._set_filter(replace(self.hai.filter, text=event.value.strip()))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            event.input.remove_class("-shown")
            self.query_one(KeyedTable).focus()

    # -- actions -------------------------------------------------------------------------
    def _set_filter(self, flt: Filter) -> None:
        old: Filter = self.hai.filter
        self.hai.filter = flt
        if (old.states, old.all_users) != (flt.states, flt.all_users):
            self.hai.refresh_now()
        self.show()

    def action_filter_text(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("-shown")
        box.focus()

    def action_escape(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_class("-shown") or box.value:
            box.value = ""
            box.remove_class("-shown")
            self.query_one(KeyedTable).focus()
        elif self.has_class("-zoom"):
            self.remove_class("-zoom")

    def action_filter_state(self) -> None:
        self._set_filter(self.hai.filter.next_state())

    def action_filter_group(self) -> None:
        groups = {t.get("group") for t in self.hai.tasks}
        groups |= {n.get("group") for n in self.hai.nodes_data}
        self._set_filter(self.hai.filter.next_group(sorted(g for g in groups if g)))

    def action_mine_all(self) -> None:
        me = self.hai.me or {}
        if me.get("role") != "admin" and not self.hai.filter.all_users:
            self.notify("only admins can see every user's tasks", severity="warning")
            return
        self._set_filter(replace(self.hai.filter, all_users=not self.hai.filter.all_users))

    def action_sort_next(self) -> None:
        keys = list(COLUMN_KEYS)
        current = self.hai.filter.sort_key
        nxt = keys[(keys.index(current) + 1) % len(keys)] if current in keys else "id"
        self._set_filter(self.hai.filter.sorted_by(nxt))
