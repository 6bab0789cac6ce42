"""The Kubernetes backend against a real kube-apiserver (RBAC on, as the ``rbac.yaml`` service
account), kube-scheduler and controller manager, with kwok as the kubelets.

What an emulator cannot show: PodSecurity and ResourceQuota admission, RBAC, the scheduler
binding pods pinned by node affinity, owner-reference garbage collection, ``pods/log``
through the API server to the node. These tests use the nodes of group ``grp-b``; the
platform tests use ``grp-a``.
"""

from __future__ import annotations

import asyncio

import pytest

from hai_server.backends.base import BackendError
from hai_server.backends.kubernetes import KubernetesBackend
from tests.support.k8s import spec, wait_for
from tests.support.kube import harness
from tests.support.kube_fixtures import KubeNamespace

NODES = ["gpu-b1", "gpu-b2"]


async def _open(ns: KubeNamespace, **overrides) -> KubernetesBackend:
    backend = KubernetesBackend(ns.config(**overrides))
    await backend.open()
    await wait_for(lambda: backend.nodes.synced.is_set(), 10, "node list")
    return backend


async def _observed(backend: KubernetesBackend, key: tuple[int, int], pred, timeout=30.0):
    async def check():
        for obs in await backend.observe():
            if obs.key == key and pred(obs):
                return obs
        return None

    return await wait_for(check, timeout, f"observation of {key}")


def _names(items) -> list[str]:
    return sorted(o.metadata.name for o in items)


def test_pods_are_bound_by_the_scheduler_request_gpus_run_and_exit(kube_ns: KubeNamespace):
    async def scenario():
        backend = await _open(kube_ns)
        try:
            nodes = {n.name: n for n in await backend.inventory()}
            assert {n: (nodes[n].group, nodes[n].gpus, nodes[n].healthy) for n in NODES} == {
                "gpu-b1": ("grp-b", 8, True),
                "gpu-b2": ("grp-b", 8, True),
            }
            key = (1, 0)
            await backend.start(spec(1, NODES, shared=str(kube_ns.shared)))
            await backend.start(spec(1, NODES, shared=str(kube_ns.shared)))  # idempotent
            obs = await _observed(
                backend, key, lambda o: all(r.state == "running" for r in o.ranks)
            )
            assert [r.node for r in obs.ranks] == NODES
            pods = {p.metadata.name: p for p in kube_ns.pods()}
            assert sorted(pods) == ["hai-alice-1-0-0", "hai-alice-1-0-1"]
            for rank, node in enumerate(NODES):
                pod = pods[f"hai-alice-1-0-{rank}"]
                assert pod.spec.node_name == node  # bound by kube-scheduler, not by us
                (container,) = pod.spec.containers
                assert container.resources.limits["nvidia.com/gpu"] == "8"
                env = {e.name: e.value for e in container.env}
                assert env["CUDA_VISIBLE_DEVICES"] == "0,1,2,3,4,5,6,7"
                assert env["RANK"] == str(rank)
            # the containers exit (kwok plays them): 0 and 3
            kube_ns.cluster.exit_pod(kube_ns.name, "hai-alice-1-0-0", 0)
            kube_ns.cluster.exit_pod(kube_ns.name, "hai-alice-1-0-1", 3)
            obs = await _observed(backend, key, lambda o: all(r.state == "exited" for r in o.ranks))
            assert [r.exit_code for r in obs.ranks] == [0, 3]
            await backend.forget(*key)
            # the ConfigMap owns the rest: everything goes (the garbage collector is real)
            api = kube_ns.cluster.api
            await wait_for(
                lambda: (
                    not kube_ns.pods()
                    and not api.list_namespaced_service(kube_ns.name).items
                    and not [
                        c
                        for c in api.list_namespaced_config_map(kube_ns.name).items
                        if c.metadata.name.startswith("hai-")
                    ]
                ),
                30,
                "objects of the forgotten attempt deleted",
            )
        finally:
            await backend.close()

    asyncio.run(scenario())


def _leftovers(ns: KubeNamespace) -> list[str]:
    api = ns.cluster.api
    cms = [
        c.metadata.name
        for c in api.list_namespaced_config_map(ns.name).items
        if c.metadata.name.startswith("hai-")
    ]
    return cms + _names(api.list_namespaced_service(ns.name).items) + _names(ns.pods())


def test_podsecurity_baseline_refusal_is_admission_not_rbac_and_leaves_nothing(
    kube_ns: KubeNamespace,
):
    """hostPath shared storage under PodSecurity "baseline": a clear, final refusal naming the
    namespace's level (it used to be reported as a missing RBAC permission, retryable)."""
    kube_ns.cluster.api.patch_namespace(
        kube_ns.name, {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "baseline"}}}
    )

    async def scenario():
        backend = await _open(kube_ns)
        try:
            with pytest.raises(BackendError) as info:
                await backend.start(spec(2, NODES, shared=str(kube_ns.shared)))
            err = info.value
            assert err.kind == "admission" and not err.retryable
            assert 'violates PodSecurity "baseline:latest"' in str(err)  # the API's own words
            assert f'namespace "{kube_ns.name}" enforces PodSecurity' in str(err)
            assert "pod-security.kubernetes.io/enforce=privileged" in str(err)
            assert "rbac.yaml" not in str(err)
            # the half-created ConfigMap and Service are deleted again
            await wait_for(lambda: not _leftovers(kube_ns), 20, "no objects left")
            assert [o.key for o in await backend.observe()] == []
        finally:
            await backend.close()

    asyncio.run(scenario())


def test_exceeded_quota_is_admission_retryable_with_the_quota_named(kube_ns: KubeNamespace):
    kube_ns.cluster.create(
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "gpus", "namespace": kube_ns.name},
            "spec": {"hard": {"requests.nvidia.com/gpu": "8"}},
        }
    )

    api = kube_ns.cluster.api

    async def scenario():
        # the quota controller fills in status.hard asynchronously (until then the API refuses
        # every pod with "status unknown for quota"); then the first pod fits, the second not
        await wait_for(
            lambda: api.read_namespaced_resource_quota("gpus", kube_ns.name).status.hard or {},
            30,
            "quota status",
        )
        backend = await _open(kube_ns)
        try:
            with pytest.raises(BackendError) as info:
                await backend.start(spec(3, NODES, shared=str(kube_ns.shared)))
            err = info.value
            assert err.kind == "admission" and err.retryable
            assert "exceeded quota: gpus" in str(err)  # the API's own words
            assert 'ResourceQuota "gpus"' in str(err)
            assert "rbac.yaml" not in str(err)
            await wait_for(lambda: not _leftovers(kube_ns), 20, "no objects left")
        finally:
            await backend.close()

    asyncio.run(scenario())


def test_rbac_denial_keeps_the_rbac_hint(kube_ns: KubeNamespace):
    """The same service account on a namespace where it has no Role: a real RBAC 403."""
    other = kube_ns.cluster.namespace(kube_ns.name + "-x")
    kube_ns.cleanup.append(lambda: kube_ns.cluster.delete_namespace(kube_ns.name + "-x"))
    from kubernetes import client as k8s

    rbac = k8s.RbacAuthorizationV1Api(kube_ns.cluster.api.api_client)
    rbac.delete_namespaced_role_binding("hai-server-tasks", kube_ns.name + "-x")
    del other

    async def scenario():
        backend = await _open(kube_ns, namespace=kube_ns.name + "-x")
        try:
            with pytest.raises(BackendError) as info:
                await backend.start(spec(4, NODES, shared=str(kube_ns.shared)))
            assert info.value.kind == "rbac" and info.value.retryable
            assert "rbac.yaml" in str(info.value) and "cannot create resource" in str(info.value)
        finally:
            await backend.close()

    asyncio.run(scenario())


def test_two_installations_in_one_namespace_never_see_each_others_pods(kube_ns: KubeNamespace):
    async def scenario():
        ours = await _open(kube_ns, installation="ours")
        theirs = await _open(kube_ns, installation="theirs")
        try:
            # 4 GPUs per pod: two pods fit on one node
            await theirs.start(spec(5, ["gpu-b1"], shared=str(kube_ns.shared), gpus=4))
            await _observed(theirs, (5, 0), lambda o: o.ranks[0].state == "running")
            await ours.start(spec(6, ["gpu-b2"], shared=str(kube_ns.shared), gpus=4))
            await _observed(ours, (6, 0), lambda o: o.ranks[0].state == "running")
            # each adopts only its own: the other's attempt is not "unknown to the database"
            assert [o.key for o in await ours.observe()] == [(6, 0)]  # not (5, 0)
            assert [o.key for o in await theirs.observe()] == [(5, 0)]
            names = {
                p.metadata.labels["hai.platform/installation"]: p.metadata.name
                for p in kube_ns.pods()
            }
            assert names == {"theirs": "hai-theirs-alice-5-0-0", "ours": "hai-ours-alice-6-0-0"}
            # the same task id in both (each database counts from 1): no collision
            await ours.start(spec(5, ["gpu-b2"], shared=str(kube_ns.shared), gpus=4))
            await _observed(ours, (5, 0), lambda o: o.ranks[0].state == "running")
            assert len(kube_ns.pods("hai.platform/task-id=5")) == 2
        finally:
            await ours.close()
            await theirs.close()

    asyncio.run(scenario())


def test_pod_log_comes_through_the_api_server_from_the_node(kube_ns: KubeNamespace):
    async def scenario():
        backend = await _open(kube_ns)
        try:
            await backend.start(spec(7, ["gpu-b1"], shared=str(kube_ns.shared)))
            await _observed(backend, (7, 0), lambda o: o.ranks[0].state == "running")
            text = await backend.pod_log(7, 0, 0)
            assert harness.POD_LOG_LINE in text
        finally:
            await backend.close()

    asyncio.run(scenario())
