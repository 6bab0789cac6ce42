"""The rows -> Snapshot adapter maps every field of the policy's model, on both databases.

Each case writes rows for tasks and nodes whose every field differs from its default, loads the
snapshot and expects the very same values back. The writers below name every model field: a
field added to RunningTask, QueuedTask or Node fails ``test_the_writers_cover_every_field``
until it is written here, and the round trip until db/snapshot.py maps it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

from hai_cli.scheduler.model import Node, QueuedTask, QuotaRow, RunningTask
from hai_server.db import models as m
from hai_server.db.queued import QueuedRows
from hai_server.db.session import create_schema, make_engine, make_sessions
from hai_server.db.snapshot import load_snapshot
from hai_server.domain import states as st

NOW = 2_000_000.0

# model field -> (table, column, how the row holds the value)
RUNNING_WRITERS: dict[str, Any] = {
    "id": lambda t: {"id": t.id},
    "user": lambda t: {"user_name": t.user},
    "group": lambda t: {"group": t.group},
    "priority": lambda t: {"run_priority": t.priority, "priority": -1},  # AUTO, resolved
    "nodes": lambda t: {},  # the attempt's
    "submitted_at": lambda t: {"submitted_at": t.submitted_at},
    "started_at": lambda t: {"started_at": t.started_at},
    "last_checkpoint_at": lambda t: {"last_checkpoint_at": t.last_checkpoint_at},
    "suspending": lambda t: {"state": st.SUSPENDING if t.suspending else st.RUNNING},
    "suspend_deadline": lambda t: {"suspend_deadline": t.suspend_deadline},
    "ran_s": lambda t: {"ran_s": t.ran_s},
}
QUEUED_WRITERS: dict[str, Any] = {
    "id": lambda t: {"id": t.id},
    "user": lambda t: {"user_name": t.user},
    "group": lambda t: {"group": t.group},
    "priority": lambda t: {"priority": t.priority},
    "nodes": lambda t: {"nodes": t.nodes},
    "submitted_at": lambda t: {"submitted_at": t.submitted_at},
    "held": lambda t: {"held": t.held},
    "ran_s": lambda t: {"ran_s": t.ran_s},
    "not_before": lambda t: {"retry_at": t.not_before},
}
NODE_WRITERS: dict[str, Any] = {
    "name": lambda n: {"name": n.name},
    "group": lambda n: {"group": n.group},
    "zone": lambda n: {"zone": n.zone},
    "gpus": lambda n: {"gpus": n.gpus},
    "healthy": lambda n: {"healthy": n.healthy},
    "cordoned": lambda n: {"cordoned": n.cordoned},
}

RUNNING = (
    RunningTask(7, "ann", "gpu", 20, ("n2", "n1"), 100.5, NOW - 60, NOW - 30, True,
                NOW + 45, 1850.0),
    RunningTask(8, "bob", "gpu", 30, ("n3",), 101.5, NOW - 5, None, False, None, 12.5),
)  # fmt: skip
QUEUED = (
    QueuedTask(11, "ann", "gpu", -1, 2, 90.25, True, 77.0, NOW + 8),
    QueuedTask(12, "cyd", "cpu", 5, 1, 91.0, False, 0.0, None),
)
NODES = (
    Node("n1", "gpu", "z2", 8, True, True),
    Node("n2", "gpu", "z1", 4, False, False),
    Node("n3", "gpu", "z1", 8, True, False),
)


def _values(obj: Any, writers: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        out.update(writers[f.name](obj))
    return out


def test_the_writers_cover_every_field() -> None:
    for model, writers in ((RunningTask, RUNNING_WRITERS), (QueuedTask, QUEUED_WRITERS),
                           (Node, NODE_WRITERS)):  # fmt: skip
        assert {f.name for f in dataclasses.fields(model)} == set(writers), model.__name__


def test_the_examples_leave_no_field_at_its_default() -> None:
    for examples in (RUNNING, QUEUED, NODES):
        for f in dataclasses.fields(examples[0]):
            if f.default is not dataclasses.MISSING:
                assert any(getattr(e, f.name) != f.default for e in examples), f.name


async def _round_trip(url: str) -> tuple[Any, Any]:
    engine = make_engine(url)
    await create_schema(engine)
    sessions = make_sessions(engine)
    try:
        async with sessions.begin() as s:
            users = {}
            for name, role in (("ann", "internal"), ("bob", "admin"), ("cyd", "external")):
                u = m.User(name=name, role=role, active=True, created_at=time.time())
                s.add(u)
                await s.flush()
                users[name] = u.id
            for n in NODES:
                s.add(m.Node(**_values(n, NODE_WRITERS), message="", updated_at=NOW))
            base = {"name": "t", "argv": ["x"], "workdir": "/", "kind": "exec"}
            for t in RUNNING:
                values = _values(t, RUNNING_WRITERS)
                s.add(m.Task(**base, **values, user_id=users[t.user], nodes=len(t.nodes)))
            await s.flush()
            for t in RUNNING:
                s.add(m.Attempt(task_id=t.id, number=0, nodes=list(t.nodes), priority=t.priority,
                                started_at=t.started_at, log_dir="/"))  # fmt: skip
            for q in QUEUED:
                s.add(m.Task(**base, **_values(q, QUEUED_WRITERS), state=st.QUEUED,
                             user_id=users[q.user]))  # fmt: skip
            s.add(m.Quota(principal="ann", resource="node-gpu-HIGH", quota=3, expires_at=NOW + 9))
            s.add(m.Quota(principal="public", resource="node-gpu-LOW", quota=1, expires_at=NOW))
            s.add(m.UserGroup(user_name="bob", group_name="vision"))
            s.add(m.Usage(user_name="ann", value=7200.0, updated_at=NOW - 3600))
        async with sessions() as s:
            snapshot = await load_snapshot(s, NOW, 3600.0)
            queued, _ = await QueuedRows().load(s)
        return snapshot, queued
    finally:
        await engine.dispose()


def test_rows_round_trip_into_the_snapshot(db_url: str) -> None:
    snapshot, queued = asyncio.run(_round_trip(db_url))
    assert sorted(snapshot.running, key=lambda t: t.id) == list(RUNNING)
    assert sorted(snapshot.queued, key=lambda t: t.id) == list(QUEUED)
    assert sorted(snapshot.nodes, key=lambda n: n.name) == list(NODES)
    assert queued == snapshot.queued  # the incremental reader gives the same tasks
    # an expired quota row is left out; usage decays with the one formula (half-life 1 h)
    assert snapshot.quotas == (QuotaRow("ann", "node-gpu-HIGH", 3, NOW + 9),)
    assert snapshot.user_groups == {"bob": ("vision",)}
    assert snapshot.usage == {"ann": 3600.0}
    # roles other than internal: a role is a quota principal, external users get no default
    assert snapshot.roles == {"bob": "admin", "cyd": "external"}
