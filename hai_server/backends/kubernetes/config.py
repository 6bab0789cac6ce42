"""Settings of the Kubernetes backend (nested in the server settings as ``settings.kubernetes``).

Plain pydantic model, no I/O: the kubeconfig is only read when the backend opens.
"""

from __future__ import annotations

import posixpath
import string
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TEMPLATE_FIELDS = {"user", "user_name", "task", "task_id", "task_name"}


class _Names:
    """Attribute bag used by ``{user.user_name}``-style templates."""

    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)


def template_values(*, user: str, task_id: int, task_name: str) -> dict[str, object]:
    """The names a mount template may use: ``{user.user_name}``, ``{task.id}``, ``{user_name}``..."""
    return {
        "user": _Names(user_name=user, name=user),
        "user_name": user,
        "task": _Names(id=task_id, name=task_name),
        "task_id": task_id,
        "task_name": task_name,
    }


def fill_template(text: str, values: dict[str, object]) -> str:
    """Format ``text`` with :func:`template_values`; raises ValueError naming a bad field."""
    try:
        return string.Formatter().vformat(text, (), values)
    except (KeyError, AttributeError, IndexError, ValueError) as exc:
        raise ValueError(
            f"template {text!r} uses an unknown field ({exc}); "
            f"allowed: {{user.user_name}}, {{task.id}}, {{task.name}}, {{user_name}}, {{task_id}}"
        ) from exc


class StorageMount(BaseModel):
    """One mount of the ``storage`` table, or a static mount every task pod gets."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    kind: Literal["hostPath", "pvc", "configmap"]
    source: str  # host path, claim name or ConfigMap name; templates allowed
    mount_path: str  # templates allowed
    read_only: bool = False
    sub_path: str | None = None  # templates allowed
    host_path_type: str = ""  # hostPath only: "", "Directory", "DirectoryOrCreate", "File"...

    @model_validator(mode="after")
    def _templates_resolve(self) -> StorageMount:
        sample = template_values(user="someone", task_id=1, task_name="t")
        for text in (self.source, self.mount_path, self.sub_path or ""):
            fill_template(text, sample)
        return self


class SharedStorage(BaseModel):
    """The shared directory holding rank logs and control files, seen by server and pods."""

    model_config = ConfigDict(extra="forbid")

    server_path: str = "/mnt/hai"  # as the server process sees it
    kind: Literal["hostPath", "pvc"] = "hostPath"
    source: str | None = None  # host path on every node (default: server_path) or claim name

    @field_validator("server_path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not posixpath.isabs(value):
            raise ValueError("shared.server_path must be an absolute path")
        return posixpath.normpath(value)


class KubernetesConfig(BaseModel):
    """Everything the Kubernetes backend needs to know about the cluster it runs ranks on."""

    model_config = ConfigDict(extra="forbid")

    # -- connection
    namespace: str = "hai"
    # the label hai.platform/installation of every object this server creates; the server
    # watches, adopts and garbage-collects only objects with its own id, so two servers (two
    # databases) can share a namespace. Unset: derived from the database URL (make_backend).
    installation: str = Field(
        default="default",
        min_length=1,
        max_length=63,
        pattern=r"^[A-Za-z0-9]([-_.A-Za-z0-9]*[A-Za-z0-9])?$",
    )
    kubeconfig: str | None = None  # path; None and not in_cluster: the default ~/.kube/config
    # the ranks' heartbeat period (HAI_HEARTBEAT_S); make_backend sets it from
    # scheduler.heartbeat_s, so the watchdog and the wrappers agree (None: the wrapper's 5 s)
    heartbeat_s: float | None = Field(default=None, gt=0)
    context: str | None = None
    in_cluster: bool = False
    api_server: str | None = None  # plain URL without auth (kubectl proxy, test emulator)
    api_timeout_s: float = 10.0
    api_concurrency: int = Field(default=16, ge=1, le=128)
    watch_timeout_s: int = 300  # server-side timeout of one watch request; it is then resumed
    initial_sync_timeout_s: float = 5.0  # open() waits this long for the first Node/Pod list
    stale_after_s: float = 30.0  # observe() refuses to answer from a cache older than this

    # -- nodes
    mars_prefix: str = ""  # node label "{prefix}_mars_group" ("mars_group" when empty)
    zone_label: str = "topology.kubernetes.io/zone"
    notready_grace_s: float = 30.0
    missing_node_forget_s: float = 3600.0  # a deleted node is reported unhealthy this long

    # -- pods
    default_image: str = "hai-platform/train:latest"
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    image_pull_secrets: list[str] = []
    gpu_resource: str = "nvidia.com/gpu"
    gpu_mode: Literal["resource", "visible_devices"] = "resource"
    has_rdma_hca_resource: bool = False
    rdma_resource: str = "rdma/hca"
    shm_size: str | None = None  # sizeLimit of the in-memory /dev/shm, e.g. "64Gi"
    host_network: bool = False
    tolerations: list[dict[str, object]] = []
    pod_resources: dict[str, dict[str, str]] = {}  # extra {"requests": {...}, "limits": {...}}
    rank_wrapper: list[str] = ["python3", "-m", "hai_cli.rankrun"]
    container_name: str = "hai-experiment"
    master_port: int = Field(default=29500, ge=1, le=65535)
    # Jupyter containers: JupyterLab's port in the pod, and the Ingress host of /{user}/{name}/
    jupyter_port: int = Field(default=8888, ge=1, le=65535)
    ingress_host: str = ""  # INGRESS_HOST; empty: a rule for any host
    ingress_class: str | None = None
    cluster_domain: str = "cluster.local"
    unschedulable_timeout_s: float = 300.0
    image_pull_timeout_s: float = 120.0  # ErrImagePull / config errors last this long -> failed
    container_start_timeout_s: float = 1800.0  # scheduled but never started (mounts, pulls) -> lost
    pod_delete_grace_s: int = Field(default=10, ge=0)  # grace used by forget()
    storage_mounts: list[StorageMount] = []

    # -- shared storage (logs + control files)
    shared: SharedStorage = SharedStorage()
    run_subdir: str = "run"  # attempt dirs: {shared.server_path}/{run_subdir}/{task}/{attempt}
    pod_log_dir: str = "/hai/log"  # where the attempt's log dir is mounted in pods
    pod_run_dir: str = "/hai/run"  # where the attempt's run dir is mounted in pods
    log_file_template: str = "rank-{rank}.log"

    # -- haienv environments: mounted read-only at the same path in the pods of a task that
    # runs in one (from the shared volume when inside shared.server_path, else a hostPath of
    # that path on every node). None: the server's envs_root (make_backend fills it in).
    envs_root: str | None = None

    @property
    def group_label(self) -> str:
        return f"{self.mars_prefix}_mars_group" if self.mars_prefix else "mars_group"

    def attempt_run_dir(self, task_id: int, attempt: int) -> str:
        """Server-side directory of one attempt: ``control/`` and ``rank{R}/`` live in it."""
        return posixpath.join(self.shared.server_path, self.run_subdir, str(task_id), str(attempt))
