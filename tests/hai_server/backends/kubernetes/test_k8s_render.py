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

from hai_server.backends.base import BackendError
from hai_server.backends.kubernetes import render
from hai_server.backends.kubernetes.config import StorageMount
from tests.support.k8s import spec
from tests.support.k8s_cases import CASES, SHARED, config_1, manifests

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")


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
