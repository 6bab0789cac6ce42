"""``why``: the scheduler's own explanation of one task, in data and in plain lines."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from hai_cli.scheduler import explain
from hai_cli.scheduler.model import PolicyConfig
from hai_server.db.session import Sessions
from hai_server.db.snapshot import load_snapshot
from hai_server.domain import states as lc
from hai_server.services.tasks import Caller, TaskService, hung_since


class WhyService:
    def __init__(self, sessions: Sessions, tasks: TaskService, config: PolicyConfig) -> None:
        self._sessions = sessions
        self._tasks = tasks
        self._config = config

    async def why(self, caller: Caller, task_id: int) -> dict[str, Any]:
        task = await self._tasks.check_access(caller, task_id)
        base: dict[str, Any] = {"task_id": task_id, "state": task.state}
        if task.state not in (lc.QUEUED, *lc.ACTIVE):
            done = {
                lc.SUCCEEDED: "it finished successfully",
                lc.FAILED: f"it failed (exit code {task.exit_code})",
                lc.STOPPED: "it was stopped; hai-cli resume puts it back in the queue",
                lc.SUSPENDED: "it was suspended and is being requeued",
            }[task.state]
            return base | {"decision": "none", "summary": f"not scheduled: {done}", "lines": []}
        now = time.time()
        async with self._sessions() as s:
            snapshot = await load_snapshot(s, now, self._config.usage_half_life_s)
        try:
            exp = explain(snapshot, self._config, now, task_id)
        except KeyError:
            return base | {
                "decision": "none",
                "summary": "changing state right now; ask again",
                "lines": [],
            }
        data = dataclasses.asdict(exp)
        out = base | data | {"summary": exp.rule, "lines": explanation_lines(data)}
        if hung_since(task) is not None:
            out["hung"] = await self._hang(caller, task_id)
            out["summary"] = f"hung: {out['hung']}"
            out["lines"].insert(0, f"watchdog: {out['hung']}")
        return out

    async def _hang(self, caller: Caller, task_id: int) -> str:
        """The watchdog's own words about the current hang (its latest event)."""
        events = (await self._tasks.get(caller, task_id))["events"]
        said = [e["message"] for e in events if e["kind"] == "watchdog"]
        return said[-1] if said else "the watchdog found rank 0 silent"


def explanation_lines(e: dict[str, Any]) -> list[str]:
    """Plain lines for terminals (pure)."""
    lines = [f"decision: {e['decision']}" + (f" ({e['reason']})" if e.get("reason") else "")]
    if e.get("priority_name"):
        lines.append(f"priority: {e['priority_name']} in group {e['group']}")
    if e.get("position"):
        lines.append(f"position: {e['position']} in the {e['group']} queue")
    q = e.get("quota")
    if q:
        limit = "no limit" if q.get("limit") is None else str(q["limit"])
        who = q.get("principal") or "no row"
        lines.append(f"quota: {q['resource']} = {limit} (from {who}); {q['in_use']} node(s) in use")
    if e.get("ahead_count"):
        ids = ", ".join(map(str, e.get("ahead", [])[:10]))
        more = "" if e["ahead_count"] <= 10 else f" and {e['ahead_count'] - 10} more"
        lines.append(f"ahead of it: {ids}{more}")
    if e.get("would_preempt"):
        lines.append("would preempt: " + ", ".join(map(str, e["would_preempt"])))
    if e.get("waiting_for"):
        lines.append("waiting for suspending task(s): " + ", ".join(map(str, e["waiting_for"])))
    for blocker in e.get("preempt_blockers") or []:
        lines.append(f"cannot preempt: {blocker}")
    if e.get("for_task"):
        lines.append(f"makes room for task {e['for_task']}")
    if e.get("nodes"):
        lines.append("nodes: " + ", ".join(e["nodes"]))
    if e.get("eta_s") is not None:
        lines.append(f"estimated start: in about {int(e['eta_s'])} s")
    return lines
