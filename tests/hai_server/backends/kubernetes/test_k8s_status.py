"""Pure rules: Node -> NodeState and Pod -> rank state, walked through as tables."""

from __future__ import annotations

import pytest

from hai_server.backends.base import NodeState
from hai_server.backends.kubernetes.config import KubernetesConfig
from hai_server.backends.kubernetes.status import node_state, parse_time, rank_from_pod
from tests.support.k8s_emulator import node

CFG = KubernetesConfig(
    notready_grace_s=30,
    unschedulable_timeout_s=300,
    image_pull_timeout_s=120,
    container_start_timeout_s=1800,
)
T0 = parse_time("2026-01-01T00:00:00Z")
HEALTHY = NodeState("n1", "g")


def since_at(key, iso):
    return parse_time(iso) or T0


def pod(phase="Pending", *, state=None, reason=None, conditions=None, deleting=False, message=""):
    status = {"phase": phase}
    if state is not None:
        status["containerStatuses"] = [{"name": "c", "image": "img:1", "state": state}]
    if reason:
        status["reason"] = reason
        status["message"] = message
    if conditions:
        status["conditions"] = conditions
    meta = {"name": "p-0", "namespace": "hai"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "spec": {"containers": [{"image": "img:1"}]}, "status": status}


def sched(status, reason=None, at="2026-01-01T00:00:00Z", message=""):
    c = {"type": "PodScheduled", "status": status, "lastTransitionTime": at, "message": message}
    if reason:
        c["reason"] = reason
    return [c]


def rank(p, *, now=T0 + 1, node_info=HEALTHY, node_known=True, terminating=False, fallback=None):
    return rank_from_pod(
        p,
        rank=0,
        node="n1",
        node_info=node_info,
        node_known=node_known,
        terminating=terminating,
        fallback_exit=fallback,
        config=CFG,
        now=now,
        since=since_at,
    )


RUN = {"running": {"startedAt": "x"}}


@pytest.mark.parametrize(
    ("kwargs", "pod_", "want"),
    [
        ({}, pod(), ("pending", None)),
        ({}, pod("Running", state=RUN), ("running", None)),
        ({}, pod("Succeeded", state={"terminated": {"exitCode": 0}}), ("exited", 0)),
        (
            {},
            pod("Failed", state={"terminated": {"exitCode": 3, "reason": "Error"}}),
            ("exited", 3),
        ),
        (
            {},
            pod("Failed", state={"terminated": {"exitCode": 137, "reason": "OOMKilled"}}),
            ("exited", 137),
        ),
        ({}, pod("Failed", reason="OutOfnvidia.com/gpu", message="no gpus"), ("lost", None)),
        (
            {},
            pod("Failed", reason="Evicted", state={"terminated": {"exitCode": 137}}),
            ("lost", None),
        ),
        (
            {"terminating": True},
            pod("Failed", state={"terminated": {"exitCode": 143}}),
            ("exited", 143),
        ),
        ({"terminating": True}, None, ("exited", None)),
        ({"terminating": True, "fallback": 143}, None, ("exited", 143)),
        ({}, None, ("lost", None)),
        ({"fallback": 0}, None, ("exited", 0)),
        ({}, pod("Running", state=RUN, deleting=True), ("lost", None)),
        ({}, pod("Unknown"), ("lost", None)),
        ({"node_info": None}, pod("Running", state=RUN), ("lost", None)),
        ({"node_info": None, "node_known": False}, pod("Running", state=RUN), ("running", None)),
        (
            {"node_info": None, "terminating": True},
            pod("Running", state=RUN, deleting=True),
            ("exited", None),
        ),
        ({"terminating": True}, pod("Running", state=RUN, deleting=True), ("running", None)),
        (
            {
                "node_info": NodeState(
                    "n1", "g", healthy=False, message="NotReady (Ready=False) for 99s"
                )
            },
            pod("Running", state=RUN),
            ("lost", None),
        ),
        (
            {"node_info": NodeState("n1", "g", healthy=False, cordoned=True, message="cordoned")},
            pod("Running", state=RUN),
            ("running", None),
        ),
        ({}, pod(conditions=sched("False", "Unschedulable", message="taint")), ("pending", None)),
        (
            {"now": T0 + 301},
            pod(conditions=sched("False", "Unschedulable", message="taint")),
            ("lost", None),
        ),
        (
            {},
            pod(state={"waiting": {"reason": "ErrImagePull", "message": "not found"}}),
            ("pending", None),
        ),
        (
            {"now": T0 + 121},
            pod(state={"waiting": {"reason": "ImagePullBackOff"}}),
            ("exited", 125),
        ),
        ({}, pod(state={"waiting": {"reason": "InvalidImageName"}}), ("exited", 125)),
        (
            {"now": T0 + 121},
            pod(state={"waiting": {"reason": "CreateContainerConfigError"}}),
            ("exited", 125),
        ),
        (
            {"now": T0 + 1801},
            pod(conditions=sched("True"), state={"waiting": {"reason": "ContainerCreating"}}),
            ("lost", None),
        ),
        (
            {"now": T0 + 60},
            pod(conditions=sched("True"), state={"waiting": {"reason": "ContainerCreating"}}),
            ("pending", None),
        ),
    ],
)
def test_rank_states(kwargs, pod_, want):
    got = rank(pod_, **kwargs)
    assert (got.state, got.exit_code) == want
    if got.state == "lost" or got.exit_code == 125:
        assert got.message  # always says why


def test_image_message_names_the_image_and_node():
    got = rank(pod(state={"waiting": {"reason": "InvalidImageName", "message": "bad"}}))
    assert "img:1" in got.message and "n1" in got.message


def test_node_states():
    now = T0 + 100
    ready = node_state(node("a", "train.gpu", gpus=8, zone="z2"), CFG, now, since_at)
    assert ready == NodeState("a", "gpu", "z2", 8, True, False, "")
    fresh = node_state(node("b", ready=False, since="2026-01-01T00:01:30Z"), CFG, now, since_at)
    assert fresh.healthy and "NotReady" in fresh.message  # within the grace
    old = node_state(node("c", ready=False, since="2026-01-01T00:00:00Z"), CFG, now, since_at)
    assert not old.healthy and "for 100s" in old.message
    cordoned = node_state(node("d", unschedulable=True), CFG, now, since_at)
    assert not cordoned.healthy and cordoned.cordoned
    assert node_state(node("e", label="other"), CFG, now, since_at) is None
    prefixed = KubernetesConfig(mars_prefix="hf")
    assert node_state(node("f", label="hf_mars_group"), prefixed, now, since_at).group == "default"
