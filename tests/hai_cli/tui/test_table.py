"""KeyedTable: sync by key (adds, removes, moves), the cursor kept on its key, sort marks,
live columns drawn for the visible rows only, lines reused for rows that only moved, mouse
and keys, and what the terminal shows."""

from __future__ import annotations

from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult

from hai_cli.tui.table import KeyedTable
from tests.support.tui import screen_text

pytestmark = pytest.mark.asyncio

T0 = 1_000_000.0
COLUMNS = [("id", "ID", 4), ("name", "NAME", 8), ("age", "AGE", 5)]


def rows(*keys: int, name: str = "job") -> list[tuple[str, tuple[Any, ...]]]:
    return [(str(k), (str(k), f"{name}-{k}", T0 - 60 * k)) for k in keys]


class TableApp(App):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, str]] = []
        self.made: list[tuple[str, Any]] = []  # every make_cell call
        self.aged = 0  # every call of the live AGE function

    def compose(self) -> ComposeResult:
        yield KeyedTable()

    def on_mount(self) -> None:
        def make(column: str, value: Any) -> Text:
            self.made.append((column, value))
            return Text(str(value), no_wrap=True, end="")

        def age(ts: float, now: float) -> str:
            self.aged += 1
            return f"{int(now - ts) // 60}m"

        table = self.query_one(KeyedTable)
        table.set_columns(COLUMNS, make, live={"age": age})
        table.set_now(T0)
        table.focus()

    @property
    def table(self) -> KeyedTable:
        return self.query_one(KeyedTable)

    def on_keyed_table_row_highlighted(self, event: KeyedTable.RowHighlighted) -> None:
        self.events.append(("highlighted", event.row_key))

    def on_keyed_table_row_selected(self, event: KeyedTable.RowSelected) -> None:
        self.events.append(("selected", event.row_key))

    def on_keyed_table_header_selected(self, event: KeyedTable.HeaderSelected) -> None:
        self.events.append(("header", event.column_key))


async def test_sync_adds_removes_and_moves_rows_and_the_cursor_keeps_its_key() -> None:
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.table
        assert table.sync(rows(1, 2, 3, 4, 5)) == 15  # 5 rows of 3 cells
        table.move_cursor(row=2)
        assert table.selected_key == "3"
        # a new row on top, one gone, the rest reversed: the cursor follows "3"
        assert table.sync(rows(6, 5, 4, 3, 2)) == 3 + 1
        assert table.row_keys == ["6", "5", "4", "3", "2"]
        assert (table.selected_key, table.cursor_row) == ("3", 3)
        # a changed cell counts once, and the values are what is drawn
        changed = [(k, (v[0], "renamed", v[2]) if k == "4" else v) for k, v in rows(6, 5, 4, 3, 2)]
        assert table.sync(changed) == 1
        assert str(table.get_row_at(2)[1]) == "renamed"
        # the selected row disappears: the cursor stays on a row that exists
        assert table.sync(rows(6, 5)) == 3
        assert table.selected_key == "5" and table.cursor_row == 1
        assert table.sync([]) == 2 and table.selected_key is None
        await pilot.pause()
        with pytest.raises(ValueError, match="same key"):
            table.sync(rows(1) + rows(1))
        with pytest.raises(ValueError, match="not columns: when"):
            table.set_columns(COLUMNS, live={"when": lambda ts, now: ""})


async def test_highlight_messages_follow_the_key() -> None:
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        app.table.sync(rows(1, 2, 3))
        await pilot.pause()
        assert app.events == [("highlighted", "1")]  # the first row, once rows exist
        await pilot.press("down")
        app.table.sync(rows(1, 2, 3))  # nothing moved: no message
        await pilot.pause()
        assert app.events[-1] == ("highlighted", "2") and len(app.events) == 2
        app.table.sync(rows(0, 1, 2, 3))  # "2" moved down a row: same key, new index
        await pilot.pause()
        assert app.events[-1] == ("highlighted", "2") and app.table.cursor_row == 2


async def test_sort_marks_and_the_visible_text() -> None:
    app = TableApp()
    async with app.run_test(size=(30, 6)) as pilot:
        table = app.table
        table.sync(rows(1, 2, 3, 4, 5, 6, 7, name="[red]x"))  # markup is shown, not read
        table.mark_sorted("name", reverse=True)
        await pilot.pause()
        assert table.labels == ["ID", "NAME▼", "AGE"]
        shown = [line[:28].rstrip() for line in screen_text(app).splitlines()]  # no scrollbar
        assert shown == [
            " ID    NAME▼     AGE",
            " 1     [red]x-1  1m",
            " 2     [red]x-2  2m",
            " 3     [red]x-3  3m",
            " 4     [red]x-4  4m",
            " 5     [red]x-5  5m",
        ]
        table.mark_sorted("id", reverse=False)
        await pilot.pause()
        assert table.labels == ["ID▲", "NAME", "AGE"]
        assert screen_text(app).splitlines()[0] == " ID▲   NAME      AGE"


async def test_a_clock_tick_draws_the_visible_rows_only() -> None:
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        app.table.sync(rows(*range(1000)))
        await pilot.pause()
        app.aged = 0
        app.table.set_now(T0 + 120)  # every age changes by 2 minutes
        await pilot.pause()
        assert "  2m" in screen_text(app).splitlines()[1]  # row 0: submitted at T0
        assert 0 < app.aged <= 2 * 11  # about the 11 rows on screen, not 1,000


async def test_rows_that_only_moved_are_not_drawn_again() -> None:
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        app.table.sync(rows(*range(10, 40)))
        await pilot.pause()
        app.made.clear()
        drawn = app.table.lines_drawn
        app.table.sync(rows(*range(9, 40)))  # one row on top, every other row one lower
        await pilot.pause()
        assert app.table.lines_drawn == drawn + 1  # the new row; the cursor stayed on "10"
        assert app.made and {value for _, value in app.made} <= {"9", "job-9", "9m"}
        assert screen_text(app).splitlines()[1].split() == ["9", "job-9", "9m"]


async def test_mouse_header_click_row_click_and_second_click_selects() -> None:
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        app.table.sync(rows(1, 2, 3))
        await pilot.pause()
        await pilot.click(KeyedTable, offset=(8, 0))  # NAME: columns are 6, 10, 7 wide
        await pilot.click(KeyedTable, offset=(35, 0))  # right of the last column: nothing
        await pilot.click(KeyedTable, offset=(2, 3))  # the third row
        await pilot.pause()
        assert app.table.selected_key == "3"
        await pilot.click(KeyedTable, offset=(30, 3))  # again, right of the columns
        await pilot.pause()
        assert [e for e in app.events if e[0] != "highlighted"] == [
            ("header", "name"),
            ("selected", "3"),
        ]


async def test_keys_move_the_cursor_and_keep_it_on_screen() -> None:
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:  # 11 rows shown under the header
        app.table.sync(rows(*range(100)))
        await pilot.pause()
        await pilot.press("ctrl+end")
        assert app.table.selected_key == "99"
        assert screen_text(app).splitlines()[-1].split()[0] == "99"
        await pilot.press("ctrl+home", "pagedown")  # a page: the 11 rows on screen
        assert app.table.cursor_row == 11
        assert "11" in [line.split()[0] for line in screen_text(app).splitlines()[1:]]
        await pilot.press("pageup", "up", "down", "enter")
        await pilot.pause()
        assert app.table.cursor_row == 1 and app.events[-1] == ("selected", "1")
        assert screen_text(app).splitlines()[1].split()[0] == "0"


async def test_a_table_wider_than_the_screen_scrolls_sideways_header_included() -> None:
    app = TableApp()
    async with app.run_test(size=(20, 8)) as pilot:  # the columns need 6 + 10 + 7 = 23
        app.table.sync(rows(1, 2, 3))
        await pilot.pause()
        assert screen_text(app).splitlines()[:2] == [" ID    NAME      AGE", " 1     job-1     1m"]
        await pilot.press("right", "right", "right")
        await pilot.pause()
        assert app.table.scroll_x == 3  # as far as it goes
        assert screen_text(app).splitlines()[:2] == ["    NAME      AGE", "    job-1     1m"]
        await pilot.press("home")
        await pilot.pause()
        assert screen_text(app).splitlines()[0] == " ID    NAME      AGE"


async def test_the_mouse_lights_the_row_under_it_until_a_key_is_pressed() -> None:
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        app.table.sync(rows(1, 2, 3, 4))
        await pilot.pause()

        def background(line: int) -> object:
            return app.screen._compositor.render_strips()[line]._segments[0].style.bgcolor

        assert background(3) == background(4)  # rows 2 and 3: neither under the cursor
        await pilot.hover(KeyedTable, offset=(3, 3))
        await pilot.pause()
        assert background(3) != background(4)
        await pilot.press("up")  # keys put the mouse's highlight away, as DataTable does
        await pilot.pause()
        assert background(3) == background(4)
