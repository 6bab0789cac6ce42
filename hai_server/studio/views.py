"""View models: what the pages show, made from service results (pure; tests/.../test_views.py).

Nothing here reads a database or a request: every function takes the plain dicts the
services return (the API's records) and returns plain values for the templates.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from hai_cli.scheduler.model import Priority
from hai_cli.timefmt import duration

PRIORITIES_HIGH_FIRST: tuple[str, ...] = tuple(
    p.name for p in sorted(Priority, key=lambda p: p.value, reverse=True)
)
STATE_FILTERS = (
    "queued", "starting", "running", "suspending", "suspended", "succeeded", "failed", "stopped",
)  # fmt: skip
ACTIONS = {
    "stop": ("Stop", "Its ranks get SIGTERM, then SIGKILL. A stopped task can be resumed."),
    "suspend": ("Suspend", "It is asked to checkpoint and goes back to the queue."),
    "resume": ("Resume", "It goes back to the queue in its old place."),
}
# which actions a task in each state offers
_ACTIONS_BY_STATE = {
    "queued": ("stop",),
    "starting": ("suspend", "stop"),
    "running": ("suspend", "stop"),
    "suspending": ("stop",),
    "suspended": ("resume", "stop"),
    "succeeded": (),
    "failed": ("resume",),
    "stopped": ("resume",),
}
# characters a name or a command may carry that would hide or reorder text: C0/C1 controls,
# bidirectional overrides and isolates, zero-width marks
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def visible(text: Any) -> str:
    """``text`` with every control, bidi and zero-width character shown as ``<U+XXXX>``
    (HTML escaping is the template's: this only makes hidden characters visible)."""
    return _HIDDEN.sub(lambda m: f"<U+{ord(m.group()):04X}>", str(text))


def age(ts: float | None, now: float) -> str:
    return "-" if ts is None else duration(now - ts)


def waiting_note(t: dict[str, Any]) -> str:
    """Why a task waits (as ``hai-cli list`` shows it): reason and queue position, the
    suspend reason, or a failure's exit code."""
    if t["state"] == "queued":
        reason = t.get("reason") or "-"
        if t.get("held"):
            reason = "held"
        pos = t.get("position")
        return f"{reason} #{pos}" if pos else reason
    if t["state"] in ("suspending", "running"):  # running: "hung" (the watchdog)
        return t.get("reason") or ""
    if t["state"] in ("failed", "stopped") and t.get("exit_code") not in (None, 0):
        return f"exit {t['exit_code']}"
    return ""


def task_row(t: dict[str, Any], now: float) -> dict[str, Any]:
    """One row of the task list: the columns of ``hai-cli list``."""
    return {
        "id": t["id"],
        "name": t["name"],
        "user": t["user"],
        "state": t["state"],
        "priority": t["priority"],
        "nodes": t["nodes"],
        "restarts": t["restart_count"],
        "age": age(t["submitted_at"], now),
        "waiting": waiting_note(t),
        "group": t["group"],
    }


def actions(t: dict[str, Any]) -> list[dict[str, str]]:
    """The controls a task offers in its state (a stop under way offers none)."""
    if t.get("stop_requested") and t["state"] not in ("stopped", "failed", "succeeded"):
        return []
    return [
        {"action": a, "label": ACTIONS[a][0], "about": ACTIONS[a][1]}
        for a in _ACTIONS_BY_STATE.get(t["state"], ())
    ]


def resubmit_command(t: dict[str, Any]) -> str:
    """The shell command that submits this task again (environment values left out: they
    may be secrets)."""
    argv = list(t["command"])
    kind = t.get("kind", "python")
    if kind == "python" and len(argv) >= 3 and argv[1] == "-u":
        head, rest = ["hai-cli", "python"], argv[2:]
    elif kind == "bash" and len(argv) >= 2 and argv[0] == "bash":
        head, rest = ["hai-cli", "bash"], argv[1:]
    else:
        head, rest = ["hai-cli", "exec"], argv
    opts = ["-n", str(t["nodes"]), "-p", t["priority"], "-g", t["group"], "--name", t["name"]]
    return f"cd {shlex.quote(t['workdir'])} && " + shlex.join([*head, *rest, "--", *opts])


def pagination(total: int, limit: int, offset: int) -> dict[str, Any]:
    """Shown range and the previous/next offsets (None at either end)."""
    first = offset + 1 if total and offset < total else 0
    last = min(total, offset + limit)
    return {
        "first": first,
        "last": last if first else 0,
        "total": total,
        "prev": max(0, offset - limit) if offset > 0 else None,
        "next": offset + limit if offset + limit < total else None,
    }


def bar(used: int, limit: int | None) -> dict[str, Any]:
    """A use bar: percentage filled (capped at 100) and whether the use exceeds the limit."""
    if limit is None:
        return {"pct": 0, "over": False, "text": f"{used} / no limit"}
    pct = 100 if limit == 0 and used else (0 if limit == 0 else min(100, round(100 * used / limit)))
    return {"pct": pct, "over": used > limit, "text": f"{used} / {limit}"}


def quota_bars(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One bar per quota that applies to the user (OverviewService.quota_use)."""
    out = []
    for r in rows:
        label = (
            "all groups, all priorities (node_limit)"
            if r["resource"] == "node_limit"
            else f"{r['group']} · {r['priority']}"
        )
        source = r["principal"] or "no quota row"
        out.append({"label": label, "source": source, **bar(r["in_use"], r["limit"])})
    return out


def group_rows(cluster: dict[str, Any]) -> list[dict[str, Any]]:
    """Nodes used and free per group, with a use bar over the schedulable nodes."""
    out = []
    for g in cluster["groups"]:
        usable = g["nodes"] - g["unhealthy"] - g["cordoned"]
        out.append(
            {
                "group": g["group"],
                "nodes": g["nodes"],
                "busy": g["busy"],
                "free": g["free"],
                "cordoned": g["cordoned"],
                "unhealthy": g["unhealthy"],
                "gpus": g["gpus"],
                "running": g["running"],
                **bar(g["busy"], usable),
            }
        )
    return out


def queue_rows(cluster: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """Queued tasks per priority (highest first) and group: (groups, rows); levels with no
    queued task anywhere are left out."""
    groups = [g["group"] for g in cluster["groups"]]
    rows = []
    for level in PRIORITIES_HIGH_FIRST:
        counts = [g["queued"].get(level, 0) for g in cluster["groups"]]
        if any(counts):
            rows.append({"priority": level, "counts": counts, "total": sum(counts)})
    return groups, rows


def plain_why(why: dict[str, Any]) -> list[str]:
    """The scheduler's explanation in plain sentences."""
    decision = why.get("decision")
    if decision in (None, "none"):
        return [f"It is {why.get('summary') or why.get('state', '')}."]
    out = []
    if why.get("summary"):
        summary = str(why["summary"]).rstrip(".")
        out.append(summary[:1].upper() + summary[1:] + ".")
    if why.get("position"):
        out.append(f"It is number {why['position']} in the {why.get('group')} queue.")
    q = why.get("quota")
    if q:
        if q.get("limit") is None:
            out.append(f"No quota limits it ({q['resource']}); it holds {q['in_use']} node(s).")
        else:
            out.append(
                f"Its owner may hold {q['limit']} node(s) under {q['resource']} "
                f"(from {q.get('principal') or 'the default'}) and holds {q['in_use']}."
            )
    if why.get("ahead_count"):
        out.append(f"{why['ahead_count']} task(s) are ahead of it.")
    if why.get("would_preempt"):
        ids = ", ".join(map(str, why["would_preempt"]))
        out.append(f"Starting it would suspend task(s) {ids}.")
    if why.get("waiting_for"):
        ids = ", ".join(map(str, why["waiting_for"]))
        out.append(f"It waits for task(s) {ids} to finish suspending.")
    for blocker in why.get("preempt_blockers") or []:
        out.append(f"It cannot preempt: {blocker}.")
    if why.get("eta_s") is not None:
        out.append(f"It should start in about {duration(why['eta_s'])}.")
    return out


def attempt_rows(task: dict[str, Any], now: float) -> list[dict[str, Any]]:
    """Attempts newest first, with how long each ran."""
    out = []
    for a in reversed(task.get("attempts", [])):
        end = a["ended_at"] if a["ended_at"] is not None else now
        out.append({**a, "ran": duration(end - a["started_at"]), "nodes": ", ".join(a["nodes"])})
    return out
