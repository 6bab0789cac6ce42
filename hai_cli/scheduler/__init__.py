"""The pure time-sharing policy: plan(snapshot, config, now) -> Plan. Standard library only."""

from hai_cli.scheduler.explain import Explanation, explain
from hai_cli.scheduler.fairshare import decay
from hai_cli.scheduler.model import (
    AUTO,
    Hold,
    Keep,
    Node,
    Plan,
    PolicyConfig,
    Priority,
    QueuedTask,
    QuotaRow,
    RunningTask,
    Snapshot,
    Start,
    Suspend,
)
from hai_cli.scheduler.policy import plan

__all__ = [
    "AUTO",
    "Explanation",
    "Hold",
    "Keep",
    "Node",
    "Plan",
    "PolicyConfig",
    "Priority",
    "QueuedTask",
    "QuotaRow",
    "RunningTask",
    "Snapshot",
    "Start",
    "Suspend",
    "decay",
    "explain",
    "plan",
]
