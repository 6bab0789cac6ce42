"""Pure rendering of the Kubernetes objects of one attempt (dicts in, dicts out, no I/O).

Per attempt:

* a ConfigMap ``hai-{user}-{task}-{attempt}-env`` holding the environment every rank shares;
  it is created first and owns everything else (deleting it garbage-collects the attempt);
* a headless Service ``hai-{user}-{task}-{attempt}-0`` selecting rank 0, so ``MASTER_ADDR``
  resolves to rank 0's pod IP as soon as it has one;
* one Pod ``hai-{user}-{task}-{attempt}-{rank}`` per rank, ``restartPolicy: Never``, pinned to
  its node, running the user's command under ``hai_cli.rankrun`` so every output line lands
  time-stamped in the shared log directory.

Everything carries the labels of :func:`attempt_labels`, so one selector finds an attempt.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from hai_server.backends.base import AttemptSpec, BackendError, RankSpec
from hai_server.backends.kubernetes.config import (
    KubernetesConfig,
    StorageMount,
    fill_template,
    template_values,
)

LABEL_PREFIX = "hai.platform"
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "hai-platform"
L_TASK = f"{LABEL_PREFIX}/task-id"
L_ATTEMPT = f"{LABEL_PREFIX}/attempt"
L_USER = f"{LABEL_PREFIX}/user"
L_RANK = f"{LABEL_PREFIX}/rank"
L_ROLE = f"{LABEL_PREFIX}/role"
L_WORLD = f"{LABEL_PREFIX}/world-size"
L_INSTALLATION = f"{LABEL_PREFIX}/installation"
A_NODE = f"{LABEL_PREFIX}/node"
A_TASK_NAME = f"{LABEL_PREFIX}/task-name"

SHARED_VOLUME = "hai-shared"
ENVS_VOLUME = "hai-envs"
SHM_VOLUME = "dshm"
_ENV_KEY = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_NOT_DNS = re.compile(r"[^a-z0-9-]+")
_NOT_LABEL = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True, slots=True)
class AttemptObjects:
    """The rendered objects of one attempt, in creation order."""

    configmap: dict
    service: dict
    pods: tuple[dict, ...]
    extra: tuple[dict, ...] = ()  # a Jupyter container's Secret and Ingress

    def all(self) -> list[dict]:
        return [self.configmap, self.service, *self.extra, *self.pods]


def _dns_part(text: str, limit: int) -> str:
    part = _NOT_DNS.sub("-", text.lower()).strip("-")[:limit].strip("-")
    return part or "x"


def label_value(text: str) -> str:
    """A valid label value (<= 63 chars, alphanumeric at both ends)."""
    return _NOT_LABEL.sub("-", text)[:63].strip("-_.")


def base_name(task_id: int, attempt: int, user: str, installation: str = "default") -> str:
    """``hai-{user}-{task}-{attempt}``; another installation than ``default`` puts its id
    after ``hai-``, so two servers sharing a namespace (each counting tasks from 1) never
    create objects of the same name."""
    tag = "" if installation == "default" else f"{_dns_part(installation, 15)}-"
    return f"hai-{tag}{_dns_part(user, 24)}-{task_id}-{attempt}"


def pod_name(
    task_id: int, attempt: int, user: str, rank: int, installation: str = "default"
) -> str:
    return f"{base_name(task_id, attempt, user, installation)}-{rank}"


def service_name(task_id: int, attempt: int, user: str, installation: str = "default") -> str:
    return f"{base_name(task_id, attempt, user, installation)}-0"


def configmap_name(task_id: int, attempt: int, user: str, installation: str = "default") -> str:
    return f"{base_name(task_id, attempt, user, installation)}-env"


def attempt_labels(
    task_id: int, attempt: int, user: str, installation: str = "default"
) -> dict[str, str]:
    return {
        MANAGED_BY: MANAGER,
        L_INSTALLATION: installation,
        L_TASK: str(task_id),
        L_ATTEMPT: str(attempt),
        L_USER: label_value(user),
    }


def installation_selector(installation: str) -> str:
    """Label selector of everything one installation (one server and its database) created."""
    return f"{MANAGED_BY}={MANAGER},{L_INSTALLATION}={installation}"


def attempt_selector(task_id: int, attempt: int, installation: str = "default") -> str:
    """Label selector of everything of an attempt (for kubectl and for real API servers)."""
    return f"{installation_selector(installation)},{L_TASK}={task_id},{L_ATTEMPT}={attempt}"


def master_addr(spec: AttemptSpec, config: KubernetesConfig) -> str:
    svc = service_name(spec.task_id, spec.attempt, spec.user, config.installation)
    return f"{svc}.{config.namespace}.svc.{config.cluster_domain}"


def _relative_to_shared(path: str, config: KubernetesConfig, what: str) -> str:
    root = config.shared.server_path
    norm = posixpath.normpath(path)
    rel = posixpath.relpath(norm, root) if posixpath.isabs(norm) else ".."
    if rel == "." or rel.startswith(".."):
        raise BackendError(
            f"{what} {path!r} is not inside the shared directory {root!r} that pods mount; "
            "set kubernetes.shared.server_path (or the log location) so one contains the other",
            retryable=True,
        )
    return rel


def shared_env(spec: AttemptSpec, config: KubernetesConfig) -> dict[str, str]:
    """Variables every rank shares: the reconciler's, plus the paths and master as pods see them."""
    env = dict(spec.env)
    env.update(
        {
            "HAI_LOG_DIR": config.pod_log_dir,
            "HAI_CONTROL_DIR": posixpath.join(config.pod_run_dir, "control"),
            "MASTER_ADDR": master_addr(spec, config),
            "MASTER_PORT": str(config.master_port),
        }
    )
    if config.heartbeat_s is not None:
        env["HAI_HEARTBEAT_S"] = f"{config.heartbeat_s:g}"
    bad = sorted(k for k in env if not _ENV_KEY.fullmatch(k))
    if bad:
        raise BackendError(
            f"environment variable names not allowed by Kubernetes: {', '.join(bad)} "
            "(use letters, digits, '_', '-' or '.', not starting with a digit)",
            retryable=False,
        )
    return env


def _gpu_env_and_limits(rank: RankSpec, config: KubernetesConfig) -> tuple[dict, dict]:
    env = {k: v for k, v in rank.env.items() if k not in ("CUDA_VISIBLE_DEVICES",)}
    limits: dict[str, str] = {}  # quantities as strings
    n = len(rank.gpus)
    if n:
        # Inside the container the assigned GPUs are renumbered 0..n-1.
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in range(n))
    if config.gpu_mode == "resource":
        if n:
            limits[config.gpu_resource] = str(n)
    else:
        env["NVIDIA_VISIBLE_DEVICES"] = ",".join(str(g) for g in rank.gpus) if n else "none"
    if config.has_rdma_hca_resource:
        limits[config.rdma_resource] = "1"
    return env, limits


def _mounts(spec: AttemptSpec, config: KubernetesConfig) -> list[StorageMount]:
    mounts = list(config.storage_mounts)
    for raw in spec.mounts:
        try:
            mounts.append(StorageMount.model_validate(dict(raw)))
        except ValueError as exc:
            raise BackendError(
                f"invalid storage mount {dict(raw)!r}: {exc}", retryable=False
            ) from exc
    names = [m.name for m in mounts]
    dupes = sorted({n for n in names if names.count(n) > 1 or n in (SHARED_VOLUME, SHM_VOLUME)})
    if dupes:
        raise BackendError(f"storage mount names used twice: {', '.join(dupes)}", retryable=False)
    return mounts


def envs_mount(spec: AttemptSpec, config: KubernetesConfig) -> tuple[list[dict], list[dict]]:
    """The haienv root, read-only at the same path, for a task that runs in an environment
    (``VIRTUAL_ENV`` from the launch): from the shared volume when it lies inside it."""
    root = config.envs_root
    if not root or not spec.env.get("VIRTUAL_ENV"):
        return [], []
    root = posixpath.normpath(root)
    shared = config.shared.server_path
    rel = posixpath.relpath(root, shared)
    if rel != "." and not rel.startswith(".."):
        return [], [{"name": SHARED_VOLUME, "mountPath": root, "subPath": rel, "readOnly": True}]
    volume = {"name": ENVS_VOLUME, "hostPath": {"path": root, "type": "Directory"}}
    return [volume], [{"name": ENVS_VOLUME, "mountPath": root, "readOnly": True}]


def _storage(spec: AttemptSpec, config: KubernetesConfig) -> tuple[list[dict], list[dict]]:
    values = template_values(user=spec.user, task_id=spec.task_id, task_name=spec.name)
    volumes: list[dict] = []
    volume_mounts: list[dict] = []
    for m in _mounts(spec, config):
        try:
            source = fill_template(m.source, values)
            mount_path = fill_template(m.mount_path, values)
            sub_path = fill_template(m.sub_path, values) if m.sub_path else None
        except ValueError as exc:
            raise BackendError(f"storage mount {m.name!r}: {exc}", retryable=False) from exc
        if m.kind == "hostPath":
            host: dict[str, object] = {"path": source}
            if m.host_path_type:
                host["type"] = m.host_path_type
            volumes.append({"name": m.name, "hostPath": host})
        elif m.kind == "pvc":
            claim = {"claimName": source, "readOnly": m.read_only}
            volumes.append({"name": m.name, "persistentVolumeClaim": claim})
        else:
            volumes.append({"name": m.name, "configMap": {"name": source}})
        vm: dict[str, object] = {"name": m.name, "mountPath": mount_path, "readOnly": m.read_only}
        if sub_path:
            vm["subPath"] = sub_path
        volume_mounts.append(vm)
    return volumes, volume_mounts


def _shared_volume(config: KubernetesConfig) -> dict:
    shared = config.shared
    if shared.kind == "pvc":
        return {"name": SHARED_VOLUME, "persistentVolumeClaim": {"claimName": shared.source}}
    path = shared.source or shared.server_path
    return {"name": SHARED_VOLUME, "hostPath": {"path": path, "type": "Directory"}}


def render_configmap(spec: AttemptSpec, config: KubernetesConfig) -> dict:
    labels = attempt_labels(spec.task_id, spec.attempt, spec.user, config.installation)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": configmap_name(spec.task_id, spec.attempt, spec.user, config.installation),
            "namespace": config.namespace,
            "labels": labels,
            "annotations": {A_TASK_NAME: spec.name},
        },
        "data": dict(sorted(shared_env(spec, config).items())),
    }


def render_service(spec: AttemptSpec, config: KubernetesConfig) -> dict:
    labels = attempt_labels(spec.task_id, spec.attempt, spec.user, config.installation)
    selector = {**labels, L_RANK: "0"}
    port = config.master_port
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": service_name(spec.task_id, spec.attempt, spec.user, config.installation),
            "namespace": config.namespace,
            "labels": labels,
        },
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": selector,
            "ports": [{"name": "master", "port": port, "targetPort": port, "protocol": "TCP"}],
        },
    }


def render_pod(spec: AttemptSpec, rank: RankSpec, config: KubernetesConfig) -> dict:
    """The Pod of one rank (pure; the owner reference is added by :func:`with_owner`)."""
    world = len(spec.ranks)
    labels = {
        **attempt_labels(spec.task_id, spec.attempt, spec.user, config.installation),
        L_RANK: str(rank.rank),
        L_ROLE: "master" if rank.rank == 0 else "worker",
        L_WORLD: str(world),
    }
    env, limits = _gpu_env_and_limits(rank, config)
    extra = config.pod_resources
    resources: dict[str, dict] = {}
    if extra.get("requests"):
        resources["requests"] = dict(extra["requests"])
    if limits or extra.get("limits"):
        resources["limits"] = {**extra.get("limits", {}), **limits}
    log_rel = _relative_to_shared(spec.log_dir, config, "log directory")
    run_rel = _relative_to_shared(
        config.attempt_run_dir(spec.task_id, spec.attempt), config, "run directory"
    )
    log_file = posixpath.join(
        config.pod_log_dir, config.log_file_template.format(rank=rank.rank, node=rank.node)
    )
    command = [
        *config.rank_wrapper,
        "--log",
        log_file,
        "--status-dir",
        posixpath.join(config.pod_run_dir, f"rank{rank.rank}"),
        "--",
        *spec.argv,
    ]
    volumes, storage_mounts = _storage(spec, config)
    env_volumes, env_mounts = envs_mount(spec, config)
    shm: dict[str, object] = {"medium": "Memory"}
    if config.shm_size:
        shm["sizeLimit"] = config.shm_size
    container: dict[str, object] = {
        "name": config.container_name,
        "image": spec.image or config.default_image,
        "imagePullPolicy": config.image_pull_policy,
        "command": command,
        "envFrom": [
            {
                "configMapRef": {
                    "name": configmap_name(
                        spec.task_id, spec.attempt, spec.user, config.installation
                    )
                }
            }
        ],
        "env": [{"name": k, "value": v} for k, v in sorted(env.items())],
        "volumeMounts": [
            {"name": SHM_VOLUME, "mountPath": "/dev/shm"},
            {"name": SHARED_VOLUME, "mountPath": config.pod_log_dir, "subPath": log_rel},
            {"name": SHARED_VOLUME, "mountPath": config.pod_run_dir, "subPath": run_rel},
            *storage_mounts,
            *env_mounts,
        ],
    }
    if spec.workdir:
        container["workingDir"] = spec.workdir
    if resources:
        container["resources"] = resources
    if rank.rank == 0:
        container["ports"] = [{"name": "master", "containerPort": config.master_port}]
    if config.has_rdma_hca_resource:
        container["securityContext"] = {"capabilities": {"add": ["IPC_LOCK"]}}
    pod_spec: dict[str, object] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": config.pod_delete_grace_s,
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchFields": [
                                {"key": "metadata.name", "operator": "In", "values": [rank.node]}
                            ]
                        }
                    ]
                }
            }
        },
        "containers": [container],
        "volumes": [
            {"name": SHM_VOLUME, "emptyDir": shm},
            _shared_volume(config),
            *volumes,
            *env_volumes,
        ],
    }
    if config.tolerations:
        pod_spec["tolerations"] = [dict(t) for t in config.tolerations]
    if config.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": s} for s in config.image_pull_secrets]
    if config.host_network:
        pod_spec["hostNetwork"] = True
        pod_spec["dnsPolicy"] = "ClusterFirstWithHostNet"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(spec.task_id, spec.attempt, spec.user, rank.rank, config.installation),
            "namespace": config.namespace,
            "labels": labels,
            "annotations": {A_NODE: rank.node, A_TASK_NAME: spec.name},
        },
        "spec": pod_spec,
    }


def with_owner(obj: dict, owner: dict) -> dict:
    """A copy of ``obj`` owned by ``owner`` (a created object with ``metadata.uid``)."""
    meta = owner["metadata"]
    ref = {
        "apiVersion": owner.get("apiVersion", "v1"),
        "kind": owner.get("kind", "ConfigMap"),
        "name": meta["name"],
        "uid": meta["uid"],
    }
    return {**obj, "metadata": {**obj["metadata"], "ownerReferences": [ref]}}


def render_attempt(spec: AttemptSpec, config: KubernetesConfig) -> AttemptObjects:
    """All objects of an attempt, without owner references (the owner's uid is not known yet)."""
    if not spec.ranks:
        raise BackendError("an attempt needs at least one rank", retryable=False)
    if not spec.argv:
        raise BackendError("the task has no command to run", retryable=False)
    if spec.kind == "jupyter":
        from hai_server.backends.kubernetes.jupyter_render import render_jupyter

        return render_jupyter(spec, config)
    return AttemptObjects(
        configmap=render_configmap(spec, config),
        service=render_service(spec, config),
        pods=tuple(render_pod(spec, r, config) for r in spec.ranks),
    )
