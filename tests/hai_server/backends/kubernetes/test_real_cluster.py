"""End to end on a real cluster (kind, k3s, ...). Runs only when HAI_TEST_KUBECONFIG is set.

What it needs (see hai_server/backends/kubernetes/README.md, "Real-cluster test"):

* HAI_TEST_KUBECONFIG   kubeconfig of a throwaway cluster (the test labels one node and
                        creates the namespace; it needs admin rights there);
* HAI_TEST_SHARED       a directory this process and every node see (kind: an extraMount);
* HAI_TEST_SHARED_NODE  the same directory as a path on the nodes (default: HAI_TEST_SHARED);
* HAI_TEST_IMAGE        an image with python3 (default python:3.11-slim; must be pullable);
* HAI_TEST_NAMESPACE    default hai-test.

The task SDK and rank wrapper are copied to the shared directory and mounted read-only at
/opt/hai in the pods, so any python image works.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time

import pytest

KUBECONFIG = os.environ.get("HAI_TEST_KUBECONFIG")
if not KUBECONFIG:
    reason = "HAI_TEST_KUBECONFIG is not set: real-cluster test skipped (see the backend README)"
    print(f"\n{reason}")
    pytest.skip(reason, allow_module_level=True)

from kubernetes import client as k8s  # noqa: E402
from kubernetes import config as k8s_config  # noqa: E402

from hai_server.backends.base import AttemptSpec, RankSpec, platform_env, rank_env  # noqa: E402
from hai_server.backends.kubernetes import KubernetesBackend  # noqa: E402
from hai_server.backends.kubernetes.config import (  # noqa: E402
    KubernetesConfig,
    SharedStorage,
    StorageMount,
)
from tests.support import REPO as _REPO  # noqa: E402

SHARED = os.environ.get("HAI_TEST_SHARED", "")
SHARED_NODE = os.environ.get("HAI_TEST_SHARED_NODE", SHARED)
IMAGE = os.environ.get("HAI_TEST_IMAGE", "python:3.11-slim")
NS = os.environ.get("HAI_TEST_NAMESPACE", "hai-test")
REPO = str(_REPO)

TASK = """
import sys, time
from hai_cli import runtime
print("started, state", runtime.get_whole_life_state(), flush=True)
if sys.argv[1] == "fail":
    sys.exit(3)
for step in range(600):
    if runtime.receive_suspend_command():
        runtime.set_whole_life_state(42)
        runtime.report_checkpoint()
        print("suspending at", step, flush=True)
        runtime.go_suspend()
    time.sleep(0.5)
"""


@pytest.fixture(scope="module")
def admin() -> k8s.CoreV1Api:
    if not SHARED or not os.path.isdir(SHARED):
        pytest.skip("HAI_TEST_SHARED must name a directory shared with the cluster's nodes")
    if not os.path.exists(os.path.join(REPO, "hai_cli", "rankrun.py")):
        pytest.skip("hai_cli/rankrun.py is not in this tree yet")
    conf = k8s.Configuration()
    k8s_config.load_kube_config(config_file=KUBECONFIG, client_configuration=conf)
    api = k8s.CoreV1Api(k8s.ApiClient(conf))
    try:
        api.create_namespace({"metadata": {"name": NS}})
    except k8s.ApiException as exc:
        if exc.status != 409:
            raise
    node = next(n for n in api.list_node().items if not n.spec.unschedulable)
    api.patch_node(node.metadata.name, {"metadata": {"labels": {"mars_group": "hai-test"}}})
    code = os.path.join(SHARED, "code", "hai_cli")
    os.makedirs(code, exist_ok=True)
    for name in ("rankrun.py", "runtime.py", "control.py"):
        shutil.copy(os.path.join(REPO, "hai_cli", name), code)
    open(os.path.join(code, "__init__.py"), "w").close()
    with open(os.path.join(SHARED, "code", "task.py"), "w") as fh:
        fh.write(TASK)
    return api


def make_config() -> KubernetesConfig:
    return KubernetesConfig(
        namespace=NS,
        kubeconfig=KUBECONFIG,
        shared=SharedStorage(server_path=SHARED, source=SHARED_NODE),
        storage_mounts=[
            StorageMount(
                name="code",
                kind="hostPath",
                source=f"{SHARED_NODE}/code",
                mount_path="/opt/hai",
                read_only=True,
            )
        ],
        image_pull_timeout_s=20,
        pod_delete_grace_s=2,
    )


def make_spec(task_id: int, node: str, mode: str, image: str = IMAGE) -> AttemptSpec:
    log_dir = f"{SHARED}/log/tester/{task_id}/0"
    env = platform_env(
        task_id=task_id,
        name=f"e2e-{task_id}",
        user="tester",
        attempt=0,
        world_size=1,
        whole_life_state=0,
        log_dir=log_dir,
        user_env={"PYTHONPATH": "/opt/hai"},
    )
    ranks = (RankSpec(0, node, rank_env(rank=0, node=node, gpus=())),)
    return AttemptSpec(
        task_id=task_id,
        attempt=0,
        name=f"e2e-{task_id}",
        user="tester",
        argv=("python3", "-u", "/opt/hai/task.py", mode),
        workdir="/opt/hai",
        env=env,
        ranks=ranks,
        log_dir=log_dir,
        image=image,
    )


async def until(backend, key, pred, timeout=180.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        for obs in await backend.observe():
            if obs.key == key:
                last = obs
                if pred(obs):
                    return obs
        await asyncio.sleep(1)
    raise AssertionError(f"timed out; last observation: {last}")


def test_run_suspend_fail_and_bad_image_on_a_real_cluster(admin):
    task_base = int(time.time()) % 1_000_000 * 10

    async def scenario():
        backend = KubernetesBackend(make_config())
        await backend.open()
        try:
            nodes = [n for n in await backend.inventory() if n.group == "hai-test"]
            assert nodes, "no node labelled mars_group=hai-test"
            node = nodes[0].name

            ok = (task_base + 1, 0)
            await backend.start(make_spec(ok[0], node, "loop"))
            await until(backend, ok, lambda o: o.ranks[0].state == "running")
            await asyncio.sleep(2)
            t0 = time.time()
            await backend.notify_suspend(ok[0], 0, time.time() + 60)
            obs = await until(backend, ok, lambda o: 0 in o.suspend_acked, timeout=30)
            print(f"suspend notice acknowledged after {time.time() - t0:.1f}s")
            assert obs.whole_life_state == 42 and obs.last_checkpoint_at
            await backend.terminate(ok[0], 0, grace_s=2)
            await until(backend, ok, lambda o: o.ranks[0].state == "exited", timeout=60)
            await backend.forget(*ok)
            with open(f"{SHARED}/log/tester/{ok[0]}/0/rank-0.log") as fh:
                first = fh.readline()
            assert first.startswith("[") and "started, state 0" in first

            bad = (task_base + 2, 0)
            await backend.start(make_spec(bad[0], node, "fail"))
            obs = await until(backend, bad, lambda o: o.ranks[0].state == "exited")
            assert obs.ranks[0].exit_code == 3
            await backend.forget(*bad)

            noimg = (task_base + 3, 0)
            await backend.start(make_spec(noimg[0], node, "loop", image="127.0.0.1:1/hai/none:0"))
            obs = await until(backend, noimg, lambda o: o.ranks[0].state != "pending", timeout=240)
            assert obs.ranks[0].state == "exited" and obs.ranks[0].exit_code == 125
            assert "cannot be pulled" in obs.ranks[0].message
            await backend.forget(*noimg)
        finally:
            await backend.close()

    asyncio.run(scenario())
