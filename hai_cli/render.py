"""Human output: tables that fit 80 columns, details, explanations."""

from __future__ import annotations

import time
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hai_cli.safe_text import shown
from hai_cli.ui import clock, duration

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

_console: Console | None = None


def console() -> Console:
    global _console
    if _console is None:
        _console = Console(highlight=False, soft_wrap=False)
    return _console


def task_detail(t: dict[str, Any]) -> None:
    c = console()
    style = STATE_STYLE.get(t["state"], "")
    c.print(f"[bold]task {t['id']}[/] {escape(shown(t['name']))}  [{style}]{t['state']}[/]")
    fields = [
        ("user", t["user"]),
        ("group", t["group"]),
        ("nodes", str(t["nodes"])),
        (
            "priority",
            t["priority"]
            + (
                f" (runs at {t['run_priority']})"
                if t.get("run_priority") and t["run_priority"] != t["priority"]
                else ""
            ),
        ),
        ("restarts", str(t["restart_count"])),
        ("whole life state", str(t["whole_life_state"])),
        ("submitted", clock(t["submitted_at"])),
        ("started", clock(t["started_at"])),
        ("ended", clock(t["ended_at"])),
        ("command", " ".join(t["command"])),
        ("workdir", t["workdir"]),
        ("environment", t.get("environment") or "-"),
    ]
    if t["state"] == "queued":
        pos = t.get("position")
        fields.insert(
            0,
            (
                "waiting",
                f"{t.get('reason') or '-'}" + (f", position {pos} in {t['group']}" if pos else ""),
            ),
        )
        if t.get("detail"):
            fields.insert(1, ("why", t["detail"]))
    if t.get("exit_code") is not None:
        fields.append(("exit code", str(t["exit_code"])))
    if t.get("watchdog_s") is not None:
        fields.append(("watchdog", "off" if not t["watchdog_s"] else f"{t['watchdog_s']} s"))
    if t.get("hung_at"):
        fields.append(("hung", f"since {clock(t['hung_at'])}: rank 0 silent (hai-cli why)"))
    if t.get("suspend_deadline"):
        fields.append(
            (
                "suspend deadline",
                f"{clock(t['suspend_deadline'])} (in {duration(t['suspend_deadline'] - time.time())})",
            )
        )
    width = max(len(k) for k, _ in fields)
    for key, value in fields:
        c.print(f"  {key:<{width}}  {shown(value)}", markup=False)
    if t.get("ranks"):
        table = Table(
            title="ranks",
            title_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            show_edge=False,
        )
        for col in ("RANK", "NODE", "STATE", "EXIT"):
            table.add_column(col)
        for r in t["ranks"]:
            table.add_row(
                str(r["rank"]),
                r["node"],
                r["state"],
                "-" if r.get("exit_code") is None else str(r["exit_code"]),
            )
        c.print(table)
    if t.get("attempts"):
        table = Table(
            title="attempts",
            title_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            show_edge=False,
        )
        for col in ("#", "NODES", "STARTED", "RAN", "OUTCOME", "EXIT"):
            table.add_column(col, overflow="ellipsis", no_wrap=True)
        for a in t["attempts"]:
            ran = duration((a["ended_at"] or time.time()) - a["started_at"])
            table.add_row(
                str(a["number"]),
                ",".join(a["nodes"]),
                clock(a["started_at"]),
                ran,
                a["outcome"],
                "-" if a.get("exit_code") is None else str(a["exit_code"]),
            )
        c.print(table)
    if t.get("events"):
        c.print("events")
        for e in t["events"][-20:]:
            c.print(
                f"  {clock(e['at'])}  {e['kind']:<14} {shown(e['message'])}",
                markup=False,
                soft_wrap=True,
            )


def node_table(nodes: list[dict[str, Any]]) -> None:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for col, just in (
        ("NODE", "left"),
        ("GROUP", "left"),
        ("ZONE", "left"),
        ("GPUS", "right"),
        ("STATE", "left"),
        ("TASKS", "left"),
    ):
        table.add_column(col, justify=just, overflow="ellipsis", no_wrap=True)  # type: ignore[arg-type]
    for n in nodes:
        table.add_row(
            n["name"],
            n["group"],
            n["zone"] or "-",
            str(n["gpus"]),
            n["state"],
            ",".join(map(str, n["tasks"])) or "-",
        )
    console().print(table)
    groups: dict[str, list[int]] = {}
    for n in nodes:
        g = groups.setdefault(n["group"], [0, 0])
        g[0] += 1
        g[1] += 1 if n["state"] == "busy" else 0
    for name, (count, busy) in sorted(groups.items()):
        console().print(f"[dim]{name}: {busy}/{count} nodes busy[/]")


def explanation(why: dict[str, Any]) -> None:
    c = console()
    c.print(
        f"[bold]task {why.get('task_id')}[/]: "
        + escape(shown(why.get("summary") or why.get("decision"))),
        markup=True,
    )
    for line in why.get("lines", []):
        c.print(f"  {shown(line)}", markup=False, soft_wrap=True)
