"""Two virtual nodes: gang starts, rendezvous over MASTER_ADDR:MASTER_PORT, rank environment."""

from __future__ import annotations

import json

from tests.support.e2e import EXAMPLES, Platform

SCRIPTS = EXAMPLES.parent / "tests/e2e/scripts"


def test_two_rank_task_starts_together_and_rendezvouses(platform2: Platform) -> None:
    task_id = platform2.submit(EXAMPLES / "rendezvous.py", opts=("-n", "2", "--name", "meet"))
    task = platform2.wait_state(task_id, "succeeded", timeout=60)
    assert task["exit_code"] == 0
    assert sorted(r["node"] for r in task["ranks"]) == ["local-0", "local-1"]
    for rank in (0, 1):
        assert "rendezvous ok" in platform2.log(task_id, rank=rank)
        assert f"rank {rank} sees ranks [0, 1]" in platform2.log(task_id, rank=rank)


def test_rank_environment(platform2: Platform) -> None:
    task_id = platform2.submit(
        SCRIPTS / "envdump.py", opts=("-n", "2", "-e", "MY_VAR=a=b c", "--name", "env")
    )
    platform2.wait_state(task_id, "succeeded", timeout=60)
    envs = []
    for rank in (0, 1):
        line = next(x for x in platform2.log(task_id, rank=rank).splitlines() if "ENV " in x)
        envs.append(json.loads(line.split("ENV ", 1)[1]))
    for rank, env in enumerate(envs):
        assert env["RANK"] == env["NODE_RANK"] == str(rank)
        assert env["WORLD_SIZE"] == "2"
        assert env["MASTER_ADDR"] == "127.0.0.1"
        assert env["MASTER_PORT"] == envs[0]["MASTER_PORT"]
        assert env["HAI_TASK_ID"] == str(task_id) and env["HAI_TASK_NAME"] == "env"
        assert env["HAI_RESTART_COUNT"] == "0" and env["HAI_WHOLE_LIFE_STATE"] == "0"
        assert env["MY_VAR"] == "a=b c"
        assert env["HAI_USER"] and env["HAI_LOG_DIR"] and env["HAI_CONTROL_DIR"]
        assert env["LOCAL_WORLD_SIZE"] == "1"
        assert env["CUDA_VISIBLE_DEVICES"] is None  # no GPUs here: not set
        assert env["HAI_TOKEN"] is None  # the server's secrets never reach a task


def test_gang_waits_for_all_nodes_and_a_failing_rank_fails_the_task(platform2: Platform) -> None:
    one = platform2.submit(
        EXAMPLES / "train.py", "--steps", "600", "--step-time", "0.1", opts=("--name", "one")
    )  # long enough to still hold its node on a loaded machine; stopped below
    platform2.wait_state(one, "running")
    gang = platform2.submit(EXAMPLES / "rendezvous.py", opts=("-n", "2", "--name", "gang"))
    waiting = platform2.wait(gang, lambda t: t["reason"] not in (None, "new"), what="a reason")
    assert waiting["state"] == "queued" and waiting["reason"] in ("no_capacity", "priority")
    assert waiting["position"] == 1
    listed = platform2.json("list")
    row = next(t for t in listed["tasks"] if t["id"] == gang)
    assert row["reason"] == waiting["reason"] and row["position"] == 1
    platform2.ok("stop", str(one))
    platform2.wait_state(one, "stopped", timeout=60)
    platform2.wait_state(gang, "succeeded", timeout=60)

    bad = platform2.submit(SCRIPTS / "exit_code.py", "0,7", opts=("-n", "2"))
    task = platform2.wait_state(bad, "failed", timeout=60)
    assert task["exit_code"] == 7
    assert any(
        e["kind"] == "rank_failed" and "rank 1 exited with code 7" in e["message"]
        for e in task["events"]
    )
    assert {r["rank"]: r["exit_code"] for r in task["ranks"]}[1] == 7


def test_nodes_json(platform2: Platform) -> None:
    nodes = platform2.json("nodes")["nodes"]
    assert [n["name"] for n in nodes] == ["local-0", "local-1", "local-jupyter"]
    assert nodes.pop()["group"] == "jupyter"  # this machine also serves Jupyter containers
    for n in nodes:
        assert n["group"] == "default" and n["healthy"] is True and n["gpus"] == 0
        assert n["state"] in ("free", "busy")
