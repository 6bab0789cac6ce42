"""Pure data for the TUI: table rows, filters, sorting, usage bars. No Textual, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from operator import itemgetter
from typing import Any

from rich.text import Text

from hai_cli.safe_text import shown

STATE_STYLE = {
    "queued": "yellow",
    "starting": "cyan",
    "running": "green",
    "suspending": "magenta",
    "suspended": "magenta",
    "succeeded": "bold green",
    "failed": "bold red",
    "stopped": "dim",
}
ACTIVE = ("queued", "starting", "running", "suspending", "suspended")
FINISHED = ("succeeded", "failed", "stopped")

# (label, states sent to the server or None for every state), cycled with `f`
STATE_FILTERS: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    ("any", None),
    ("active", ACTIVE),
    ("queued", ("queued",)),
    ("running", ("starting", "running")),
    ("suspended", ("suspending", "suspended")),
    ("finished", FINISHED),
)

PRIORITY_SHORT = {
    "EXTREME_HIGH": "XHIGH",
    "VERY_HIGH": "VHIGH",
    "ABOVE_NORMAL": "ABOVE",
    "BELOW_NORMAL": "BELOW",
}
PRIORITY_RANK = {
    "EXTREME_HIGH": 50,
    "VERY_HIGH": 40,
    "HIGH": 30,
    "ABOVE_NORMAL": 20,
    "NORMAL": 10,
    "BELOW_NORMAL": 5,
    "LOW": 0,
}
PRIORITIES = tuple(PRIORITY_RANK)


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    narrow: int  # width at 80 columns
    wide: int  # width from 120 columns


COLUMNS: tuple[Column, ...] = (
    Column("id", "ID", 4, 6),
    Column("name", "NAME", 10, 22),
    Column("user", "USER", 6, 10),
    Column("state", "STATE", 10, 10),
    Column("priority", "PRIO", 6, 12),
    Column("nodes", "N", 2, 5),
    Column("restarts", "RST", 3, 3),
    Column("age", "AGE", 5, 7),
    Column("waiting", "WAITING", 14, 30),
)
COLUMN_KEYS = tuple(c.key for c in COLUMNS)
WIDE_FROM = 110  # terminal columns from which the wide layout is used


def widths(terminal_width: int) -> dict[str, int]:
    wide = terminal_width >= WIDE_FROM
    return {c.key: (c.wide if wide else c.narrow) for c in COLUMNS}


def duration(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}"
    return f"{s // 86400}d{(s % 86400) // 3600}h"


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


REASON_SHORT = {"waiting_for_preemption": "preempting", "quota_exceeded": "over quota"}


def waiting(task: dict[str, Any], short: bool = False) -> str:
    """Why a queued task waits (reason and queue position), or a short note otherwise."""
    state = task.get("state")
    if state == "queued":
        reason = task.get("reason") or "-"
        if short:
            reason = REASON_SHORT.get(reason, reason)
        pos = task.get("position")
        return f"#{pos} {reason}" if pos else reason
    if state == "suspending":
        return task.get("reason") or "suspending"
    if state == "running" and task.get("reason"):
        return str(task["reason"])  # "hung": the watchdog found it silent
    if state in ("failed", "stopped") and task.get("exit_code") not in (None, 0):
        return f"exit {task['exit_code']}"
    if task.get("stop_requested") and state not in FINISHED:
        return "stop requested"
    return ""


def age_text(submitted: float | None, now: float) -> str:
    """The AGE column: how long ago a task was submitted ("-" when unknown)."""
    return duration(now - submitted) if submitted else "-"


AGE = COLUMN_KEYS.index("age")
LIVE = {"age": age_text}  # columns the table computes from a raw value and the clock


def table_values(task: dict[str, Any], short: bool = False) -> tuple[Any, ...]:
    """What each column of a task's row holds, in COLUMNS order: cheap to build and compare,
    so that only the rows whose values changed are drawn again. AGE holds the submit time
    (the table turns it into text with its clock, for the rows on screen only)."""
    return (
        str(task["id"]),
        shown(task.get("name", "")),
        shown(task.get("user", "")),
        str(task.get("state", "?")),
        str(task.get("priority", "")),
        str(task.get("nodes", "")),
        str(task.get("restart_count", 0)),
        task.get("submitted_at") or None,
        shown(waiting(task, short=short)),
    )


# every field table_values reads (waiting() included): a row is rebuilt when one changed
ROW_FIELDS = ("id", "name", "user", "state", "priority", "nodes", "restart_count",
              "submitted_at", "reason", "position", "exit_code", "stop_requested")  # fmt: skip


class RowMemo:
    """``table_values`` of the tasks of the last call, reused while their fields are equal:
    a refresh of 1,000s of mostly unchanged tasks compares tuples instead of building rows,
    and keeps (allocates) nothing new for them."""

    def __init__(self) -> None:
        self._rows: dict[Any, tuple[tuple[Any, ...], tuple[str, tuple[Any, ...]]]] = {}
        self._short: bool | None = None

    def rows(
        self, tasks: Sequence[dict[str, Any]], short: bool = False
    ) -> list[tuple[str, tuple[Any, ...]]]:
        """(key, values) rows for KeyedTable.sync, in the order of ``tasks``."""
        memo = self._rows
        if short != self._short:
            memo.clear()
            self._short = short
        out = []
        for task in tasks:
            seen = tuple(map(task.get, ROW_FIELDS))
            hit = memo.get(seen[0])
            if hit is None or hit[0] != seen:
                values = table_values(task, short)
                hit = memo[seen[0]] = (seen, (values[0], values))
            out.append(hit[1])
        if len(memo) > len(out):  # forget the tasks that are gone
            keep = {task["id"] for task in tasks}
            for gone in [key for key in memo if key not in keep]:
                del memo[gone]
        return out


def row_values(task: dict[str, Any], now: float, short: bool = False) -> tuple[str, ...]:
    """What each column of a task's row says at time ``now``, in COLUMNS order."""
    values = list(table_values(task, short))
    values[AGE] = age_text(values[AGE], now)
    return tuple(values)


RIGHT = frozenset({"id", "nodes", "restarts"})


def cell(column: str, value: str, width: int) -> Text:
    """One cell: clipped to its width, aligned, coloured. Never read as markup (user data)."""
    if column == "state":
        return Text(value, style=STATE_STYLE.get(value, ""), no_wrap=True, end="")
    if column == "priority" and len(value) > width:
        value = PRIORITY_SHORT.get(value, value)
    if column in RIGHT:
        return Text(f"{value:>{width}}", no_wrap=True, end="")
    return Text(clip(value, width), no_wrap=True, end="")


def row_cells(task: dict[str, Any], now: float, width: dict[str, int]) -> tuple[Text, ...]:
    """The cells of one table row, in COLUMNS order, clipped to the column widths."""
    values = row_values(task, now, short=width["waiting"] < 20)
    return tuple(cell(c, v, width[c]) for c, v in zip(COLUMN_KEYS, values, strict=True))


@dataclass(frozen=True, slots=True)
class Filter:
    """What the table shows. states and all_users go to the server; group and text are local."""

    all_users: bool = False
    state_index: int = 0
    group: str | None = None
    text: str = ""
    sort_key: str = "id"
    sort_reverse: bool = True

    @property
    def state_label(self) -> str:
        return STATE_FILTERS[self.state_index][0]

    @property
    def states(self) -> list[str] | None:
        states = STATE_FILTERS[self.state_index][1]
        return list(states) if states else None

    def next_state(self) -> Filter:
        return replace(self, state_index=(self.state_index + 1) % len(STATE_FILTERS))

    def next_group(self, groups: Sequence[str]) -> Filter:
        cycle: list[str | None] = [None, *sorted(groups)]
        try:
            i = cycle.index(self.group)
        except ValueError:
            i = 0
        return replace(self, group=cycle[(i + 1) % len(cycle)])

    def sorted_by(self, key: str) -> Filter:
        """Sort by a column; choosing the same column again flips the direction."""
        if key == self.sort_key:
            return replace(self, sort_reverse=not self.sort_reverse)
        return replace(self, sort_key=key, sort_reverse=key in ("id", "priority", "restarts"))

    def matches(self, task: dict[str, Any]) -> bool:
        if self.group and task.get("group") != self.group:
            return False
        if self.text:
            needle = self.text.lower()
            hay = " ".join(
                str(task.get(k) or "")
                for k in ("id", "name", "user", "state", "group", "priority", "reason")
            ).lower()
            if needle not in hay:
                return False
        return True

    def describe(self) -> str:
        parts = ["all users" if self.all_users else "mine", f"state: {self.state_label}"]
        if self.group:
            parts.append(f"group: {self.group}")
        if self.text:
            parts.append(f"/{self.text}")
        arrow = "↓" if self.sort_reverse else "↑"
        parts.append(f"sort: {self.sort_key}{arrow}")
        return " · ".join(parts)


def _sort_value(task: dict[str, Any], key: str) -> Any:
    if key == "priority":
        return task.get("priority_value", PRIORITY_RANK.get(task.get("priority", ""), 0))
    if key == "restarts":
        return task.get("restart_count", 0)
    if key == "age":
        return -(task.get("submitted_at") or 0.0)
    if key == "waiting":
        return (task.get("position") or 1 << 30, waiting(task))
    value = task.get(key)
    if value is None:
        return ""
    return value


def visible(tasks: Iterable[dict[str, Any]], flt: Filter) -> list[dict[str, Any]]:
    """Filter and sort (a total order: ties broken by id)."""
    local = flt.group or flt.text  # the server already applied the rest
    shown = [t for t in tasks if flt.matches(t)] if local else list(tasks)
    shown.sort(key=itemgetter("id"), reverse=flt.sort_reverse)
    if flt.sort_key != "id":
        shown.sort(key=lambda t: _sort_value(t, flt.sort_key), reverse=flt.sort_reverse)
    return shown


# -- nodes --------------------------------------------------------------------------------
@dataclass(slots=True)
class GroupUsage:
    name: str
    nodes: int = 0
    busy: int = 0
    unhealthy: int = 0
    cordoned: int = 0
    gpus: int = 0
    tasks: set[int] = field(default_factory=set)


def group_usage(nodes: Iterable[dict[str, Any]]) -> list[GroupUsage]:
    groups: dict[str, GroupUsage] = {}
    for n in nodes:
        g = groups.setdefault(n["group"], GroupUsage(n["group"]))
        g.nodes += 1
        g.gpus += int(n.get("gpus") or 0)
        state = n.get("state")
        g.busy += state == "busy"
        g.unhealthy += state == "unhealthy"
        g.cordoned += state == "cordoned"
        g.tasks.update(n.get("tasks") or ())
    return [groups[k] for k in sorted(groups)]


def bar(used: int, total: int, width: int = 20) -> str:
    if total <= 0:
        return "░" * width
    filled = round(width * min(used, total) / total)
    return "█" * filled + "░" * (width - filled)


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], top: float | None = None) -> str:
    """One character per value, scaled to top (default: the largest value)."""
    if not values:
        return ""
    peak = top if top is not None else max(values)
    if peak <= 0:
        return SPARKS[0] * len(values)
    last = len(SPARKS) - 1
    return "".join(SPARKS[min(last, max(0, round(last * v / peak)))] for v in values)
