"""A deterministic, instantaneous backend for tick-level tests and scenario tables.

Nothing runs: ``start`` records the attempt and its ranks are "running" at once (or stay
"pending" with ``start_pending``); the test scripts what happens next with ``exit`` (a rank
ends with a code), ``ack`` (a rank calls go_suspend), ``lose`` (a rank vanishes), ``fail_node``
(a node becomes unhealthy) and ``drop`` (the backend forgets an attempt). ``terminate`` ends
the ranks still running with 143 (SIGTERM), as a cooperative process would. Every call is
recorded in ``calls`` as a tuple, so a test can assert exactly what a tick asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from hai_server.backends.base import (
    AttemptObservation,
    AttemptSpec,
    Backend,
    BackendError,
    Capabilities,
    NodeState,
    RankObservation,
)


@dataclass
class FakeAttempt:
    spec: AttemptSpec
    ranks: dict[int, RankObservation]
    acked: set[int] = field(default_factory=set)
    whole_life_state: int | None = None
    last_checkpoint_at: float | None = None
    notice: float | None = None  # the suspend deadline the notice carried
    listening: set[int] | None = None  # None: like a backend that cannot tell
    terminated: bool = False


class FakeBackend(Backend):
    name = "fake"
    capabilities = Capabilities(multi_node=True, gpus=True, adopt_after_restart=True)

    def __init__(self, nodes: list[NodeState] | None = None) -> None:
        self.nodes: dict[str, NodeState] = {n.name: n for n in nodes or []}
        self.attempts: dict[tuple[int, int], FakeAttempt] = {}
        self.calls: list[tuple[object, ...]] = []
        self.start_pending = False  # ranks of new attempts stay "pending"
        self.refuse: dict[int, BackendError | Exception] = {}  # task id -> what start raises

    # -- the contract --------------------------------------------------------------------
    async def inventory(self) -> list[NodeState]:
        return [self.nodes[name] for name in sorted(self.nodes)]

    async def start(self, spec: AttemptSpec) -> None:
        self.calls.append(("start", spec.task_id, spec.attempt, tuple(r.node for r in spec.ranks)))
        error = self.refuse.get(spec.task_id)
        if error is not None:
            raise error
        if spec.key in self.attempts:
            return
        state = "pending" if self.start_pending else "running"
        self.attempts[spec.key] = FakeAttempt(
            spec, {r.rank: RankObservation(r.rank, r.node, state) for r in spec.ranks}
        )

    async def notify_suspend(self, task_id: int, attempt: int, deadline: float) -> None:
        self.calls.append(("notify", task_id, attempt, deadline))
        att = self.attempts.get((task_id, attempt))
        if att is not None and att.notice is None:
            att.notice = deadline

    async def terminate(self, task_id: int, attempt: int, grace_s: float) -> None:
        self.calls.append(("terminate", task_id, attempt))
        att = self.attempts.get((task_id, attempt))
        if att is None or att.terminated:
            return
        att.terminated = True
        for rank, obs in att.ranks.items():
            if obs.state in ("pending", "running"):
                att.ranks[rank] = replace(obs, state="exited", exit_code=143)

    async def observe(self) -> list[AttemptObservation]:
        return [
            AttemptObservation(
                task_id=key[0],
                attempt=key[1],
                ranks=tuple(att.ranks[r] for r in sorted(att.ranks)),
                suspend_acked=frozenset(att.acked),
                whole_life_state=att.whole_life_state,
                last_checkpoint_at=att.last_checkpoint_at,
                listening=None if att.listening is None else frozenset(att.listening),
            )
            for key, att in sorted(self.attempts.items())
        ]

    async def forget(self, task_id: int, attempt: int) -> None:
        self.calls.append(("forget", task_id, attempt))
        self.attempts.pop((task_id, attempt), None)

    # -- scripting -----------------------------------------------------------------------
    def attempt(self, task_id: int, attempt: int = 0) -> FakeAttempt:
        return self.attempts[(task_id, attempt)]

    def run(self, task_id: int, attempt: int = 0) -> None:
        """Every pending rank of the attempt is running now."""
        att = self.attempt(task_id, attempt)
        for rank, obs in att.ranks.items():
            if obs.state == "pending":
                att.ranks[rank] = replace(obs, state="running")

    def exit(self, task_id: int, rank: int, code: int, attempt: int = 0) -> None:
        att = self.attempt(task_id, attempt)
        att.ranks[rank] = replace(att.ranks[rank], state="exited", exit_code=code)

    def exit_all(self, task_id: int, code: int, attempt: int = 0) -> None:
        for rank in self.attempt(task_id, attempt).ranks:
            self.exit(task_id, rank, code, attempt)

    def ack(self, task_id: int, rank: int, attempt: int = 0) -> None:
        self.attempt(task_id, attempt).acked.add(rank)

    def listen(self, task_id: int, rank: int, attempt: int = 0) -> None:
        """The rank polled for the notice (the SDK's first receive_suspend_command())."""
        att = self.attempt(task_id, attempt)
        att.listening = (att.listening or set()) | {rank}

    def deaf(self, task_id: int, attempt: int = 0) -> None:
        """The backend can tell, and no rank of the attempt has polled yet."""
        self.attempt(task_id, attempt).listening = set()

    def lose(self, task_id: int, rank: int, message: str = "lost", attempt: int = 0) -> None:
        att = self.attempt(task_id, attempt)
        att.ranks[rank] = replace(att.ranks[rank], state="lost", message=message)

    def fail_node(self, name: str, message: str = "NotReady") -> None:
        self.nodes[name] = replace(self.nodes[name], healthy=False, message=message)

    def drop(self, task_id: int, attempt: int = 0) -> None:
        """The backend forgets the attempt (its pods or run directory vanished)."""
        self.attempts.pop((task_id, attempt), None)

    def reset_calls(self) -> list[tuple[object, ...]]:
        calls, self.calls = self.calls, []
        return calls
