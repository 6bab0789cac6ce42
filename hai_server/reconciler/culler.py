"""The wiring of idle culling and lifetimes (the decision is hai_cli.scheduler.culling, pure).

Every ``check_s``, for each running container of a group with a policy: ask its JupyterLab
for ``/api/kernels`` and ``/api/terminals`` (with the container's token), read its GPUs'
utilisation (nvidia-smi on the local backend; a reader is injected), judge, and stop the
ones to stop through the usual stop (``stop_requested``, then the reconciler terminates it)
with the reason kept for ``status`` and the TUI. Notebooks are files in the workspace: a
stopped container keeps them, and ``start`` brings it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
from sqlalchemy import select

from hai_cli.scheduler.culling import Activity, CullPolicy, Kernel, Verdict, judge
from hai_server.db import models as m
from hai_server.db.apply import add_event
from hai_server.db.jupyter import KIND, asks
from hai_server.db.session import Sessions
from hai_server.domain import states as lc
from hai_server.domain.transition import event
from hai_server.services.actions import act

log = logging.getLogger("hai.jupyter.culler")
GpuReader = Callable[[tuple[int, ...]], Awaitable[float | None]]
Fetch = Callable[[str, str], Awaitable[tuple[list[dict[str, Any]], list[dict[str, Any]]] | None]]


def parse_time(text: Any, default: float) -> float:
    """JupyterLab's ``last_activity`` (ISO 8601, ``Z``) as epoch seconds."""
    try:
        return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return default


async def fetch_activity(url: str, token: str) -> tuple[list[Any], list[Any]] | None:
    """(kernels, terminals) of the JupyterLab at ``url`` (``http://HOST:PORT/{user}/{name}``);
    None when it does not answer."""
    headers = {"Authorization": f"token {token}"}
    try:
        async with httpx.AsyncClient(trust_env=False, timeout=5) as c:
            base = url
            kernels = await c.get(f"{base}/api/kernels", headers=headers)
            terminals = await c.get(f"{base}/api/terminals", headers=headers)
        if kernels.status_code != 200:
            return None
        return kernels.json(), terminals.json() if terminals.status_code == 200 else []
    except (httpx.HTTPError, ValueError):
        return None


class Culler:
    def __init__(
        self,
        sessions: Sessions,
        policies: Mapping[str, CullPolicy],
        *,
        gpu_reader: GpuReader | None = None,
        fetch: Fetch | None = None,
        clock: Callable[[], float] = time.time,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._policies = dict(policies)
        self.gpu_reader = gpu_reader  # public: tests give a fake reading
        self._fetch = fetch or fetch_activity
        self._clock = clock
        self._wake = wake

    def policy(self, group: str) -> CullPolicy | None:
        return self._policies.get(group) or self._policies.get("*")

    async def check(self, now: float | None = None) -> list[tuple[int, Verdict]]:
        """One pass; the containers stopped, with why."""
        now = self._clock() if now is None else now
        async with self._sessions() as s:
            found = (
                await s.execute(
                    select(m.Task, m.User.role, m.Attempt.ranks, m.Attempt.nodes)
                    .join(m.User, m.User.id == m.Task.user_id)
                    .join(m.Attempt, (m.Attempt.task_id == m.Task.id)
                          & (m.Attempt.number == m.Task.restart_count))
                    .where(m.Task.kind == KIND, m.Task.state == lc.RUNNING)
                )
            ).all()  # fmt: skip
            gpus_of = {r.name: (r.gpus, r.gpu_first) for r in await s.execute(
                select(m.Node.name, m.Node.gpus, m.Node.gpu_first))}  # fmt: skip
        stopped = []
        for task, role, ranks, nodes in found:
            policy = self.policy(task.group)
            if policy is None or task.stop_requested:
                continue
            j = (task.options or {}).get("jupyter") or {}
            endpoint = str((ranks or [{}])[0].get("endpoint") or "")
            url = f"http://{endpoint}/{task.user_name}/{task.name}"
            seen = await self._fetch(url, str(j.get("token", ""))) if endpoint else None
            count, first = gpus_of.get((nodes or [""])[0], (0, 0))
            if not j.get("exclusive"):
                count = min(count, asks(task.options).gpus)
            devices = tuple(range(first, first + count))
            util = await self.gpu_reader(devices) if devices and self.gpu_reader else None
            started = task.started_at or now
            activity = Activity(
                started_at=started,
                external=role == "external",
                kernels=tuple(Kernel(str(k.get("execution_state", "")),
                                     parse_time(k.get("last_activity"), started))
                              for k in (seen[0] if seen else [])),
                terminals=tuple(parse_time(t.get("last_activity"), started)
                                for t in (seen[1] if seen else [])),
                gpus=len(devices), gpu_util_pct=util, reachable=seen is not None,
            )  # fmt: skip
            verdict = judge(activity, policy, now)
            if verdict is not None and await self._stop(task.id, verdict, now):
                stopped.append((task.id, verdict))
        if stopped:
            self._wake()
        return stopped

    async def _stop(self, task_id: int, verdict: Verdict, now: float) -> bool:
        async with self._sessions.begin() as s:
            t = await s.get(m.Task, task_id)
            if t is None or t.state != lc.RUNNING or t.stop_requested:
                return False
            for ev in act(t, "stop", "the platform", now):
                add_event(s, ev)
            add_event(s, event(t, now, verdict.reason, verdict.message))
            j = dict((t.options or {}).get("jupyter") or {})
            j["stop_reason"] = verdict.message
            t.options = {**t.options, "jupyter": j}
        log.info("stopped container %s: %s", task_id, verdict.message)
        return True

    async def run(self, check_s: float, leads: Callable[[], bool] = lambda: True) -> None:
        while True:
            await asyncio.sleep(check_s)
            if not leads():
                continue
            with contextlib.suppress(Exception):
                await self.check()
