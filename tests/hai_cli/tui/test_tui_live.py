"""Pilot tests against a real embedded server running real task scripts."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Log

from hai_cli.client import Client
from hai_cli.tui.app import build_app
from hai_cli.tui.logs import LogsScreen
from hai_cli.tui.main import MainScreen
from hai_cli.tui.nodes import NodesScreen
from hai_cli.tui.widgets import Banner, KeyedTable
from tests.support.tui import Server, screen_text, until

pytestmark = pytest.mark.asyncio


def rows(app) -> list[str]:
    table = app.main.query_one(KeyedTable)
    return table.row_keys


def state_of(app, task_id: int) -> str | None:
    return next((t["state"] for t in app.tasks if t["id"] == task_id), None)


async def test_table_navigation_and_detail_follow_live_tasks(live: Server) -> None:
    a = live.submit("sleeper.py", "nav-a")
    b = live.submit("sleeper.py", "nav-b")
    app = build_app(live.client(), refresh_s=0.3)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: state_of(app, a) == "running" and state_of(app, b) == "running")
        assert rows(app)[:2] == [str(b), str(a)]  # newest first
        assert app.main.selected_id() == b
        await pilot.press("down")
        assert app.main.selected_id() == a
        # the detail pane shows the selected task's ranks, attempts and events
        await until(
            pilot, lambda: "local-" in screen_text(app) and f"task {a} " in screen_text(app)
        )
        text = screen_text(app)
        assert "ranks" in text and "attempts" in text
        # a new task appears above: the selection stays on the same task, not the same row
        c = live.submit("sleeper.py", "nav-c", nodes=2)
        await until(pilot, lambda: str(c) in rows(app), what="the new row")
        assert rows(app)[0] == str(c)
        assert app.main.selected_id() == a
        # a queued task says why it waits and where it stands
        await until(pilot, lambda: state_of(app, c) == "queued")
        await pilot.press("up", "up")  # rows: c, b, a
        assert app.main.selected_id() == c
        await until(pilot, lambda: "no_capacity" in screen_text(app), what="the queue reason")
        # zoom the detail pane and back
        await pilot.press("enter")
        assert app.main.has_class("-zoom")
        await pilot.press("escape")
        assert not app.main.has_class("-zoom")


async def test_filters_text_state_and_sort(live: Server) -> None:
    a = live.submit("sleeper.py", "filter-alpha")
    b = live.submit("sleeper.py", "filter-beta")
    q = live.submit("sleeper.py", "filter-gamma", nodes=2)
    app = build_app(live.client(), refresh_s=0.3)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: state_of(app, q) == "queued" and state_of(app, a) == "running")
        await pilot.press("slash", *"beta")
        assert isinstance(app.focused, Input)
        await until(pilot, lambda: rows(app) == [str(b)])
        await pilot.press("enter")  # keeps the filter, back to the table
        assert rows(app) == [str(b)]
        await pilot.press("escape")  # clears it
        await until(pilot, lambda: {str(a), str(b), str(q)} <= set(rows(app)))
        # state filter (server side): any -> active -> queued
        await pilot.press("f", "f")
        assert app.filter.state_label == "queued"
        await until(pilot, lambda: rows(app) == [str(q)], what="only the queued task")
        await pilot.press("f", "f", "f", "f")  # back to "any"
        await until(pilot, lambda: {str(a), str(b), str(q)} <= set(rows(app)))
        # sort by name ascending: o cycles id -> name
        await pilot.press("o")
        assert app.filter.sort_key == "name"
        mine = [r for r in rows(app) if r in {str(a), str(b), str(q)}]
        assert mine == [str(a), str(b), str(q)] or mine == [str(q), str(b), str(a)]
        await pilot.press("o")  # same key again is a new column (user), keep it simple
        # group filter cycles through the groups the server knows
        await pilot.press("g")
        assert app.filter.group == "default"
        await until(pilot, lambda: str(q) in rows(app))


async def test_actions_reach_the_server(live: Server) -> None:
    a = live.submit("sleeper.py", "act-a")
    client = live.client()
    app = build_app(live.client(), refresh_s=0.3)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: state_of(app, a) == "running")
        # suspend, confirmed: the task saves and goes back to the queue (and restarts)
        await pilot.press("p")
        assert "Suspend task" in screen_text(app)
        await pilot.press("y")
        await until(pilot, lambda: any(e["kind"] == "suspend" for e in client.task(a)["events"]))
        await pilot.press("enter")  # zoomed detail: the events show the suspend
        await until(pilot, lambda: "suspend_ack" in screen_text(app), what="the suspend event")
        await pilot.press("escape")
        # stop, refused at first (n), then confirmed
        await pilot.press("x", "n")
        assert client.task(a)["state"] != "stopped"
        await until(pilot, lambda: state_of(app, a) == "running", timeout=30)
        await pilot.press("x", "y")
        await until(pilot, lambda: client.task(a)["state"] == "stopped")
        await until(pilot, lambda: state_of(app, a) == "stopped")
        # resume a stopped task: queued again, one more restart
        before = client.task(a)["restart_count"]
        await pilot.press("u", "y")
        await until(pilot, lambda: client.task(a)["restart_count"] == before + 1)
        await until(pilot, lambda: state_of(app, a) in ("queued", "starting", "running"))
        # an action the server refuses shows its reason instead of crashing
        await until(pilot, lambda: state_of(app, a) == "running", timeout=30)
        await pilot.press("u", "y")
        await until(pilot, lambda: any("refused" in n.message for n in app._notifications))


async def test_submit_form_creates_a_task(live: Server) -> None:
    client = live.client()
    app = build_app(live.client(), refresh_s=0.3)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.updates > 0)
        await pilot.press("c")
        await pilot.press(*"nope.py", "enter")
        assert "no such file" in screen_text(app)
        box = app.screen.query_one("#file", Input)
        box.value = str(live.home / "sleeper.py")
        app.screen.query_one("#name", Input).value = "from-the-form"
        await pilot.click("#submit")
        found = await until(
            pilot,
            lambda: [
                t
                for t in client.list_tasks(all_users=True)["tasks"]
                if t["name"] == "from-the-form"
            ],
        )
        assert found[0]["nodes"] == 1 and found[0]["priority"] == "NORMAL"
        await until(pilot, lambda: str(found[0]["id"]) in rows(app))


async def test_logs_follow_a_fast_printer(live: Server) -> None:
    f = live.submit("flood.py", "flood")
    app = build_app(live.client(), refresh_s=0.3)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: state_of(app, f) in ("running", "succeeded"))
        await pilot.press("l")
        screen = app.screen
        assert isinstance(screen, LogsScreen)
        log = screen.query_one(Log)
        await until(pilot, lambda: any("FLOOD-DONE" in x for x in log.lines), timeout=30)
        assert screen.lines_seen >= 20001
        assert log.line_count <= 10_000  # capped
        assert log.is_vertical_scroll_end  # followed to the end
        # search backwards from the end
        await pilot.press("slash", *"line 15000 ", "enter")
        assert screen.match >= 0 and "line 15000 " in log.lines[screen.match]
        assert not log.is_vertical_scroll_end
        await pilot.press("G")
        assert log.is_vertical_scroll_end
        await until(pilot, lambda: "ended" in screen_text(app), timeout=15)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_logs_switch_rank(live: Server) -> None:
    t = live.submit("sleeper.py", "two-ranks", nodes=2)
    app = build_app(live.client(), refresh_s=0.3)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: state_of(app, t) == "running")
        await pilot.press("l")
        screen = app.screen
        log = screen.query_one(Log)
        await until(pilot, lambda: any("tick" in x for x in log.lines))
        await pilot.press("r")
        assert screen.rank == 1
        assert "rank 1/1" in screen_text(app)
        await until(pilot, lambda: any("tick" in x for x in log.lines))


async def test_nodes_screen_shows_holders(live: Server) -> None:
    a = live.submit("sleeper.py", "holder")
    app = build_app(live.client(), refresh_s=0.3)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: state_of(app, a) == "running")
        await pilot.press("n")
        assert isinstance(app.screen, NodesScreen)
        await until(pilot, lambda: str(a) in screen_text(app))
        text = screen_text(app)
        assert "local-0" in text and "local-1" in text and "busy" in text
        assert "default" in text and "1/2" in text
        await pilot.press("escape", "question_mark")
        assert "this help" in screen_text(app)
        await pilot.press("escape", "q")
    assert app.return_code == 0


async def test_bad_token_shows_a_banner_and_keeps_running(live: Server) -> None:
    app = build_app(Client(live.url, "wrong-token"), refresh_s=0.3)
    async with app.run_test(size=(80, 24)) as pilot:
        banner = app.main.query_one(Banner)
        await until(pilot, lambda: "refused the token" in screen_text(app))
        assert banner.shown
        await pilot.pause(0.8)  # retries do not crash it
        assert banner.shown and app.is_running


async def test_server_down_shows_a_banner(unused_port: int) -> None:
    app = build_app(Client(f"http://127.0.0.1:{unused_port}", "x"), refresh_s=0.3)
    async with app.run_test(size=(80, 24)) as pilot:
        banner = app.main.query_one(Banner)
        await until(pilot, lambda: "server unreachable" in screen_text(app))
        assert banner.shown and "connection refused" in screen_text(app)
        await pilot.press("l")  # nothing selected: a notice, no crash
        await pilot.press("n")
        assert app.screen.query_one(Banner).shown
        await pilot.press("escape", "x")
        assert app.is_running


async def test_names_that_look_like_markup_are_shown_as_typed(live: Server) -> None:
    weird = "[/red] [b]odd[x"
    t = live.submit("sleeper.py", weird)
    client = live.client()
    app = build_app(live.client(), refresh_s=0.3)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: state_of(app, t) == "running")
        await until(pilot, lambda: "[/red] [b]odd[x" in screen_text(app))
        await pilot.press("x")
        assert weird in screen_text(app)  # in the confirmation too
        await pilot.press("y")
        await until(pilot, lambda: client.task(t)["state"] == "stopped")
        await until(pilot, lambda: state_of(app, t) == "stopped")
        assert app.is_running
