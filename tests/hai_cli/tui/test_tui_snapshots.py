"""Snapshots of the main screens at 80x24 and 120x40: demo data, a fixed clock, UTC."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from hai_cli.tui.app import HaiTui, build_app
from hai_cli.tui.demo import NOW, DemoClient

SIZES = [(80, 24), (120, 40)]


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


def demo_app(**kwargs: object) -> tuple[HaiTui, DemoClient]:
    client = DemoClient(40)
    for key, value in kwargs.items():
        setattr(client, key, value)
    return build_app(client, clock=lambda: NOW, live=False), client


async def settled(pilot) -> None:
    app = pilot.app
    while app.updates == 0 and not app.error:
        await pilot.pause(0.02)
    await app.workers.wait_for_complete()
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def keys_then_settle(*keys: str):
    async def run(pilot) -> None:
        await settled(pilot)
        for key in keys:
            await pilot.press(key)
            await settled(pilot)
        from textual.widgets import Input

        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False  # a blinking cursor makes the picture depend on timing
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()

    return run


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_tasks_all_users(snap_compare, size) -> None:
    app, _ = demo_app()
    assert snap_compare(app, terminal_size=size, run_before=keys_then_settle("m"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_queued_task_detail(snap_compare, size) -> None:
    app, _ = demo_app()
    # alice's newest tasks: 40 suspended, 36 queued -> select the queued one
    assert snap_compare(app, terminal_size=size, run_before=keys_then_settle("down"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_zoomed_detail(snap_compare, size) -> None:
    app, _ = demo_app()
    assert snap_compare(app, terminal_size=size, run_before=keys_then_settle("enter"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_nodes(snap_compare, size) -> None:
    app, _ = demo_app()
    assert snap_compare(app, terminal_size=size, run_before=keys_then_settle("n"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_logs(snap_compare, size) -> None:
    app, _ = demo_app()

    async def run(pilot) -> None:
        await keys_then_settle("l")(pilot)
        screen = pilot.app.screen
        while not (screen._follower and screen._follower.done and screen.lines_seen):
            await pilot.pause(0.05)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=size, run_before=run)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help(snap_compare, size) -> None:
    app, _ = demo_app()
    assert snap_compare(app, terminal_size=size, run_before=keys_then_settle("question_mark"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_submit_form(snap_compare, size) -> None:
    app, _ = demo_app()
    assert snap_compare(app, terminal_size=size, run_before=keys_then_settle("c"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_server_down_banner(snap_compare, size) -> None:
    app, _ = demo_app(down=True)
    assert snap_compare(app, terminal_size=size, run_before=keys_then_settle())
