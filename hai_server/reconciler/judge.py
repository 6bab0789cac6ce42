"""Pure rules: what an active attempt's observed ranks mean for its task.

``judge(view, observation, now)`` returns a :class:`Verdict`; the reconciler writes it down
and performs the backend calls it asks for. No I/O here, so every rule is unit-tested.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hai_server.backends.base import AttemptObservation
from hai_server.domain import states as lc

KILLED_CODES = frozenset({137, 143, 130})  # SIGKILL, SIGTERM, SIGINT as 128 + signum

# an attempt younger than this may not have reached its first receive_suspend_command() yet
# (imports, data loading): it is not called deaf before (a README run found a task preempted
# ~0.1 s after its start killed at once and restarted from step 0)
LISTEN_WINDOW_S = 3.0


@dataclass(frozen=True, slots=True)
class TaskView:
    state: str
    restart_count: int
    started_at: float
    stop_requested: bool = False
    suspend_requested: bool = False
    suspend_deadline: float | None = None
    terminate_sent: bool = False
    suspend_after: float | None = None
    failure_code: int | None = None  # first non-zero exit already seen
    stop_outcome: str = lc.STOPPED  # what a stopped task ends as (stop --succeeded/--failed)


@dataclass(slots=True)
class Verdict:
    new_state: str | None = None
    terminate: bool = False
    begin_suspend: str | None = None  # reason, when a suspend should start now
    failure_code: int | None = None
    exit_code: int | None = None
    outcome: str = ""
    events: list[tuple[str, str]] = field(default_factory=list)


def judge(view: TaskView, obs: AttemptObservation | None, now: float) -> Verdict:
    v = Verdict()
    if obs is None:
        v.new_state = view.stop_outcome if view.stop_requested else lc.SUSPENDED
        v.outcome = "lost"
        v.events.append(("lost", "the backend no longer knows this attempt; requeueing"))
        if view.stop_requested:
            v.events[-1] = (
                view.stop_outcome,
                f"the backend no longer knows this attempt; {view.stop_outcome}",
            )
        return v

    ranks = obs.ranks
    exited = [r for r in ranks if r.state == "exited"]
    failed = [r for r in exited if r.exit_code not in (0, None)]
    lost = [r for r in ranks if r.state == "lost"]

    if len(exited) == len(ranks):
        return _finished(view, obs, v)

    if lost and not view.terminate_sent:
        names = ", ".join(f"rank {r.rank} on {r.node}" for r in lost)
        v.terminate = True
        if view.state != lc.SUSPENDING:
            v.begin_suspend = "node_failure"
        v.events.append(
            (
                "node_failure",
                f"{names} lost ({lost[0].message}); stopping the attempt to requeue it",
            )
        )
        return v

    if (
        failed
        and view.failure_code is None
        and view.state != lc.SUSPENDING
        and not view.stop_requested
    ):
        first = min(failed, key=lambda r: r.rank)
        v.failure_code = first.exit_code
        v.terminate = not view.terminate_sent
        v.events.append(
            (
                "rank_failed",
                f"rank {first.rank} exited with code {first.exit_code}; stopping the other ranks",
            )
        )
        return v

    if view.stop_requested:
        if not view.terminate_sent:
            v.terminate = True
        return v

    if view.state == lc.STARTING and all(r.state == "running" for r in ranks):
        v.new_state = lc.RUNNING
        v.events.append(("running", "all ranks are running"))

    if view.state == lc.SUSPENDING:
        if not view.terminate_sent:
            done = {r.rank for r in exited} | set(obs.suspend_acked)
            if len(done) >= len(ranks):
                v.terminate = True
                v.events.append(
                    ("suspend_ack", "every rank called go_suspend(); stopping the ranks")
                )
            elif (
                obs.listening is not None
                and not obs.listening
                and not obs.suspend_acked
                and now - view.started_at >= LISTEN_WINDOW_S
            ):
                # no rank ever polled for the notice in this attempt (and it ran long enough
                # to have started polling): it cannot be heard, so waiting out the grace would
                # only hold the task that needs the nodes
                v.terminate = True
                v.events.append(
                    (
                        "suspend_unheard",
                        "victim does not listen for notices (no rank has polled "
                        "receive_suspend_command()): stopping it now, SIGTERM then SIGKILL",
                    )
                )
            elif view.suspend_deadline is not None and now >= view.suspend_deadline:
                v.terminate = True
                missing = sorted({r.rank for r in ranks} - done)
                v.events.append(
                    (
                        "suspend_deadline",
                        f"grace period over and rank(s) {missing} did not call go_suspend(); "
                        "sending SIGTERM, then SIGKILL",
                    )
                )
        return v

    state = v.new_state or view.state
    if state in (lc.STARTING, lc.RUNNING):
        if view.suspend_requested:
            v.begin_suspend = "user"
        elif (
            view.suspend_after is not None
            and view.restart_count == 0
            and state == lc.RUNNING
            and now >= view.started_at + view.suspend_after
        ):
            v.begin_suspend = "rehearsal"
    return v


def _finished(view: TaskView, obs: AttemptObservation, v: Verdict) -> Verdict:
    codes = {r.rank: r.exit_code for r in obs.ranks}
    all_zero = all(c == 0 for c in codes.values())
    acked = bool(obs.suspend_acked)
    first_bad = next((codes[r] for r in sorted(codes) if codes[r] not in (0, None)), None)
    if view.stop_requested:
        end = view.stop_outcome
        v.new_state, v.outcome = end, end
        v.exit_code = first_bad if first_bad is not None and end != lc.SUCCEEDED else 0
        marked = "" if end == lc.STOPPED else f"; marked {end}"
        v.events.append((end, f"stopped by request{marked}"))
    elif view.failure_code is not None:
        v.new_state, v.outcome, v.exit_code = lc.FAILED, "failed", view.failure_code
        v.events.append(("failed", f"failed with exit code {view.failure_code}"))
    elif view.state == lc.SUSPENDING:
        # exit 0 after our SIGTERM may be a task that saved on it (resume it later); exit 0
        # before the SIGTERM reached any rank is a task that finished its work: never rerun it
        on_its_own = not view.terminate_sent or all(r.before_stop for r in obs.ranks)
        if all_zero and not acked and on_its_own:
            v.new_state, v.outcome, v.exit_code = lc.SUCCEEDED, "succeeded", 0
            v.events.append(("succeeded", "finished during the suspend grace period"))
        elif (
            not acked
            and not view.terminate_sent
            and first_bad not in KILLED_CODES
            and first_bad is not None
        ):
            v.new_state, v.outcome, v.exit_code = lc.FAILED, "failed", first_bad
            v.events.append(("failed", f"crashed with exit code {first_bad} while suspending"))
        else:
            v.new_state, v.outcome, v.exit_code = lc.SUSPENDED, "suspended", first_bad or 0
            v.events.append(("suspended", "ranks stopped; back to the queue in its old place"))
    elif all_zero:
        v.new_state, v.outcome, v.exit_code = lc.SUCCEEDED, "succeeded", 0
        v.events.append(("succeeded", "every rank exited with code 0"))
    elif view.terminate_sent and first_bad in KILLED_CODES:
        # stopped by us for a lost node: requeue
        v.new_state, v.outcome, v.exit_code = lc.SUSPENDED, "suspended", first_bad
        v.events.append(("suspended", "ranks stopped; back to the queue in its old place"))
    else:
        v.new_state, v.outcome, v.exit_code = lc.FAILED, "failed", first_bad
        v.events.append(("failed", f"failed with exit code {first_bad}"))
    return v
