"""Widgets: a DataTable updated in place by row key, and the error banner."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable, Static


class KeyedTable(DataTable):
    """A table whose rows are replaced by ``sync``: cells change in place, keyed by row key.

    The first cell of every row must show the row's key (it is used to order rows).

    Only changed cells are touched, rows are added and removed as needed, and the cursor
    stays on the same key (not the same index) while rows move: no flicker, no lost selection.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self._cells: dict[str, tuple[Any, ...]] = {}
        self._sigs: dict[str, Hashable] = {}
        self._reselect: str | None = None
        self._order: list[str] = []
        self._col_keys: list[str] = []

    def set_columns(self, columns: Sequence[tuple[str, str, int | None]]) -> None:
        """(key, label, width) columns; existing rows are dropped (call sync again)."""
        selected = self.selected_key
        self.clear(columns=True)
        self._cells.clear()
        self._sigs.clear()
        self._order = []
        self._col_keys = [key for key, _, _ in columns]
        for key, label, width in columns:
            self.add_column(label, key=key, width=width)
        self._reselect = selected

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None

    def sync(self, rows: Sequence[tuple[str, Hashable, Callable[[], tuple[Any, ...]]]]) -> int:
        """Show exactly these rows in this order: (key, signature, make_cells).

        make_cells is called only for new rows and rows whose signature changed; of those,
        only the cells that differ are written. Returns the number of cells written.
        """
        selected = self.selected_key or self._reselect
        self._reselect = None
        writes = 0
        if len(rows) != len(self._cells) or any(key not in self._cells for key, _, _ in rows):
            wanted = {key for key, _, _ in rows}
            for key in [k for k in self._cells if k not in wanted]:
                self.remove_row(key)
                del self._cells[key]
                del self._sigs[key]
                writes += 1
        for key, sig, make in rows:
            if self._sigs.get(key) == sig:
                continue
            cells = make()
            old = self._cells.get(key)
            if old is None:
                self.add_row(*cells, key=key)
                writes += len(cells)
            else:
                for col, new, was in zip(self._col_keys, cells, old, strict=True):
                    if new != was:
                        self.update_cell(key, col, new)
                        writes += 1
            self._cells[key] = cells
            self._sigs[key] = sig
        order = [key for key, _, _ in rows]
        if order != self._order:
            rank = {key: i for i, key in enumerate(order)}
            # the first cell of a row shows its key (task id, node name): sort by it
            self.sort(self._col_keys[0], key=lambda cell: rank[_plain(cell)])
            self._order = order
        if selected is not None and selected in self._cells:
            index = self.get_row_index(selected)
            if index != self.cursor_row:
                self.move_cursor(row=index, animate=False, scroll=False)
        return writes


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
