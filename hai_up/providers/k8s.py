"""The Kubernetes provider: apply the rendered manifests with the official client.

``run``: check the API and the listed nodes first (nothing changes when they fail), write the
files to HAI_PLATFORM_PATH, then create-or-replace every object in render order and label
the nodes. A failure mid-way deletes the objects THIS run created and restores the labels it
changed; objects that existed before stay replaced (a re-run converges: every step is
idempotent). ``down`` deletes what ``run`` applies (data on HAI_PLATFORM_PATH stays).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hai_up.config import UpConfig
from hai_up.errors import EXIT_CONFIG, UpError
from hai_up.files import write_files
from hai_up.installation import Installation, check_owner, claim, read_marker
from hai_up.providers.k8s_client import Cluster, connect
from hai_up.render.k8s import MANAGED, render_manifests, render_node_labels
from hai_up.storage import prepare_shared_storage

Obj = dict[str, Any]
WORKLOADS = (
    ("Deployment", "hai-server"),
    ("StatefulSet", "hai-postgres"),
    ("Deployment", "hai-redis"),
)


def _backend(cfg: UpConfig) -> None:
    if cfg.hai_backend != "kubernetes":
        raise UpError(
            f"bad configuration: HAI_BACKEND={cfg.hai_backend!r}: expected kubernetes with -p k8s "
            "(the local backend runs ranks inside the server container: use -p docker-compose)",
            EXIT_CONFIG,
        )


def _preflight(cfg: UpConfig, cluster: Cluster) -> None:
    """Reachable, allowed, and every listed node exists: checked before any change."""
    cluster.call("list namespaces", cluster.core.list_namespace, limit=1)
    listed = [(n, "TRAINING_NODES") for n in cfg.training_nodes]
    listed += [(n, "JUPYTER_NODES") for n in cfg.jupyter_nodes]
    listed += [(n, "MANAGER_NODES") for n in cfg.manager_nodes]
    missing = [(node, var) for node, var in listed if cluster.read_node(node) is None]
    if missing:
        names = ", ".join(f"{node!r} ({var})" for node, var in missing)
        raise UpError(
            f"not in the cluster: node {names}; expected existing node names", EXIT_CONFIG
        )


def _label_nodes(cfg: UpConfig, cluster: Cluster, undo: list[tuple[str, dict[str, Any]]]) -> None:
    for patch in render_node_labels(cfg):
        node = cluster.read_node(patch["node"])
        old = dict((node or {}).get("metadata", {}).get("labels") or {})
        previous = {key: old.get(key) for key in patch["labels"]}
        if previous == patch["labels"]:
            continue
        cluster.label_node(patch["node"], patch["labels"])
        undo.append((patch["node"], previous))


def _apply(cfg: UpConfig, cluster: Cluster, objs: list[Obj]) -> list[str]:
    created: list[Obj] = []
    relabelled: list[tuple[str, dict[str, Any]]] = []
    report = []
    try:
        for obj in objs:
            action = cluster.apply(obj)
            if action == "created":
                created.append(obj)
            report.append(f"{action} {obj['kind']} {obj['metadata']['name']}")
        _label_nodes(cfg, cluster, relabelled)
    except UpError as exc:
        undone = 0
        for node, previous in reversed(relabelled):
            undone += cluster.quietly(lambda n=node, p=previous: cluster.label_node(n, p))
        for obj in reversed(created):
            undone += cluster.quietly(lambda o=obj: cluster.delete(o))
        raise UpError(
            f"{exc.message} (rolled back {undone} change(s) of this run; "
            "objects that existed before stay replaced; re-run converges)",
            exc.exit_code,
        ) from None
    return report


def _installation(cfg: UpConfig) -> Installation:
    return Installation("k8s", cfg.platform_namespace)


def run(cfg: UpConfig, files: dict[str, str]) -> None:
    _backend(cfg)
    root = cfg.hai_platform_path
    check_owner(root, read_marker(root), _installation(cfg))
    cluster = connect(cfg)
    _preflight(cfg, cluster)
    prepare_shared_storage(cfg)
    claim(cfg.hai_platform_path, _installation(cfg))
    write_files(cfg.hai_platform_path, files)
    for line in _apply(cfg, cluster, render_manifests(cfg)):
        print(f"  {line}")


def upgrade(cfg: UpConfig, files: dict[str, str]) -> None:
    """New image / config: replace the objects (the servers roll and migrate at start)."""
    _backend(cfg)
    root = cfg.hai_platform_path
    check_owner(root, read_marker(root), _installation(cfg))
    cluster = connect(cfg)
    _preflight(cfg, cluster)
    server = {
        "kind": "Deployment",
        "metadata": {"name": "hai-server", "namespace": cfg.platform_namespace},
    }
    if cluster.read(server) is None:
        raise UpError(
            f"nothing to upgrade: no Deployment hai-server in namespace {cfg.platform_namespace}; "
            "run hai-up run first"
        )
    prepare_shared_storage(cfg)
    claim(cfg.hai_platform_path, _installation(cfg))
    write_files(cfg.hai_platform_path, files)
    for line in _apply(cfg, cluster, render_manifests(cfg)):
        print(f"  {line}")


def status(cfg: UpConfig) -> dict[str, Any]:
    cluster = connect(cfg)
    out: dict[str, Any] = {"provider": "k8s", "namespace": cfg.platform_namespace, "workloads": {}}
    ready = True
    for kind, name in WORKLOADS:
        obj = cluster.read(
            {"kind": kind, "metadata": {"name": name, "namespace": cfg.platform_namespace}}
        )
        if obj is None:
            if (
                name == "hai-server"
                or (name == "hai-postgres" and not cfg.external_database_url)
                or (name == "hai-redis" and not cfg.external_redis_url)
            ):
                ready = False
                out["workloads"][name] = {"kind": kind, "present": False}
            continue
        want = obj.get("spec", {}).get("replicas", 1)
        have = (obj.get("status") or {}).get("readyReplicas") or 0
        images = [c.get("image") for c in obj["spec"]["template"]["spec"]["containers"]]
        out["workloads"][name] = {
            "kind": kind,
            "present": True,
            "replicas": want,
            "ready": have,
            "images": images,
        }
        ready = ready and have >= want
    out["ready"] = ready
    return out


def down(cfg: UpConfig, confirm: Callable[[str], bool]) -> str:
    """Delete every object run applies, newest first; namespaces only if hai-up made them.

    Not yet: suspending the running tasks with notice first (the compose provider does);
    the question says so."""
    cluster = connect(cfg)
    cluster.call("list namespaces", cluster.core.list_namespace, limit=1)
    if not confirm(
        f"delete the platform's objects in namespace {cfg.platform_namespace} (data kept in "
        f"{cfg.hai_platform_path}; running task pods are not suspended first on Kubernetes)?"
    ):
        raise UpError("down: not confirmed; nothing changed (-y to skip the question)", 1)
    for obj in reversed(render_manifests(cfg)):
        if obj["kind"] == "Namespace":
            live = cluster.read(obj)
            labels = ((live or {}).get("metadata") or {}).get("labels") or {}
            if (
                labels.get("app.kubernetes.io/managed-by")
                != MANAGED["app.kubernetes.io/managed-by"]
            ):
                continue
        if cluster.delete(obj):
            print(f"  deleted {obj['kind']} {obj['metadata']['name']}")
    for patch in render_node_labels(cfg):
        node = cluster.read_node(patch["node"])
        labels = ((node or {}).get("metadata") or {}).get("labels") or {}
        if node is not None and all(labels.get(k) == v for k, v in patch["labels"].items()):
            cluster.label_node(patch["node"], {k: None for k in patch["labels"]})
    return f"the platform is down; data kept in {cfg.hai_platform_path}"
