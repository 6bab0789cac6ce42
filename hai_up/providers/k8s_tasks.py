"""Running tasks around ``down``/``upgrade`` on Kubernetes: count, suspend, resume.

The suspension itself is :mod:`hai_up.drain` (the platform's own path: every node cordoned
through the admin API, each task gets its notice and grace and is requeued), reached at
``SERVER_URL``. Unlike docker-compose, task pods outlive the server on Kubernetes (a
restarted server adopts them), so "the server does not answer" does not mean "nothing
runs": hai-up counts the task pods in ``TASK_NAMESPACE`` itself and refuses (nothing
changed) while some run and the server cannot be asked to suspend them, unless ``--force``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hai_up.config import UpConfig
from hai_up.drain import Api, ApiError, drain, drained_nodes, undrain
from hai_up.errors import EXIT_CONFIG, EXIT_UNREACHABLE, UpError
from hai_up.providers.k8s_client import Cluster

Say = Callable[[str], None]
# the labels the Kubernetes backend puts on every object of an attempt
TASK_PODS = "app.kubernetes.io/managed-by=hai-platform,hai.platform/task-id"
BACK_TIMEOUT_S = 180.0


def admin_api(cfg: UpConfig) -> Api | None:
    """The platform's admin API at SERVER_URL (None when it is not configured)."""
    return Api(cfg.server_url.rstrip("/"), cfg.admin_token) if cfg.server_url else None


def live_task_ids(pods: list[dict[str, Any]]) -> list[str]:
    """The tasks (installation/task id) that have a pod not finished nor being deleted (pure)."""
    out = set()
    for pod in pods:
        meta = pod.get("metadata") or {}
        phase = (pod.get("status") or {}).get("phase")
        if meta.get("deletionTimestamp") or phase in ("Succeeded", "Failed"):
            continue
        labels = meta.get("labels") or {}
        task = labels.get("hai.platform/task-id")
        if task and labels.get("app.kubernetes.io/managed-by") == "hai-platform":
            out.add(f"{labels.get('hai.platform/installation', '')}/{task}")
    return sorted(out)


@dataclass(frozen=True)
class Tasks:
    """What runs: tasks with live pods (from the cluster) and active tasks (from the server;
    None when it is not configured or did not answer, ``error`` then says why)."""

    with_pods: int
    active: int | None
    api: Api | None
    error: str = ""

    def count(self) -> str:
        """How many tasks will be suspended, in words."""
        if self.active is not None:
            return str(self.active)
        return f"the {self.with_pods}" if self.with_pods else "0"


def survey(cfg: UpConfig, cluster: Cluster) -> Tasks:
    body = cluster.call(
        f"list task pods in {cfg.task_namespace}",
        cluster.core.list_namespaced_pod,
        cfg.task_namespace,
        label_selector=TASK_PODS,
    )
    with_pods = len(live_task_ids(list((body or {}).get("items") or [])))
    api = admin_api(cfg)
    if api is None:
        return Tasks(with_pods, None, None, "SERVER_URL is empty")
    try:
        return Tasks(with_pods, len(api.active_tasks()), api)
    except ApiError as exc:
        return Tasks(
            with_pods, None, api, f"the platform's API at {api.url} does not answer ({exc})"
        )


def check(cfg: UpConfig, tasks: Tasks, say: Say, *, force: bool) -> Tasks:
    """Before any change: refuse when tasks have pods and the server cannot be asked to
    suspend them (SERVER_URL empty: exit 2; no answer: exit 4). ``force``: say so and go on
    (the tasks returned then have nothing to suspend)."""
    if tasks.active is not None or not tasks.with_pods:
        return tasks
    what = (
        f"{tasks.with_pods} task(s) have pods in namespace {cfg.task_namespace} but "
        f"{tasks.error}, so hai-up cannot suspend them with notice first"
    )
    if force:
        say(f"warning: {what}; going on without notice (--force)")
        return Tasks(0, None, None, tasks.error)
    if tasks.api is None:
        raise UpError(
            f"{what}; set SERVER_URL to the platform's API address (e.g. http://INGRESS_HOST), "
            "or --force to go on without notice; nothing was changed",
            EXIT_CONFIG,
        )
    raise UpError(
        f"{what}; check SERVER_URL and the servers, or --force to go on without notice; "
        "nothing was changed",
        EXIT_UNREACHABLE,
    )


def suspend(cfg: UpConfig, tasks: Tasks, say: Say, *, force: bool) -> int:
    """Suspend what runs with notice (drain) once :func:`check` passed; the number of tasks
    suspended."""
    if not tasks.active or tasks.api is None:
        return 0
    return drain(tasks.api, cfg.hai_platform_path, say, must_reach=True, force=force)


def rolled_out(cluster: Cluster, cfg: UpConfig) -> bool:
    """The server Deployment runs the applied template on every replica, all available."""
    live = cluster.read(
        {
            "kind": "Deployment",
            "metadata": {"name": "hai-server", "namespace": cfg.platform_namespace},
        }
    )
    if live is None:
        return False
    want = (live.get("spec") or {}).get("replicas", 1)
    st = live.get("status") or {}
    return (
        st.get("observedGeneration", 0) >= live["metadata"].get("generation", 0)
        and st.get("updatedReplicas", 0) >= want
        and st.get("availableReplicas", 0) >= want
        and st.get("replicas", 0) == st.get("updatedReplicas", 0)
    )


def resume(cfg: UpConfig, cluster: Cluster, say: Say, timeout_s: float = BACK_TIMEOUT_S) -> None:
    """Once the servers rolled and answer, uncordon what a drain cordoned (drained.json);
    UpError (exit 1) when they do not within ``timeout_s``: the nodes stay cordoned."""
    nodes = drained_nodes(cfg.hai_platform_path)
    if not nodes:
        return
    api = admin_api(cfg)
    if api is None:
        say(
            f"warning: node(s) {', '.join(nodes)} stay cordoned (a drain of hai-up): SERVER_URL "
            "is empty; set it and re-run, or hai-cli admin node uncordon NODE"
        )
        return
    start = time.monotonic()
    while True:
        rolled = rolled_out(cluster, cfg)
        if rolled:
            try:
                api.nodes()
                break
            except ApiError:
                pass
        if time.monotonic() - start > timeout_s:
            why = f"answer at {api.url}" if rolled else "finish rolling out"
            raise UpError(
                f"the servers did not {why} within {timeout_s:.0f} s (kubectl -n "
                f"{cfg.platform_namespace} rollout status deployment/hai-server); node(s) "
                f"{', '.join(nodes)} stay cordoned until the next hai-up run",
                1,
            )
        time.sleep(1.0)
    say(f"the servers rolled out and answer at {api.url} ({time.monotonic() - start:.1f} s)")
    undrain(api, cfg.hai_platform_path, say)
