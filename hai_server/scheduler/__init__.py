"""The pure time-sharing policy: plan(snapshot, config, now) -> Plan. Standard library only."""

from hai_server.scheduler.explain import Explanation, explain
from hai_server.scheduler.fairshare import decay
from hai_server.scheduler.model import (
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
from hai_server.scheduler.policy import plan

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
