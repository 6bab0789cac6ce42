"""Order: effective priorities and the total sort keys of the queue and of victims."""

from __future__ import annotations

from collections.abc import Mapping

from hai_cli.scheduler.model import PolicyConfig, Priority, QueuedTask, RunningTask


def task_group(group: str, config: PolicyConfig) -> str:
    """The node group a task belongs to (an empty name means the default group)."""
    return group or config.default_group


def effective_priority(task: RunningTask, config: PolicyConfig, now: float) -> int:
    """ABOVE_NORMAL counts as NORMAL once the task has run ``above_normal_demote_after_s``

    (earlier attempts, ``ran_s``, included)."""
    if (
        task.priority == Priority.ABOVE_NORMAL
        and task.ran_s + now - task.started_at >= config.above_normal_demote_after_s
    ):
        return int(Priority.NORMAL)
    return task.priority


def queued_priority(task: QueuedTask, priority: int, config: PolicyConfig) -> int:
    """A requeued ABOVE_NORMAL task that already ran its boost waits as NORMAL."""
    if priority == Priority.ABOVE_NORMAL and task.ran_s >= config.above_normal_demote_after_s:
        return int(Priority.NORMAL)
    return priority


def work_lost(task: RunningTask, now: float) -> float:
    """Seconds of work a suspend would throw away: since the start or the last checkpoint."""
    since = task.started_at
    if task.last_checkpoint_at is not None and task.last_checkpoint_at > since:
        since = task.last_checkpoint_at
    return max(0.0, now - since)


QueueKey = tuple[float, float, float, int]


def waited(task: QueuedTask, now: float) -> float:
    """Seconds a queued task has waited since its first submission (run time excluded)."""
    return now - task.submitted_at - task.ran_s


def is_aged(task: QueuedTask, config: PolicyConfig, now: float) -> bool:
    """Waited past ``max_backfill_wait_s`` (never under strict FIFO: it starves nothing)."""
    limit = config.max_backfill_wait_s
    return limit is not None and not config.strict_fifo and waited(task, now) >= limit


def queue_key(
    task: QueuedTask, priority: int, usage: Mapping[str, float], config: PolicyConfig,
    now: float,
) -> QueueKey:  # fmt: skip
    """Sort key of a queued task inside its group (smaller comes first).

    Strict FIFO: first submission, then id. Otherwise: effective priority (high first), then
    the user's decayed usage when fair share is on (low first), then first submission, then id.
    An aged task (waited past ``max_backfill_wait_s``) goes before every task of its priority
    and, below NORMAL, before NORMAL work too (never before ABOVE_NORMAL and up); aged tasks
    among themselves by first submission.
    """
    if config.strict_fifo:
        return (0.0, 0.0, task.submitted_at, task.id)
    if is_aged(task, config, now):
        return (-(max(priority, int(Priority.NORMAL)) + 0.5), -1.0, task.submitted_at, task.id)
    share = usage.get(task.user, 0.0) if config.fair_share else 0.0
    return (-float(priority), share, task.submitted_at, task.id)


VictimKey = tuple[int, float, int, int]


def victim_key(task: RunningTask, priority: int, now: float) -> VictimKey:
    """Victims: lowest effective priority, then least work lost, then fewest nodes, then id."""
    return (priority, work_lost(task, now), len(task.nodes), task.id)
