"""The logs screen: follow one rank of one attempt live, search, jump to the end."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input, Log, Static

from hai_cli.tui.logstream import LineBuffer, LogFollower
from hai_cli.tui.widgets import Banner

MAX_LINES = 10_000  # lines kept on screen; older ones are dropped
DRAIN_S = 0.1  # how often arrived bytes are appended (one batch per tick)
RETRY_S = 2.0


def find_line(lines: list[str] | Any, needle: str, start: int, backwards: bool = False) -> int:
    """Index of the next line containing needle (case-insensitive) after start, wrapping; -1."""
    n = len(lines)
    if not needle or not n:
        return -1
    needle = needle.lower()
    step = -1 if backwards else 1
    for k in range(1, n + 1):
        i = (start + step * k) % n
        if needle in lines[i].lower():
            return i
    return -1


class LogsScreen(Screen):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("r", "next_rank", "Rank"),
        Binding("a", "next_attempt", "Attempt"),
        Binding("slash", "search", "Search"),
        Binding("n", "find(False)", "Next", show=False),
        Binding("N", "find(True)", "Prev", show=False),
        Binding("G,end", "end", "End"),
        Binding("g,home", "home", "Top", show=False),
    ]

    DEFAULT_CSS = """
    LogsScreen #logstatus { height: 1; background: $panel; padding: 0 1; }
    LogsScreen Log { height: 1fr; }
    LogsScreen #logsearch { display: none; }
    LogsScreen #logsearch.-shown { display: block; }
    """

    def __init__(self, task: dict[str, Any], attempts: int = 1) -> None:
        super().__init__()
        self.task_info = task
        self.task_id = int(task["id"])
        self.ranks = max(1, int(task.get("nodes") or 1))
        self.attempts = max(0, attempts)
        self.rank = 0
        self.attempt: int | None = None  # None: the latest, following suspends and restarts
        self.lines_seen = 0
        self.needle = ""
        self.match: int = -1
        self._follower: LogFollower | None = None
        self._buffer = LineBuffer()
        self._retry_at: float | None = None
        self.drain_s: deque[float] = deque(maxlen=1000)  # UI time spent per batch

    def compose(self) -> ComposeResult:
        yield Banner(id="logbanner")
        yield Static(id="logstatus")
        yield Log(max_lines=MAX_LINES, highlight=False, id="log")
        yield Input(placeholder="search the log; enter: find, escape: cancel", id="logsearch")
        yield Footer()

    def on_mount(self) -> None:
        self._restart()
        self.set_interval(DRAIN_S, self._drain)

    def on_unmount(self) -> None:
        if self._follower is not None:
            self._follower.stop()

    # -- streaming -----------------------------------------------------------------------
    def _restart(self) -> None:
        if self._follower is not None:
            self._follower.stop()
        self.query_one(Log).clear()
        self.lines_seen = 0
        self.match = -1
        self._buffer = LineBuffer()
        client = self.app.client  # type: ignore[attr-defined]
        task_id, rank, attempt = self.task_id, self.rank, self.attempt
        self._follower = LogFollower(
            lambda: client.follow_logs(task_id, rank=rank, attempt=attempt)
        ).start()
        self._retry_at = None
        self.query_one(Banner).hide()
        self._show_status()

    def _drain(self) -> None:
        follower = self._follower
        if follower is None:
            return
        started = time.perf_counter()
        data = follower.take()
        lines = self._buffer.feed(data) if data else []
        if follower.done and not data:
            lines += self._buffer.flush()
        if lines:
            self.lines_seen += len(lines)
            log = self.query_one(Log)
            if len(lines) > MAX_LINES:
                lines = lines[-MAX_LINES:]
            log.write_lines(lines)
            self.drain_s.append(time.perf_counter() - started)
        if follower.done and follower.error:
            self._on_stream_error(follower.error)
        self._show_status()

    def _on_stream_error(self, error: str) -> None:
        now = time.monotonic()
        if self._retry_at is None:
            self._retry_at = now + RETRY_S
            self.query_one(Banner).show(f"log stream lost: {error}; retrying in {RETRY_S:g} s")
        elif now >= self._retry_at:
            self._restart()

    def _show_status(self) -> None:
        f = self._follower
        state = "ended" if f is not None and f.done and not f.error else "following"
        if f is not None and f.error:
            state = "disconnected"
        log = self.query_one(Log)
        if state == "following" and not log.is_vertical_scroll_end:
            state = "paused (G: end)"
        attempt = "latest" if self.attempt is None else str(self.attempt)
        text = (
            f"task {self.task_id} {self.task_info.get('name', '')} · rank {self.rank}/{self.ranks - 1}"
            f" · attempt {attempt} · {self.lines_seen} lines · {state}"
        )
        if self.needle:
            text += f" · /{self.needle}: " + (
                f"line {self.match + 1}" if self.match >= 0 else "no match"
            )
        self.query_one("#logstatus", Static).update(Text(text))

    # -- actions -------------------------------------------------------------------------
    def action_back(self) -> None:
        search = self.query_one("#logsearch", Input)
        if search.has_class("-shown"):
            search.remove_class("-shown")
            self.query_one(Log).focus()
            return
        self.app.pop_screen()

    def action_next_rank(self) -> None:
        self.rank = (self.rank + 1) % self.ranks
        self._restart()

    def action_next_attempt(self) -> None:
        if self.attempts <= 1 and self.attempt is None:
            self.notify("this task has one attempt")
            return
        choices: list[int | None] = [None, *range(self.attempts)]
        self.attempt = choices[(choices.index(self.attempt) + 1) % len(choices)]
        self._restart()

    def action_search(self) -> None:
        search = self.query_one("#logsearch", Input)
        search.add_class("-shown")
        search.value = self.needle
        search.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.needle = event.value.strip()
        event.input.remove_class("-shown")
        self.query_one(Log).focus()
        self.match = int(self.query_one(Log).scroll_y) - 1
        self.action_find(False)

    def action_find(self, backwards: bool) -> None:
        log = self.query_one(Log)
        start = self.match if self.match >= 0 else int(log.scroll_y) - (0 if backwards else 1)
        found = find_line(log.lines, self.needle, start, backwards)
        self.match = found
        if found >= 0:
            log.scroll_to(y=max(0, found - 2), animate=False)
        self._show_status()

    def action_end(self) -> None:
        self.query_one(Log).scroll_end(animate=False)
        self._show_status()

    def action_home(self) -> None:
        self.query_one(Log).scroll_home(animate=False)
        self._show_status()
