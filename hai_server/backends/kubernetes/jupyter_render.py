"""Pure rendering of a Jupyter container on Kubernetes: its pod (CPU and memory requests and
limits; the node's GPUs for an exclusive one), a Secret with its tokens, a Service on
JupyterLab's port and an Ingress rule ``/{user}/{name}/`` on ``ingress_host`` (INGRESS_HOST).

The pod is a task's rank 0 (render.render_pod: the rank wrapper, the shared storage, the
haienv mount, the node affinity), with JupyterLab listening on all interfaces of the pod at
``jupyter_port``; the tokens reach it from the Secret, never from the ConfigMap.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hai_server.backends.base import AttemptObservation, AttemptSpec, BackendError
from hai_server.backends.kubernetes import render as r
from hai_server.backends.kubernetes.config import KubernetesConfig

SECRET_KEYS = ("JUPYTER_TOKEN", "HAI_TOKEN")
KINDS = ("Service", "Secret", "Ingress")  # named {base}-lab, deleted with the attempt


def jupyter_name(spec: AttemptSpec, config: KubernetesConfig) -> str:
    return r.base_name(spec.task_id, spec.attempt, spec.user, config.installation) + "-lab"


def quantity_memory(gib: float) -> str:
    return f"{round(gib * 1024)}Mi"


def quantity_cpu(cpus: float) -> str:
    return f"{round(cpus * 1000)}m"


def render_jupyter(spec: AttemptSpec, config: KubernetesConfig) -> r.AttemptObjects:
    if len(spec.ranks) != 1:
        raise BackendError("a Jupyter container has exactly one node", retryable=False)
    name = jupyter_name(spec, config)
    labels = r.attempt_labels(spec.task_id, spec.attempt, spec.user, config.installation)
    secrets = {k: v for k, v in spec.env.items() if k in SECRET_KEYS}
    env = {k: v for k, v in spec.env.items() if k not in SECRET_KEYS}
    env["HAI_JUPYTER_IP"] = "0.0.0.0"  # the Service reaches it on the pod's address
    plain = dataclasses.replace(spec, env=env)
    configmap = r.render_configmap(plain, config)
    configmap["data"]["MASTER_PORT"] = str(config.jupyter_port)  # jupyterrun listens on it
    pod = r.render_pod(plain, spec.ranks[0], config)
    container = pod["spec"]["containers"][0]
    container["ports"] = [{"name": "http", "containerPort": config.jupyter_port}]
    container["env"] = [
        *container["env"],
        *({"name": k, "valueFrom": {"secretKeyRef": {"name": name, "key": k}}}
          for k in sorted(secrets)),
    ]  # fmt: skip
    container["readinessProbe"] = {
        "tcpSocket": {"port": config.jupyter_port}, "periodSeconds": 2, "failureThreshold": 3,
    }  # fmt: skip
    res = spec.resources
    if res.get("cpus") and res.get("memory_gib"):  # shared: its slice, requested = limited
        amount = {"cpu": quantity_cpu(res["cpus"]), "memory": quantity_memory(res["memory_gib"])}
        current = container.get("resources") or {}
        container["resources"] = {
            "requests": {**current.get("requests", {}), **amount},
            "limits": {**current.get("limits", {}), **amount},
        }
    pod["metadata"]["labels"][r.L_ROLE] = "jupyter"
    secret = {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": name, "namespace": config.namespace, "labels": labels},
        "stringData": dict(sorted(secrets.items())),
    }  # fmt: skip
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": config.namespace, "labels": labels},
        "spec": {
            "type": "ClusterIP",
            "selector": {**labels, r.L_RANK: "0"},
            "ports": [{"name": "http", "port": config.jupyter_port,
                       "targetPort": config.jupyter_port, "protocol": "TCP"}],
        },
    }  # fmt: skip
    path = f"/{spec.user}/{spec.name}/"
    rule: dict[str, object] = {
        "http": {
            "paths": [{
                "path": path, "pathType": "Prefix",
                "backend": {"service": {"name": name, "port": {"number": config.jupyter_port}}},
            }]
        }
    }  # fmt: skip
    if config.ingress_host:
        rule["host"] = config.ingress_host
    ingress_spec: dict[str, object] = {"rules": [rule]}
    if config.ingress_class:
        ingress_spec["ingressClassName"] = config.ingress_class
    ingress = {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {
            "name": name, "namespace": config.namespace, "labels": labels,
            "annotations": {r.A_TASK_NAME: spec.name,
                            # websockets (kernels, terminals) stay open
                            "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600"},
        },
        "spec": ingress_spec,
    }  # fmt: skip
    return r.AttemptObjects(configmap, service, (pod,), extra=(secret, ingress))


def endpoint(spec_user: str, task_id: int, attempt: int, config: KubernetesConfig) -> str:
    """Where the server reaches the container's JupyterLab: its Service in the cluster."""
    base = r.base_name(task_id, attempt, spec_user, config.installation) + "-lab"
    return f"{base}.{config.namespace}.svc.cluster.local:{config.jupyter_port}"


def with_endpoint(
    obs: AttemptObservation, user: str | None, config: KubernetesConfig
) -> AttemptObservation:
    """``obs`` with its running rank 0 answering at the container's Service (``user``: the
    container's owner; None: not a Jupyter container)."""
    if user is None:
        return obs
    at = endpoint(user, obs.task_id, obs.attempt, config)
    ranks = tuple(
        dataclasses.replace(o, endpoint=at) if o.rank == 0 and o.state == "running" else o
        for o in obs.ranks
    )
    return dataclasses.replace(obs, ranks=ranks)


def note_container(known: dict[tuple[int, int], str], key: tuple[int, int], pod: Any) -> None:
    """Remember the attempt ``key`` as a Jupyter container if ``pod`` is one's."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    if labels.get(r.L_ROLE) == "jupyter":
        known.setdefault(key, labels.get(r.L_USER, ""))


def note_spec(known: dict[tuple[int, int], str], spec: AttemptSpec) -> None:
    if spec.kind == "jupyter":
        known[spec.key] = spec.user


def kinds_of(known: dict[tuple[int, int], str], task_id: int, attempt: int) -> tuple[str, ...]:
    """The kinds of ``{base}-lab`` objects to delete with the attempt (none: not a container)."""
    return KINDS if known.pop((task_id, attempt), None) is not None else ()
