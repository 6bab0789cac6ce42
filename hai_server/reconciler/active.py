"""Pure phase: what the backend's observations mean for the active tasks, as a change set.

For each active task (a plain row) and its attempt's observation, :func:`judge` gives a
verdict; this turns it into one guarded write (state changes through ``transition()``, the
attempt's ranks and end, events) and the backend calls to make: once, with the write, for what
the verdict starts (a termination, a suspend notice, forgetting an ended attempt), and on every
tick for what is under way (idempotent repeats). Attempts the backend runs that the record
does not hold are stopped and forgotten. No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hai_cli.scheduler.model import AUTO, PRIORITY_NAMES, priority_name
from hai_server.backends.base import AttemptObservation
from hai_server.domain import states as st
from hai_server.domain.changes import AttemptWrite, Call, ChangeSet, write_of
from hai_server.domain.draft import Draft
from hai_server.domain.transition import Event, transition
from hai_server.reconciler.judge import TaskView, judge
from hai_server.reconciler.watchdog import WatchdogPolicy, watch


def valid_level(value: int) -> bool:
    """A priority a task may ask for (a file a task writes is not trusted)."""
    return value == AUTO or value in PRIORITY_NAMES


Key = tuple[int, int]

SUSPEND_TEXT = {
    "user": "suspend requested by the user",
    "rehearsal": "suspend rehearsal (--suspend-after)",
    "node_failure": "a node of this task failed",
    "watchdog": "the watchdog found the task hung; restarting it from its last checkpoint",
}


def view(t: Any, now: float) -> TaskView:
    """What judge() needs of an active task (a row or a draft)."""
    return TaskView(
        state=t.state,
        restart_count=t.restart_count,
        started_at=t.started_at or now,
        stop_requested=t.stop_requested,
        suspend_requested=t.suspend_requested,
        suspend_deadline=t.suspend_deadline,
        terminate_sent=t.terminate_sent_at is not None,
        suspend_after=t.suspend_after,
        failure_code=t.exit_code if t.state != st.SUSPENDING else None,
        stop_outcome=(getattr(t, "options", None) or {}).get("stop_outcome", st.STOPPED),
    )


def rank_rows(obs: AttemptObservation) -> tuple[dict[str, Any], ...]:
    return tuple(
        {"rank": r.rank, "node": r.node, "state": r.state, "exit_code": r.exit_code,
         "message": r.message, **({"endpoint": r.endpoint} if r.endpoint else {})}
        for r in obs.ranks
    )  # fmt: skip


def begin_suspend(
    draft: Draft, reason: str, for_task: int | None, now: float, grace_s: float
) -> Call:
    """Mark a starting or running task suspending; the notice call to make with the write."""
    text = SUSPEND_TEXT.get(reason) or {
        "preempted": f"preempted to make room for task {for_task}",
        "time_slice": f"time slice over; making room for task {for_task}",
    }.get(reason, reason)
    deadline = now + grace_s
    draft.record(
        transition(
            draft, st.SUSPENDING, now=now, kind="suspend", reason=reason, deadline=deadline,
            message=f"{text}; notice sent, grace {grace_s:g} s",
        )
    )  # fmt: skip
    return Call("notify", draft.id, draft.restart_count, deadline=deadline)


def judge_active(
    rows: Sequence[Any],
    ranks: Mapping[int, Any],
    observations: Mapping[Key, AttemptObservation],
    now: float,
    grace_s: float,
    watchdog: WatchdogPolicy | None = None,
) -> ChangeSet:
    """The change set of the active tasks ``rows`` given the backend's ``observations``
    (``watchdog``: the hang watchdog's policy; None: off)."""
    out = ChangeSet()
    known: set[Key] = set()
    for row in rows:
        key = (row.id, row.restart_count)
        known.add(key)
        t = Draft(row._mapping)
        _judge_one(t, observations.get(key), ranks.get(row.id), now, grace_s, out, watchdog)
    for key, obs in observations.items():
        if key not in known:  # the backend runs an attempt the record does not hold
            out.calls.append(Call("terminate", *key))
            if all(r.state == "exited" for r in obs.ranks):
                out.calls.append(Call("forget", *key))
    return out


def _judge_one(
    t: Draft,
    obs: AttemptObservation | None,
    stored_ranks: Any,
    now: float,
    grace_s: float,
    out: ChangeSet,
    watchdog: WatchdogPolicy | None = None,
) -> None:
    key = (t.id, t.restart_count)
    # what was under way before this tick is repeated whatever happens to the write
    was_notified = t.state == st.SUSPENDING and t.suspend_deadline is not None
    was_terminating = t.terminate_sent_at is not None
    v = judge(view(t, now), obs, now)
    calls: list[Call] = []
    attempt: AttemptWrite | None = None
    ranks = rank_rows(obs) if obs is not None else None
    if ranks is not None and list(ranks) != list(stored_ranks or ()):
        attempt = AttemptWrite(t.restart_count, ranks=ranks)
    if obs is not None:
        if obs.whole_life_state is not None:
            t.whole_life_state = obs.whole_life_state
        if obs.last_checkpoint_at is not None:
            t.last_checkpoint_at = obs.last_checkpoint_at
        if obs.priority is not None and obs.priority != t.priority and valid_level(obs.priority):
            t.record(
                Event(t.id, now, "priority",
                      f"the task set its priority to {priority_name(obs.priority)} "
                      f"(was {priority_name(t.priority)}); it applies when it next waits")
            )  # fmt: skip
            t.priority = obs.priority
    if v.failure_code is not None:
        t.exit_code = v.failure_code
    notes = list(v.events)
    if v.new_state is not None and v.new_state != t.state:
        kind, message = notes.pop() if notes else (v.new_state, v.new_state)
        for k, msg in notes:
            t.record(Event(t.id, now, k, msg))
        notes = []
        ending = v.new_state not in st.ACTIVE
        t.record(
            transition(
                t, v.new_state, now=now, kind=kind, message=message,
                exit_code=v.exit_code,
            )
        )  # fmt: skip
        if v.new_state == st.RUNNING and t.start_failures:
            t.start_failures = 0  # a start went through: the next failure backs off from 2 s
        if ending:
            close = (now, v.outcome, v.exit_code)
            attempt = AttemptWrite(key[1], ranks=ranks, close=close)
            calls.append(Call("forget", *key))
    for k, msg in notes:
        t.record(Event(t.id, now, k, msg))
    if v.begin_suspend and t.state in (st.STARTING, st.RUNNING):
        calls.append(begin_suspend(t, v.begin_suspend, None, now, grace_s))
    if v.terminate and t.terminate_sent_at is None and t.state in st.ACTIVE:
        t.terminate_sent_at = now
        calls.append(Call("terminate", *key))
    quiet = v.new_state is None and not v.terminate and not v.begin_suspend and not v.events
    if watchdog is not None and obs is not None and quiet:
        calls.extend(_watch(t, obs, now, grace_s, watchdog))
    write = write_of(t, attempt=attempt, calls=tuple(calls))
    if write is not None:
        out.writes.append(write)
    if t.state in st.ACTIVE:  # the backend calls are idempotent: repeat them every tick
        if was_notified:
            out.calls.append(Call("notify", *key, deadline=t.suspend_deadline))
        if was_terminating:
            out.calls.append(Call("terminate", *key))


def _watch(
    t: Draft, obs: AttemptObservation, now: float, grace_s: float, policy: WatchdogPolicy
) -> list[Call]:
    """The hang watchdog on a running task nothing else happens to (see watchdog.py): its
    event, its action, and the calls they need."""
    if t.state != st.RUNNING or t.stop_requested or t.terminate_sent_at is not None:
        return []
    w = watch(
        running=[(r.rank, r.node) for r in obs.ranks if r.state == "running"],
        pulses=obs.pulses,
        started_at=t.started_at or now,
        hung_at=t.hung_at,
        task_s=t.watchdog_s,
        code_s=obs.watchdog_s,
        now=now,
        policy=policy,
    )
    if w.event is not None and w.kind in ("hung", "resumed"):
        t.record(Event(t.id, now, *w.event))
    key = (t.id, t.restart_count)
    if w.kind == "resumed":
        t.hung_at = None
    elif w.kind == "hung":
        t.hung_at = now
        if w.action == "stop":
            t.stop_requested = True
            t.terminate_sent_at = now
            return [Call("terminate", *key)]
        if w.action == "restart":
            notice = begin_suspend(t, "watchdog", None, now, grace_s)
            t.terminate_sent_at = now  # a hung process cannot save: stop it at once
            return [notice, Call("terminate", *key)]
    elif w.kind == "dead":
        assert w.event is not None
        t.record(Event(t.id, now, *w.event))
        notice = begin_suspend(t, "node_failure", None, now, grace_s)
        t.terminate_sent_at = now
        return [notice, Call("terminate", *key)]
    return []


def requeue_suspended(rows: Sequence[Any], now: float) -> ChangeSet:
    """Suspended tasks go back to the queue in their old place (first submission kept)."""
    out = ChangeSet()
    for row in rows:
        t = Draft(row._mapping)
        t.record(
            transition(
                t, st.QUEUED, now=now, kind="requeued",
                message="back in the queue in its old place",
            )
        )  # fmt: skip
        write = write_of(t)
        assert write is not None
        out.writes.append(write)
    return out
