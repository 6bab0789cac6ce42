"""The whole server (API, reconciler, policy) with the Kubernetes backend, against the emulator.

Pods are played by the test (as the kubelet would): task states must follow them.
"""

from __future__ import annotations

from pathlib import Path

from litestar.testing import TestClient

from hai_server.app import create_app
from hai_server.backends.kubernetes.config import KubernetesConfig
from hai_server.settings import SchedulerSettings, Settings
from tests.support.k8s import NS, add_nodes, finished, node, pods_in, running
from tests.support.pg import ServerDatabase
from tests.support.poll import wait

TOKEN = "hai_k8s_platform_test_token"


def test_tasks_follow_their_pods(
    emulator, config: KubernetesConfig, shared: str, tmp_path: Path, server_db: ServerDatabase
) -> None:
    add_nodes(emulator, ["n1", "n2"])
    settings = Settings(
        home=tmp_path / "home",
        backend="kubernetes",
        kubernetes=config,
        log_dir=Path(shared) / "logs",
        admin_user="root",
        admin_token=TOKEN,
        database_url=server_db.url,
        redis_url=server_db.redis_url,
        scheduler=SchedulerSettings(
            tick_s=0.2, grace_s=1, kill_grace_s=0, default_quota="unlimited"
        ),
    )
    api = emulator.api()
    with TestClient(create_app(settings), timeout=30) as client:
        headers = {"Authorization": f"Bearer {TOKEN}"}

        def task(task_id: int) -> dict:
            return client.get(f"/api/v1/tasks/{task_id}", headers=headers).json()

        wait(
            lambda: len(client.get("/api/v1/nodes", headers=headers).json()["nodes"]) == 2, "nodes"
        )
        body = {
            "argv": ["python3", "-u", "train.py"],
            "workdir": "/work",
            "nodes": 2,
            "kind": "exec",
            "image": "train:1",
        }
        t1 = client.post("/api/v1/tasks", json=body, headers=headers).json()["id"]

        # submit -> one pod per rank on the nodes the scheduler chose
        pods = wait(lambda: len(p := pods_in(emulator)) == 2 and p, "pods")
        assert task(t1)["state"] == "starting"
        placed = sorted(
            p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
                "nodeSelectorTerms"
            ][0]["matchFields"][0]["values"][0]
            for p in pods.values()
        )
        assert placed == ["n1", "n2"]
        assert all(p["spec"]["containers"][0]["image"] == "train:1" for p in pods.values())
        # every rank's pod asks for its node's 8 GPUs and the rank sees them (the reconciler
        # once built every RankSpec without GPUs: pods got neither)
        for pod in pods.values():
            (container,) = pod["spec"]["containers"]
            assert container["resources"]["limits"]["nvidia.com/gpu"] == "8"
            env = {e["name"]: e["value"] for e in container["env"]}
            assert env["CUDA_VISIBLE_DEVICES"] == "0,1,2,3,4,5,6,7"
            assert env["LOCAL_WORLD_SIZE"] == "8"
            assert env["RANK"] == pod["metadata"]["labels"]["hai.platform/rank"]

        # pods running -> task running; rank 0 and 1 exit 0 -> succeeded
        for name in pods:
            api.patch_namespaced_pod_status(name, NS, running(), _preload_content=False)
        wait(lambda: task(t1)["state"] == "running", "running")
        for name in pods:
            api.patch_namespaced_pod_status(name, NS, finished(0), _preload_content=False)
        done = wait(lambda: (t := task(t1))["state"] == "succeeded" and t, "succeeded")
        assert done["exit_code"] == 0
        wait(lambda: not pods_in(emulator), "objects of the finished task deleted")

        # a failing rank fails the task with its exit code
        t2 = client.post("/api/v1/tasks", json=body | {"nodes": 1}, headers=headers).json()["id"]
        (name,) = wait(lambda: pods_in(emulator), "pod of t2")
        # no shared log file (no process wrote one): the log comes from pods/log
        emulator.emulator[f"get /api/v1/namespaces/{NS}/pods/{name}/log"] << (
            b"2026-01-01T00:00:00Z hello from the container\n"
        )
        res = client.get(f"/api/v1/tasks/{t2}/logs", params={"rank": 0}, headers=headers)
        assert res.status_code == 200 and "hello from the container" in res.text, res.text
        api.patch_namespaced_pod_status(name, NS, running(), _preload_content=False)
        api.patch_namespaced_pod_status(name, NS, finished(3), _preload_content=False)
        failed = wait(lambda: (t := task(t2))["state"] == "failed" and t, "failed")
        assert failed["exit_code"] == 3

        # node NotReady -> the task on it is suspended and requeued (reason node_failure)
        t3 = client.post("/api/v1/tasks", json=body | {"nodes": 1}, headers=headers).json()["id"]
        (name,) = wait(lambda: pods_in(emulator), "pod of t3")
        api.patch_namespaced_pod_status(name, NS, running(), _preload_content=False)
        wait(lambda: task(t3)["state"] == "running", "t3 running")
        host = pods_in(emulator)[name]["spec"]["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"
        ]["nodeSelectorTerms"][0]["matchFields"][0]["values"][0]
        api.patch_node_status(
            host,
            {"status": node(host, ready=False, since="2020-01-01T00:00:00Z")["status"]},
            _preload_content=False,
        )
        requeued = wait(lambda: (t := task(t3))["restart_count"] == 1 and t, "requeued", timeout=30)
        kinds = [e["kind"] for e in requeued["events"]]
        assert "suspend" in kinds and "requeued" in kinds
        assert any(
            "node" in e["message"]
            for e in requeued["events"]
            if e["kind"] in ("suspend", "node_failure")
        )
        # it restarts on the healthy node only
        pod = wait(
            lambda: next(
                (p for p in pods_in(emulator).values() if "-1-" in p["metadata"]["name"]), None
            ),
            "attempt 1 pod",
        )
        assert pod["spec"]["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"
        ]["nodeSelectorTerms"][0]["matchFields"][0]["values"] != [host]

        # stop -> everything of the task deleted
        client.post(f"/api/v1/tasks/{t3}/stop", headers=headers)
        wait(lambda: task(t3)["state"] == "stopped", "stopped", timeout=30)
        wait(lambda: not pods_in(emulator), "pods of the stopped task deleted")
        # the Service goes with the attempt's forget, which runs just after "stopped" is written
        wait(
            lambda: (
                not [
                    s
                    for s in api.list_namespaced_service(NS).items
                    if "-" + str(t3) + "-" in s.metadata.name
                ]
            ),
            "the Service of the stopped task deleted",
        )
