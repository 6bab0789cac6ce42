"""The two rendering cases of the Kubernetes tests (golden files, client and schema checks)."""

from __future__ import annotations

from hai_server.backends.kubernetes import render
from hai_server.backends.kubernetes.config import KubernetesConfig, SharedStorage, StorageMount
from tests.support.k8s import spec

SHARED = "/mnt/hai"
FAKE_UID = "3f1c2a9e-0000-4000-8000-000000000001"

HOME = StorageMount(
    name="home",
    kind="hostPath",
    source="/weka/home/{user.user_name}",
    mount_path="/home/{user.user_name}",
    host_path_type="Directory",
)
DATA = StorageMount(
    name="datasets", kind="pvc", source="datasets-ro", mount_path="/data", read_only=True
)


def config_1() -> KubernetesConfig:
    return KubernetesConfig(shared=SharedStorage(server_path=SHARED), storage_mounts=[HOME])


def config_4() -> KubernetesConfig:
    return KubernetesConfig(
        namespace="hai-train",
        mars_prefix="hf",
        shared=SharedStorage(server_path=SHARED, kind="pvc", source="hai-shared"),
        storage_mounts=[HOME, DATA],
        has_rdma_hca_resource=True,
        shm_size="64Gi",
        gpu_mode="visible_devices",
        tolerations=[{"key": "hai/dedicated", "operator": "Exists", "effect": "NoSchedule"}],
        image_pull_secrets=["registry"],
        pod_resources={"requests": {"cpu": "8", "memory": "64Gi"}},
    )


CASES = {
    "task-1-node": (lambda: spec(101, ["gpu-node-01"], shared=SHARED, user="alice"), config_1),
    "task-4-nodes": (
        lambda: spec(
            202,
            [f"gpu-node-{i:02d}" for i in (7, 3, 12, 5)],
            shared=SHARED,
            user="bob_w",
            attempt=2,
            image=None,
            mounts=[
                {
                    "name": "scratch",
                    "kind": "hostPath",
                    "source": "/scratch/{task.id}",
                    "mount_path": "/scratch",
                }
            ],
        ),
        config_4,
    ),
}


def manifests(case: str) -> list[dict]:
    make_spec, make_config = CASES[case]
    objs = render.render_attempt(make_spec(), make_config())
    owner = {**objs.configmap, "metadata": {**objs.configmap["metadata"], "uid": FAKE_UID}}
    return [objs.configmap] + [render.with_owner(o, owner) for o in (objs.service, *objs.pods)]
