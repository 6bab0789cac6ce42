"""The TUI application: data, polling workers, error banner, actions. Built by ``build_app``.

All network calls run in thread workers; message handlers only read and render the state
the workers hand back through ``call_from_thread``.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from textual import work
from textual.app import App
from textual.binding import Binding

from hai_cli.client import ApiError, ConnectionFailed
from hai_cli.safe_text import shown
from hai_cli.tui.dialogs import ConfirmScreen, HelpScreen, SubmitScreen
from hai_cli.tui.logs import LogsScreen
from hai_cli.tui.main import MainScreen
from hai_cli.tui.model import Filter, group_usage
from hai_cli.tui.nodes import NodesScreen

DETAIL_DEBOUNCE_S = 0.1
LIST_LIMIT = 1000  # the newest tasks matching the server-side filter
HISTORY = 60  # usage samples kept per group for the sparkline


class Source(Protocol):
    """What the TUI needs from ``hai_cli.client.Client`` (the demo client answers it too)."""

    url: str

    def whoami(self) -> dict[str, Any]: ...
    def list_tasks(self, **kwargs: Any) -> dict[str, Any]: ...
    def task(self, task_id: int) -> dict[str, Any]: ...
    def why(self, task_id: int) -> dict[str, Any]: ...
    def action(self, task_id: int, verb: str) -> dict[str, Any]: ...
    def submit(self, body: dict[str, Any]) -> dict[str, Any]: ...
    def nodes(self) -> dict[str, Any]: ...
    def follow_logs(self, task_id: int, **kwargs: Any) -> Any: ...


class Serialized:
    """One call at a time: the HTTP client keeps a single connection, so the refresh, detail
    and action workers must not use it at once. Log streams open their own connection."""

    def __init__(self, client: Source) -> None:
        self._client = client
        self._lock = threading.Lock()
        self.url = client.url
        self.closed = False  # set on quit: calls still waiting for the lock give up

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name == "follow_logs" or not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                if self.closed:
                    raise ConnectionFailed("the TUI is closing")
                return attr(*args, **kwargs)

        return call


def error_message(exc: BaseException, url: str, retry_s: float) -> str:
    """The banner for a failed refresh: what went wrong, what to do, that we retry."""
    retry = f"retrying every {retry_s:g} s"
    if isinstance(exc, ConnectionFailed):
        return f"⚠ server unreachable: {exc} · {retry}"
    if isinstance(exc, ApiError):
        if exc.status == 401:
            return (
                f"⚠ the server at {url} refused the token ({exc.message}); set HAI_TOKEN or run "
                f"hai-cli init TOKEN --url URL · {retry}"
            )
        if exc.status == 403:
            return f"⚠ not allowed: {exc.message} · {retry}"
        return f"⚠ server error {exc.status}: {exc.message} · {retry}"
    return f"⚠ unexpected error: {type(exc).__name__}: {exc} · {retry}"


@dataclass(slots=True)
class Snapshot:
    me: dict[str, Any] | None
    tasks: list[dict[str, Any]]
    total: int
    nodes: list[dict[str, Any]]
    detail: dict[str, Any] | None = None
    why: dict[str, Any] | None = None
    why_unavailable: str | None = None
    fetched: list[str] = field(default_factory=list)


def fetch_detail(
    client: Source, task_id: int
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, str | None]:
    """(task, why, why_unavailable). A missing /why endpoint is not an error."""
    task = client.task(task_id)
    try:
        return task, client.why(task_id), None
    except ApiError as exc:
        if exc.status == 404:
            return task, None, "why: not available from this server"
        return task, None, f"why: {exc.message}"


class HaiTui(App):
    TITLE = "HAI Platform"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
    ]

    def __init__(
        self,
        client: Source,
        *,
        clock: Callable[[], float] = time.time,
        refresh_s: float = 2.0,
        python: str = sys.executable,
        live: bool = True,
    ) -> None:
        super().__init__()
        self.client: Source = Serialized(client)  # type: ignore[assignment]
        self.clock = clock
        self.refresh_s = refresh_s
        self.python = python
        self.live = live
        self.filter = Filter()
        self.me: dict[str, Any] | None = None
        self.tasks: list[dict[str, Any]] = []
        self.total = 0
        self.nodes_data: list[dict[str, Any]] = []
        self.usage_history: dict[str, deque[int]] = {}
        self.selected: int | None = None
        self.detail: dict[str, Any] | None = None
        self.why: dict[str, Any] | None = None
        self.why_for: int | None = None
        self.why_unavailable: str | None = None
        self.error: str | None = None
        self.updates = 0
        self._fetching = False
        self._fetch_again = False
        self._detail_busy = False
        self._detail_timer: Any = None

    def get_default_screen(self) -> MainScreen:
        self.main = MainScreen()
        return self.main

    def on_mount(self) -> None:
        self.refresh_now()
        if self.live:
            self.set_interval(self.refresh_s, self.refresh_now)

    # -- polling -------------------------------------------------------------------------
    def refresh_now(self) -> None:
        """Fetch now; while a fetch is in flight, fetch once more when it lands."""
        if self._fetching:
            self._fetch_again = True
            return
        self._fetching = True
        self._fetch_again = False
        self._fetch(self.filter, self.selected)

    def _fetch_done(self) -> None:
        self._fetching = False
        if self._fetch_again:
            self.refresh_now()

    def action_refresh_now(self) -> None:
        self.refresh_now()

    @work(thread=True, exit_on_error=False, group="fetch")
    def _fetch(self, flt: Filter, selected: int | None) -> None:
        try:
            me = self.me or self.client.whoami()
            page = self.client.list_tasks(
                states=flt.states, all_users=flt.all_users, limit=LIST_LIMIT
            )
            snap = Snapshot(me, page["tasks"], page["total"], self.client.nodes()["nodes"])
            if selected is not None:
                try:
                    snap.detail, snap.why, snap.why_unavailable = fetch_detail(
                        self.client, selected
                    )
                except ApiError as exc:
                    if exc.status != 404:  # a task that vanished is simply not shown
                        raise
        except Exception as exc:
            message = error_message(exc, self.client.url, self.refresh_s)
            self.call_from_thread(self._failed, message)
            return
        self.call_from_thread(self.apply, snap, flt)

    def _failed(self, message: str) -> None:
        try:
            self.error = message
            self._render()
        finally:
            self._fetch_done()

    def apply(self, snap: Snapshot, flt: Filter | None = None) -> None:
        """Take a fetched snapshot and render it (the cost the benchmark measures)."""
        try:
            self.error = None
            self.me = snap.me
            if flt is None or (flt.states, flt.all_users) == (
                self.filter.states,
                self.filter.all_users,
            ):
                self.tasks, self.total = snap.tasks, snap.total
            self.nodes_data = snap.nodes
            for g in group_usage(snap.nodes):
                self.usage_history.setdefault(g.name, deque(maxlen=HISTORY)).append(g.busy)
            if snap.detail is not None:
                self._set_detail(snap.detail, snap.why, snap.why_unavailable)
            self.updates += 1
            self._render()
        finally:
            self._fetch_done()

    def _render(self) -> None:
        self.main.show()
        if isinstance(self.screen, NodesScreen):
            self.screen.show_nodes()

    def selection_changed(self, selected: int | None) -> None:
        """Fetch the new selection's detail once the cursor rests (100 ms), one at a time."""
        self.selected = selected
        if self._detail_timer is not None:
            self._detail_timer.stop()
        self._detail_timer = self.set_timer(DETAIL_DEBOUNCE_S, self._start_detail)

    def _start_detail(self) -> None:
        if self.selected is None or self._detail_busy:
            return
        self._detail_busy = True
        self._fetch_detail(self.selected)

    @work(thread=True, exit_on_error=False, group="detail")
    def _fetch_detail(self, selected: int) -> None:
        try:
            got = fetch_detail(self.client, selected)
        except Exception:
            got = None  # the next refresh shows the banner if the server is gone
        self.call_from_thread(self._detail_arrived, selected, got)

    def _detail_arrived(self, selected: int, got: tuple[Any, Any, str | None] | None) -> None:
        self._detail_busy = False
        if got is not None and selected == self.selected:
            self._set_detail(*got)
            self.main.show_detail()
        elif selected != self.selected:
            self._start_detail()  # the cursor moved on meanwhile

    def _set_detail(
        self, detail: dict[str, Any] | None, why: dict[str, Any] | None, unavailable: str | None
    ) -> None:
        self.detail, self.why, self.why_unavailable = detail, why, unavailable
        self.why_for = detail.get("id") if detail else None

    async def action_quit(self) -> None:
        self.client.closed = True  # type: ignore[attr-defined]
        await super().action_quit()

    # -- screens -------------------------------------------------------------------------
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def selected_task(self) -> dict[str, Any] | None:
        selected = self.main.selected_id()
        if selected is None:
            self.notify("no task selected", severity="warning")
            return None
        if self.detail and self.detail.get("id") == selected:
            return self.detail
        return next((t for t in self.tasks if t["id"] == selected), None)

    def action_logs(self) -> None:
        task = self.selected_task()
        if task is not None:
            attempts = len(task.get("attempts") or []) or int(task.get("restart_count", 0)) + 1
            self.push_screen(LogsScreen(task, attempts))

    def action_nodes(self) -> None:
        self.push_screen(NodesScreen())

    def action_jupyter(self) -> None:
        from hai_cli.tui.jupyter import JupyterScreen

        self.push_screen(JupyterScreen())

    # -- actions -------------------------------------------------------------------------
    def action_task_action(self, verb: str) -> None:
        task = self.selected_task()
        if task is None:
            return
        question = (
            f"{verb.capitalize()} task {task['id']} ({task.get('name', '')}, {task.get('state')})?"
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self._run_action(int(task["id"]), verb)

        self.push_screen(ConfirmScreen(question), answered)

    def action_task_hold(self) -> None:
        """Hold the selected waiting task, or release it when it is held."""
        task = self.selected_task()
        if task is not None:
            self.action_task_action("release" if task.get("held") else "hold")

    @work(thread=True, exit_on_error=False, group="action")
    def _run_action(self, task_id: int, verb: str) -> None:
        try:
            result = self.client.action(task_id, verb)
        except ApiError as exc:
            self.call_from_thread(
                self.notify, f"{verb} refused: {exc.message}", severity="error", markup=False
            )
            return
        except Exception as exc:
            self.call_from_thread(
                self.notify, f"{verb} failed: {exc}", severity="error", markup=False
            )
            return
        self.call_from_thread(
            self.notify, f"task {task_id}: {verb} sent (now {result.get('state')})", markup=False
        )
        self.call_from_thread(self.refresh_now)

    def action_submit(self) -> None:
        def submitted(body: dict[str, Any] | None) -> None:
            if body is not None:
                self._run_submit(body)

        self.push_screen(SubmitScreen(self.python), submitted)

    @work(thread=True, exit_on_error=False, group="action")
    def _run_submit(self, body: dict[str, Any]) -> None:
        try:
            task = self.client.submit(body)
        except ApiError as exc:
            self.call_from_thread(
                self.notify, f"submit refused: {exc.message}", severity="error", markup=False
            )
            return
        except Exception as exc:
            self.call_from_thread(
                self.notify, f"submit failed: {exc}", severity="error", markup=False
            )
            return
        self.call_from_thread(
            self.notify,
            f"submitted task {task['id']} ({shown(task['name'])}) to {task['group']}",
            markup=False,
        )
        self.call_from_thread(self.refresh_now)


def build_app(
    client: Source,
    *,
    clock: Callable[[], float] = time.time,
    refresh_s: float = 2.0,
    python: str = sys.executable,
    live: bool = True,
) -> HaiTui:
    """The TUI over any client answering like ``hai_cli.client.Client``."""
    return HaiTui(client, clock=clock, refresh_s=refresh_s, python=python, live=live)
