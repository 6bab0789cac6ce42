"""``override.toml``: what ``hai-server`` reads (``HAI_CONFIG_FILE``, see settings.toml_to_settings).

Paths are as the server container sees them (see hai_up/README.md for the mounts):
``/var/lib/hai`` its home, ``/var/log/hai`` the platform's log directory (the host's
``HAI_PLATFORM_PATH/log``), task logs in ``/var/log/hai/tasks``. On Kubernetes the log
directory is also the backend's shared storage (task pods mount it from the same host path).
The users' workspaces and EXTRA_MOUNTS are rows of the ``storage`` table (init.sql). The
haienv root ``envs_root`` is the host's ``HAI_PLATFORM_PATH/envs``, mounted at that same path.
"""

from __future__ import annotations

from hai_up.config import UpConfig
from hai_up.render.toml import Value, toml_table

HOME = "/var/lib/hai"
LOG_DIR = "/var/log/hai"
TASK_LOG_DIR = f"{LOG_DIR}/tasks"
KUBECONFIG_IN_CONTAINER = "/etc/hai/kubeconfig"
DATABASE = "hai"


def envs_root(cfg: UpConfig) -> str:
    """The haienv root: on the shared storage, at the same path on the host, in the server
    containers and in the pods (an environment only works where it was made)."""
    return str(cfg.hai_platform_path / "envs")


def _databases(cfg: UpConfig) -> list[str]:
    out = []
    server: dict[str, Value] = {
        "backend": cfg.hai_backend,
        "home": HOME,
        "envs_root": envs_root(cfg),
    }
    if cfg.external_database_url:
        server["database_url"] = cfg.external_database_url.replace(
            "postgresql://", "postgresql+psycopg://", 1
        )
    if cfg.external_redis_url:
        server["redis_url"] = cfg.external_redis_url
    why = "home; haienv root (same path everywhere); external database / redis (EXTERNAL_*_URL)"
    out.append(toml_table("[server]", server, why))
    if not cfg.external_database_url:
        pg: dict[str, Value] = {
            "host": cfg.connect_address,
            "port": cfg.postgres_port,
            "user": cfg.postgres_user,
            "password": cfg.postgres_password,
            "database": DATABASE,
        }
        out.append(toml_table("[database.postgres.primary]", pg, "built-in PostgreSQL"))
    if not cfg.external_redis_url:
        redis: dict[str, Value] = {"host": cfg.connect_address, "port": cfg.redis_port, "db": 0}
        if cfg.redis_password:
            redis["password"] = cfg.redis_password
        out.append(toml_table("[database.redis]", redis, "built-in Redis"))
    return out


def _backend(cfg: UpConfig, in_cluster: bool) -> list[str]:
    if cfg.hai_backend == "local":
        local: dict[str, Value] = {
            "nodes": max(1, len(cfg.training_nodes)),
            "group": cfg.training_group,
        }
        if cfg.node_gpus is not None:
            local["gpus_per_node"] = cfg.node_gpus
        return [toml_table("[launcher.local]", local, "ranks run in the server's container")]
    k8s: dict[str, Value] = {"namespace": cfg.task_namespace, "mars_prefix": cfg.mars_prefix}
    if in_cluster:
        k8s["in_cluster"] = True
    else:
        k8s["kubeconfig"] = KUBECONFIG_IN_CONTAINER
    k8s["default_image"] = cfg.train_image
    k8s["has_rdma_hca_resource"] = cfg.has_rdma_hca_resource
    shared: dict[str, Value] = {
        "server_path": LOG_DIR,
        "kind": "hostPath",
        "source": str(cfg.hai_platform_path / "log"),
    }
    # the users' workspaces and EXTRA_MOUNTS are storage rows (init.sql), not static mounts
    return [
        toml_table("[kubernetes]", k8s, "ranks run as pods (TASK_NAMESPACE, TRAIN_IMAGE)"),
        toml_table("[kubernetes.shared]", shared, "rank logs and control files"),
    ]


def render_override(cfg: UpConfig, *, for_kubernetes: bool = False) -> str:
    """The server's override.toml. ``for_kubernetes``: the variant of the k8s ConfigMap,
    without passwords (the Deployment passes HAI_DATABASE_URL / HAI_REDIS_URL from the
    Secret) and with ``in_cluster = true``."""
    parts = ["# Rendered by hai-up; read by hai-server through HAI_CONFIG_FILE."]
    if for_kubernetes:
        server = {"backend": cfg.hai_backend, "envs_root": envs_root(cfg)}
        parts.append(toml_table("[server]", server, "haienv root (same path everywhere)"))
    else:
        parts += _databases(cfg)
    parts.append(toml_table("[scheduler]", {"default_group": cfg.training_group}))
    parts += _backend(cfg, in_cluster=for_kubernetes)
    log: dict[str, Value] = {"role": "internal", "dir": TASK_LOG_DIR}
    parts.append(toml_table("[[experiment.log.dist]]", log, "task logs"))
    return "\n\n".join(parts) + "\n"
