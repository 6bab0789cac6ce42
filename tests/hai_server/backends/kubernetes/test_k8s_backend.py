"""The Kubernetes backend against a stateful API emulator (kmock on 127.0.0.1).

The test plays the kubelet and the cluster admin: it patches pod and node status through
the same API and checks what the backend reports.
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from hai_cli import control
from hai_server.backends.base import BackendError
from hai_server.backends.kubernetes import KubernetesBackend
from hai_server.backends.kubernetes.config import KubernetesConfig, SharedStorage
from tests.support.k8s import (
    NS,
    add_nodes,
    finished,
    opened,
    pods_in,
    ranks_of,
    running,
    spec,
    wait_for,
    waiting,
)
from tests.support.k8s_emulator import node


def test_start_creates_pods_on_the_right_nodes_and_states_follow(emulator, config, shared):
    async def scenario():
        add_nodes(emulator, ["n1", "n2", "n3", "n4"])
        backend, wakeups = await opened(config)
        try:
            nodes = await wait_for(
                lambda: len(backend.nodes.snapshot()) == 4 and backend.inventory(), what="nodes"
            )
            assert [(n.name, n.group, n.gpus, n.healthy) for n in nodes] == [
                ("n1", "default", 8, True),
                ("n2", "default", 8, True),
                ("n3", "default", 8, True),
                ("n4", "default", 8, True),
            ]
            s = spec(7, ["n3", "n1", "n4", "n2"], shared=shared)
            await backend.start(s)
            await backend.start(s)  # idempotent
            pods = pods_in(emulator)
            assert sorted(pods) == [f"hai-alice-7-0-{i}" for i in range(4)]
            for rank, want in enumerate(["n3", "n1", "n4", "n2"]):
                pod = pods[f"hai-alice-7-0-{rank}"]
                term = pod["spec"]["affinity"]["nodeAffinity"][
                    "requiredDuringSchedulingIgnoredDuringExecution"
                ]
                assert term["nodeSelectorTerms"][0]["matchFields"][0]["values"] == [want]
                assert pod["metadata"]["ownerReferences"][0]["kind"] == "ConfigMap"
            api = emulator.api()
            cm = api.read_namespaced_config_map("hai-alice-7-0-env", NS)
            assert cm.data["MASTER_ADDR"] == "hai-alice-7-0-0.hai.svc.cluster.local"
            assert (
                pods["hai-alice-7-0-1"]["metadata"]["ownerReferences"][0]["uid"] == cm.metadata.uid
            )
            assert api.read_namespaced_service("hai-alice-7-0-0", NS).spec.cluster_ip == "None"
            assert os.path.isdir(f"{shared}/run/7/0/control") and os.path.isdir(s.log_dir)

            obs = await ranks_of(backend, (7, 0))
            assert [r.state for r in obs.ranks] == ["pending"] * 4

            wakeups.clear()
            for rank in range(4):
                api.patch_namespaced_pod_status(
                    f"hai-alice-7-0-{rank}", NS, running(), _preload_content=False
                )
            await wait_for(lambda: wakeups, what="a wake-up")

            async def states():
                o = await ranks_of(backend, (7, 0))
                return [r.state for r in o.ranks]

            await wait_for(lambda: _eq(states(), ["running"] * 4), what="running")
            api.patch_namespaced_pod_status(
                "hai-alice-7-0-2", NS, finished(3), _preload_content=False
            )
            api.patch_namespaced_pod_status(
                "hai-alice-7-0-0", NS, finished(0), _preload_content=False
            )
            await wait_for(
                lambda: _eq(states(), ["exited", "running", "exited", "running"]), what="exits"
            )
            obs = await ranks_of(backend, (7, 0))
            assert [r.exit_code for r in obs.ranks] == [0, None, 3, None]
            assert [r.node for r in obs.ranks] == ["n3", "n1", "n4", "n2"]
        finally:
            await backend.close()

    asyncio.run(scenario())


async def _eq(coro, want) -> bool:
    return (await coro) == want


def test_suspend_notice_acks_state_and_checkpoint(emulator, config, shared):
    async def scenario():
        add_nodes(emulator, ["n1", "n2"])
        backend, _ = await opened(config)
        try:
            await backend.start(spec(8, ["n1", "n2"], shared=shared))
            deadline = time.time() + 60
            await backend.notify_suspend(8, 0, deadline)
            await backend.notify_suspend(8, 0, deadline + 100)  # idempotent: first deadline kept
            control = f"{shared}/run/8/0/control"
            with open(f"{control}/suspend") as fh:
                assert abs(float(fh.read()) - deadline) < 0.01
            # What hai_cli.runtime does inside the pods (same files, through the pod mount).
            for name, text in [
                ("ack.0", "1"),
                ("ack.1", "1"),
                ("whole_life_state", "1234"),
                ("checkpoint.0", "1700000000.5"),
                ("checkpoint.1", "1700000001.5"),
            ]:
                with open(f"{control}/{name}", "w") as fh:
                    fh.write(text)
            obs = await ranks_of(backend, (8, 0))
            assert obs.suspend_acked == frozenset({0, 1})
            assert obs.whole_life_state == 1234
            assert obs.last_checkpoint_at == 1700000001.5
            assert not pods_in(emulator)["hai-alice-8-0-0"]["metadata"].get("deletionTimestamp")
        finally:
            await backend.close()

    asyncio.run(scenario())


def test_terminate_and_forget_delete_everything(emulator, config, shared):
    async def scenario():
        add_nodes(emulator, ["n1", "n2", "n3"])
        backend, _ = await opened(config)
        api = emulator.api()
        try:
            await backend.start(spec(9, ["n1", "n2", "n3"], shared=shared))
            await backend.start(spec(10, ["n1"], shared=shared, user="bob"))
            for rank in range(3):
                api.patch_namespaced_pod_status(
                    f"hai-alice-9-0-{rank}", NS, running(), _preload_content=False
                )
            await backend.terminate(9, 0, grace_s=5)
            await backend.terminate(9, 0, grace_s=5)  # idempotent
            assert sorted(pods_in(emulator)) == ["hai-bob-10-0-0"]
            await wait_for(lambda: len(backend.pods.snapshot()) == 1, what="deletions seen")
            obs = await ranks_of(backend, (9, 0))
            assert {r.state for r in obs.ranks} == {"exited"}
            assert {r.message for r in obs.ranks} == {"stopped by the platform"}
            assert not any(r.before_stop for r in obs.ranks)  # the backend cannot tell
            # rank 1's wrapper says its command had ended before any stop signal reached it
            # (what hai_cli.rankrun writes): an exit 0 there is finished work, never a save
            run_dir = backend.config.attempt_run_dir(9, 0)
            with open(os.path.join(run_dir, "rank1", control.UNSIGNALLED), "w") as fh:
                fh.write("1\n")
            obs = await ranks_of(backend, (9, 0))
            assert [r.before_stop for r in obs.ranks] == [False, True, False]
            await backend.forget(9, 0)
            await backend.forget(9, 0)  # idempotent
            assert api.list_namespaced_service(NS).items[0].metadata.name == "hai-bob-10-0-0"
            assert [c.metadata.name for c in api.list_namespaced_config_map(NS).items] == [
                "hai-bob-10-0-env"
            ]
            assert [o.key for o in await backend.observe()] == [(10, 0)]
            assert os.path.isdir(f"{shared}/log/alice/9/0")  # logs are kept
        finally:
            await backend.close()

    asyncio.run(scenario())


def test_node_notready_makes_inventory_unhealthy_and_ranks_lost(emulator, config, shared):
    async def scenario():
        add_nodes(emulator, ["n1", "n2"])
        backend, wakeups = await opened(config)
        api = emulator.api()
        try:
            await backend.start(spec(11, ["n1", "n2"], shared=shared))
            for rank in range(2):
                api.patch_namespaced_pod_status(
                    f"hai-alice-11-0-{rank}", NS, running(), _preload_content=False
                )
            wakeups.clear()
            # The kubelet of n2 stopped posting status 5 minutes ago.
            old = "2020-01-01T00:00:00Z"
            api.patch_node_status(
                "n2",
                {"status": node("n2", ready=False, since=old)["status"]},
                _preload_content=False,
            )
            await wait_for(lambda: wakeups, what="wake-up on node change")

            async def n2_unhealthy():
                return [n for n in await backend.inventory() if n.name == "n2" and not n.healthy]

            (n2,) = await wait_for(n2_unhealthy, what="n2 unhealthy")
            assert "NotReady" in n2.message
            obs = await ranks_of(backend, (11, 0))
            assert obs.ranks[0].state == "running"
            assert obs.ranks[1].state == "lost" and "n2" in obs.ranks[1].message
            assert obs.errors and "n2" in obs.errors[0]

            # Cordoned: unhealthy for the scheduler, but the rank still runs.
            api.patch_node("n1", {"spec": {"unschedulable": True}}, _preload_content=False)

            async def n1_cordoned():
                return [n for n in await backend.inventory() if n.name == "n1" and n.cordoned]

            (n1,) = await wait_for(n1_cordoned, what="n1 cordoned")
            assert not n1.healthy
            assert (await ranks_of(backend, (11, 0))).ranks[0].state == "running"

            # A node deleted from the cluster stays in the inventory as unhealthy.
            api.delete_node("n2")

            async def n2_gone():
                return [
                    n
                    for n in await backend.inventory()
                    if n.name == "n2" and "no longer" in n.message
                ]

            await wait_for(n2_gone, what="n2 missing")
            with pytest.raises(BackendError, match="n2 no longer exist"):
                await backend.start(spec(12, ["n1", "n2"], shared=shared))
        finally:
            await backend.close()

    asyncio.run(scenario())


def test_image_errors_and_unschedulable_are_reported(emulator, config, shared):
    async def scenario():
        add_nodes(emulator, ["n1", "n2"])
        backend, _ = await opened(config)
        api = emulator.api()
        try:
            await backend.start(
                spec(13, ["n1", "n2"], shared=shared, image="registry.local/hai/nope:1")
            )
            api.patch_namespaced_pod_status(
                "hai-alice-13-0-0",
                NS,
                waiting("InvalidImageName", "bad ref"),
                _preload_content=False,
            )
            api.patch_namespaced_pod_status(
                "hai-alice-13-0-1",
                NS,
                {
                    "status": {
                        "phase": "Pending",
                        "conditions": [
                            {
                                "type": "PodScheduled",
                                "status": "False",
                                "reason": "Unschedulable",
                                "lastTransitionTime": "2020-01-01T00:00:00Z",
                                "message": "0/2 nodes are available: 1 Insufficient nvidia.com/gpu.",
                            }
                        ],
                    }
                },
                _preload_content=False,
            )

            async def problems():
                o = await ranks_of(backend, (13, 0))
                return (
                    o if o.ranks[0].state != "pending" and o.ranks[1].state != "pending" else None
                )

            obs = await wait_for(problems, what="problems reported")
            assert obs.ranks[0].state == "exited" and obs.ranks[0].exit_code == 125
            assert "registry.local/hai/nope:1" in obs.ranks[0].message
            assert (
                obs.ranks[1].state == "lost"
                and "Insufficient nvidia.com/gpu" in obs.ranks[1].message
            )
            assert len(obs.errors) == 2
        finally:
            await backend.close()

    asyncio.run(scenario())


def test_forbidden_gives_a_clear_error_and_leaves_nothing(emulator, config, shared):
    async def scenario():
        add_nodes(emulator, ["n1"])
        backend, _ = await opened(config)
        try:
            emulator.emulator.deny[("POST", "pods")] = 403
            with pytest.raises(BackendError) as info:
                await backend.start(spec(14, ["n1"], shared=shared))
            assert "403" in str(info.value) and "forbidden" in str(info.value)
            assert "rbac.yaml" in str(info.value)
            assert info.value.retryable
            api = emulator.api()
            assert api.list_namespaced_config_map(NS).items == []
            assert api.list_namespaced_service(NS).items == []
            assert [o.key for o in await backend.observe()] == []
            emulator.emulator.deny.clear()
            emulator.emulator.deny[("POST", "configmaps")] = 403
            with pytest.raises(BackendError, match="configmaps is forbidden"):
                await backend.start(spec(14, ["n1"], shared=shared))
            assert [o.key for o in await backend.observe()] == []
            emulator.emulator.deny.clear()
            await backend.start(spec(14, ["n1"], shared=shared))  # works once allowed
            assert list(pods_in(emulator)) == ["hai-alice-14-0-0"]
        finally:
            await backend.close()

    asyncio.run(scenario())


def test_unreachable_api_gives_clear_errors_without_crashing(shared):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    config = KubernetesConfig(
        api_server=f"http://127.0.0.1:{port}",
        shared=SharedStorage(server_path=shared),
        initial_sync_timeout_s=0.5,
        stale_after_s=0,
    )

    async def scenario():
        backend = KubernetesBackend(config)
        await backend.open()  # does not raise: the watches keep retrying in the background
        try:
            for call in (
                backend.inventory(),
                backend.observe(),
                backend.start(spec(1, ["n1"], shared=shared)),
            ):
                with pytest.raises(BackendError, match="unreachable") as info:
                    await call
                assert "127.0.0.1" in str(info.value) and info.value.retryable
            with pytest.raises(BackendError, match="unreachable"):
                backend._client.create({"kind": "Pod", "metadata": {"name": "x"}})
        finally:
            await backend.close()

    asyncio.run(scenario())


def test_bad_kubeconfig_is_a_clear_error(tmp_path, shared):
    config = KubernetesConfig(
        kubeconfig=str(tmp_path / "missing"), shared=SharedStorage(server_path=shared)
    )

    async def scenario():
        with pytest.raises(BackendError, match="cannot load Kubernetes credentials"):
            await KubernetesBackend(config).open()

    asyncio.run(scenario())


def test_a_restarted_server_adopts_running_pods(emulator, config, shared):
    async def scenario():
        add_nodes(emulator, ["n1", "n2"])
        first, _ = await opened(config)
        await first.start(spec(15, ["n1", "n2"], shared=shared))
        await first.close()
        api = emulator.api()
        for rank in range(2):
            api.patch_namespaced_pod_status(
                f"hai-alice-15-0-{rank}", NS, running(), _preload_content=False
            )
        second, _ = await opened(config)
        try:
            obs = await wait_for(lambda: ranks_of(second, (15, 0)), what="adopted attempt")
            assert [(r.rank, r.node, r.state) for r in obs.ranks] == [
                (0, "n1", "running"),
                (1, "n2", "running"),
            ]
            await second.terminate(15, 0, grace_s=1)
            await second.forget(15, 0)
            assert pods_in(emulator) == {}
        finally:
            await second.close()

    asyncio.run(scenario())


def test_pod_log_fallback(emulator, config, shared):
    async def scenario():
        add_nodes(emulator, ["n1"])
        backend, _ = await opened(config)
        try:
            await backend.start(spec(16, ["n1"], shared=shared))
            emulator.emulator["get /api/v1/namespaces/hai/pods/hai-alice-16-0-0/log"] << (
                b"2026-01-01T00:00:00Z [2026-01-01 00:00:00.000000] hello\n"
            )
            text = await backend.pod_log(16, 0, 0)
            assert "hello" in text
            with pytest.raises(BackendError, match="no pods of task 99"):
                await backend.pod_log(99, 0, 0)
        finally:
            await backend.close()

    asyncio.run(scenario())


def test_watch_relists_after_410_gone(emulator, config, shared):
    import kmock

    async def scenario():
        add_nodes(emulator, ["n1"])
        backend, _ = await opened(config)
        api = emulator.api()
        try:
            await backend.start(spec(17, ["n1"], shared=shared))
            bus = emulator.emulator._buses[kmock.resource(group="", version="v1", plural="pods")]
            lists = backend.pods.lists
            # kmock routes stream events by metadata.namespace; a real API server sends none.
            meta = {"namespace": NS, "name": "gone"}
            gone = {
                "type": "ERROR",
                "object": {"kind": "Status", "code": 410, "message": "too old", "metadata": meta},
            }
            await asyncio.wrap_future(emulator.submit(bus.put(gone)))
            api.patch_namespaced_pod_status(
                "hai-alice-17-0-0", NS, running(), _preload_content=False
            )

            async def is_running():
                obs = await ranks_of(backend, (17, 0))
                return obs.ranks[0].state == "running"

            await wait_for(lambda: backend.pods.lists > lists, what="a relist")
            await wait_for(is_running, what="state after the relist")
            assert backend.pods.connected and not backend.pods.error
        finally:
            await backend.close()

    asyncio.run(scenario())


def test_the_client_accepts_every_golden_manifest(emulator, config):
    """The official client validates request bodies itself: the golden objects must pass."""
    from hai_server.backends.kubernetes.client import KubeClient, load_configuration
    from tests.support.k8s_cases import CASES, manifests

    client = KubeClient(config, load_configuration(config))
    try:
        for case in CASES:
            for obj in manifests(case):
                ns = obj["metadata"]["namespace"]
                created = KubeClient(
                    config.model_copy(update={"namespace": ns}), client._configuration
                ).create(obj)
                assert created["metadata"]["name"] == obj["metadata"]["name"]
        bad = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "bad"},
            "spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": 1}}}]},
        }
        with pytest.raises(BackendError, match="invalid object") as info:
            client.create(bad)
        assert not info.value.retryable
    finally:
        client.close()


def test_connects_through_a_kubeconfig_file(emulator, shared, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        f"""apiVersion: v1
kind: Config
clusters: [{{name: emu, cluster: {{server: "{emulator.url}"}}}}]
users: [{{name: tester, user: {{token: not-checked}}}}]
contexts: [{{name: emu, context: {{cluster: emu, user: tester, namespace: hai}}}}]
current-context: emu
"""
    )
    config = KubernetesConfig(kubeconfig=str(kubeconfig), shared=SharedStorage(server_path=shared))

    async def scenario():
        add_nodes(emulator, ["n1"])
        backend, _ = await opened(config)
        try:
            assert [n.name for n in await backend.inventory()] == ["n1"]
            await backend.start(spec(18, ["n1"], shared=shared))
            assert list(pods_in(emulator)) == ["hai-alice-18-0-0"]
        finally:
            await backend.close()

    asyncio.run(scenario())
