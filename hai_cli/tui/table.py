"""KeyedTable: a virtualised table on Textual's Line API, synced by row key.

Only the lines on screen are rendered. Each row keeps its rendered line, stamped with what
it was drawn from (its values, position, cursor, hover, scroll, width and the styles of the
moment): a row whose stamp is unchanged is not drawn again, and a changed row redraws only
its cells that are not already in the cell cache. "Live" columns (an age, say) hold a raw
value (a timestamp) and are turned into text with the table's ``now`` when drawn, so a
clock tick costs the visible rows only.

It looks like Textual's DataTable with ``cursor_type="row"`` (same styles, same padding,
same segments) but keeps no per-cell objects: ``sync`` with 1,000+ rows is a dict diff.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from hai_cli.tui.table_draw import HEADER, Column, MakeCell, Painter, Styles

Live = Callable[[Any, float], Any]


class KeyedTable(ScrollView, can_focus=True):
    """A row-cursor table whose rows are given whole by ``sync``, kept in place by key.

    The cursor stays on the same key (not the same index) while rows move; only rows whose
    values changed are drawn again, and only when they are on screen.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("right", "scroll_right", "Scroll right", show=False),
        Binding("left", "scroll_left", "Scroll left", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("ctrl+home", "first_row", "Top", show=False),
        Binding("ctrl+end", "last_row", "Bottom", show=False),
        Binding("home", "scroll_home", "Home", show=False),
        Binding("end", "scroll_end", "End", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "keyed-table--cursor",
        "keyed-table--hover",
        "keyed-table--header",
        "keyed-table--header-hover",
    }

    # the values of Textual's DataTable, so that the table looks the same
    DEFAULT_CSS = """
    KeyedTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        &:focus {
            background-tint: $foreground 5%;
            & > .keyed-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .keyed-table--header { background-tint: $foreground 5%; }
        }
        & > .keyed-table--header { text-style: bold; background: $panel; color: $foreground; }
        &:ansi > .keyed-table--header { background: ansi_bright_blue; color: ansi_default; }
        & > .keyed-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .keyed-table--header-hover { background: $accent 30%; }
        & > .keyed-table--hover { background: $block-hover-background; }
    }
    """

    class _RowMessage(Message):
        def __init__(self, table: KeyedTable, cursor_row: int, row_key: str) -> None:
            super().__init__()
            self.table, self.cursor_row, self.row_key = table, cursor_row, row_key

        @property
        def control(self) -> KeyedTable:
            return self.table

    class RowHighlighted(_RowMessage):
        """The cursor is on another row (or the same row at another index)."""

    class RowSelected(_RowMessage):
        """Enter, or a click on the row under the cursor."""

    class HeaderSelected(Message):
        """A click on a column's label."""

        def __init__(self, table: KeyedTable, column_key: str, column_index: int) -> None:
            super().__init__()
            self.table, self.column_key, self.column_index = table, column_key, column_index

        @property
        def control(self) -> KeyedTable:
            return self.table

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._painter = Painter()
        self._live: dict[int, Live] = {}  # column index -> (raw value, now) -> value shown
        self._now = 0.0
        self._keys: list[str] = []  # row order
        self._index: dict[str, int] = {}
        self._values: dict[str, tuple[Any, ...]] = {}
        self.cursor_row = 0
        self._highlighted: tuple[int, str] | None = None
        self._reselect: str | None = None
        self._hover_row: int | None = None  # set while the mouse is over a row

    # -- public surface --------------------------------------------------------------------
    def set_columns(
        self,
        columns: Sequence[tuple[str, str, int]],
        make_cell: MakeCell | None = None,
        live: Mapping[str, Live] | None = None,
    ) -> None:
        """(key, label, width) columns, how a value becomes a cell, and the live columns
        (key -> f(raw value, now) -> value shown). Rows are dropped; the selection is kept
        for the next ``sync``."""
        self._reselect = self.selected_key
        self._painter.set_columns(
            [Column(key, Text(label), width) for key, label, width in columns], make_cell
        )
        index = {key: i for i, (key, _, _) in enumerate(columns)}
        unknown = sorted(set(live or ()) - set(index))
        if unknown:
            raise ValueError(f"live columns that are not columns: {', '.join(unknown)}")
        self._live = {index[key]: fn for key, fn in (live or {}).items()}
        self._keys, self._index, self._values = [], {}, {}
        self.cursor_row = 0
        self._highlighted = None
        self._resize_virtual()
        self.refresh()

    @property
    def columns(self) -> list[str]:
        return [c.key for c in self._painter.columns]

    @property
    def labels(self) -> list[str]:
        return [c.label.plain for c in self._painter.columns]

    def set_now(self, now: float) -> None:
        """The time live columns are shown at; redraws (the visible rows) when it moved."""
        if now != self._now:
            self._now = now
            if self._live:
                self.refresh()

    def mark_sorted(self, key: str, reverse: bool) -> None:
        """Show ▲/▼ after the label of the column the rows are sorted by."""
        for column in self._painter.columns:
            plain = column.label.plain.rstrip(" ▲▼")
            label = f"{plain}{'▼' if reverse else '▲'}" if column.key == key else plain
            if label != column.label.plain:
                column.label = Text(label)
                self._painter.forget(None)
                self._refresh_row(HEADER)

    @property
    def lines_drawn(self) -> int:
        """Lines drawn so far (a line taken from the line cache is not drawn)."""
        return self._painter.drawn

    @property
    def row_count(self) -> int:
        return len(self._keys)

    @property
    def row_keys(self) -> list[str]:
        return list(self._keys)

    @property
    def selected_key(self) -> str | None:
        return self._keys[self.cursor_row] if self._keys else None

    def get_row_at(self, index: int) -> list[Any]:
        """The cells of a row as they are drawn (what ``make_cell`` made of them)."""
        values = self._shown(self._values[self._keys[index]])
        make, columns = self._painter.make_cell, self._painter.columns
        return [make(c.key, v) for c, v in zip(columns, values, strict=True)]

    def sync(self, rows: Sequence[tuple[str, tuple[Any, ...]]]) -> int:
        """Show exactly these (key, values) rows in this order. Returns the cells changed
        (added, removed rows count one)."""
        selected = self.selected_key or self._reselect
        self._reselect = None
        old, new = self._values, dict(rows)
        if len(new) != len(rows):
            raise ValueError("sync: two rows have the same key")
        changes, changed = 0, []
        for key, values in rows:
            was = old.get(key)
            if was is values:  # the same tuple (a memo handed it again): nothing to compare
                continue
            if was is None:
                changes += len(values)
            elif was != values:
                changes += sum(v != w for v, w in zip(values, was, strict=True))
                changed.append(key)
        gone = [key for key in old if key not in new]
        for key in gone:
            self._painter.forget(key)
        changes += len(gone)
        order = [key for key, _ in rows]
        moved = order != self._keys
        if moved:
            self._keys = order
            self._index = {key: i for i, key in enumerate(order)}
            if len(order) != len(old):
                self._resize_virtual()
        self._values = new
        if moved:
            self.refresh()
        else:  # same rows in the same places: redraw the changed ones (if on screen)
            for key in changed:
                self._refresh_row(self._index[key])
        if selected is not None and selected in self._index:
            self.move_cursor(row=self._index[selected], scroll=moved)
        else:
            self.move_cursor(row=self.cursor_row, scroll=moved)
        return changes

    def move_cursor(self, *, row: int, animate: bool = False, scroll: bool = True) -> None:
        """Put the cursor on a row (clamped to the rows there are)."""
        row = max(0, min(row, len(self._keys) - 1))
        if row != self.cursor_row:
            self._refresh_row(self.cursor_row)
            self.cursor_row = row
            self._refresh_row(row)
        self._after_cursor_move(scroll=scroll, animate=animate)

    # -- cursor and scrolling --------------------------------------------------------------
    def _after_cursor_move(self, scroll: bool, animate: bool = False) -> None:
        if not self._keys:
            self._highlighted = None
            return
        now = (self.cursor_row, self._keys[self.cursor_row])
        if now != self._highlighted:
            self._highlighted = now
            self.post_message(self.RowHighlighted(self, *now))
            scroll = True
        if scroll:
            self._scroll_to_cursor(animate)

    def _scroll_to_cursor(self, animate: bool = False) -> None:
        rows = self.scrollable_content_region.height - 1  # lines under the header
        if rows <= 0:
            return  # not laid out (or hidden): on_resize scrolls once it has a size
        top, row = round(self.scroll_y), self.cursor_row
        if row < top:
            self.scroll_to(y=row, animate=animate, force=True, immediate=True)
        elif row >= top + rows:
            self.scroll_to(y=row - rows + 1, animate=animate, force=True, immediate=True)

    def _refresh_row(self, index: int) -> None:
        """Redraw one row (HEADER: the labels, always the top line) if it is on screen."""
        y = 0 if index == HEADER else index + 1 - self.scroll_offset.y
        if 0 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def _resize_virtual(self) -> None:
        self.virtual_size = Size(self._painter.width, len(self._keys) + 1)

    def on_resize(self) -> None:
        self._scroll_to_cursor()

    def action_cursor_up(self) -> None:
        self._hover(None)
        self.move_cursor(row=self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self._hover(None)
        self.move_cursor(row=self.cursor_row + 1)

    def action_page_down(self) -> None:
        self._hover(None)
        page = max(1, self.scrollable_content_region.height - 1)
        self.scroll_relative(y=page, animate=False, force=True)
        self.move_cursor(row=self.cursor_row + page)

    def action_page_up(self) -> None:
        self._hover(None)
        page = max(1, self.scrollable_content_region.height - 1)
        self.scroll_relative(y=-page, animate=False, force=True)
        self.move_cursor(row=self.cursor_row - page)

    def action_first_row(self) -> None:
        self._hover(None)
        self.move_cursor(row=0)

    def action_last_row(self) -> None:
        self._hover(None)
        self.move_cursor(row=len(self._keys) - 1)

    def action_scroll_home(self) -> None:
        self.scroll_to(x=0, animate=False)

    def action_scroll_end(self) -> None:
        self.scroll_to(x=self.max_scroll_x, animate=False)

    def action_select_cursor(self) -> None:
        self._hover(None)
        if self._keys:
            self.post_message(self.RowSelected(self, self.cursor_row, self._keys[self.cursor_row]))

    # -- mouse -----------------------------------------------------------------------------
    def _hover(self, row: int | None) -> None:
        if row != self._hover_row:
            for index in (self._hover_row, row):
                if index is not None:
                    self._refresh_row(index)
            self._hover_row = row

    def _row_under(self, event: events.MouseEvent) -> int | None:
        """The row index under the mouse (HEADER for the labels), None outside the rows."""
        offset = event.get_content_offset(self)
        if offset is None:
            return None
        if offset.y == 0:
            return HEADER
        row = offset.y - 1 + self.scroll_offset.y
        return row if row < len(self._keys) else None

    def _on_mouse_move(self, event: events.MouseMove) -> None:
        self._hover(self._row_under(event) if "column" in event.style.meta else None)

    def _on_leave(self, _: events.Leave) -> None:
        self._hover(None)

    def _on_click(self, event: events.Click) -> None:
        column, row = event.style.meta.get("column"), self._row_under(event)
        if column is None or row is None:
            return
        if row == HEADER:
            if not event.style.meta.get("out_of_bounds"):
                key = self._painter.columns[column].key
                self.post_message(self.HeaderSelected(self, key, column))
            return
        again = row == self.cursor_row
        self.move_cursor(row=row)
        if again:
            self.action_select_cursor()
        event.stop()

    # -- drawing ---------------------------------------------------------------------------
    def render_lines(self, crop: Region) -> list[Strip]:
        style = self.get_component_rich_style
        self._painter.set_styles(
            Styles(
                base=self.rich_style,
                header=self.get_component_styles("keyed-table--header").rich_style,
                cursor=style("keyed-table--cursor"),
                hover=style("keyed-table--hover"),
                header_hover=style("keyed-table--header-hover"),
            )
        )
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        painter = self._painter
        if painter.styles is None:  # not through render_lines: nothing to draw yet
            return Strip.blank(self.size.width)
        width, (scroll_x, scroll_y) = self.size.width, self.scroll_offset
        if y == 0:
            index, key, values = HEADER, None, tuple(c.label for c in painter.columns)
        else:
            index = y - 1 + scroll_y
            if index >= len(self._keys):
                return Strip.blank(width, painter.styles.base)
            key = self._keys[index]
            values = self._shown(self._values[key])
        cursor, hover = index == self.cursor_row, index == self._hover_row
        app = self.app
        return painter.line(
            key, values, cursor, hover, scroll_x, width, app.console, app.console_options
        )

    def _shown(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        if not self._live:
            return values
        now, out = self._now, list(values)
        for i, fn in self._live.items():
            out[i] = fn(values[i], now)
        return tuple(out)
