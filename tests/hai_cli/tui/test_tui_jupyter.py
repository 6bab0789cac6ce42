"""The TUI's containers view (``j``), with Textual's pilot over the demo client: list with
state, resources and URL or why; stop, start, delete each asked first; logs; the create form
and its refusals. Pure parts (rows, the form's body) as tables."""

from __future__ import annotations

import pytest

from hai_cli.tui.app import build_app
from hai_cli.tui.demo import NOW, DemoClient
from hai_cli.tui.jupyter import CreateScreen, JupyterScreen, TextScreen, create_body, note, rows
from hai_cli.tui.widgets import KeyedTable
from tests.support.tui import screen_text, until


async def _open(pilot, app) -> JupyterScreen:  # type: ignore[no-untyped-def]
    await until(pilot, lambda: app.updates > 0)
    await pilot.press("j")
    await until(pilot, lambda: isinstance(app.screen, JupyterScreen) and app.screen.loaded > 0)
    return app.screen


async def _select(pilot, screen: JupyterScreen, name: str) -> None:  # type: ignore[no-untyped-def]
    table = screen.query_one(KeyedTable)
    keys = [b["name"] for b in screen.boxes]
    table.move_cursor(row=keys.index(name))
    await pilot.pause()


@pytest.mark.asyncio
async def test_list_shows_state_resources_url_and_why() -> None:
    app = build_app(DemoClient(12), clock=lambda: NOW, live=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await _open(pilot, app)
        text = screen_text(app)
        assert "http://demo.invalid/alice/lab/" in text
        assert "waiting: no_capacity #1" in text and "2c 64G" in text
        assert "idle: no kernel or terminal active" in text
        assert "whole node" in text and "4 container(s)" in text
        await _select(pilot, app.screen, "old")  # the highlighted one in full below
        await until(pilot, lambda: "(limit 1h00m); notebooks kept" in screen_text(app))
        await pilot.press("escape")
        assert not isinstance(app.screen, JupyterScreen)


@pytest.mark.asyncio
async def test_stop_start_delete_ask_first() -> None:
    client = DemoClient(12)
    app = build_app(client, clock=lambda: NOW, live=False)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await _open(pilot, app)
        await _select(pilot, screen, "lab")
        await pilot.press("x", "n")  # asked, and declined
        await pilot.pause()
        assert client.jupyter_calls == []
        await pilot.press("x", "y")
        await until(pilot, lambda: ("POST", "stop", "lab") in client.jupyter_calls)
        await until(pilot, lambda: "stopped by you" in screen_text(app))
        await _select(pilot, screen, "old")
        await pilot.press("s", "y")
        await until(pilot, lambda: ("POST", "start", "old") in client.jupyter_calls)
        await _select(pilot, screen, "spot")
        await pilot.press("d", "y")
        await until(pilot, lambda: all(b["name"] != "spot" for b in screen.boxes))
        assert ("DELETE", "-", "spot") in client.jupyter_calls


@pytest.mark.asyncio
async def test_logs_and_url() -> None:
    app = build_app(DemoClient(12), clock=lambda: NOW, live=False)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await _open(pilot, app)
        await _select(pilot, screen, "lab")
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, TextScreen))
        assert "JupyterLab line 29" in screen_text(app)
        await pilot.press("escape")
        await pilot.press("o")
        await until(pilot, lambda: "adds the token" in screen_text(app))


@pytest.mark.asyncio
async def test_create_form_and_refusals() -> None:
    client = DemoClient(12)
    app = build_app(client, clock=lambda: NOW, live=False)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await _open(pilot, app)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CreateScreen))
        await pilot.press("enter")  # no name
        await until(pilot, lambda: "a name is required" in screen_text(app))
        await pilot.press(*"lab")  # a name that exists: the server refuses
        await pilot.press("enter")
        await until(pilot, lambda: "create refused: you already have a container lab"
                    in screen_text(app))  # fmt: skip
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CreateScreen))
        await pilot.press(*"new", "tab", "tab", *"x")
        await pilot.press("enter")
        await until(pilot, lambda: "cpus must be a number" in screen_text(app))
        await pilot.press("backspace", "2", "enter")
        await until(pilot, lambda: any(b["name"] == "new" for b in screen.boxes))
        assert ("create", "new") in client.jupyter_calls
        new = next(b for b in screen.boxes if b["name"] == "new")
        assert new["cpus"] == 2.0


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (("lab", "", "", "", "", "", ""), {"name": "lab"}),
        ((" lab ", "jupyter", "1.5", "4", "0", "torch", "n"),
         {"name": "lab", "group": "jupyter", "cpus": 1.5, "memory_gib": 4.0, "gpus": 0,
          "env": "torch"}),
        (("lab", "a100", "", "", "", "", "y"), {"name": "lab", "group": "a100", "exclusive": True}),
        (("", "", "", "", "", "", ""), "a name is required (1-63 letters, digits, . _ -)"),
        (("lab", "", "", "lots", "", "", ""), "memory_gib must be a number, got 'lots'"),
        (("lab", "", "", "", "1.5", "", ""), "gpus must be a number, got '1.5'"),
    ],
)  # fmt: skip
def test_create_body(fields: tuple[str, ...], expected: object) -> None:
    assert create_body(*fields) == expected


def test_rows_escape_control_characters() -> None:
    box = DemoClient(1).boxes[0] | {"name": "a\x1b[31mb", "state": "failed",
                                    "detail": "start_failed: x\x07"}  # fmt: skip
    ((_key, values),) = rows([box], "http://h")
    assert "\x1b" not in "".join(values) and "\x07" not in "".join(values)
    assert note(box, "http://h").startswith("start_failed")
