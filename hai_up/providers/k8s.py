"""The Kubernetes provider: apply the rendered manifests with the official client.

``run``: check the API and the listed nodes first (nothing changes when they fail), write the
files to HAI_PLATFORM_PATH, then create-or-replace every object in render order, label the
nodes (and unlabel those dropped from the config), and say what changed since the last
apply (recorded in an annotation of the ConfigMap). A failure mid-way deletes the objects
THIS run created and restores the labels it changed; objects that existed before stay
replaced (a re-run converges: every step is idempotent). ``upgrade`` and ``down`` suspend
the running tasks with notice first (``k8s_tasks``, through the admin API at SERVER_URL);
``run`` and ``upgrade`` uncordon afterwards. ``down`` deletes what ``run`` applies (data on
HAI_PLATFORM_PATH stays).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from hai_up import changes
from hai_up.config import UpConfig
from hai_up.drain import Api, ApiError, drained_nodes
from hai_up.errors import EXIT_CONFIG, UpError
from hai_up.files import write_files
from hai_up.installation import Installation, check_owner, claim, read_marker
from hai_up.providers.k8s_client import Cluster, connect
from hai_up.providers.k8s_tasks import admin_api, check, resume, survey, suspend
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


def _label_nodes(
    cfg: UpConfig,
    cluster: Cluster,
    undo: list[tuple[str, dict[str, Any]]],
    dropped: dict[str, dict[str, str]],
) -> None:
    """Label the listed nodes; remove hai-up's label from nodes no longer listed (while it
    still has the value hai-up set: an admin's own label stays)."""
    patches = [(p["node"], p["labels"]) for p in render_node_labels(cfg)]
    for node, labels in dropped.items():
        live = cluster.read_node(node)
        have = ((live or {}).get("metadata") or {}).get("labels") or {}
        gone = {key: None for key, value in labels.items() if have.get(key) == value}
        if live is not None and gone:
            patches.append((node, gone))
    for name, labels in patches:
        node = cluster.read_node(name)
        old = dict((node or {}).get("metadata", {}).get("labels") or {})
        previous = {key: old.get(key) for key in labels}
        if previous == labels:
            continue
        cluster.label_node(name, labels)
        undo.append((name, previous))


def _apply(
    cfg: UpConfig, cluster: Cluster, objs: list[Obj], dropped: dict[str, dict[str, str]]
) -> list[str]:
    created: list[Obj] = []
    relabelled: list[tuple[str, dict[str, Any]]] = []
    report = []
    try:
        for obj in objs:
            action = cluster.apply(obj)
            if action == "created":
                created.append(obj)
            report.append(f"{action} {obj['kind']} {obj['metadata']['name']}")
        _label_nodes(cfg, cluster, relabelled, dropped)
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


def _say(text: str) -> None:
    print(f"hai-up: {text}", flush=True)


def _record(obj: Obj | None) -> dict[str, Any] | None:
    annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
    return changes.decode(annotations.get(changes.ANNOTATION))


def _converge(cfg: UpConfig, cluster: Cluster, files: dict[str, str]) -> None:
    """Write the files, apply every object, label the nodes, say what changed."""
    objs = render_manifests(cfg)
    config_map = next(o for o in objs if o["kind"] == "ConfigMap")
    before, after = _record(cluster.read(config_map)), _record(config_map)
    assert after is not None
    claim(cfg.hai_platform_path, _installation(cfg))
    write_files(cfg.hai_platform_path, files)
    for line in _apply(cfg, cluster, objs, changes.dropped_labels(before, after)):
        print(f"  {line}")
    api = admin_api(cfg)
    live = _live_rows(api) if api is not None and before is not None else None
    for line in changes.describe(before, after, by_api=live is not None):
        _say(f"changed: {line}")
    if api is not None and live is not None:
        for change in changes.row_plan(before, after, *live):
            _say(f"changed: {change.line}{_apply_row(api, change)}")


def _live_rows(api: Api) -> tuple[dict[str, int], dict[str, str]] | None:
    """The public quotas and the users' roles in the database (None: no answer)."""
    try:
        quotas = {str(r["resource"]): int(r["quota"]) for r in api.quotas("public")}
        roles = {str(u["name"]): str(u["role"]) for u in api.users()}
    except (ApiError, KeyError, TypeError, ValueError):
        return None
    return quotas, roles


def _apply_row(api: Api, change: changes.RowChange) -> str:
    """Do one change; what went wrong, as a suffix of its line."""
    try:
        if change.kind == "role" and change.action == "set":
            api.set_role(change.key, str(change.value))
        elif change.action == "set":
            api.set_quota("public", change.key, int(change.value))
        elif change.action == "delete":
            api.delete_quota("public", change.key)
    except ApiError as exc:
        how = "user role NAME ROLE" if change.kind == "role" else "quota set public RESOURCE N"
        return f" (not applied: {exc}; hai-cli admin {how})"
    return ""


def _checked(cfg: UpConfig) -> Cluster:
    """Backend, owner of the data, API and nodes: all before any change."""
    _backend(cfg)
    root = cfg.hai_platform_path
    check_owner(root, read_marker(root), _installation(cfg))
    cluster = connect(cfg)
    _preflight(cfg, cluster)
    return cluster


def _ready(cfg: UpConfig, on_preflight: Callable[[], None] | None) -> None:
    """Every check passed: lay out the shared storage, keep the generated secrets."""
    prepare_shared_storage(cfg)
    if on_preflight is not None:
        on_preflight()


def run(
    cfg: UpConfig, files: dict[str, str], on_preflight: Callable[[], None] | None = None
) -> None:
    """Apply (or converge) the platform; then uncordon what an interrupted drain left.

    A changed config rolls the servers (the digest annotation of their template); task pods
    are not touched by that (the restarted servers adopt them), so ``run`` suspends nothing."""
    cluster = _checked(cfg)
    _ready(cfg, on_preflight)
    _converge(cfg, cluster, files)
    resume(cfg, cluster, _say)


def upgrade(
    cfg: UpConfig,
    files: dict[str, str],
    force: bool = False,
    on_preflight: Callable[[], None] | None = None,
) -> None:
    """Suspend the running tasks with notice, replace the objects (the servers roll and
    migrate at start), wait for the servers, uncordon: the tasks resume."""
    cluster = _checked(cfg)
    server = {
        "kind": "Deployment",
        "metadata": {"name": "hai-server", "namespace": cfg.platform_namespace},
    }
    if cluster.read(server) is None:
        raise UpError(
            f"nothing to upgrade: no Deployment hai-server in namespace {cfg.platform_namespace}; "
            "run hai-up run first"
        )
    tasks = check(cfg, survey(cfg, cluster), _say, force=force)
    _ready(cfg, on_preflight)
    suspended = suspend(cfg, tasks, _say, force=force)
    try:
        _converge(cfg, cluster, files)
    except UpError as exc:
        if not suspended:
            raise
        raise UpError(
            f"{exc.message}; the {suspended} suspended task(s) stay queued and the nodes "
            "cordoned until a hai-up run succeeds",
            exc.exit_code,
        ) from None
    resume(cfg, cluster, _say)


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
    owner = read_marker(cfg.hai_platform_path)
    out["installation"] = dataclasses.asdict(owner) if owner is not None else None
    out["cordoned_by_hai_up"] = drained_nodes(cfg.hai_platform_path)
    return out


def down(cfg: UpConfig, confirm: Callable[[str], bool], force: bool = False) -> str:
    """Suspend the running tasks with notice, then delete every object run applies, newest
    first (namespaces only if hai-up made them); the data stays. ``confirm`` is asked first
    (False: nothing done). A server that cannot be asked while task pods run: refused; so is
    a ``down`` whose HAI_PLATFORM_PATH another installation owns (checked before the cluster
    is asked)."""
    mine, owner = _installation(cfg), read_marker(cfg.hai_platform_path)
    if owner is not None and (owner.provider, owner.name) != (mine.provider, mine.name):
        raise UpError(
            f"down: HAI_PLATFORM_PATH {cfg.hai_platform_path} belongs to the "
            f"{owner.describe()}, not to this configuration's {mine.describe()}; nothing "
            "changed (bring the owner down with its own configuration)",
            EXIT_CONFIG,
        )
    cluster = connect(cfg)
    cluster.call("list namespaces", cluster.core.list_namespace, limit=1)
    tasks = check(cfg, survey(cfg, cluster), _say, force=force)  # refused: nothing changed
    if not confirm(
        f"delete the platform's objects in namespace {cfg.platform_namespace} (data kept in "
        f"{cfg.hai_platform_path}), suspending {tasks.count()} running task(s) with notice "
        "first?"
    ):
        raise UpError("down: not confirmed; nothing changed (-y to skip the question)", 1)
    suspended = suspend(cfg, tasks, _say, force=force)
    live_map = cluster.read(next(o for o in render_manifests(cfg) if o["kind"] == "ConfigMap"))
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
    _unlabel(cfg, cluster, _record(live_map))
    return (
        f"the platform is down; {suspended} task(s) suspended with notice (they resume after "
        f"the next run); data kept in {cfg.hai_platform_path}"
    )


def _unlabel(cfg: UpConfig, cluster: Cluster, applied: dict[str, Any] | None) -> None:
    """Remove hai-up's group labels: of the listed nodes and of those the cluster's record
    says hai-up labelled (each only while it still has hai-up's value)."""
    wanted = [(p["node"], p["labels"]) for p in render_node_labels(cfg)]
    if applied is not None:
        key = applied.get("label") or ""
        wanted += [(n, {key: str(g)}) for n, g in (applied.get("nodes") or {}).items() if key]
    for name, labels in wanted:
        node = cluster.read_node(name)
        have = ((node or {}).get("metadata") or {}).get("labels") or {}
        gone = {k: None for k, v in labels.items() if have.get(k) == v}
        if node is not None and gone:
            cluster.label_node(name, gone)
