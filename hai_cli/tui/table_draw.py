"""Drawing the lines of a KeyedTable, with two caches.

- Cells: a cell is rendered (Rich padding, styles, the cell's own colours) once per
  (column, value, look) and its segments reused by every row showing the same value.
- Lines: each row keeps its last line, stamped with what it was drawn from (values, cursor,
  hover, horizontal scroll, width); an unchanged stamp returns the same Strip.

A cell's segments carry ``{"column": i}`` as meta (the mouse finds the column by it, the row
by its line) and not the row, so a line does not depend on where its row is: rows that only
moved are not drawn again. Both caches are dropped when the styles change (focus, theme).

The segments are those of Textual's DataTable with ``cursor_type="row"``: same padding, same
style layering (row style + cursor/hover, the cell, then the cursor's foreground), same
splits, so the table looks the same.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from rich.console import Console, ConsoleOptions
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.renderables.styled import Styled
from textual.strip import Strip

PAD = 1  # blank cells on each side of every cell, as DataTable's cell_padding
HEADER = -1  # the header's row index
OUT_OF_BOUNDS = Style.from_meta({"column": 0, "out_of_bounds": True})  # right of the columns

MakeCell = Callable[[str, Any], Any]


@dataclass(slots=True)
class Column:
    key: str
    label: Text
    width: int

    @property
    def render_width(self) -> int:
        return self.width + 2 * PAD


@dataclass(frozen=True, slots=True)
class Styles:
    """The styles of one frame (they change with focus, theme and CSS)."""

    base: Style
    header: Style
    cursor: Style
    hover: Style
    header_hover: Style


def text_cell(_column: str, value: Any) -> Text:
    return Text(str(value), no_wrap=True, end="")


class Painter:
    """Lines of a table from its columns, styles and row values (see the module doc)."""

    def __init__(self) -> None:
        self.columns: list[Column] = []
        self.make_cell: MakeCell = text_cell
        self.styles: Styles | None = None
        self.width = 0  # of all columns, padding included
        self.drawn = 0  # lines drawn (not taken from the line cache), for tests and benches
        self._looks: dict[tuple[bool, bool, bool], tuple[Style, Style]] = {}
        self._cells: LRUCache[tuple[Any, ...], list[Segment]] = LRUCache(8192)
        self._lines: dict[Hashable, tuple[tuple[Any, ...], Strip]] = {}

    def set_columns(self, columns: list[Column], make_cell: MakeCell | None) -> None:
        self.columns = columns
        if make_cell is not None:
            self.make_cell = make_cell
        self.width = sum(c.render_width for c in columns)
        self.clear()

    def set_styles(self, styles: Styles) -> None:
        if styles != self.styles:
            self.styles = styles
            self.clear()

    def clear(self) -> None:
        self._looks.clear()
        self._cells.clear()
        self._lines.clear()

    def forget(self, key: Hashable) -> None:
        """Drop a row's line (the row is gone, or the header's labels changed: key None)."""
        self._lines.pop(key, None)

    def line(
        self,
        key: Hashable,
        values: tuple[Any, ...],
        cursor: bool,
        hover: bool,
        scroll_x: int,
        width: int,
        console: Console,
        options: ConsoleOptions,
    ) -> Strip:
        """The visible part (from scroll_x, width cells) of row ``key`` (None: the header,
        whose values are the labels)."""
        stamp = (values, cursor, hover, scroll_x, width)
        cached = self._lines.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        self.drawn += 1
        header = key is None
        look = (header, cursor, hover)
        pre, post = self._looks.get(look) or self._look(look)
        cells, segments = self._cells, []
        for i, value in enumerate(values):
            cell_key = (i, look, value.plain if header else value)
            cell = cells.get(cell_key)
            if cell is None:
                renderable = value if header else self.make_cell(self.columns[i].key, value)
                cell = self._render(i, renderable, pre, post, console, options)
                cells.set(cell_key, cell)
            segments += cell
        segments.append(Segment(" " * max(0, width - self.width), pre + OUT_OF_BOUNDS))
        total = self.width + max(0, width - self.width)
        strip = Strip(segments, total).crop(scroll_x, scroll_x + width)
        assert self.styles is not None  # set by the table before any line
        strip = strip.adjust_cell_length(width, self.styles.base)
        self._lines[key] = (stamp, strip)
        return strip

    def _look(self, look: tuple[bool, bool, bool]) -> tuple[Style, Style]:
        """(pre, post) styles of the header or a row, under the cursor and/or the mouse."""
        assert self.styles is not None
        styles, (header, cursor, hover) = self.styles, look
        component = Style()
        if hover:
            component += styles.hover
            if header:
                component += styles.header_hover
        if cursor:
            component += styles.cursor
        row = styles.header if header else styles.base
        # the cursor's foreground wins over the cell's own colour, its background does not
        self._looks[look] = (row + component, Style.from_color(color=component.color))
        return self._looks[look]

    def _render(
        self,
        i: int,
        renderable: Any,
        pre: Style,
        post: Style,
        console: Console,
        options: ConsoleOptions,
    ) -> list[Segment]:
        options = options.update_dimensions(self.columns[i].render_width, 1)
        lines = console.render_lines(
            Styled(Padding(renderable, (0, PAD)), pre_style=pre, post_style=post),
            options.update(no_wrap=True),
        )
        meta = Style.from_meta({"column": i})
        cell = [Segment(text, style + meta if style else meta) for text, style, _ in lines[0]]
        return list(Segment.simplify(cell))
