"""Modal screens: help, confirmation, and the submit form (with its pure body builder)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from hai_cli.tui.model import PRIORITIES

HELP = """\
[b]Tasks[/b]
  ↑/↓ PgUp/PgDn   move the selection       enter   zoom the detail pane
  /               text filter (esc clears) o       sort by the next column
  f               state filter (cycles)    g       group filter (cycles)
  m               mine / all users (admins) R      refresh now
[b]Actions[/b] (each asks first)
  x stop   p suspend   u resume   h hold/release   c submit a script
[b]Screens[/b]
  l  logs of the selected task: r rank, a attempt, / search,
     n/N next/previous match, G end (follows again), esc back
  n  nodes: usage per group, health, which tasks hold each node
  j  Jupyter containers: c create, x stop, s start, d delete, l logs, o URL
  ?  this help          q  quit
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 78; height: auto; max-height: 22; border: round $primary;
        background: $surface; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(HELP)
            yield Static("[dim]esc closes[/dim]")

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 60; height: auto; border: thick $warning;
        background: $surface; padding: 0 1; }
    ConfirmScreen Horizontal { height: auto; align-horizontal: right; }
    ConfirmScreen Button { margin-left: 2; }
    """

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self.question))
            with Horizontal():
                yield Button("Yes (y)", variant="warning", id="yes")
                yield Button("No (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


def kind_of(path: str) -> str:
    if path.endswith(".py"):
        return "python"
    if path.endswith(".sh"):
        return "bash"
    return "exec"


def submit_body(
    file: str,
    nodes: str,
    priority: str,
    group: str,
    name: str,
    *,
    python: str,
    cwd: str,
) -> dict[str, Any] | str:
    """The POST /tasks body the CLI would send, or an error message for the form."""
    path = Path(file.strip()).expanduser()
    if not file.strip():
        return "choose a script file"
    if not path.is_absolute():
        path = Path(cwd) / path
    if not path.is_file():
        return f"no such file: {file.strip()}"
    try:
        count = int(nodes.strip() or "1")
    except ValueError:
        return f"nodes must be a whole number, got {nodes!r}"
    if count < 1:
        return "nodes must be at least 1"
    kind = kind_of(path.name)
    argv = {
        "python": [python, "-u", str(path)],
        "bash": ["bash", str(path)],
        "exec": [str(path)],
    }[kind]
    return {
        "argv": argv,
        "workdir": cwd,
        "nodes": count,
        # blank: the server's default, as the CLI (NORMAL; AUTO for external users, who may
        # not ask for NORMAL themselves)
        "priority": priority or None,
        "group": group.strip() or None,
        "name": name.strip() or path.name,
        "env": {},
        "kind": kind,
    }


class SubmitScreen(ModalScreen[dict[str, Any] | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    SubmitScreen { align: center middle; }
    SubmitScreen > Vertical { width: 70; height: auto; border: round $primary;
        background: $surface; padding: 0 1; }
    SubmitScreen Grid { grid-size: 2; grid-columns: 10 1fr; grid-rows: 1; grid-gutter: 1 1;
        height: auto; margin: 1 0; }
    SubmitScreen #error { color: $error; height: auto; }
    SubmitScreen Horizontal { height: auto; align-horizontal: right; }
    SubmitScreen Button { margin-left: 2; }
    """

    def __init__(self, python: str, cwd: str | None = None) -> None:
        super().__init__()
        self.python = python
        self.cwd = cwd or os.getcwd()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Submit a script[/b]")
            with Grid():
                yield Label("file")
                yield Input(
                    placeholder="train.py (.py, .sh or executable)", id="file", compact=True
                )
                yield Label("nodes")
                yield Input("1", id="nodes", type="integer", compact=True)
                yield Label("priority")
                yield Select(
                    [("(default)", ""), *((p, p) for p in (*PRIORITIES, "AUTO"))],
                    value="",
                    allow_blank=False,
                    id="priority",
                    compact=True,
                )
                yield Label("group")
                yield Input(placeholder="(server default)", id="group", compact=True)
                yield Label("name")
                yield Input(placeholder="(file name)", id="name", compact=True)
            yield Static(id="error")
            with Horizontal():
                yield Button("Submit", variant="primary", id="submit")
                yield Button("Cancel", id="cancel")

    def _value(self, wid: str) -> str:
        return self.query_one(f"#{wid}", Input).value

    def _submit(self) -> None:
        body = submit_body(
            self._value("file"),
            self._value("nodes"),
            str(self.query_one("#priority", Select).value),
            self._value("group"),
            self._value("name"),
            python=self.python,
            cwd=self.cwd,
        )
        if isinstance(body, str):
            self.query_one("#error", Static).update(Text(body))
            return
        self.dismiss(body)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "submit":
            self._submit()
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def action_cancel(self) -> None:
        self.dismiss(None)
