"""The detail pane's content for one task: a pure function of the API's JSON."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text

from hai_cli.safe_text import shown
from hai_cli.tui.model import STATE_STYLE, duration, waiting

WAITING_STATES = ("queued", "suspending", "suspended")
SUSPEND_KINDS = frozenset(
    {"suspend", "suspend_ack", "suspended", "requeued", "preempted", "node_failure", "lost"}
)


def clock(ts: float | None) -> str:
    if ts is None:
        return "-"
    return time.strftime("%H:%M:%S", time.localtime(ts))


def _heading(out: Text, title: str) -> None:
    out.append(f"\n{title}\n", style="bold underline")


def why_lines(why: dict[str, Any] | None, unavailable: str | None) -> list[str]:
    if why is None:
        return [unavailable] if unavailable else []
    lines = []
    summary = why.get("summary") or why.get("decision")
    if summary:
        lines.append(str(summary))
    lines += [str(line) for line in why.get("lines") or []]
    return lines


def detail_text(
    task: dict[str, Any] | None,
    why: dict[str, Any] | None,
    now: float,
    *,
    why_unavailable: str | None = None,
    max_events: int = 12,
) -> Text:
    """State, ranks, attempts, events (suspends highlighted) and the why explanation."""
    out = Text(no_wrap=False)
    if task is None:
        out.append("no task selected", style="dim")
        return out
    state = str(task.get("state", "?"))
    out.append(f"task {task['id']} ", style="bold")
    out.append(shown(task.get("name", "")))
    out.append("  ")
    out.append(state, style=STATE_STYLE.get(state, ""))
    note = waiting(task)
    if note:
        out.append(f"  {shown(note)}", style="yellow" if state == "queued" else "")
    prio = str(task.get("priority", ""))
    run = task.get("run_priority")
    if run and run != prio:
        prio += f" (runs at {run})"
    out.append(
        f"\nuser {shown(task.get('user'))} · group {shown(task.get('group'))}"
        f" · {task.get('nodes')} node(s)"
        f" · {prio} · restarts {task.get('restart_count', 0)}"
    )
    started = task.get("started_at")
    ended = task.get("ended_at")
    submitted = task.get("submitted_at")
    times = f"\nsubmitted {clock(submitted)}"
    if started:
        times += f" · started {clock(started)} · ran {duration((ended or now) - started)}"
    if ended:
        times += f" · ended {clock(ended)}"
    if task.get("exit_code") is not None:
        times += f" · exit {task['exit_code']}"
    out.append(times, style="dim")
    if task.get("detail"):
        out.append(f"\n{shown(task['detail'])}", style="yellow")

    lines = why_lines(why, why_unavailable)
    if state not in WAITING_STATES:
        lines = []  # for a task holding nodes "it keeps its nodes" says nothing the state does not
    if lines or state == "queued":
        _heading(out, "why")
        for line in lines or ["(no explanation yet)"]:
            out.append(f"  {shown(line)}\n")

    ranks = task.get("ranks") or []
    if ranks:
        _heading(out, "ranks")
        for r in ranks:
            rstate = str(r.get("state", "?"))
            out.append(f"  {r.get('rank'):>3}  {r.get('node', '-'):<14} ")
            out.append(f"{rstate:<10}", style=STATE_STYLE.get(rstate, ""))
            if r.get("exit_code") is not None:
                out.append(f" exit {r['exit_code']}")
            if r.get("message"):
                out.append(f" {shown(r['message'])}", style="dim")
            out.append("\n")

    attempts = task.get("attempts") or []
    if attempts:
        _heading(out, "attempts")
        for a in attempts:
            ran = (
                duration((a.get("ended_at") or now) - a["started_at"])
                if a.get("started_at")
                else "-"
            )
            exit_code = "" if a.get("exit_code") is None else f" exit {a['exit_code']}"
            out.append(
                f"  #{a.get('number')}  {clock(a.get('started_at'))}  ran {ran:<6} "
                f"{a.get('outcome') or '-'}{exit_code}  on {','.join(a.get('nodes') or [])}\n"
            )

    events = task.get("events") or []
    if events:
        hidden = max(0, len(events) - max_events)
        _heading(out, "events" + (f" (last {max_events} of {len(events)})" if hidden else ""))
        for e in events[hidden:]:
            kind = str(e.get("kind", ""))
            style = "magenta" if kind in SUSPEND_KINDS else ""
            out.append(f"  {clock(e.get('at'))} ", style="dim")
            out.append(f"{kind:<10} ", style=style or "bold")
            out.append(f"{shown(e.get('message', ''))}\n", style=style)
    out.rstrip()
    return out
