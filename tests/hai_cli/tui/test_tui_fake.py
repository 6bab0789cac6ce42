"""States that a real server cannot easily be put in: recovery after an outage, a why 404."""

from __future__ import annotations

import pytest

from hai_cli.client import ApiError
from hai_cli.tui.app import build_app
from hai_cli.tui.demo import NOW, DemoClient
from hai_cli.tui.widgets import Banner, KeyedTable
from tests.support.tui import screen_text, until

pytestmark = pytest.mark.asyncio


async def test_banner_appears_on_outage_and_clears_on_recovery() -> None:
    client = DemoClient(12)
    app = build_app(client, clock=lambda: NOW, refresh_s=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        banner = app.main.query_one(Banner)
        await until(pilot, lambda: app.updates > 0)
        selected = app.main.selected_id()
        assert not banner.shown
        client.down = True
        await until(pilot, lambda: "server unreachable" in screen_text(app))
        # the last good data stays on screen, and so does the selection
        assert app.main.selected_id() == selected
        client.down = False
        client.bad_token = True
        await until(pilot, lambda: "refused the token" in screen_text(app))
        client.bad_token = False
        await until(pilot, lambda: not banner.shown)
        assert app.main.selected_id() == selected


async def test_why_endpoint_missing_is_not_an_error() -> None:
    class NoWhy(DemoClient):
        def why(self, task_id: int) -> dict:
            raise ApiError(404, "not_found", "Not Found")

    app = build_app(NoWhy(12), clock=lambda: NOW, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.updates > 0)
        await pilot.press("down")  # task 8: queued
        await until(pilot, lambda: "not available from this server" in screen_text(app))
        assert not app.main.query_one(Banner).shown


async def test_non_admin_cannot_switch_to_all_users() -> None:
    app = build_app(DemoClient(12, role="internal"), clock=lambda: NOW, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.updates > 0)
        await pilot.press("m")
        assert not app.filter.all_users


async def test_resize_switches_layout_and_keeps_the_selection() -> None:
    app = build_app(DemoClient(12), clock=lambda: NOW, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.updates > 0)
        await pilot.press("down", "down")
        selected = app.main.selected_id()
        await until(pilot, lambda: "VHIGH" in screen_text(app))  # short names at 80 columns
        await pilot.resize_terminal(120, 40)
        await until(pilot, lambda: "VERY_HIGH" in screen_text(app))
        assert app.main.selected_id() == selected
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: "VHIGH" in screen_text(app))
        assert app.main.selected_id() == selected


async def test_clicking_a_header_sorts_by_that_column() -> None:
    app = build_app(DemoClient(12), clock=lambda: NOW, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.updates > 0)
        table = app.main.query_one(KeyedTable)
        await pilot.click(KeyedTable, offset=(9, 0))  # the NAME header
        assert app.filter.sort_key == "name" and not app.filter.sort_reverse
        await until(pilot, lambda: "sort: name↑" in screen_text(app))
        names = [str(table.get_row_at(i)[1]) for i in range(table.row_count)]
        assert names == sorted(names)
        await pilot.click(KeyedTable, offset=(9, 0))
        assert app.filter.sort_reverse
