"""Workload traces: CSV with a header.

Required columns: ``id,submit_s,user,group,priority,nodes,duration_s``. Optional:
``checkpoint_s`` (how often the job checkpoints; work since the last checkpoint is lost when it
is suspended; empty or 0: it checkpoints exactly when suspended, losing nothing) and
``suspend_s`` (seconds it takes to save and stop when told to suspend; default 5).
An empty ``group`` means the default group. ``priority`` is a level name, a number or AUTO.
"""

from __future__ import annotations

import csv
import io
import math
import sys
from dataclasses import dataclass

from hai_cli.scheduler.model import parse_priority
from hai_cli.simulate.errors import InputError

REQUIRED = ("id", "submit_s", "user", "group", "priority", "nodes", "duration_s")
OPTIONAL = ("checkpoint_s", "suspend_s")
DEFAULT_SUSPEND_S = 5.0


@dataclass(frozen=True, slots=True)
class Job:
    name: str  # the trace's id
    submit_s: float
    user: str
    group: str
    priority: int  # may be AUTO
    nodes: int
    duration_s: float
    checkpoint_s: float = 0.0  # 0: checkpoints when suspended (loses nothing)
    suspend_s: float = DEFAULT_SUSPEND_S


def load_trace(path: str, default_group: str = "default") -> list[Job]:
    """Read and parse a trace file (``-``: standard input); unreadable files raise InputError."""
    try:
        if path == "-":
            return parse_trace(sys.stdin.read(), "stdin", default_group)
        with open(path, newline="", encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InputError(f"cannot read trace {path}: {reason}") from None
    return parse_trace(text, path, default_group)


def parse_trace(text: str, source: str = "trace", default_group: str = "default") -> list[Job]:
    """Parse CSV ``text``; any problem raises InputError naming the line and column."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise InputError(f"{source}: empty trace (expected a header: {','.join(REQUIRED)})")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(f"{source}: missing column(s) {', '.join(missing)} in the header")
    reader.fieldnames = header
    jobs: list[Job] = []
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num
        if all((v or "").strip() == "" for k, v in row.items() if k is not None):
            continue
        if None in row:
            raise InputError(f"{source} line {line}: more fields than the header has")
        jobs.append(_job(row, f"{source} line {line}", default_group))
        if jobs[-1].name in seen:
            raise InputError(f"{source} line {line}: duplicate id {jobs[-1].name!r}")
        seen.add(jobs[-1].name)
    if not jobs:
        raise InputError(f"{source}: no jobs in the trace")
    return jobs


def _job(row: dict[str, str | None], where: str, default_group: str) -> Job:
    def text(col: str) -> str:
        value = (row.get(col) or "").strip()
        return value

    def number(
        col: str, *, positive: bool, integer: bool = False, default: float | None = None
    ) -> float:
        raw = text(col)
        if raw == "" and default is not None:
            return default
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            kind = "whole number" if integer else "number"
            raise InputError(f"{where}: bad {kind} {raw!r} in column {col}") from None
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            need = "> 0" if positive else ">= 0"
            raise InputError(f"{where}: {col} must be {need}, got {raw!r}")
        return value

    name = text("id")
    if not name:
        raise InputError(f"{where}: empty id")
    user = text("user")
    if not user:
        raise InputError(f"{where}: empty user")
    try:
        priority = parse_priority(text("priority"))
    except ValueError as exc:
        raise InputError(f"{where}: {exc}") from None
    return Job(
        name=name,
        submit_s=number("submit_s", positive=False),
        user=user,
        group=text("group") or default_group,
        priority=priority,
        nodes=int(number("nodes", positive=True, integer=True)),
        duration_s=number("duration_s", positive=True),
        checkpoint_s=number("checkpoint_s", positive=False, default=0.0),
        suspend_s=number("suspend_s", positive=False, default=DEFAULT_SUSPEND_S),
    )
