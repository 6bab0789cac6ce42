"""The containers screen (``j``): your Jupyter containers with state, resources and URL (or
why they wait or stopped); stop, start, delete (each asks first), logs and a create form.

Pure parts (rows, the form's body) are functions; requests run in thread workers over the
app's serialized client, like the task screens.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Input, Label, Static

from hai_cli.client import ApiError
from hai_cli.safe_text import shown
from hai_cli.tui.dialogs import ConfirmScreen
from hai_cli.tui.widgets import Banner, KeyedTable

STATE_STYLE = {"running": "green", "queued": "yellow", "starting": "cyan", "failed": "bold red",
               "stopped": "dim", "suspending": "magenta", "suspended": "magenta"}  # fmt: skip
COLUMNS = (
    ("name", "NAME", 14),
    ("state", "STATE", 9),
    ("group", "GROUP", 8),
    ("res", "RESOURCES", 12),
    ("note", "URL / WHY", 56),
)


def resources(box: dict[str, Any]) -> str:
    if box.get("exclusive"):
        return "whole node"
    gpus = f" {box['gpus']}g" if box.get("gpus") else ""
    return f"{box.get('cpus') or 0:g}c {box.get('memory_gib') or 0:g}G{gpus}"


def note(box: dict[str, Any], url: str) -> str:
    """The URL of a serving container; otherwise why it waits, starts or stopped."""
    state = box.get("state")
    if state == "running":
        return url + box["path"] if box.get("serving") else "starting JupyterLab"
    if state == "queued":
        pos = box.get("position")
        return f"waiting: {box.get('reason') or '-'}" + (f" #{pos}" if pos else "")
    return str(box.get("stop_reason") or box.get("reason") or box.get("detail") or "")


def rows(
    boxes: list[dict[str, Any]], url: str, all_users: bool = False
) -> list[tuple[str, tuple[str, ...]]]:
    """(key, values) rows; the key is the first column (KeyedTable keeps rows by it)."""
    out = []
    for b in boxes:
        name = shown(b["name"]) if not all_users else f"{shown(b['user'])}/{shown(b['name'])}"
        out.append((name, (name, str(b["state"]), shown(b["group"]), resources(b),
                          shown(note(b, url)))))  # fmt: skip
    return out


def cell(column: str, value: str) -> Text:
    style = STATE_STYLE.get(value, "") if column == "state" else ""
    return Text(value, style=style, no_wrap=True, end="")


def create_body(name: str, group: str, cpus: str, mem: str, gpus: str, env: str,
                exclusive: str) -> dict[str, Any] | str:  # fmt: skip
    """The create request from the form's text, or the first problem as a message."""
    body: dict[str, Any] = {"name": name.strip()}
    if not body["name"]:
        return "a name is required (1-63 letters, digits, . _ -)"
    for key, text, kind in (("cpus", cpus, float), ("memory_gib", mem, float),
                            ("gpus", gpus, int)):  # fmt: skip
        if text.strip():
            try:
                body[key] = kind(text)
            except ValueError:
                return f"{key} must be a number, got {text!r}"
    if group.strip():
        body["group"] = group.strip()
    if env.strip():
        body["env"] = env.strip()
    if exclusive.strip().lower() in ("y", "yes", "1", "true"):
        body["exclusive"] = True
    return body


class CreateScreen(ModalScreen[dict[str, Any] | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    CreateScreen { align: center middle; }
    CreateScreen > Vertical { width: 70; height: auto; border: round $primary;
        background: $surface; padding: 0 1; }
    CreateScreen Grid { grid-size: 2; grid-columns: 11 1fr; grid-rows: 1; grid-gutter: 1 1;
        height: auto; margin: 1 0; }
    CreateScreen #error { color: $error; height: auto; }
    CreateScreen Horizontal { height: auto; align-horizontal: right; }
    CreateScreen Button { margin-left: 2; }
    """
    FIELDS = (("name", "lab"), ("group", "(the Jupyter group)"), ("cpus", "(default)"),
              ("mem GiB", "(default)"), ("gpus", "0"), ("haienv", "(none)"),
              ("exclusive", "y: a whole training node"))  # fmt: skip

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Create a Jupyter container[/b]")
            with Grid():
                for i, (label, hint) in enumerate(self.FIELDS):
                    yield Label(label)
                    yield Input(placeholder=hint, id=f"f{i}", compact=True)
            yield Static(id="error")
            with Horizontal():
                yield Button("Create", variant="primary", id="create")
                yield Button("Cancel", id="cancel")

    def _submit(self) -> None:
        values = [self.query_one(f"#f{i}", Input).value for i in range(len(self.FIELDS))]
        body = create_body(*values)
        if isinstance(body, str):
            self.query_one("#error", Static).update(Text(body))
            return
        self.dismiss(body)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "create":
            self._submit()
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def action_cancel(self) -> None:
        self.dismiss(None)


class TextScreen(ModalScreen[None]):
    """A container's log (the last lines)."""

    BINDINGS = [Binding("escape,q,l", "close", "Close")]
    DEFAULT_CSS = """
    TextScreen { align: center middle; }
    TextScreen > VerticalScroll { width: 95%; height: 90%; border: round $primary;
        background: $surface; padding: 0 1; }
    """

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text, self.body = title, text

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Text(self.title_text, style="bold"))
            yield Static(Text(self.body), id="text")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).scroll_end(animate=False)

    def action_close(self) -> None:
        self.dismiss(None)


class JupyterScreen(Screen):
    BINDINGS = [
        Binding("escape,j", "app.pop_screen", "Back"),
        Binding("c", "create", "Create"),
        Binding("x", "act('stop')", "Stop"),
        Binding("s", "act('start')", "Start"),
        Binding("d", "act('delete')", "Delete"),
        Binding("l", "logs", "Logs"),
        Binding("o", "open", "URL"),
        Binding("R", "reload", "Refresh", show=False),
    ]
    DEFAULT_CSS = """
    JupyterScreen KeyedTable { height: 1fr; }
    JupyterScreen #info { height: auto; padding: 0 1; border-top: solid $primary; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.boxes: list[dict[str, Any]] = []
        self.loaded = 0  # refreshes done (tests wait on it)

    def compose(self) -> ComposeResult:
        yield Banner(id="jupyterbanner")
        yield KeyedTable(id="boxes")
        yield Static(id="info")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(KeyedTable).set_columns(COLUMNS, cell)
        self.action_reload()
        app: Any = self.app
        if getattr(app, "live", False):
            self.set_interval(app.refresh_s, self.action_reload)

    @work(thread=True, exit_on_error=False, group="jupyter", exclusive=True)
    def action_reload(self) -> None:
        app: Any = self.app
        try:
            boxes = app.client.jupyter_list()["containers"]
        except Exception as exc:
            self.app.call_from_thread(self._failed, str(getattr(exc, "message", exc)))
            return
        self.app.call_from_thread(self._show, boxes)

    def _failed(self, message: str) -> None:
        self.query_one(Banner).show(f"⚠ containers: {message}")

    def _show(self, boxes: list[dict[str, Any]]) -> None:
        self.boxes = boxes
        self.query_one(Banner).hide()
        table = self.query_one(KeyedTable)
        table.sync(rows(boxes, self.app.client.url))  # type: ignore[attr-defined]
        self._info()
        self.loaded += 1

    def _info(self) -> None:
        """The highlighted container in full (its URL or why), and the count."""
        boxes = self.boxes
        info = Text(f"{len(boxes)} container(s)" if boxes else "no containers: c creates one",
                    style="dim")  # fmt: skip
        key = self.query_one(KeyedTable).selected_key
        box = next((b for b in boxes if shown(b["name"]) == key), None)
        if box is not None:
            info.append(f"\n{shown(box['name'])}: ", style="bold")
            info.append(shown(note(box, self.app.client.url)))  # type: ignore[attr-defined]
        self.query_one("#info", Static).update(info)

    def _say(self, message: str, error: bool = False) -> None:
        """A toast, and the same words on the info line (they stay until the next change)."""
        self.notify(message, severity="error" if error else "information", markup=False)
        self.query_one("#info", Static).update(Text(message, style="bold red" if error else ""))

    def on_keyed_table_row_highlighted(self) -> None:
        self._info()

    def selected(self) -> dict[str, Any] | None:
        key = self.query_one(KeyedTable).selected_key
        box = next((b for b in self.boxes if shown(b["name"]) == key), None)
        if box is None:
            self.notify("no container selected", severity="warning")
        return box

    def action_act(self, verb: str) -> None:
        box = self.selected()
        if box is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._run(box, verb)

        self.app.push_screen(ConfirmScreen(f"{verb.capitalize()} container {box['name']} "
                                           f"({box['state']})?"), answered)  # fmt: skip

    @work(thread=True, exit_on_error=False, group="jupyter-action")
    def _run(self, box: dict[str, Any], verb: str) -> None:
        client: Any = self.app.client
        method = "DELETE" if verb == "delete" else "POST"
        action = "" if verb == "delete" else verb
        try:
            client.jupyter(box["name"], action, method, box["user"])
        except ApiError as exc:
            self.app.call_from_thread(self._say, f"{verb} refused: {exc.message}", True)
            return
        except Exception as exc:
            self.app.call_from_thread(self._say, f"{verb} failed: {exc}", True)
            return
        self.app.call_from_thread(self.notify, f"container {box['name']}: {verb} sent",
                                  markup=False)  # fmt: skip
        self.app.call_from_thread(self.action_reload)

    def action_create(self) -> None:
        def made(body: dict[str, Any] | None) -> None:
            if body is not None:
                self._create(body)

        self.app.push_screen(CreateScreen(), made)

    @work(thread=True, exit_on_error=False, group="jupyter-action")
    def _create(self, body: dict[str, Any]) -> None:
        client: Any = self.app.client
        try:
            box = client.jupyter_create(body)
        except ApiError as exc:
            self.app.call_from_thread(self._say, f"create refused: {exc.message}", True)
            return
        except Exception as exc:
            self.app.call_from_thread(self._say, f"create failed: {exc}", True)
            return
        self.app.call_from_thread(self.notify, f"created container {box['name']} "
                                  f"({box['state']})", markup=False)  # fmt: skip
        self.app.call_from_thread(self.action_reload)

    def action_open(self) -> None:
        box = self.selected()
        if box is not None:
            url = f"{self.app.client.url}{box['path']}"  # type: ignore[attr-defined]
            self.query_one("#info", Static).update(Text(
                f"{url}\n(hai-cli jupyter open {shown(box['name'])} adds the token and opens "
                "a browser)"))  # fmt: skip

    def action_logs(self) -> None:
        box = self.selected()
        if box is not None:
            self._logs(box)

    @work(thread=True, exit_on_error=False, group="jupyter-action")
    def _logs(self, box: dict[str, Any]) -> None:
        client: Any = self.app.client
        try:
            text = client.jupyter(box["name"], "logs", user=box["user"])
        except Exception as exc:
            self.app.call_from_thread(self._say, f"logs: {getattr(exc, 'message', exc)}", True)
            return
        lines = str(text).splitlines()[-500:]
        self.app.call_from_thread(self.app.push_screen,
                                  TextScreen(f"log of {box['name']}", "\n".join(lines)))  # fmt: skip
