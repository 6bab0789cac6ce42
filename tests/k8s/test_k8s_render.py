"""Rendered manifests: golden files for a 1-node and a 4-node task, all valid for Kubernetes.

Regenerate the golden files after an intended change with ``HAI_UPDATE_GOLDEN=1 pytest ...``
and review the diff.
"""

from __future__ import annotations

import os
import subprocess
import sys

import kubernetes_validate
import pytest
import yaml
from k8s_helpers import spec

from hai_server.backends.base import BackendError
from hai_server.backends.kubernetes import render
from hai_server.backends.kubernetes.config import KubernetesConfig, SharedStorage, StorageMount

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
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


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case):
    text = yaml.safe_dump_all(manifests(case), sort_keys=True, default_flow_style=False)
    path = os.path.join(GOLDEN, f"{case}.yaml")
    if os.environ.get("HAI_UPDATE_GOLDEN") or not os.path.exists(path):
        with open(path, "w") as fh:
            fh.write(text)
    with open(path) as fh:
        assert text == fh.read(), f"rendering changed; review and regenerate {path}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_manifest_is_valid_for_kubernetes(case):
    version = kubernetes_validate.latest_version()
    for obj in manifests(case):
        kubernetes_validate.validate(obj, version, strict=True)


def test_golden_files_pass_the_validator_cli():
    files = sorted(os.path.join(GOLDEN, f) for f in os.listdir(GOLDEN) if f.endswith(".yaml"))
    assert len(files) >= 2
    exe = os.path.join(os.path.dirname(sys.executable), "kubernetes-validate")
    out = subprocess.run([exe, "--strict", *files], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "INFO" in out.stdout and "ERROR" not in out.stdout


def test_four_node_details():
    objs = manifests("task-4-nodes")
    cm, svc, *pods = objs
    assert [p["metadata"]["name"] for p in pods] == [f"hai-bob-w-202-2-{i}" for i in range(4)]
    assert cm["data"]["MASTER_ADDR"] == "hai-bob-w-202-2-0.hai-train.svc.cluster.local"
    assert cm["data"]["HAI_CONTROL_DIR"] == "/hai/run/control"
    assert svc["spec"]["selector"]["hai.platform/rank"] == "0"
    p1 = pods[1]
    c = p1["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["RANK"] == "1" and env["NVIDIA_VISIBLE_DEVICES"] == "0,1,2,3,4,5,6,7"
    assert c["resources"]["limits"] == {"rdma/hca": "1"}
    assert c["command"][:3] == ["python3", "-m", "hai_cli.rankrun"]
    assert c["command"][c["command"].index("--") + 1 :] == [
        "python3",
        "-u",
        "train.py",
        "--lr",
        "0.1",
    ]
    assert "--log" in c["command"] and "/hai/log/rank-1.log" in c["command"]
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert mounts["/hai/log"]["subPath"] == "log/bob_w/202/2"
    assert mounts["/hai/run"]["subPath"] == "run/202/2"
    assert mounts["/home/bob_w"]["name"] == "home"
    vols = {v["name"]: v for v in p1["spec"]["volumes"]}
    assert vols["home"]["hostPath"]["path"] == "/weka/home/bob_w"
    assert vols["scratch"]["hostPath"]["path"] == "/scratch/202"
    assert vols["dshm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "64Gi"}
    assert c["image"] == "hai-platform/train:latest"


def test_bad_input_is_a_non_retryable_backend_error():
    cfg = config_1()
    bad_env = spec(1, ["n"], shared=SHARED)
    object.__setattr__(bad_env, "env", {**bad_env.env, "9BAD": "x", "A=B": "y"})
    with pytest.raises(BackendError, match="9BAD") as info:
        render.render_attempt(bad_env, cfg)
    assert not info.value.retryable
    bad_mount = spec(
        1,
        ["n"],
        shared=SHARED,
        mounts=[{"name": "x", "kind": "hostPath", "source": "/{user.nope}", "mount_path": "/x"}],
    )
    with pytest.raises(BackendError, match="unknown field"):
        render.render_attempt(bad_mount, cfg)
    outside = spec(1, ["n"], shared="/elsewhere")
    with pytest.raises(BackendError, match="not inside the shared directory"):
        render.render_attempt(outside, cfg)
    with pytest.raises(ValueError, match="unknown field"):
        StorageMount(name="x", kind="pvc", source="{user.uid}", mount_path="/x")


def test_names_are_valid_dns_labels_for_odd_users():
    for user in ["Alice.Smith", "_root_", "x" * 80, "9lives"]:
        name = render.service_name(123456789, 42, user)
        assert len(name) <= 63 and name[0].isalpha() and name.replace("-", "").isalnum(), name


def test_rbac_manifest_is_valid_and_minimal():
    path = os.path.join(os.path.dirname(render.__file__), "rbac.yaml")
    with open(path) as fh:
        docs = [d for d in yaml.safe_load_all(fh) if d]
    version = kubernetes_validate.latest_version()
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)
    verbs = {
        (res, verb)
        for doc in docs
        if doc["kind"] in ("Role", "ClusterRole")
        for rule in doc["rules"]
        for res in rule["resources"]
        for verb in rule["verbs"]
    }
    assert ("nodes", "watch") in verbs and ("pods", "create") in verbs
    assert not any(v in ("*", "patch", "update", "escalate", "bind") for _, v in verbs)
    assert not any(r in ("*", "secrets") for r, _ in verbs)
