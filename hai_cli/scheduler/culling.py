"""When a Jupyter container ends on its own: its lifetime (external users) or idleness.

Pure and deterministic (``now`` is an argument). Idleness understands GPUs: a container is
idle only when **all** of these hold, so a notebook training on its GPUs with no cell
running (a background thread, a subprocess) is never stopped:

* no kernel is executing (``execution_state`` busy) and none has been active for ``idle_s``
  (JupyterLab's ``/api/kernels`` ``last_activity``);
* no terminal has been active for ``idle_s`` (``/api/terminals``);
* the GPUs it holds stayed under ``gpu_threshold_pct`` (the highest reading since the last
  check); a container without GPUs passes, one whose GPUs cannot be read does not.

A container is never judged idle before it has run ``idle_s`` (a fresh one has no activity).
"""

from __future__ import annotations

from dataclasses import dataclass

from hai_cli.timefmt import duration

REASON_IDLE = "idle"
REASON_LIFETIME = "lifetime"


@dataclass(frozen=True, slots=True)
class CullPolicy:
    idle_s: float | None = None  # None: never stopped for idleness
    gpu_threshold_pct: float = 5.0
    external_lifetime_s: float | None = None  # None: external users' containers do not expire


@dataclass(frozen=True, slots=True)
class Kernel:
    execution_state: str  # idle | busy | starting | ...
    last_activity: float


@dataclass(frozen=True, slots=True)
class Activity:
    """What was seen of one container at ``now``."""

    started_at: float
    external: bool = False
    kernels: tuple[Kernel, ...] = ()
    terminals: tuple[float, ...] = ()  # last_activity of each terminal
    gpus: int = 0
    gpu_util_pct: float | None = None  # highest reading of its GPUs; None: could not read
    reachable: bool = True  # its JupyterLab answered the activity queries


@dataclass(frozen=True, slots=True)
class Verdict:
    reason: str  # REASON_IDLE or REASON_LIFETIME
    message: str


def judge(a: Activity, policy: CullPolicy, now: float) -> Verdict | None:
    """The reason to stop the container now, or None to keep it."""
    ran = now - a.started_at
    limit = policy.external_lifetime_s
    if a.external and limit is not None and ran >= limit:
        return Verdict(REASON_LIFETIME, f"lifetime over: external users' containers end after "
                                        f"{duration(limit)}")  # fmt: skip
    idle_s = policy.idle_s
    if idle_s is None or ran < idle_s or not a.reachable:
        return None
    if any(k.execution_state not in ("idle", "dead") for k in a.kernels):
        return None  # a cell is running (or a kernel is starting)
    last = max([a.started_at, *(k.last_activity for k in a.kernels), *a.terminals])
    if now - last < idle_s:
        return None
    if a.gpus:
        if a.gpu_util_pct is None or a.gpu_util_pct >= policy.gpu_threshold_pct:
            return None
        gpu_note = f", its GPUs under {policy.gpu_threshold_pct:g}%"
    else:
        gpu_note = ""
    return Verdict(
        REASON_IDLE,
        f"idle: no kernel or terminal active for {duration(now - last)}{gpu_note} "
        f"(limit {duration(idle_s)}); notebooks kept",
    )
