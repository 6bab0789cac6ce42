"""State of one planning pass: per-group pools and per-task traces (for explanations)."""

from __future__ import annotations

from dataclasses import dataclass

from hai_cli.scheduler.model import Keep
from hai_cli.scheduler.placement import Pool
from hai_cli.scheduler.preempt import Victims
from hai_cli.scheduler.quota import QuotaInfo


@dataclass(slots=True)
class TaskTrace:
    """What the planner knew when it decided about one task (kept only for explanations)."""

    group: str
    priority: int | None = None  # effective (AUTO resolved); None when unresolvable
    quota: QuotaInfo | None = None
    victims: tuple[int, ...] = ()
    waiting_for: tuple[int, ...] = ()  # already-suspending tasks whose nodes it reserved
    free_at_start: int = 0


class Group:
    """Mutable state of one node group during a pass."""

    __slots__ = ("blocked", "free", "free_at_start", "freeing", "owner", "size", "victims")

    def __init__(
        self,
        size: int,
        usable: tuple[tuple[str, str], ...],
        held: set[str],
        freeing: dict[str, int],
        victims: Victims,
    ) -> None:
        self.size = size
        self.free = Pool(nz for nz in usable if nz[0] not in held)
        mine = [nz for nz in usable if nz[0] in freeing] if freeing else []
        self.freeing = Pool(mine)
        self.owner = {nz[0]: freeing[nz[0]] for nz in mine}
        self.free_at_start = self.free.count
        self.victims = victims
        self.blocked = False  # strict FIFO: an earlier task is waiting


KEEPS: dict[int, Keep] = {}  # Keep decisions are immutable: share them between plans


def keep(task_id: int) -> Keep:
    keep = KEEPS.get(task_id)
    if keep is None:
        if len(KEEPS) > 500_000:
            KEEPS.clear()
        keep = KEEPS[task_id] = Keep(task_id)
    return keep
