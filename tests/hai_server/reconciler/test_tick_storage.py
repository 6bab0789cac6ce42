"""Storage rows reach the rendered task pods through one reconciler tick: rows in the
database -> the attempt's mounts (templated, owner-filtered, conditions) -> pods that
kubernetes-validate --strict accepts."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
from sqlalchemy import insert, update

from hai_server.backends.kubernetes import render
from hai_server.backends.kubernetes.config import KubernetesConfig, SharedStorage
from hai_server.db import models as m
from tests.support.ticks import TickBench, gpu_nodes, run

SHARED = "/mnt/hai"
ROWS = [
    # everyone's workspace, templated by user
    {"host_path": "/nfs/ws/{user.user_name}", "mount_path": "/nfs/ws/{user.user_name}",
     "owners": ["public"], "conditions": [], "mount_type": "Directory"},
    # a group's dataset, read-only
    {"host_path": "/nfs/vision", "mount_path": "/data", "owners": ["vision"], "conditions": [],
     "mount_type": "Directory", "read_only": True},
    # only for tasks of 2 nodes or more
    {"host_path": "/scratch/{task.id}", "mount_path": "/scratch", "owners": ["public"],
     "conditions": ["task.nodes >= 2"], "mount_type": "DirectoryOrCreate"},
    # a script from a ConfigMap
    {"host_path": "hai-scripts/helper.py", "mount_path": "/hai/helper.py", "owners": ["public"],
     "conditions": [], "mount_type": "configmap", "read_only": True},
    # external users lose the workspace
    {"host_path": "/nfs/ws/{user.user_name}", "mount_path": "/nfs/ws/{user.user_name}",
     "owners": ["external"], "conditions": [], "mount_type": "Directory", "action": "remove"},
    # switched off
    {"host_path": "/old", "mount_path": "/old", "owners": ["public"], "conditions": [],
     "mount_type": "Directory", "active": False},
]  # fmt: skip


async def _scenario(tmp: Path) -> dict[int, tuple]:
    bench = await TickBench(tmp, gpu_nodes("n1", "n2", "n3")).open(("ann", "bob"))
    try:
        async with bench.sessions.begin() as s:
            await s.execute(update(m.User).where(m.User.name == "bob").values(role="external"))
            s.add(m.UserGroup(user_name="ann", group_name="vision"))
            # external users run on their rows only
            s.add(m.Quota(principal="external", resource="node-default-LOW", quota=1))
            for r in ROWS:
                await s.execute(insert(m.Storage).values(
                    **{"read_only": False, "action": "add", "active": True, **r}))  # fmt: skip
        await bench.queued(1, "ann", nodes=2)
        await bench.queued(2, "bob", nodes=1, priority=-1)
        await bench.tick()
        return {k[0]: a.spec.mounts for k, a in bench.backend.attempts.items()}
    finally:
        await bench.close()


def test_storage_rows_reach_the_pods(tmp_path: Path) -> None:
    mounts = run(_scenario(tmp_path))
    by_path = {tid: {mt["mount_path"]: mt for mt in ms} for tid, ms in mounts.items()}
    ann, bob = by_path[1], by_path[2]
    assert set(ann) == {"/nfs/ws/ann", "/data", "/scratch", "/hai/helper.py"}
    assert ann["/nfs/ws/ann"]["source"] == "/nfs/ws/ann"
    assert ann["/data"]["read_only"] is True
    assert ann["/scratch"]["source"] == "/scratch/1"
    assert ann["/hai/helper.py"]["sub_path"] == "helper.py"
    # bob: external (no workspace), not in vision, one node (no scratch)
    assert set(bob) == {"/hai/helper.py"}

    config = KubernetesConfig(shared=SharedStorage(server_path=SHARED))
    from tests.support.k8s import spec

    s = spec(1, ["n1", "n2"], shared=SHARED, user="ann", mounts=mounts[1])
    pod = render.render_pod(s, s.ranks[0], config)
    kubernetes_validate.validate(pod, kubernetes_validate.latest_version(), strict=True)
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    vm = {x["mountPath"]: x for x in pod["spec"]["containers"][0]["volumeMounts"]}
    data = vm["/data"]
    assert data["readOnly"] is True
    assert volumes[data["name"]]["hostPath"] == {"path": "/nfs/vision", "type": "Directory"}
    assert volumes[vm["/nfs/ws/ann"]["name"]]["hostPath"]["path"] == "/nfs/ws/ann"
    helper = vm["/hai/helper.py"]
    assert helper["subPath"] == "helper.py"
    assert volumes[helper["name"]]["configMap"] == {"name": "hai-scripts"}
