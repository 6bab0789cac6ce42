"""The contract between the reconciler and the places where ranks run.

A backend turns decisions into running ranks and reports what it sees. It imports neither
the database layer nor the API layer: everything it needs arrives in an :class:`AttemptSpec`,
and everything it knows leaves as :class:`NodeState` and :class:`AttemptObservation`.

Rules every backend keeps (the reconciler relies on them):

* every method returns quickly (no waiting for a rank to start or stop);
* ``start``, ``notify_suspend``, ``terminate`` and ``forget`` are idempotent: calling them
  twice for the same attempt has the effect of calling them once;
* a backend never sends a signal that stops a rank except from ``terminate``;
* errors the cluster reports about one attempt (bad image, vanished node, API refusal) are
  raised as :class:`BackendError` with a message a user can act on.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

RankState = Literal["pending", "running", "exited", "lost"]


class BackendError(Exception):
    """A failure the backend could not hide. ``retryable`` says whether requeueing may help."""

    def __init__(self, message: str, *, retryable: bool = True, kind: str = "") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.kind = kind  # e.g. "rbac", "admission", "invalid", "unavailable" (backend's own)


@dataclass(frozen=True, slots=True)
class NodeState:
    name: str
    group: str
    zone: str = ""
    gpus: int = 0
    healthy: bool = True
    cordoned: bool = False
    message: str = ""
    gpu_first: int = 0  # device index of the node's first GPU (virtual nodes share a machine)
    cpus: float = 0.0  # for Jupyter containers sharing it (0: unknown)
    memory_gib: float = 0.0


@dataclass(frozen=True, slots=True)
class RankSpec:
    rank: int
    node: str
    env: Mapping[str, str]  # the rank's own variables (RANK, NODE_RANK, ...)
    gpus: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class AttemptSpec:
    task_id: int
    attempt: int  # 0 for the first run, restart_count afterwards
    name: str
    user: str
    argv: tuple[str, ...]  # e.g. ("python3", "-u", "train.py", "--lr", "0.1")
    workdir: str
    env: Mapping[str, str]  # shared by all ranks: user's -e values and platform variables
    ranks: tuple[RankSpec, ...]
    log_dir: str  # where this attempt's rank logs go (one file per rank)
    image: str | None = None
    mounts: tuple[Mapping[str, object], ...] = ()
    run_as: tuple[int, int | None] | None = None  # (uid, gid) of the task's owner, when known
    kind: str = "python"  # "jupyter": a container whose rank 0 serves JupyterLab
    resources: Mapping[str, float] = field(default_factory=dict)  # cpus, memory_gib, gpus

    @property
    def key(self) -> tuple[int, int]:
        return (self.task_id, self.attempt)


@dataclass(frozen=True, slots=True)
class RankObservation:
    rank: int
    node: str
    state: RankState
    exit_code: int | None = None
    message: str = ""
    endpoint: str = ""  # HOST:PORT a service of the rank answers at (Jupyter containers)
    # the rank had exited before the backend began stopping it (local backend: its exit file
    # is older than the attempt's kill mark): an exit code 0 then means it finished its work,
    # not that it saved on our SIGTERM. False also when the backend cannot tell.
    before_stop: bool = False


@dataclass(frozen=True, slots=True)
class RankPulse:
    """A rank's heartbeat (``hai_cli.rankrun``): when its wrapper last beat, and when the
    rank's command last printed (both wall-clock epoch seconds)."""

    rank: int
    heartbeat_at: float
    output_at: float


@dataclass(frozen=True, slots=True)
class AttemptObservation:
    task_id: int
    attempt: int
    ranks: tuple[RankObservation, ...]
    suspend_acked: frozenset[int] = frozenset()  # ranks that called go_suspend()
    whole_life_state: int | None = None
    last_checkpoint_at: float | None = None  # wall-clock time of the last report_checkpoint()
    errors: tuple[str, ...] = ()
    # ranks that have polled for the suspend notice in this attempt; None: cannot tell
    listening: frozenset[int] | None = None
    # the ranks' heartbeats (a rank not yet beating is absent); None: the backend cannot tell
    pulses: tuple[RankPulse, ...] | None = None
    watchdog_s: int | None = None  # set from code (set_watchdog_time), when the task did
    priority: int | None = None  # what the task asked for with set_priority()

    @property
    def key(self) -> tuple[int, int]:
        return (self.task_id, self.attempt)


@dataclass(slots=True)
class Capabilities:
    multi_node: bool = True
    gpus: bool = False
    adopt_after_restart: bool = True  # ranks survive a server restart and are found again
    extra: frozenset[str] = field(default_factory=frozenset)


class Backend(abc.ABC):
    """Where ranks run. See the module docstring for the rules."""

    name: str = "abstract"
    capabilities: Capabilities = Capabilities()

    def set_wakeup(self, wakeup: Callable[[], None]) -> None:  # noqa: B027 - optional hook
        """Give the backend a function to call when something changed (rank exit, ack)."""

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Connect / start watchers. Called once before any other method."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Stop watchers. Ranks keep running."""

    @abc.abstractmethod
    async def inventory(self) -> list[NodeState]:
        """The nodes this backend can run ranks on, with their health."""

    @abc.abstractmethod
    async def start(self, spec: AttemptSpec) -> None:
        """Launch every rank of the attempt. Idempotent; returns once launching is under way."""

    @abc.abstractmethod
    async def notify_suspend(self, task_id: int, attempt: int, deadline: float) -> None:
        """Make the suspend notice visible to every rank at once. No signal is sent."""

    @abc.abstractmethod
    async def terminate(self, task_id: int, attempt: int, grace_s: float) -> None:
        """Stop every rank: SIGTERM (or the cluster's equivalent), SIGKILL after ``grace_s``."""

    @abc.abstractmethod
    async def observe(self) -> list[AttemptObservation]:
        """Every attempt the backend still knows about, with the state of each rank."""

    @abc.abstractmethod
    async def forget(self, task_id: int, attempt: int) -> None:
        """Drop bookkeeping for an attempt whose ranks have all ended (logs are kept)."""


def platform_env(
    *,
    task_id: int,
    name: str,
    user: str,
    attempt: int,
    world_size: int,
    whole_life_state: int,
    log_dir: str,
    user_env: Mapping[str, str],
) -> dict[str, str]:
    """Variables shared by every rank of an attempt (DESIGN.md section 3).

    User variables come first so the platform's own names always win.
    """
    env = dict(user_env)
    env.update(
        {
            "WORLD_SIZE": str(world_size),
            "HAI_TASK_ID": str(task_id),
            "HAI_TASK_NAME": name,
            "HAI_USER": user,
            "HAI_RESTART_COUNT": str(attempt),
            "HAI_WHOLE_LIFE_STATE": str(whole_life_state),
            "HAI_LOG_DIR": log_dir,
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def rank_env(*, rank: int, node: str, gpus: tuple[int, ...]) -> dict[str, str]:
    """Variables of one rank. ``MASTER_ADDR``/``MASTER_PORT`` are the backend's to add."""
    env = {
        "RANK": str(rank),
        "NODE_RANK": str(rank),
        "HAI_NODE": node,
        "LOCAL_WORLD_SIZE": str(max(len(gpus), 1)),
    }
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in gpus)
    return env
