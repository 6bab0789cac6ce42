"""Pure interpretation of Node and Pod objects (raw JSON dicts) into the backend contract.

No I/O and no clock: ``now`` is an argument and ``since(key, iso_time)`` tells when a
condition was first seen, so every rule here is a table a test can walk through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from hai_server.backends.base import NodeState, RankObservation
from hai_server.backends.kubernetes.config import KubernetesConfig
from hai_server.backends.kubernetes.render import A_NODE

Since = Callable[[str, str | None], float]
"""``since(key, iso_timestamp_or_None) -> epoch seconds`` when the condition ``key`` began."""

NOT_READY = "NotReady"
START_FAILED = 125
"""Exit code reported when the container could not be started at all (bad image, missing
ConfigMap/Secret/volume): like ``docker run``'s 125, a failure the reconciler treats as the
task's, with the reason in the message."""
IMAGE_ERRORS = {
    "ErrImagePull",
    "ImagePullBackOff",
    "RegistryUnavailable",
    "SignatureValidationFailed",
}
IMAGE_FATAL = {"InvalidImageName", "ErrImageNeverPull"}
CONFIG_ERRORS = {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}
# Pod-level reasons meaning the platform, not the program, lost the rank.
LOST_REASONS = {
    "Evicted",
    "NodeLost",
    "Shutdown",
    "NodeShutdown",
    "Terminated",
    "UnexpectedAdmissionError",
    "NodeAffinity",
    "Preempting",
}


def parse_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _condition(obj: Mapping, kind: str) -> Mapping | None:
    for cond in (obj.get("status") or {}).get("conditions") or ():
        if cond.get("type") == kind:
            return cond
    return None


def _quantity_int(value: object) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return 0


def node_state(
    node: Mapping, config: KubernetesConfig, now: float, since: Since
) -> NodeState | None:
    """The platform's view of one Node, or None when the node is not in any group."""
    meta = node.get("metadata") or {}
    labels = meta.get("labels") or {}
    raw_group = labels.get(config.group_label)
    if not raw_group:
        return None
    name = meta.get("name", "")
    group = raw_group.rsplit(".", 1)[-1]  # dotted meta-groups: the last segment schedules
    zone = labels.get(config.zone_label, "")
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    gpus = _quantity_int(allocatable.get(config.gpu_resource, 0))
    cordoned = bool((node.get("spec") or {}).get("unschedulable"))
    ready = _condition(node, "Ready")
    healthy, message = True, ""
    if ready is None or ready.get("status") != "True":
        status = "Unknown" if ready is None else ready.get("status", "Unknown")
        began = since(
            f"node/{name}/notready", None if ready is None else ready.get("lastTransitionTime")
        )
        age = max(0.0, now - began)
        reason = "" if ready is None else (ready.get("message") or ready.get("reason") or "")
        message = f"{NOT_READY} (Ready={status}) for {age:.0f}s" + (f": {reason}" if reason else "")
        healthy = age < config.notready_grace_s
    if cordoned:
        healthy = False
        message = "cordoned (spec.unschedulable)" + (f"; {message}" if message else "")
    return NodeState(
        name=name,
        group=group,
        zone=zone,
        gpus=gpus,
        healthy=healthy,
        cordoned=cordoned,
        message=message,
    )


def pod_node(pod: Mapping) -> str:
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    return ((pod.get("metadata") or {}).get("annotations") or {}).get(A_NODE, "")


def _container(pod: Mapping) -> Mapping:
    statuses = (pod.get("status") or {}).get("containerStatuses") or ()
    return statuses[0] if statuses else {}


def _terminated(pod: Mapping) -> Mapping | None:
    state = _container(pod).get("state") or {}
    return state.get("terminated")


def rank_from_pod(
    pod: Mapping | None,
    *,
    rank: int,
    node: str,
    node_info: NodeState | None,
    node_known: bool,
    terminating: bool,
    fallback_exit: int | None,
    config: KubernetesConfig,
    now: float,
    since: Since,
) -> RankObservation:
    """The state of one rank from its Pod (None: the pod does not exist any more).

    ``node_known`` is False when the node list is not available (then node health is not
    judged); ``node_info`` None with ``node_known`` means the node vanished.
    """

    def obs(state: str, code: int | None = None, message: str = "") -> RankObservation:
        return RankObservation(rank=rank, node=node, state=state, exit_code=code, message=message)  # type: ignore[arg-type]

    if pod is None:
        if terminating:
            return obs("exited", fallback_exit, "stopped by the platform")
        if fallback_exit is not None:
            return obs("exited", fallback_exit, "pod deleted after the rank ended")
        return obs("lost", None, "pod was deleted outside the platform")

    meta = pod.get("metadata") or {}
    name = meta.get("name", "?")
    status = pod.get("status") or {}
    phase = status.get("phase", "Pending")
    term = _terminated(pod)
    if phase == "Succeeded":
        return obs("exited", int(term.get("exitCode", 0)) if term else 0)
    if phase == "Failed":
        reason = status.get("reason") or ""
        if term is not None and "exitCode" in term:
            code = int(term["exitCode"])
            why = term.get("reason") or ""
            if terminating:
                return obs("exited", code, "stopped by the platform")
            if reason in LOST_REASONS:
                return obs(
                    "lost", None, f"pod {name} on {node}: {reason}: {status.get('message', '')}"
                )
            return obs("exited", code, "" if why in ("", "Error", "Completed") else why)
        if terminating:
            return obs("exited", fallback_exit, "stopped by the platform")
        detail = f"{reason}: {status.get('message', '')}".strip(": ")
        return obs("lost", None, f"pod {name} was rejected or evicted on node {node}: {detail}")
    if term is not None and terminating:
        return obs("exited", int(term.get("exitCode", 0)), "stopped by the platform")

    if meta.get("deletionTimestamp") and not terminating:
        return obs(
            "lost", None, f"pod {name} is being deleted outside the platform (drain/eviction?)"
        )
    if phase == "Unknown" or status.get("reason") == "NodeLost":
        return obs("lost", None, f"node {node} stopped reporting the state of pod {name}")
    if node_known:
        problem = None
        if node_info is None:
            problem = f"node {node} no longer exists in the cluster"
        elif not node_info.healthy and NOT_READY in node_info.message:
            # Cordoned alone is not lost: the rank still runs; the scheduler suspends it.
            problem = f"node {node} is unhealthy: {node_info.message}"
        if problem and terminating:
            # The kubelet cannot confirm the stop; do not keep the reconciler waiting.
            return obs("exited", fallback_exit, f"stopped by the platform; {problem}")
        if problem:
            return obs("lost", None, problem)

    if phase == "Running":
        running = (_container(pod).get("state") or {}).get("running")
        return obs("running" if running is not None or not _container(pod) else "pending")

    # Pending: scheduling, pulling, creating.
    sched = _condition(pod, "PodScheduled")
    if (
        sched is not None
        and sched.get("status") == "False"
        and sched.get("reason") == "Unschedulable"
    ):
        began = since(f"pod/{name}/unschedulable", sched.get("lastTransitionTime"))
        msg = f"pod {name} cannot be scheduled on node {node}: {sched.get('message', '')}".rstrip(
            ": "
        )
        if now - began >= config.unschedulable_timeout_s:
            return obs("lost", None, f"{msg} (for {now - began:.0f}s)")
        return obs("pending", None, msg)
    waiting = (_container(pod).get("state") or {}).get("waiting") or {}
    reason = waiting.get("reason") or ""
    detail = waiting.get("message") or reason
    if reason in IMAGE_FATAL or reason in IMAGE_ERRORS:
        image = _container(pod).get("image") or ((pod.get("spec") or {}).get("containers") or [{}])[
            0
        ].get("image", "?")
        msg = f"image {image!r} cannot be pulled on node {node}: {detail}"
        began = since(f"pod/{name}/image", None)
        if reason in IMAGE_FATAL or now - began >= config.image_pull_timeout_s:
            return obs("exited", START_FAILED, msg)
        return obs("pending", None, msg)
    if reason in CONFIG_ERRORS:
        msg = f"pod {name} cannot start its container: {detail}"
        began = since(f"pod/{name}/config", None)
        if now - began >= config.image_pull_timeout_s:
            return obs("exited", START_FAILED, msg)
        return obs("pending", None, msg)
    if sched is not None and sched.get("status") == "True":
        began = since(f"pod/{name}/creating", sched.get("lastTransitionTime"))
        if now - began >= config.container_start_timeout_s:
            return obs(
                "lost",
                None,
                f"pod {name} on node {node} has not started its container after "
                f"{now - began:.0f}s ({reason or 'no reason given'}); see "
                f"`kubectl -n {meta.get('namespace', config.namespace)} describe pod {name}` "
                "(volume mounts, image pull)",
            )
    return obs("pending", None, reason if reason and reason != "ContainerCreating" else "")
