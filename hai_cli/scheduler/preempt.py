"""Preemption: which running tasks a waiting task may suspend, and the fewest it needs.

A waiting task may suspend a running task of its group when the running task's effective
priority is strictly lower, or - with time-slicing on - when it is equal, belongs to another
user with more decayed usage, and has held its nodes for at least one slice. A task inside its
minimum run time is never a victim. Victims are taken in ``victim_key`` order (lowest priority,
least work lost, fewest nodes, id) until enough nodes would be free, then any victim that is
not needed after all is given back, so every suspend is necessary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hai_cli.scheduler.model import (
    SUSPEND_PREEMPTED,
    SUSPEND_TIME_SLICE,
    PolicyConfig,
    QueuedTask,
    RunningTask,
)
from hai_cli.scheduler.order import VictimKey, victim_key


@dataclass(slots=True)
class Candidate:
    task: RunningTask
    priority: int  # effective
    key: VictimKey
    taken: bool = False

    @property
    def size(self) -> int:
        return len(self.task.nodes)


class Victims:
    """The running tasks of one group that could be suspended, in victim order."""

    def __init__(self, config: PolicyConfig, now: float, usage: Mapping[str, float]) -> None:
        self._raw: list[tuple[RunningTask, int]] = []
        self._items: list[Candidate] | None = None  # built on first use (rarely needed)
        self._first = 0  # every candidate before this one is taken
        self._config = config
        self._now = now
        self._usage = usage
        self._by_level: dict[int, int] = {}
        self._failed: dict[tuple[object, ...], int] = {}  # smallest need that found too few
        self.bounds: dict[int, int] = {}  # cache of upper_bound (read it freely), cleared by take()

    def add(self, task: RunningTask, priority: int) -> None:
        """Register a running task that may be suspended, at its effective ``priority``."""
        self._raw.append((task, priority))
        self._by_level[priority] = self._by_level.get(priority, 0) + len(task.nodes)

    def _candidates(self) -> list[Candidate]:
        if self._items is None:
            now = self._now
            self._items = sorted((make_candidate(t, p, now) for t, p in self._raw), key=_by_key)
        return self._items

    def upper_bound(self, priority: int) -> int:
        """Nodes a task at ``priority`` could free at most (cheap, may over-count)."""
        bound = self.bounds.get(priority)
        if bound is None:
            slicing = self._config.time_slicing
            bound = sum(
                n
                for level, n in self._by_level.items()
                if level < priority or (slicing and level == priority)
            )
            self.bounds[priority] = bound
        return bound

    def reason_against(
        self, c: Candidate, priority: int, user: str, waiting: QueuedTask | None = None
    ) -> str | None:
        """Why ``c`` may not be suspended for a task of ``user`` at ``priority`` (None: it may).

        A time-slice victim must sort after the waiting task once requeued, or it would take
        its nodes straight back: with fair share that is what "more usage" ensures, without
        it the victim must also have been submitted later.
        """
        if c.priority < priority:
            return None
        if c.priority > priority:
            return "higher priority"
        if c.task.user == user:
            return "same user at equal priority"
        if not self._config.time_slicing:
            return "equal priority"
        if self._now - c.task.started_at < self._config.time_slice_s:
            return "equal priority, inside its time slice"
        if self._usage.get(user, 0.0) >= self._usage.get(c.task.user, 0.0):
            return "equal priority, its user has no more usage"
        if not self._config.fair_share and waiting is not None:
            mine = (c.task.submitted_at, c.task.id)
            if mine < (waiting.submitted_at, waiting.id):
                return "equal priority, submitted earlier (it would come straight back)"
        return None

    def select(
        self, priority: int, user: str, need: int, waiting: QueuedTask | None = None
    ) -> list[Candidate] | None:
        """The fewest victims (in victim order) freeing ``need`` nodes, or None if impossible."""
        if self._config.fair_share or waiting is None:
            fail_key: tuple[object, ...] = (priority, user)
        else:
            fail_key = (priority, user, waiting.submitted_at, waiting.id)
        failed = self._failed.get(fail_key)
        if failed is not None and need >= failed:
            return None  # a smaller need already failed and no victim was taken since
        items = self._candidates()
        while self._first < len(items) and items[self._first].taken:
            self._first += 1
        chosen: list[Candidate] = []
        got = 0
        for i in range(self._first, len(items)):
            c = items[i]
            if c.priority > priority:
                break
            if c.taken or self.reason_against(c, priority, user, waiting) is not None:
                continue
            chosen.append(c)
            got += c.size
            if got >= need:
                break
        if got < need:
            self._failed[fail_key] = need
            return None
        for c in reversed(chosen[:]):
            if got - c.size >= need:
                chosen.remove(c)
                got -= c.size
        return chosen

    def take(self, chosen: list[Candidate]) -> None:
        for c in chosen:
            c.taken = True
            self._by_level[c.priority] -= c.size
        self.bounds.clear()
        self._failed.clear()

    def suspend_reason(self, c: Candidate, priority: int) -> str:
        return SUSPEND_PREEMPTED if c.priority < priority else SUSPEND_TIME_SLICE

    def all(self) -> list[Candidate]:
        return self._candidates()


def _by_key(c: Candidate) -> VictimKey:
    return c.key


def make_candidate(task: RunningTask, priority: int, now: float) -> Candidate:
    return Candidate(task, priority, victim_key(task, priority, now))
