"""Widgets: a DataTable updated in place by row key, and the error banner."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable, Static
from textual.widgets.data_table import ColumnKey, RowKey


class KeyedTable(DataTable):
    """A table whose rows are replaced by ``sync``: cells change in place, keyed by row key.

    Rows are given as values (one per column, cheap to compare); a cell is rebuilt and
    written only when its value changed, rows are added and removed as needed, and the
    cursor stays on the same key (not the same index) while rows move: no flicker, no lost
    selection. The first value of a row must be its key (it is used to order rows).
    """

    BATCH_FROM = 32  # from this many changed cells, write them in one go

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self._values: dict[str, tuple[Any, ...]] = {}
        self._reselect: str | None = None
        self._order: list[str] = []
        self._col_keys: list[str] = []
        self._make_cell: Callable[[str, Any], Any] = lambda _col, value: Text(str(value))

    def set_columns(
        self,
        columns: Sequence[tuple[str, str, int | None]],
        make_cell: Callable[[str, Any], Any] | None = None,
    ) -> None:
        """(key, label, width) columns and how a value becomes a cell; rows are dropped."""
        selected = self.selected_key
        self.clear(columns=True)
        self._values.clear()
        self._order = []
        self._col_keys = [key for key, _, _ in columns]
        if make_cell is not None:
            self._make_cell = make_cell
        for key, label, width in columns:
            self.add_column(label, key=key, width=width)
        self._reselect = selected

    def mark_sorted(self, key: str, reverse: bool) -> None:
        """Show ▲/▼ after the label of the column the rows are sorted by."""
        for col_key, column in self.columns.items():
            plain = column.label.plain.rstrip(" ▲▼")
            label = f"{plain}{'▼' if reverse else '▲'}" if col_key.value == key else plain
            if label != column.label.plain:
                column.label = Text(label)
                self.refresh()

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None

    def sync(self, rows: Sequence[tuple[str, tuple[Any, ...]]]) -> int:
        """Show exactly these (key, values) rows in this order. Returns the cells written."""
        selected = self.selected_key or self._reselect
        self._reselect = None
        writes = 0
        known = self._values
        if len(rows) != len(known) or any(key not in known for key, _ in rows):
            wanted = {key for key, _ in rows}
            for key in [k for k in known if k not in wanted]:
                self.remove_row(key)
                del known[key]
                writes += 1
        make, cols = self._make_cell, self._col_keys
        changed: list[tuple[str, str, Any]] = []
        for key, values in rows:
            old = known.get(key)
            if old == values:
                continue
            if old is None:
                self.add_row(*(make(c, v) for c, v in zip(cols, values, strict=True)), key=key)
                writes += len(values)
            else:
                changed += [
                    (key, c, make(c, v))
                    for c, v, was in zip(cols, values, old, strict=True)
                    if v != was
                ]
            known[key] = values
        self._write(changed)
        writes += len(changed)
        order = [key for key, _ in rows]
        if order != self._order:
            rank = {key: i for i, key in enumerate(order)}
            # the first cell of a row shows its key (task id, node name): sort by it
            self.sort(cols[0], key=lambda first: rank[_plain(first)])
            self._order = order
        if selected is not None and selected in known:
            index = self.get_row_index(selected)
            if index != self.cursor_row:
                self.move_cursor(row=index, animate=False, scroll=False)
        return writes

    def _write(self, changed: list[tuple[str, str, Any]]) -> None:
        if len(changed) < self.BATCH_FROM or not hasattr(self, "_data"):
            for key, col, value in changed:
                self.update_cell(key, col, value)
            return
        # update_cell refreshes once per cell; many at once (every age ticking) is cheaper
        # as one write into the table's rows and one refresh
        data = self._data
        for key, col, value in changed:
            data[RowKey(key)][ColumnKey(col)] = value
        self._update_count += 1
        self.refresh()


def _plain(cell: Any) -> str:
    return (cell.plain if hasattr(cell, "plain") else str(cell)).strip()


class Banner(Static):
    """A full-width warning line shown while the server is down or refuses the token."""

    DEFAULT_CSS = """
    Banner {
        display: none;
        height: auto;
        background: $error;
        color: $text;
        text-style: bold;
        padding: 0 1;
    }
    Banner.-shown { display: block; }
    """

    def show(self, message: str) -> None:
        self.update(Text(message))
        self.add_class("-shown")

    def hide(self) -> None:
        self.remove_class("-shown")

    @property
    def shown(self) -> bool:
        return self.has_class("-shown")
