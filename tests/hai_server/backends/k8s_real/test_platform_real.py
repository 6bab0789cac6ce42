"""The whole platform (API, reconciler, policy) with ``HAI_BACKEND=kubernetes`` against a real
kube-apiserver, as the ``rbac.yaml`` service account, on the kwok nodes of group ``grp-a``.

The test plays what no process does under kwok: a container's exit (an annotation kwok's
``hai-pod-exit`` stage turns into the pod's terminated status with that code), a node that
stops reporting (kwok's ``hai-node-not-ready`` stage), and a rank's acknowledgement of a
suspend notice (written through ``hai_cli.control``, the file protocol ``go_suspend()`` uses,
into the shared run directory the pods mount).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from hai_cli import control
from hai_server.app import create_app
from hai_server.settings import SchedulerSettings, Settings
from tests.support.kube import harness
from tests.support.kube_fixtures import KubeNamespace
from tests.support.poll import wait

TOKEN = "hai_k8s_real_platform_token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
GROUP = "grp-a"
BODY = {"argv": ["python3", "-u", "train.py"], "workdir": "/work", "kind": "exec", "image": "t:1"}


class Api:
    def __init__(self, client: TestClient, ns: KubeNamespace) -> None:
        self.client = client
        self.ns = ns

    def submit(self, **body: Any) -> int:
        res = self.client.post("/api/v1/tasks", json=BODY | body, headers=HEADERS)
        assert res.status_code == 201, res.text
        return int(res.json()["id"])

    def task(self, task_id: int) -> dict:
        return self.client.get(f"/api/v1/tasks/{task_id}", headers=HEADERS).json()

    def state(self, task_id: int, *states: str, timeout: float = 30) -> dict:
        return wait(
            lambda: (t := self.task(task_id))["state"] in states and t,
            f"task {task_id} in {states} (last: {self.task(task_id)['state']})",
            timeout,
        )

    def pods(self, task_id: int, attempt: int | None = None) -> dict[str, Any]:
        sel = f"hai.platform/task-id={task_id}"
        if attempt is not None:
            sel += f",hai.platform/attempt={attempt}"
        return {p.metadata.name: p for p in self.ns.pods(sel)}

    def running_pods(self, task_id: int, n: int, attempt: int | None = None) -> dict[str, Any]:
        return wait(
            lambda: (
                len(p := self.pods(task_id, attempt)) == n
                and all(x.status.phase == "Running" for x in p.values())
                and p
            ),
            f"{n} running pods of task {task_id}",
        )

    def exit(self, task_id: int, code: int) -> None:
        for name in self.pods(task_id):
            self.ns.cluster.exit_pod(self.ns.name, name, code)

    def events(self, task_id: int, kind: str) -> list[dict]:
        return [e for e in self.task(task_id)["events"] if e["kind"] == kind]


def settings_for(ns: KubeNamespace, tmp_path: Path, group: str = GROUP, **kube: Any) -> Settings:
    return Settings(
        home=tmp_path / "home",
        backend="kubernetes",
        kubernetes=ns.config(**kube),
        log_dir=ns.shared / "logs",
        admin_user="root",
        admin_token=TOKEN,
        scheduler=SchedulerSettings(
            tick_s=0.2, grace_s=60, kill_grace_s=0, default_group=group, default_quota="unlimited"
        ),
    )


@contextlib.contextmanager
def platform(ns: KubeNamespace, tmp_path: Path, group: str = GROUP, **kube: Any) -> Iterator[Api]:
    settings = settings_for(ns, tmp_path, group, **kube)
    with TestClient(create_app(settings), timeout=30) as client:
        api = Api(client, ns)
        wait(
            lambda: (
                len(
                    [
                        n
                        for n in client.get("/api/v1/nodes", headers=HEADERS).json()["nodes"]
                        if n["group"] == GROUP
                    ]
                )
                == 2
            ),
            "the two grp-a nodes in the inventory",
        )
        yield api


def test_run_succeed_fail_node_loss_requeue_and_stop(kube_ns: KubeNamespace, tmp_path: Path):
    with platform(kube_ns, tmp_path) as api:
        # submit -> one pod per rank, bound by kube-scheduler to the chosen nodes
        t1 = api.submit(nodes=2)
        pods = api.running_pods(t1, 2)
        assert sorted(p.spec.node_name for p in pods.values()) == ["gpu-a1", "gpu-a2"]
        for pod in pods.values():
            (container,) = pod.spec.containers
            assert container.resources.limits["nvidia.com/gpu"] == "8"  # the node's GPUs
            env = {e.name: e.value for e in container.env}
            assert env["CUDA_VISIBLE_DEVICES"] == "0,1,2,3,4,5,6,7"
            assert env["RANK"] == pod.metadata.labels["hai.platform/rank"]
        api.state(t1, "running")
        api.exit(t1, 0)
        done = api.state(t1, "succeeded")
        assert done["exit_code"] == 0
        wait(lambda: not api.pods(t1), "pods of the succeeded task deleted")

        # a rank that fails fails the task with its code
        t2 = api.submit(nodes=1)
        api.running_pods(t2, 1)
        api.state(t2, "running")
        api.exit(t2, 3)
        failed = api.state(t2, "failed")
        assert failed["exit_code"] == 3

        # node NotReady -> the task is suspended and requeued on the healthy node
        t3 = api.submit(nodes=1)
        (pod,) = api.running_pods(t3, 1).values()
        api.state(t3, "running")
        host = pod.spec.node_name
        kube_ns.cleanup.append(lambda: kube_ns.cluster.set_node_ready(host, True))
        kube_ns.cluster.set_node_ready(host, False)
        requeued = wait(lambda: (t := api.task(t3))["restart_count"] == 1 and t, "requeue", 60)
        kinds = [e["kind"] for e in requeued["events"]]
        assert "requeued" in kinds, kinds
        (pod,) = api.running_pods(t3, 1, attempt=1).values()
        assert pod.spec.node_name != host
        api.state(t3, "running")

        # stop -> stopped, every object of the task deleted
        api.client.post(f"/api/v1/tasks/{t3}/stop", headers=HEADERS)
        api.state(t3, "stopped")
        wait(lambda: not api.pods(t3), "pods of the stopped task deleted")
        services = kube_ns.cluster.api.list_namespaced_service(kube_ns.name).items
        assert not [s for s in services if f"-{t3}-" in s.metadata.name]
        kube_ns.cluster.set_node_ready(host, True)


def test_preemption_with_the_notice_acknowledged_as_a_rank_would(
    kube_ns: KubeNamespace, tmp_path: Path
):
    with platform(kube_ns, tmp_path) as api:
        low = api.submit(nodes=2, priority="LOW")
        api.running_pods(low, 2)
        api.state(low, "running")
        high = api.submit(nodes=2, priority="HIGH")
        api.state(low, "suspending")
        # the notice is on the shared storage, where the ranks' SDK looks for it
        ctl = kube_ns.shared / "run" / str(low) / "0" / "control"
        wait(lambda: (ctl / control.SUSPEND).exists(), "the suspend notice file")
        assert api.task(high)["state"] == "queued"  # nothing is killed before the acks
        for rank in (0, 1):  # what runtime.go_suspend() writes
            control.write_atomic(Path(control.ack_file(ctl, rank)), f"{time.time():.6f}\n")
        api.state(high, "starting", "running")
        back = api.state(low, "queued")
        assert back["restart_count"] == 1
        assert any("ack" in e["message"] or "suspend" in e["kind"] for e in back["events"])
        api.running_pods(high, 2)
        api.state(high, "running")
        wait(lambda: not api.pods(low, attempt=0), "pods of the suspended attempt deleted")
        api.client.post(f"/api/v1/tasks/{high}/stop", headers=HEADERS)
        api.client.post(f"/api/v1/tasks/{low}/stop", headers=HEADERS)
        api.state(high, "stopped")


def test_an_api_outage_is_not_a_lost_rank(
    kube_ns: KubeNamespace, tmp_path: Path, kube_cluster
) -> None:
    plane = kube_cluster.started_here
    if plane is None:
        pytest.skip("the outage is made by pausing kube-apiserver: needs the session's own plane")
    with platform(kube_ns, tmp_path, stale_after_s=3, api_timeout_s=2) as api:
        t = api.submit(nodes=1)
        api.running_pods(t, 1)
        api.state(t, "running")
        pid = plane.pids["kube-apiserver"]
        os.kill(pid, signal.SIGSTOP)
        try:
            end = time.monotonic() + 12  # four times stale_after_s: the caches are stale
            while time.monotonic() < end:
                task = api.task(t)
                assert task["state"] == "running" and task["restart_count"] == 0, task
                time.sleep(0.5)
        finally:
            os.kill(pid, signal.SIGCONT)
        wait(plane.ready, "kube-apiserver answering again")
        time.sleep(3)  # a few ticks on fresh caches
        task = api.task(t)
        assert task["state"] == "running" and task["restart_count"] == 0, task
        assert not [e for e in task["events"] if "lost" in e["message"]], task["events"]
        api.exit(t, 0)
        api.state(t, "succeeded")


def test_podsecurity_refusal_fails_the_start_once_with_the_apis_message(
    kube_ns: KubeNamespace, tmp_path: Path
):
    kube_ns.cluster.api.patch_namespace(
        kube_ns.name, {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "baseline"}}}
    )
    with platform(kube_ns, tmp_path) as api:
        t = api.submit(nodes=1)
        failed = api.state(t, "failed")
        assert 'violates PodSecurity "baseline:latest"' in failed["events"][-1]["message"]
        assert "pod-security.kubernetes.io/enforce=privileged" in failed["events"][-1]["message"]
        time.sleep(2)  # ten ticks: no retry storm
        assert len(api.events(t, "start_failed")) == 1
        assert "rbac.yaml" not in json.dumps(api.task(t))


def test_exceeded_quota_backs_off_and_names_the_quota(kube_ns: KubeNamespace, tmp_path: Path):
    kube_ns.cluster.create(
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "gpus", "namespace": kube_ns.name},
            "spec": {"hard": {"requests.nvidia.com/gpu": "8"}},
        }
    )
    with platform(kube_ns, tmp_path) as api:
        t = api.submit(nodes=2)  # 16 GPUs against a quota of 8
        wait(lambda: api.events(t, "start_failed"), "a refused start")
        began = time.monotonic()
        time.sleep(12)  # with back-off 2, 4, 8 s: at most 4 tries; without: ~60
        tries = api.events(t, "start_failed")
        assert 1 <= len(tries) <= 4, [e["message"] for e in tries]
        text = tries[-1]["message"]
        assert 'ResourceQuota "gpus"' in text and "rbac.yaml" not in text
        assert api.task(t)["state"] in ("queued", "starting")
        print(f"{len(tries)} tries in {time.monotonic() - began + 0:.0f} s")
        # nothing of the refused tries is left behind
        api.client.post(f"/api/v1/tasks/{t}/stop", headers=HEADERS)
        api.state(t, "stopped")
        wait(lambda: not api.pods(t), "no pods left")
        cms = kube_ns.cluster.api.list_namespaced_config_map(kube_ns.name).items
        assert not [c for c in cms if c.metadata.name.startswith("hai-")]


def test_another_installation_in_the_namespace_is_left_alone(
    kube_ns: KubeNamespace, tmp_path: Path
):
    """A second server (its own database) shares the namespace: neither deletes the other's
    pods as "unknown to my database" (a running server once wiped every platform pod)."""
    # (each server believes it owns its nodes: they share the namespace, not the nodes)
    with (
        platform(kube_ns, tmp_path / "one") as one,
        platform(kube_ns, tmp_path / "two", group="grp-b") as two,
    ):
        a = one.submit(nodes=1)
        b = two.submit(nodes=1)
        # task ids are per database: both are task 1; names carry the installation id
        assert a == b == 1
        wait(lambda: len(kube_ns.pods("hai.platform/task-id=1")) == 2, "two pods of task 1")
        one.state(a, "running")
        two.state(b, "running")
        c = two.submit(nodes=1)  # task 2: a task server one's database does not know
        two.state(c, "running")
        pod_c = next(iter(two.pods(c)))
        time.sleep(3)  # fifteen ticks of each server
        for server, task_id in ((one, a), (two, b), (two, c)):
            assert server.task(task_id)["state"] == "running"
            assert server.task(task_id)["restart_count"] == 0
        assert pod_c in two.pods(c)  # server one did not sweep it
        assert not [p for p in kube_ns.pods() if p.metadata.deletion_timestamp]
        installs = {p.metadata.labels["hai.platform/installation"] for p in kube_ns.pods()}
        assert len(installs) == 2


def test_hai_cli_logs_prints_the_pod_log_when_the_shared_file_is_missing(
    kube_ns: KubeNamespace, tmp_path: Path
):
    """A real hai-server process and ``hai-cli logs``: no rank writes the shared log file
    under kwok, so the log comes from ``pods/log`` (through the API server, from the node)."""
    home = tmp_path / "home"
    state = tmp_path / "server.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAI_")}
    env.update(
        {
            "HAI_BACKEND": "kubernetes",
            "HAI_ADMIN_USER": "root",
            "HAI_ADMIN_TOKEN": TOKEN,
            "HAI_LOG_DIR": str(kube_ns.shared / "logs"),
            "HAI_SCHEDULER__TICK_S": "0.2",
            "HAI_SCHEDULER__DEFAULT_GROUP": GROUP,
            "HAI_SCHEDULER__DEFAULT_QUOTA": "unlimited",
            "HAI_KUBERNETES__NAMESPACE": kube_ns.name,
            "HAI_KUBERNETES__KUBECONFIG": str(kube_ns.kubeconfig),
            "HAI_KUBERNETES__SHARED__SERVER_PATH": str(kube_ns.shared),
        }
    )
    exe = [sys.executable, "-m", "hai_server.main"]
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [*exe, "--home", str(home), "--port", "0", "--state-file", str(state)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        info = wait(lambda: state.exists() and json.loads(state.read_text() or "{}"), "server", 60)
        url = info["url"]
        req = urllib.request.Request(
            url + "/api/v1/tasks",
            data=json.dumps(BODY | {"nodes": 1}).encode(),
            headers={**HEADERS, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            task_id = json.loads(resp.read())["id"]
        wait(lambda: [p for p in kube_ns.pods() if p.status.phase == "Running"], "running pod")
        cli = {**env, "HAI_SERVER_URL": url, "HAI_TOKEN": TOKEN, "HAI_HOME": str(tmp_path / "c")}
        out = subprocess.run(
            [sys.executable, "-m", "hai_cli.main", "logs", str(task_id)],
            env=cli,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        assert harness.POD_LOG_LINE in out.stdout, (out.stdout, out.stderr)
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(20)
        if proc.poll() is None:
            proc.kill()
        log.close()
