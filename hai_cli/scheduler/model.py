"""Plain data the pure scheduling policy works on: a snapshot in, a plan out.

Standard library only. Nothing here knows about the database, HTTP, Redis, Kubernetes or the
wall clock: the reconciler builds a :class:`Snapshot`, calls ``plan(snapshot, config, now)``
and applies the :class:`Plan` it gets back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum


class Priority(IntEnum):
    """Scheduling priority levels (the names and values HAI users know)."""

    EXTREME_HIGH = 50
    VERY_HIGH = 40
    HIGH = 30
    ABOVE_NORMAL = 20
    NORMAL = 10
    BELOW_NORMAL = 5
    LOW = 0


AUTO = -1
"""Submit-time priority meaning: the highest level at which the user still has quota room."""

PRIORITY_NAMES: dict[int, str] = {p.value: p.name for p in Priority} | {AUTO: "AUTO"}


def parse_priority(text: str | int) -> int:
    """Return the numeric priority for a name (case-insensitive) or a number.

    Raises ValueError with a message listing the valid names for anything else.
    """
    if isinstance(text, int):
        value = text
    else:
        raw = text.strip()
        upper = raw.upper().replace("-", "_")
        if upper == "AUTO":
            return AUTO
        if upper in Priority.__members__:
            return Priority[upper].value
        try:
            value = int(raw)
        except ValueError:
            value = None  # type: ignore[assignment]
        if value is None:
            raise ValueError(f"unknown priority {text!r}; use one of {priority_choices()}")
    if value == AUTO or value in PRIORITY_NAMES:
        return value
    raise ValueError(f"unknown priority {text!r}; use one of {priority_choices()}")


def priority_choices() -> str:
    return ", ".join(f"{p.name} ({p.value})" for p in Priority) + ", AUTO"


def priority_name(value: int) -> str:
    return PRIORITY_NAMES.get(value, str(value))


# Reasons a queued task is not running (shown to users: keep them stable).
REASON_QUOTA_EXCEEDED = "quota_exceeded"
REASON_NO_CAPACITY = "no_capacity"
REASON_WAITING_FOR_PREEMPTION = "waiting_for_preemption"
REASON_UNKNOWN_GROUP = "unknown_group"
REASON_TOO_LARGE = "too_large"  # asks for more nodes than the group has
REASON_HELD = "held"
REASON_PRIORITY = "priority"  # tasks ahead of it in the queue take the free nodes
REASON_START_FAILED = "start_failed"  # its last start failed; retried after a back-off
REASON_RESERVING = "reserving"  # waited too long: keeps free nodes for itself until it fits

# Reasons a running task is suspended.
SUSPEND_PREEMPTED = "preempted"
SUSPEND_NODE_FAILURE = "node_failure"
SUSPEND_TIME_SLICE = "time_slice"


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    group: str
    zone: str = ""
    gpus: int = 0
    healthy: bool = True
    cordoned: bool = False

    @property
    def usable(self) -> bool:
        return self.healthy and not self.cordoned


@dataclass(frozen=True, slots=True)
class RunningTask:
    """A task holding nodes: starting, running or suspending."""

    id: int
    user: str
    group: str
    priority: int  # the concrete level it runs at (AUTO already resolved)
    nodes: tuple[str, ...]
    submitted_at: float  # first submission of the task (kept across restarts)
    started_at: float  # start of the current attempt
    last_checkpoint_at: float | None = None
    suspending: bool = False  # already told to suspend; its nodes free up soon
    suspend_deadline: float | None = None  # when a suspending task is stopped (for estimates)
    ran_s: float = 0.0  # seconds run in earlier attempts (ABOVE_NORMAL demotion counts them)


@dataclass(frozen=True, slots=True)
class QueuedTask:
    id: int
    user: str
    group: str
    priority: int  # may be AUTO
    nodes: int
    submitted_at: float  # first submission (a requeued task keeps its old place)
    held: bool = False  # held by the user or an admin
    ran_s: float = 0.0  # seconds run in earlier attempts (ABOVE_NORMAL demotion counts them)
    not_before: float | None = None  # a failed start is retried from then on (back-off)


@dataclass(frozen=True, slots=True)
class QuotaRow:
    """``principal`` is a user name, a user-group name or ``public``.

    ``resource`` follows the seed: ``node-{group}-{PRIORITY_NAME}`` caps the nodes a user
    holds at that priority in that group; ``node_limit`` caps all nodes of a user.
    """

    principal: str
    resource: str
    quota: int
    expires_at: float | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    nodes: tuple[Node, ...] = ()
    running: tuple[RunningTask, ...] = ()
    queued: tuple[QueuedTask, ...] = ()
    quotas: tuple[QuotaRow, ...] = ()
    user_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    usage: Mapping[str, float] = field(default_factory=dict)  # user -> decayed node-seconds
    # user -> role for users who are not "internal" (admin, external): a role is a quota
    # principal too, and external users never get ``default_quota`` (their rows only)
    roles: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    preemption: bool = True
    fair_share: bool = True
    usage_half_life_s: float = 3600.0
    above_normal_demote_after_s: float = 1800.0
    min_run_s: float = 0.0  # a task that started less than this ago is not suspended
    time_slicing: bool = False
    time_slice_s: float = 3600.0
    strict_fifo: bool = False  # no task may start before an earlier one in its group
    # nodes allowed at a level when no quota row matches; None = no limit (the embedded
    # server); 0 in a cluster (no row, no access). Never applies to external users.
    default_quota: int | None = None
    default_group: str = "default"
    suspend_grace_s: float = 60.0  # only used to estimate when a preempting task can start
    # no starvation: a task that has waited this long (time queued since first submission,
    # run time excluded) goes first among its priority and keeps the free nodes it will need
    # (smaller tasks behind it no longer backfill them). None: off.
    max_backfill_wait_s: float | None = 8 * 3600.0


@dataclass(frozen=True, slots=True)
class Start:
    task_id: int
    nodes: tuple[str, ...]
    priority: int  # concrete level (AUTO resolved)


@dataclass(frozen=True, slots=True)
class Keep:
    task_id: int


@dataclass(frozen=True, slots=True)
class Suspend:
    task_id: int
    reason: str
    for_task: int | None = None


@dataclass(frozen=True, slots=True)
class Hold:
    task_id: int
    reason: str
    position: int  # 1-based place in its group's queue
    detail: str = ""


Decision = Start | Keep | Suspend | Hold


@dataclass(frozen=True, slots=True)
class Plan:
    decisions: Mapping[int, Decision]

    def of(self, task_id: int) -> Decision:
        return self.decisions[task_id]

    def starts(self) -> list[Start]:
        return sorted((d for d in self.decisions.values() if isinstance(d, Start)), key=_id)

    def suspends(self) -> list[Suspend]:
        return sorted((d for d in self.decisions.values() if isinstance(d, Suspend)), key=_id)

    def holds(self) -> list[Hold]:
        return sorted((d for d in self.decisions.values() if isinstance(d, Hold)), key=_id)


def _id(d: Decision) -> int:
    return d.task_id
