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
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from hai_cli.tui.table_draw import HEADER, PAD, draw_row

MakeCell = Callable[[str, Any], Any]
Live = Callable[[Any, float], Any]


@dataclass(slots=True)
class _Column:
    key: str
    label: Text
    width: int

    @property
    def render_width(self) -> int:
        return self.width + 2 * PAD


@dataclass(frozen=True, slots=True)
class _Styles:
    """The styles of one frame (they change with focus, theme and CSS)."""

    base: Style
    header: Style
    cursor: Style
    hover: Style
    header_hover: Style


def _text_cell(_column: str, value: Any) -> Text:
    return Text(str(value), no_wrap=True, end="")


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
        & > .keyed-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .keyed-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .keyed-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .keyed-table--header-hover { background: $accent 30%; }
        & > .keyed-table--hover { background: $block-hover-background; }
    }
    """

    class RowHighlighted(Message):
        """The cursor is on another row (or the same row at another index)."""

        def __init__(self, table: KeyedTable, cursor_row: int, row_key: str) -> None:
            super().__init__()
            self.table, self.cursor_row, self.row_key = table, cursor_row, row_key

        @property
        def control(self) -> KeyedTable:
            return self.table

    class RowSelected(Message):
        """Enter, or a click on the row under the cursor."""

        def __init__(self, table: KeyedTable, cursor_row: int, row_key: str) -> None:
            super().__init__()
            self.table, self.cursor_row, self.row_key = table, cursor_row, row_key

        @property
        def control(self) -> KeyedTable:
            return self.table

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
        self._columns: list[_Column] = []
        self._make_cell: MakeCell = _text_cell
        self._live: dict[int, Live] = {}  # column index -> (raw value, now) -> value shown
        self._now = 0.0
        self._keys: list[str] = []  # row order
        self._index: dict[str, int] = {}
        self._values: dict[str, tuple[Any, ...]] = {}
        self.cursor_row = 0
        self._highlighted: tuple[int, str] | None = None
        self._reselect: str | None = None
        self._hover_row: int | None = None  # set while the mouse is over a row
        self._styles: _Styles | None = None
        self._lines: dict[str | None, tuple[tuple[Any, ...], Strip]] = {}  # None: header
        self._cells: LRUCache[tuple[Any, ...], list[Segment]] = LRUCache(8192)

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
        self._columns = [_Column(key, Text(label), width) for key, label, width in columns]
        if make_cell is not None:
            self._make_cell = make_cell
        index = {c.key: i for i, c in enumerate(self._columns)}
        self._live = {index[key]: fn for key, fn in (live or {}).items()}
        self._keys, self._index, self._values = [], {}, {}
        self._lines.clear()
        self._cells.clear()
        self.cursor_row = 0
        self._highlighted = None
        self._resize_virtual()
        self.refresh()

    @property
    def columns(self) -> list[str]:
        return [c.key for c in self._columns]

    @property
    def labels(self) -> list[str]:
        return [c.label.plain for c in self._columns]

    def set_now(self, now: float) -> None:
        """The time live columns are shown at; redraws (the visible rows) when it moved."""
        if now != self._now:
            self._now = now
            if self._live:
                self.refresh()

    def mark_sorted(self, key: str, reverse: bool) -> None:
        """Show ▲/▼ after the label of the column the rows are sorted by."""
        for column in self._columns:
            plain = column.label.plain.rstrip(" ▲▼")
            label = f"{plain}{'▼' if reverse else '▲'}" if column.key == key else plain
            if label != column.label.plain:
                column.label = Text(label)
                self._lines.pop(None, None)
                self.refresh_line(self.scroll_offset.y)  # the header: always the top line

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
        return [self._make_cell(c.key, v) for c, v in zip(self._columns, values, strict=True)]

    def sync(self, rows: Sequence[tuple[str, tuple[Any, ...]]]) -> int:
        """Show exactly these (key, values) rows in this order. Returns the cells changed
        (added, removed rows count one)."""
        selected = self.selected_key or self._reselect
        self._reselect = None
        old, new = self._values, dict(rows)
        if len(new) != len(rows):
            raise ValueError("sync: two rows have the same key")
        changes = 0
        for key, values in rows:
            was = old.get(key)
            if was is None:
                changes += len(values)
            elif was != values:
                changes += sum(v != w for v, w in zip(values, was, strict=True))
        gone = [key for key in old if key not in new]
        for key in gone:
            self._lines.pop(key, None)
        changes += len(gone)
        order = [key for key, _ in rows]
        moved = order != self._keys
        if moved:
            self._keys = order
            self._index = {key: i for i, key in enumerate(order)}
            if len(order) != len(old):
                self._resize_virtual()
        self._values = new
        if selected is not None and selected in self._index:
            self.cursor_row = self._index[selected]
        else:
            self.cursor_row = max(0, min(self.cursor_row, len(order) - 1))
        if changes or moved:
            self.refresh()
        self._after_cursor_move(scroll=moved)
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
            if self.is_mounted:
                self.call_after_refresh(self._scroll_to_cursor)
            return
        top, row = round(self.scroll_y), self.cursor_row
        if row < top:
            self.scroll_to(y=row, animate=animate, force=True, immediate=True)
        elif row >= top + rows:
            self.scroll_to(y=row - rows + 1, animate=animate, force=True, immediate=True)

    def _refresh_row(self, index: int) -> None:
        self.refresh_line(index + 1)

    def _resize_virtual(self) -> None:
        width = sum(c.render_width for c in self._columns)
        self.virtual_size = Size(width, len(self._keys) + 1)

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

    def _on_mouse_move(self, event: events.MouseMove) -> None:
        meta = event.style.meta
        self._hover(meta.get("row") if "row" in meta else None)

    def _on_leave(self, _: events.Leave) -> None:
        self._hover(None)

    def _on_click(self, event: events.Click) -> None:
        meta = event.style.meta
        if "row" not in meta or "column" not in meta:
            return
        row, column = meta["row"], meta["column"]
        if row == HEADER:
            key = self._columns[column].key
            self.post_message(self.HeaderSelected(self, key, column))
        elif row < len(self._keys):
            again = row == self.cursor_row
            self.move_cursor(row=row)
            if again:
                self.action_select_cursor()
            event.stop()

    # -- drawing ---------------------------------------------------------------------------
    def render_lines(self, crop: Any) -> list[Strip]:
        styles = self.get_component_rich_style
        self._styles = _Styles(
            base=self.rich_style,
            header=self.get_component_styles("keyed-table--header").rich_style,
            cursor=styles("keyed-table--cursor"),
            hover=styles("keyed-table--hover"),
            header_hover=styles("keyed-table--header-hover"),
        )
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        styles = self._styles
        if styles is None:
            return Strip.blank(self.size.width)
        width, (scroll_x, scroll_y) = self.size.width, self.scroll_offset
        if y == 0:
            index, key, values = HEADER, None, tuple(c.label for c in self._columns)
        else:
            index = y - 1 + scroll_y
            if index >= len(self._keys):
                return Strip.blank(width, styles.base)
            key = self._keys[index]
            values = self._shown(self._values[key])
        cursor = index == self.cursor_row
        hover = index == self._hover_row
        stamp = (index, values, cursor, hover, scroll_x, width, styles)
        cached = self._lines.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        strip = draw_row(self, index, values, cursor, hover, scroll_x, width, styles)
        self._lines[key] = (stamp, strip)
        return strip

    def _shown(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        if not self._live:
            return values
        now, out = self._now, list(values)
        for i, fn in self._live.items():
            out[i] = fn(values[i], now)
        return tuple(out)
