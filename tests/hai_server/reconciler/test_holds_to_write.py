"""Which hold decisions the tick writes: reasons at once, moved positions within a budget."""

from __future__ import annotations

from hai_cli.scheduler.model import Hold
from hai_server.reconciler import schedule as loop
from hai_server.reconciler.schedule import holds_to_write


def test_reasons_and_first_positions_always_moves_within_budget(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(loop, "MOVED_POSITIONS_PER_TICK", 2)
    shown = {
        1: ("no_capacity", 1, ""),  # unchanged
        2: ("new", None, ""),  # first position
        3: ("no_capacity", 3, ""),  # new reason
        4: ("priority", 9, ""),  # moved 9 -> 4
        5: ("priority", 8, ""),  # moved 8 -> 5
        6: ("priority", 7, ""),  # moved 7 -> 6: beyond the budget of 2, the deepest
        # 7 is no longer queued
    }
    holds = [
        Hold(1, "no_capacity", 1),
        Hold(2, "priority", 2),
        Hold(3, "quota_exceeded", 3, "over"),
        Hold(4, "priority", 4),
        Hold(5, "priority", 5),
        Hold(6, "priority", 6),
        Hold(7, "priority", 7),
    ]
    assert [h.task_id for h in holds_to_write(holds, shown)] == [2, 3, 4, 5]
