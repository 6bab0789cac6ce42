"""hai-up's configuration as the rest of hai-up sees it: the frozen :class:`UpConfig`, its parts,
and the names every module shares. Built by :func:`hai_up.config_check.parse_config`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

PRIORITIES = ("LOW", "BELOW_NORMAL", "NORMAL", "ABOVE_NORMAL", "HIGH", "VERY_HIGH", "EXTREME_HIGH")
ROLES = ("admin", "internal", "external")
ADMIN_USER = "admin"
PLATFORM_ENVS_OWNER = "platform"  # haienv's owner of the base environments (envs/platform)
FLAGS = {"0": False, "1": True, "false": False, "true": True}
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
PROVIDERS = ("k8s", "docker-compose")
PLACEHOLDER = "change-me"  # the old template's public defaults: never accepted
# the original hai-up's variables this one does not honour, and why (set: refused)
REFUSED: dict[str, str] = {
    "DB_PATH": "the database lives in HAI_PLATFORM_PATH/postgres; move the data there",
    "HAI_SERVER_ADDR": "the servers listen on BIND_ADDRESS:SERVER_PORT; set those",
    "BFF_ADMIN_UID": "this platform has no BFF: remove it",
    "BFF_ADMIN_TOKEN": "this platform has no BFF: remove it",
}


@dataclass(frozen=True)
class UserInfo:
    """One USER_INFO entry ``name:uid:role:token[:group]`` (or the original's name:uid:token)."""

    name: str
    uid: int
    role: str
    token: str
    group: str | None = None


@dataclass(frozen=True)
class ExtraMount:
    """One EXTRA_MOUNTS entry ``source:target:file|directory[:ro]`` (the original's format)."""

    source: str
    target: str
    kind: str  # "file" or "directory"
    read_only: bool = False


@dataclass(frozen=True)
class UpConfig:
    """The validated configuration; field names are the lower-cased variable names."""

    shared_fs_root: Path
    hai_platform_path: Path
    hai_backend: Literal["local", "kubernetes"]
    mars_prefix: str
    training_group: str
    training_nodes: tuple[str, ...]
    jupyter_group: str
    jupyter_nodes: tuple[str, ...]
    manager_nodes: tuple[str, ...]
    node_gpus: int | None
    task_namespace: str
    has_rdma_hca_resource: bool
    kubeconfig: Path | None
    base_image: str
    train_image: str
    build_images: bool
    server_replicas: int
    server_port: int
    bind_address: str
    ingress_host: str
    ingress_class: str
    admin_token: str
    compose_project: str
    users: tuple[UserInfo, ...]
    public_quota: tuple[tuple[str, int], ...]
    postgres_user: str
    postgres_password: str
    postgres_port: int
    redis_password: str
    redis_port: int
    external_database_url: str | None
    external_redis_url: str | None

    platform_namespace: str = "hai-platform"
    admin_user: str = ADMIN_USER
    service_type: str = "ClusterIP"
    server_url: str | None = None
    dry_run: bool = False
    provider: str = "k8s"
    warnings: tuple[str, ...] = ()
    extra_mounts: tuple[ExtraMount, ...] = ()
    extra_environments: tuple[tuple[str, str], ...] = ()
    base_envs: tuple[str, ...] | None = None  # BASE_ENVS: None = all, () = none
    base_envs_dir: Path | None = None  # None: the source tree's environments/
    base_envs_uid: int = 990
    # (spec name, TOML text) of the selected specs: read by load_config (hai_up/baseenvs.py)
    base_env_specs: tuple[tuple[str, str], ...] = ()

    @property
    def connect_address(self) -> str:
        """Where a process on this host reaches what listens on BIND_ADDRESS."""
        return "127.0.0.1" if self.bind_address == "0.0.0.0" else self.bind_address

    @property
    def node_groups(self) -> tuple[tuple[str, str], ...]:
        """(node, group) of every listed node, training first."""
        return tuple((n, self.training_group) for n in self.training_nodes) + tuple(
            (n, self.jupyter_group) for n in self.jupyter_nodes
        )
