"""Drawing one line of a KeyedTable: cells rendered once per (column, value, style) and
reused, each tagged with the mouse meta DataTable uses ({"row", "column"})."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from textual.renderables.styled import Styled
from textual.strip import Strip

if TYPE_CHECKING:
    from hai_cli.tui.table import KeyedTable, _Styles

PAD = 1  # blank cells on each side of every cell, as DataTable's cell_padding
HEADER = -1  # the header's row index (in the mouse meta too)


def draw_row(
    table: KeyedTable,
    index: int,
    values: tuple[Any, ...],
    cursor: bool,
    hover: bool,
    scroll_x: int,
    width: int,
    styles: _Styles,
) -> Strip:
    """The visible part (from scroll_x, width cells) of row ``index`` (HEADER: the labels)."""
    header = index == HEADER
    row_style = styles.header if header else styles.base
    component = Style()
    if hover:
        component += styles.hover
        if header:
            component += styles.header_hover
    if cursor:
        component += styles.cursor
    # the cursor's foreground wins over the cell's own colour, its background does not
    post = Style.from_color(color=component.color)
    pre = row_style + component
    segments: list[Segment] = []
    for i, value in enumerate(values):
        cells = _cell(table, i, value.plain if header else value, value, header, pre, post)
        meta = Style.from_meta({"row": index, "column": i})
        segments += [Segment(text, style + meta if style else meta) for text, style, _ in cells]
    remaining = width - sum(c.render_width for c in table._columns)
    out = Style.from_meta({"row": index, "column": 0, "out_of_bounds": True})
    segments.append(Segment(" " * max(0, remaining), pre + out))
    return (
        Strip(segments)
        .crop(scroll_x, scroll_x + width)
        .adjust_cell_length(width, styles.base)
        .simplify()
    )


def _cell(
    table: KeyedTable,
    i: int,
    cache_value: Any,
    value: Any,
    header: bool,
    pre: Style,
    post: Style,
) -> list[Segment]:
    column = table._columns[i]
    key = (i, header, cache_value, pre, post, column.width)
    cells = table._cells.get(key)
    if cells is None:
        renderable = value if header else table._make_cell(column.key, value)
        options = table.app.console_options.update_dimensions(column.render_width, 1)
        lines = table.app.console.render_lines(
            Styled(Padding(renderable, (0, PAD)), pre_style=pre, post_style=post),
            options.update(no_wrap=True),
        )
        cells = lines[0]
        table._cells.set(key, cells)
    return cells
