"""One reconciler tick as a table: rows and backend observations in; writes and calls out.

Each scenario builds its rows with the TickBench (SQLite, the fake backend, a virtual clock),
optionally scripts the backend, runs ONE tick and compares the task states, the events the
tick recorded and the exact backend calls it made. Kueue tests its scheduling cycle this way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support.ticks import TickBench, gpu_nodes, run

Given = Callable[[TickBench], Awaitable[None]]


@dataclass(frozen=True)
class Scenario:
    name: str
    nodes: tuple[str, ...]
    given: Given
    states: dict[int, str]  # after the tick
    calls: list[tuple[Any, ...]]  # exactly the backend calls of the tick, in order
    events: dict[int, list[str]] = field(default_factory=dict)  # new event kinds per task
    check: Callable[[TickBench], Awaitable[None]] | None = None
    scheduler: dict[str, Any] = field(default_factory=dict)


async def _nothing(b: TickBench) -> None:
    return None


# -- givens ---------------------------------------------------------------------------------
async def one_queued_two_nodes(b: TickBench) -> None:
    await b.queued(1, nodes=2)


async def gang_needs_three_of_two_free(b: TickBench) -> None:
    await b.active(1, on=("n1",))
    await b.queued(2, nodes=3)  # 3 nodes of a 4-node group: only 3 free would do; 3 are free? no
    await b.queued(3, nodes=2)


async def high_preempts_low(b: TickBench) -> None:
    await b.active(1, "bob", on=("n1", "n2"), priority=0)  # LOW
    await b.queued(2, "ann", nodes=2, priority=30)  # HIGH


async def node_fails(b: TickBench) -> None:
    await b.active(1, on=("n1", "n2"))
    b.backend.fail_node("n2", "kubelet stopped posting status")


async def deadline_passed(b: TickBench) -> None:
    await b.active(1, on=("n1",), state="suspending", suspend_deadline=b.now + 0.5,
                   suspend_reason="preempted")  # fmt: skip


async def held_task(b: TickBench) -> None:
    await b.queued(1, held=True)
    await b.queued(2)


async def released_task(b: TickBench) -> None:
    await b.queued(1, held=False, reason="held", position=1)


async def resumed_above_normal(b: TickBench) -> None:
    # ABOVE_NORMAL (20) ran 40 min in earlier attempts: it counts as NORMAL again at once,
    # so a NORMAL task of another user may preempt it (LOW-vs-NORMAL rules: strictly lower)
    await b.active(1, "bob", on=("n1",), priority=20, ran_s=2400.0, restart_count=1,
                   started_at=b.now - 10)  # fmt: skip
    await b.queued(2, "ann", priority=30)


async def fresh_above_normal(b: TickBench) -> None:
    await b.active(1, "bob", on=("n1",), priority=20, ran_s=0.0, started_at=b.now - 10)
    await b.queued(2, "ann", priority=20)


async def lost_attempt(b: TickBench) -> None:
    await b.active(1, on=("n1",), observed=False)


async def rank_exits_nonzero(b: TickBench) -> None:
    await b.active(1, on=("n1", "n2"))
    b.backend.exit(1, 1, 3)


async def all_acked(b: TickBench) -> None:
    await b.active(1, on=("n1",), state="suspending", suspend_deadline=b.now + 50,
                   suspend_reason="preempted")  # fmt: skip
    b.backend.ack(1, 0)


async def suspended_requeue(b: TickBench) -> None:
    await b.active(1, on=("n1",), state="suspending", suspend_deadline=b.now + 50,
                   terminate_sent_at=b.now - 1, suspend_reason="user")  # fmt: skip
    b.backend.exit_all(1, 143)


async def start_refused_retryable(b: TickBench) -> None:
    from hai_server.backends.base import BackendError

    await b.queued(1)
    b.backend.refuse[1] = BackendError("exceeded quota: pods=10", retryable=True)


async def start_raises(b: TickBench) -> None:
    await b.queued(1)
    b.backend.refuse[1] = ValueError("embedded null byte")


# -- checks ---------------------------------------------------------------------------------
async def gpus_per_rank(b: TickBench) -> None:
    spec = b.backend.attempt(1).spec
    assert [r.gpus for r in spec.ranks] == [tuple(range(8)), tuple(range(8))]
    assert [r.env["CUDA_VISIBLE_DEVICES"] for r in spec.ranks] == ["0,1,2,3,4,5,6,7"] * 2
    assert [r.env["LOCAL_WORLD_SIZE"] for r in spec.ranks] == ["8", "8"]


async def victim_and_reservation(b: TickBench) -> None:
    low, high = await b.task(1), await b.task(2)
    assert low.suspend_reason == "preempted" and low.suspend_deadline == b.now + 60
    assert high.reason == "waiting_for_preemption" and "task(s) 1" in high.detail


async def suspended_for_node(b: TickBench) -> None:
    assert (await b.task(1)).suspend_reason == "node_failure"


async def hold_reason(b: TickBench) -> None:
    assert (await b.task(1)).reason == "held"


async def failure_code(b: TickBench) -> None:
    t = await b.task(1)
    assert t.exit_code == 3 and t.terminate_sent_at == b.now


async def requeued_with_attempt_closed(b: TickBench) -> None:
    t = await b.task(1)
    assert t.restart_count == 1 and t.ran_s > 0
    (att,) = await b.attempts(1)
    assert att.outcome == "suspended" and att.ended_at == b.now


async def backed_off(b: TickBench) -> None:
    t = await b.task(1)
    assert t.reason == "start_failed" and t.retry_at == b.now + 2 and t.start_failures == 1
    assert "exceeded quota: pods=10" in t.detail
    assert await b.attempts(1) == []  # the attempt that never ran is gone; its number reused


async def failed_once(b: TickBench) -> None:
    t = await b.task(1)
    assert "embedded null byte" in t.detail and t.ended_at == b.now


SCENARIOS = [
    Scenario(
        "start with GPUs: each rank gets its node's devices",
        ("n1", "n2"), one_queued_two_nodes, {1: "starting"},
        [("start", 1, 0, ("n1", "n2"))], {1: ["start"]}, gpus_per_rank,
    ),
    Scenario(
        "gang: a task starts on all its nodes or none, the smaller one behind it starts",
        ("n1", "n2", "n3", "n4"), gang_needs_three_of_two_free,
        {1: "running", 2: "starting", 3: "queued"},
        [("start", 2, 0, ("n2", "n3", "n4"))],
    ),
    Scenario(
        "preemption: the LOW victim gets the notice, the HIGH task reserves its nodes",
        ("n1", "n2"), high_preempts_low, {1: "suspending", 2: "queued"},
        [("notify", 1, 0, 1_000_061.0)], {1: ["suspend"]}, victim_and_reservation,
    ),
    Scenario(
        "node failure: the task on it is suspended with notice",
        ("n1", "n2"), node_fails, {1: "suspending"},
        [("notify", 1, 0, 1_000_061.0)], {1: ["suspend"]}, suspended_for_node,
    ),
    Scenario(
        "suspend deadline: a task that did not acknowledge is terminated",
        ("n1",), deadline_passed, {1: "suspending"},
        [("terminate", 1, 0), ("notify", 1, 0, 1_000_000.5)], {1: ["suspend_deadline"]},
    ),
    Scenario(
        "held: the held task waits with reason held, the next one starts",
        ("n1",), held_task, {1: "queued", 2: "starting"}, [("start", 2, 0, ("n1",))],
        {2: ["start"]}, hold_reason,
    ),
    Scenario(
        "released: a task no longer held starts",
        ("n1",), released_task, {1: "starting"}, [("start", 1, 0, ("n1",))],
    ),
    Scenario(
        "ABOVE_NORMAL demoted across a resume: its earlier run time counts",
        ("n1",), resumed_above_normal, {1: "suspending", 2: "queued"},
        [("notify", 1, 1, 1_000_061.0)], {1: ["suspend"]},
    ),
    Scenario(
        "ABOVE_NORMAL not yet demoted: an equal-priority task cannot preempt it",
        ("n1",), fresh_above_normal, {1: "running", 2: "queued"}, [],
    ),
    Scenario(
        "lost attempt: the backend no longer knows it; requeued and started again",
        ("n1",), lost_attempt, {1: "starting"}, [("forget", 1, 0), ("start", 1, 1, ("n1",))],
        {1: ["lost", "requeued", "start"]},
    ),
    Scenario(
        "a rank fails: the others are stopped, the failure code kept",
        ("n1", "n2"), rank_exits_nonzero, {1: "running"}, [("terminate", 1, 0)],
        {1: ["rank_failed"]}, failure_code,
    ),
    Scenario(
        "every rank acknowledged: the ranks are stopped",
        ("n1",), all_acked, {1: "suspending"},
        [("terminate", 1, 0), ("notify", 1, 0, 1_000_050.0)], {1: ["suspend_ack"]},
    ),
    Scenario(
        "suspended ranks ended: requeued in its old place, attempt closed",
        ("n1",), suspended_requeue, {1: "starting"},
        [("forget", 1, 0), ("start", 1, 1, ("n1",))], {1: ["suspended", "requeued", "start"]},
    ),
    Scenario(
        "a retryable start refusal backs off instead of retrying at once",
        ("n1",), start_refused_retryable, {1: "queued"}, [
            ("start", 1, 0, ("n1",)), ("forget", 1, 0)],
        {1: ["start", "start_failed"]}, backed_off,
    ),
    Scenario(
        "a start that raises anything fails that task once, with the reason",
        ("n1",), start_raises, {1: "failed"}, [("start", 1, 0, ("n1",)), ("forget", 1, 0)],
        {1: ["start", "start_failed"]}, failed_once,
    ),
]  # fmt: skip


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_one_tick(sc: Scenario, tmp_path) -> None:
    async def scenario() -> None:
        b = await TickBench(tmp_path, gpu_nodes(*sc.nodes), **sc.scheduler).open()
        try:
            await sc.given(b)
            before = {tid: await b.events(tid) for tid in (await b.states())}
            calls = await b.tick()
            assert await b.states() == sc.states
            assert calls == sc.calls
            for tid, kinds in sc.events.items():
                assert (await b.events(tid))[len(before.get(tid, [])) :] == kinds
            if sc.check is not None:
                await sc.check(b)
        finally:
            await b.close()

    run(scenario())


def test_backoff_holds_the_task_until_its_time_then_retries(tmp_path) -> None:
    async def scenario() -> None:
        b = await TickBench(tmp_path, gpu_nodes("n1")).open()
        try:
            await start_refused_retryable(b)
            await b.tick()
            assert await b.tick(1.0) == []  # 1 s later: still backing off, no storm
            assert (await b.task(1)).reason == "start_failed"
            calls = await b.tick(1.5)  # past the 2 s back-off: tried again, refused again
            assert calls == [("start", 1, 0, ("n1",)), ("forget", 1, 0)]
            t = await b.task(1)
            assert t.start_failures == 2 and t.retry_at == b.now + 4
            del b.backend.refuse[1]
            assert await b.tick(5.0) == [("start", 1, 0, ("n1",))]
            b.backend.run(1)
            await b.tick()
            assert (await b.task(1)).start_failures == 0  # it ran: the next failure starts over
        finally:
            await b.close()

    run(scenario())


def test_a_write_from_a_stale_read_is_dropped_with_its_calls(tmp_path) -> None:
    """The reconciler decides on rows it read; if the API changed a row in between, that
    task's write, events and backend calls are dropped (the next tick decides again)."""

    async def scenario() -> None:
        b = await TickBench(tmp_path, gpu_nodes("n1")).open()
        try:
            await b.queued(1)
            real = b.reconciler._schedule

            async def racing(*args: Any) -> bool:
                # the user stops the task after the plan read it and before the write
                from hai_server.db import active as rows

                original = rows.task_rows

                async def read_then_stop(s: Any, ids: Any, **kw: Any) -> Any:
                    found = await original(s, ids, **kw)
                    await b.update(1, state="stopped", ended_at=b.now)
                    return found

                rows.task_rows = read_then_stop
                try:
                    return await real(*args)
                finally:
                    rows.task_rows = original

            b.reconciler._schedule = racing  # type: ignore[method-assign]
            assert await b.tick() == []
            assert (await b.states())[1] == "stopped"
            assert await b.attempts(1) == []
        finally:
            await b.close()

    run(scenario())
