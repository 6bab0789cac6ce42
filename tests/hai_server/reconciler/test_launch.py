"""The launch adapter: a Start, the task's row and the nodes -> what a backend receives."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hai_cli.scheduler.model import Start
from hai_server.reconciler.launch import attempt_spec, gpu_indices, start_write


def row(**kw):
    base = dict(
        id=42, version=3, name="bert", user_name="ann", restart_count=2, whole_life_state=17,
        argv=["python3", "-u", "train.py"], workdir="/w", env={"LR": "0.1", "RANK": "9"},
        options={"image": "train:2"}, uid=None, gid=None, state="queued", reason="priority",
        position=3, detail="", priority=10, run_priority=None, started_at=None, ended_at=None,
        exit_code=None, suspend_reason="", suspend_deadline=None, suspend_requested=False,
        stop_requested=False, terminate_sent_at=None, ran_s=0.0, retry_at=None,
        start_failures=0, suspend_after=None, last_checkpoint_at=None,
    )  # fmt: skip
    base.update(kw)
    ns = SimpleNamespace(**base)
    ns._mapping = base
    return ns


# nodes -> (gpus, first GPU index): k8s nodes number their devices from 0; the local backend's
# virtual nodes share one machine, each with its own slice
CASES = [
    ("k8s 8-GPU nodes", {"a": (8, 0), "b": (8, 0)}, ("a", "b"),
     [(0, 1, 2, 3, 4, 5, 6, 7)] * 2, ["0,1,2,3,4,5,6,7"] * 2, ["8", "8"]),
    ("local virtual nodes", {"local-0": (4, 0), "local-1": (4, 4)}, ("local-1", "local-0"),
     [(4, 5, 6, 7), (0, 1, 2, 3)], ["4,5,6,7", "0,1,2,3"], ["4", "4"]),
    ("CPU nodes", {"c": (0, 0)}, ("c",), [()], [None], ["1"]),
    ("a node the database does not know", {}, ("ghost",), [()], [None], ["1"]),
]  # fmt: skip


@pytest.mark.parametrize(("nodes", "placed", "gpus", "visible", "local"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])  # fmt: skip
def test_each_rank_gets_its_nodes_devices(nodes, placed, gpus, visible, local) -> None:
    spec = attempt_spec(row(), placed, nodes, "/logs")
    assert [r.node for r in spec.ranks] == list(placed)
    assert [r.rank for r in spec.ranks] == list(range(len(placed)))
    assert [r.gpus for r in spec.ranks] == gpus
    assert [r.env.get("CUDA_VISIBLE_DEVICES") for r in spec.ranks] == visible
    assert [r.env["LOCAL_WORLD_SIZE"] for r in spec.ranks] == local
    assert [r.env["RANK"] for r in spec.ranks] == [str(i) for i in range(len(placed))]


def test_the_attempt_carries_the_task() -> None:
    spec = attempt_spec(row(uid=1234, gid=100), ("a",), {"a": (0, 0)}, "/logs")
    assert spec.key == (42, 2) and spec.argv == ("python3", "-u", "train.py")
    assert spec.log_dir == "/logs/42/attempt-2" and spec.image == "train:2"
    assert spec.run_as == (1234, 100)
    assert spec.env["LR"] == "0.1" and spec.env["WORLD_SIZE"] == "1"
    assert spec.env["HAI_RESTART_COUNT"] == "2" and spec.env["HAI_WHOLE_LIFE_STATE"] == "17"
    # a user's variable never overrides the platform's own
    assert "RANK" not in spec.env or spec.ranks[0].env["RANK"] == "0"
    assert attempt_spec(row(), ("a",), {}, "/l").run_as is None


def test_gpu_indices() -> None:
    assert gpu_indices(3, 5) == (5, 6, 7)
    assert gpu_indices(0, 5) == () == gpu_indices(-1, 0)


def test_reserving_a_start_is_one_guarded_write_with_its_call() -> None:
    w = start_write(row(), Start(42, ("a", "b"), 30), {"a": (2, 0), "b": (2, 0)}, "/logs", 500.0)
    assert w.task_id == 42 and w.version == 3  # guarded on the version read
    assert w.values["state"] == "starting" and w.values["run_priority"] == 30
    assert w.values["started_at"] == 500.0 and w.values["reason"] == ""
    assert w.values["position"] is None
    assert [e.kind for e in w.events] == ["start"]
    assert "attempt 2 starting on a, b at HIGH" in w.events[0].message
    assert w.attempt is not None and w.attempt.number == 2
    assert w.attempt.insert["nodes"] == ["a", "b"]
    (call,) = w.calls
    assert call.kind == "start" and [r.gpus for r in call.spec.ranks] == [(0, 1), (0, 1)]


@pytest.mark.parametrize(
    ("name", "owner", "root", "expected"),
    [
        ("mine", "ann", "/envs", {"HF_ENV_NAME": "mine", "HF_ENV_OWNER": "ann",
                                  "VIRTUAL_ENV": "/envs/ann/mine"}),
        (None, None, "/envs", {}),
        ("mine", "ann", "", {}),  # a server without an envs root launches no environment
    ],
)  # fmt: skip
def test_haienv_activation_variables(name, owner, root, expected) -> None:
    from hai_server.reconciler.launch import haienv_env

    assert haienv_env(name, owner, root) == expected
    spec = attempt_spec(row(haienv_name=name, haienv_owner=owner), ("a", "b"), {}, "/l", root)
    got = {k: spec.env[k] for k in ("HF_ENV_NAME", "HF_ENV_OWNER", "VIRTUAL_ENV") if k in spec.env}
    assert got == expected  # shared by every rank
