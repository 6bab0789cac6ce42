"""A deterministic in-memory stand-in for the HTTP client: snapshots, the benchmark, docs.

It answers the same calls as ``hai_cli.client.Client`` with fixed data around ``NOW``, and can
pretend the server is down (``down``) or the token is wrong (``bad_token``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hai_cli.client import ApiError, ConnectionFailed
from hai_cli.tui.demo_jupyter import DemoJupyter, demo_boxes

NOW = 1_800_000_000.0
USERS = ("alice", "bob", "carol", "dave")
NAMES = ("llama-ft", "resnet50", "bert-pretrain", "eval-sweep", "vit-huge", "rl-agent")
PRIORITIES = ("HIGH", "NORMAL", "NORMAL", "LOW", "VERY_HIGH", "ABOVE_NORMAL")
REASONS = ("no_capacity", "quota_exceeded", "waiting_for_preemption", "held")


def _state(i: int) -> str:
    cycle = ("running", "queued", "running", "succeeded", "queued", "suspended", "failed")
    if i % 97 == 0:
        return "suspending"
    if i % 89 == 0:
        return "stopped"
    return cycle[i % len(cycle)]


def make_tasks(count: int, groups: tuple[str, ...] = ("a100", "h100")) -> list[dict[str, Any]]:
    tasks = []
    positions: dict[str, int] = {}
    for i in range(1, count + 1):
        state = _state(i)
        group = groups[i % len(groups)]
        queued = state == "queued"
        pos = None
        if queued:
            positions[group] = positions.get(group, 0) + 1
            pos = positions[group]
        prio = PRIORITIES[i % len(PRIORITIES)]
        submitted = NOW - 60 * (count - i + 1) - 7 * i
        started = submitted + 30 if state not in ("queued",) else None
        ended = started + 600 if state in ("succeeded", "failed", "stopped") and started else None
        tasks.append(
            {
                "id": i,
                "name": f"{NAMES[i % len(NAMES)]}-{i}",
                "user": USERS[i % len(USERS)],
                "state": state,
                "priority": prio,
                "priority_value": {"HIGH": 30, "NORMAL": 10, "LOW": 0}.get(prio, 20),
                "run_priority": prio if started else None,
                "group": group,
                "nodes": 1 + (i % 4 == 0) + 2 * (i % 11 == 0),
                "restart_count": (i % 5 == 0) + (state == "suspended"),
                "reason": REASONS[i % len(REASONS)]
                if queued
                else ("preempted_for_task" if state == "suspending" else None),
                "position": pos,
                "detail": None,
                "kind": "python",
                "command": ["python", "-u", "train.py"],
                "workdir": "/home/demo",
                "whole_life_state": 0,
                "submitted_at": submitted,
                "started_at": started,
                "ended_at": ended,
                "exit_code": 1 if state == "failed" else (0 if state == "succeeded" else None),
                "stop_requested": False,
                "suspend_deadline": None,
                "last_checkpoint_at": None,
            }
        )
    return tasks


def make_nodes(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    nodes = []
    running = [t for t in tasks if t["state"] in ("running", "suspending")]
    for g, (group, count) in enumerate((("a100", 6), ("h100", 4))):
        holders = [t for t in running if t["group"] == group]
        for j in range(count):
            held = [holders[j]["id"]] if j < len(holders) and j < count - 2 else []
            state = "busy" if held else "free"
            if group == "h100" and j == count - 1:
                state = "unhealthy"
            nodes.append(
                {
                    "name": f"{group}-{j:02d}",
                    "group": group,
                    "zone": f"zone-{g + (j >= 3)}",
                    "gpus": 8,
                    "healthy": state != "unhealthy",
                    "cordoned": False,
                    "state": state,
                    "tasks": held,
                    "message": "NVLink error" if state == "unhealthy" else "",
                }
            )
    return nodes


class DemoClient(DemoJupyter):
    """Answers like ``Client`` from memory; counts calls so tests can see what happened."""

    def __init__(self, count: int = 12, *, user: str = "alice", role: str = "admin") -> None:
        self.url = "http://demo.invalid"
        self.tasks = make_tasks(count)
        self.user = user
        self.role = role
        self.down = False
        self.bad_token = False
        self.boxes = demo_boxes(user, NOW)
        self.jupyter_calls: list[tuple[str, ...]] = []
        self.actions: list[tuple[int, str]] = []
        self.submitted: list[dict[str, Any]] = []
        self.log_lines = 40

    def _check(self) -> None:
        if self.down:
            raise ConnectionFailed(f"cannot reach the server at {self.url}: connection refused")
        if self.bad_token:
            raise ApiError(401, "unauthorized", "invalid or revoked token")

    def whoami(self) -> dict[str, Any]:
        self._check()
        return {"user": self.user, "role": self.role}

    def list_tasks(
        self,
        *,
        states: list[str] | None = None,
        all_users: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> dict[str, Any]:
        self._check()
        rows = [
            t
            for t in reversed(self.tasks)
            if (not states or t["state"] in states) and (all_users or t["user"] == self.user)
        ]
        return {
            "tasks": rows[offset : offset + limit],
            "total": len(rows),
            "limit": limit,
            "offset": offset,
        }

    def _find(self, task_id: int) -> dict[str, Any]:
        for t in self.tasks:
            if t["id"] == task_id:
                return t
        raise ApiError(404, "not_found", f"no task {task_id}")

    def task(self, task_id: int) -> dict[str, Any]:
        self._check()
        t = dict(self._find(task_id))
        nodes = [f"{t['group']}-{k:02d}" for k in range(t["nodes"])]
        started = t["started_at"]
        attempts: list[dict[str, Any]] = []
        if started and t["restart_count"]:
            attempts.append(
                {
                    "number": 0,
                    "nodes": nodes,
                    "priority": t["priority"],
                    "started_at": started,
                    "ended_at": started + 5,
                    "outcome": "suspended",
                    "exit_code": None,
                    "ranks": [],
                }
            )
        if started and not (t["state"] == "suspended" and attempts):
            again = started + 10 if attempts else started
            ranks = [
                {
                    "rank": r,
                    "node": n,
                    "state": t["state"],
                    "exit_code": t["exit_code"],
                    "message": "",
                }
                for r, n in enumerate(nodes)
            ]
            attempts.append(
                {
                    "number": len(attempts),
                    "nodes": nodes,
                    "priority": t["priority"],
                    "started_at": again,
                    "ended_at": t["ended_at"],
                    "outcome": t["state"] if t["ended_at"] else "running",
                    "exit_code": t["exit_code"],
                    "ranks": ranks,
                }
            )
        t["attempts"] = attempts
        t["ranks"] = attempts[-1]["ranks"] if attempts else []
        events = [
            {"at": t["submitted_at"], "kind": "submitted", "message": f"submitted by {t['user']}"}
        ]
        for a in attempts:
            events.append(
                {
                    "at": a["started_at"],
                    "kind": "start",
                    "message": f"attempt {a['number']} starting on {','.join(a['nodes'])}",
                }
            )
            if a["outcome"] == "suspended":
                events.append(
                    {
                        "at": a["ended_at"],
                        "kind": "suspended",
                        "message": "suspended to make room for task 7 (VERY_HIGH); "
                        "back in the queue in its old place",
                    }
                )
        t["events"] = events
        return t

    def why(self, task_id: int) -> dict[str, Any]:
        self._check()
        t = self._find(task_id)
        if t["state"] == "suspended":
            return {
                "task_id": task_id,
                "decision": "hold",
                "summary": "suspended for a higher-priority task; resumes in its old place",
                "lines": [f"waits for {t['nodes']} node(s) in {t['group']}"],
            }
        if t["state"] != "queued":
            return {"task_id": task_id, "decision": "keep", "summary": "running", "lines": []}
        return {
            "task_id": task_id,
            "decision": "hold",
            "summary": f"waits: {t['reason']}, position {t['position']} in {t['group']}",
            "lines": [
                f"needs {t['nodes']} node(s) in {t['group']}; 0 free",
                "no running task of lower priority to suspend",
            ],
        }

    def action(self, task_id: int, verb: str) -> dict[str, Any]:
        self._check()
        self.actions.append((task_id, verb))
        task = self._find(task_id)
        if verb in ("hold", "release"):
            task["held"] = verb == "hold"
        return task

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check()
        self.submitted.append(body)
        task = dict(self.tasks[-1], id=len(self.tasks) + 1, name=body.get("name") or "task")
        task.update(state="queued", reason="new", position=None, user=self.user)
        self.tasks.append(task)
        return task

    def nodes(self) -> dict[str, Any]:
        self._check()
        return {"nodes": make_nodes(self.tasks)}

    def logs(
        self, task_id: int, *, rank: int = 0, attempt: int | None = None, offset: int = 0
    ) -> str:
        self._check()
        return "".join(self._log(task_id, rank))[offset:]

    def follow_logs(
        self, task_id: int, *, rank: int = 0, attempt: int | None = None, offset: int = 0
    ) -> Iterator[bytes]:
        self._check()
        yield "".join(self._log(task_id, rank)).encode()

    def _log(self, task_id: int, rank: int) -> list[str]:
        return [
            f"[2027-01-15 08:00:{i % 60:02d}] task {task_id} rank {rank} step {i} loss {1 / (i + 1):.4f}\n"
            for i in range(self.log_lines)
        ]

    def close(self) -> None:
        pass
