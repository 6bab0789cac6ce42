"""Text panels in the original's look: ``nodes --tree`` and ``whoami``'s quota bars (pure:
each function returns the text; at most 80 columns)."""

from __future__ import annotations

from typing import Any

from hai_cli.safe_text import shown

BAR_WIDTH = 24
WIDTH = 80


def _fit(text: str, width: int = WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def node_tree(nodes: list[dict[str, Any]], ascii_only: bool = False) -> str:
    """Groups, then zones, then nodes with their state, GPUs and the tasks holding them."""
    tee, last, pipe = ("|-- ", "`-- ", "|   ") if ascii_only else ("├── ", "└── ", "│   ")
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for n in nodes:
        groups.setdefault(n["group"], {}).setdefault(n.get("zone") or "-", []).append(n)
    lines: list[str] = []
    for gname in sorted(groups):
        zones = groups[gname]
        members = [n for zone in zones.values() for n in zone]
        busy = sum(1 for n in members if n["state"] == "busy")
        free = sum(1 for n in members if n["state"] == "free")
        lines.append(
            _fit(f"{shown(gname)}  {len(members)} node(s): {free} free, {busy} busy, "
                 f"{len(members) - free - busy} other")
        )  # fmt: skip
        znames = sorted(zones)
        for zi, zname in enumerate(znames):
            zlast = zi == len(znames) - 1
            lines.append(_fit(f"{last if zlast else tee}zone {shown(zname)}"))
            indent = "    " if zlast else pipe
            members = sorted(zones[zname], key=lambda n: n["name"])
            for ni, n in enumerate(members):
                branch = last if ni == len(members) - 1 else tee
                tasks = ",".join(str(t) for t in n.get("tasks") or [])
                holding = f"  tasks {tasks}" if tasks else ""
                lines.append(
                    _fit(f"{indent}{branch}{shown(n['name'])}  {n['state']}  "
                         f"{n.get('gpus', 0)} GPU(s){holding}")
                )  # fmt: skip
    return "\n".join(lines) + ("\n" if lines else "no nodes\n")


def bar(used: int, limit: int | None, width: int = BAR_WIDTH, ascii_only: bool = False) -> str:
    """``[█████░░░░░]  5 / 10``; no limit: an empty bar and "no limit"; over: a full bar."""
    full, empty = ("#", "-") if ascii_only else ("█", "░")
    if limit is None:
        return f"[{' ' * width}]  {used} / no limit"
    filled = width if used > limit or (limit == 0 and used) else 0
    if limit > 0 and used <= limit:
        filled = round(width * used / limit)
    over = "  over" if used > limit else ""
    return f"[{full * filled}{empty * (width - filled)}]  {used} / {limit}{over}"


def quota_panel(rows: list[dict[str, Any]], ascii_only: bool = False) -> str:
    """One line per quota row that applies to the user: group, priority, use as a bar."""
    if not rows:
        return "node quota: no quota rows apply (unrestricted)\n"
    lines = ["node quota (nodes in use / limit):"]
    for r in rows:
        where = f"{shown(r['group'])} {r['priority']}" if r.get("group") else shown(r["resource"])
        lines.append(_fit(f"  {where:<28} {bar(r['in_use'], r['limit'], ascii_only=ascii_only)}"))
    return "\n".join(lines) + "\n"
