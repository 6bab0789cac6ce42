"""``docker-compose.yaml``: the platform on one host, every service on the host network.

Services ``postgres`` and ``redis`` (BASE_IMAGE, commands ``postgres`` / ``redis``; left out
when EXTERNAL_* URLs are given) and ``server-0..N-1`` (BASE_IMAGE, command ``server --host
BIND_ADDRESS --port SERVER_PORT+i``). The environment and mounts are the contract of the
image's entrypoint (hai_up/README.md). Host paths live under HAI_PLATFORM_PATH.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from hai_up.config import UpConfig
from hai_up.render.init_sql import render_init_sql
from hai_up.render.override import (
    HOME,
    KUBECONFIG_IN_CONTAINER,
    LOG_DIR,
    envs_root,
    render_override,
)
from hai_up.render.yamlout import dump

Service = dict[str, Any]
CONFIG_LABEL = "hai.config-digest"

INSTALLATION_IN_CONTAINER = "/etc/hai/installation.json"  # hai-up's marker, read-only
SPECS_IN_CONTAINER = "/etc/hai/environments"  # the base environments' specs, read-only


def host_dirs(cfg: UpConfig) -> dict[str, Path]:
    """Directories under HAI_PLATFORM_PATH that ``run`` creates before starting."""
    root = cfg.hai_platform_path
    dirs = {"log": root / "log", "home": root / "home", "workspace": root / "workspace"}
    if not cfg.external_database_url:
        dirs["postgres"] = root / "postgres"
    if not cfg.external_redis_url:
        dirs["redis"] = root / "redis"
    dirs["environments"] = root / "environments"  # the specs the base environments build
    return dirs


def config_digest(cfg: UpConfig) -> str:
    """Hash of what the servers read at start (init.sql and override.toml)."""
    text = render_init_sql(cfg) + "\0" + render_override(cfg)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def kubeconfig_source(cfg: UpConfig) -> Path:
    """The kubeconfig mounted into the servers (backend kubernetes)."""
    return cfg.kubeconfig or cfg.hai_platform_path / "kubeconfig" / "config"


def environment(cfg: UpConfig) -> dict[str, str]:
    """What the image's entrypoint reads (the same for every service)."""
    return {
        "POSTGRES_USER": cfg.postgres_user,
        "POSTGRES_PASSWORD": cfg.postgres_password,
        "HAI_PG_PORT": str(cfg.postgres_port),
        "HAI_PG_LISTEN": cfg.bind_address,
        "HAI_REDIS_PORT": str(cfg.redis_port),
        "HAI_REDIS_LISTEN": cfg.bind_address,
        "REDIS_PASSWORD": cfg.redis_password,
        "HAI_CONFIG_FILE": "/etc/hai/override.toml",
        "HAI_INIT_SQL": "/etc/hai/init.sql",
        "HAI_HOME": HOME,
        "HAI_ADMIN_TOKEN": cfg.admin_token,
        "HAI_ADMIN_USER": cfg.admin_user,
        "HAI_INSTALLATION_FILE": INSTALLATION_IN_CONTAINER,
    }


def _service(cfg: UpConfig, command: list[str], volumes: list[str]) -> Service:
    return {
        "image": cfg.base_image,
        "command": command,
        "network_mode": "host",
        # docker-init as PID 1: reaps rank processes whose wrapper died (the local backend
        # runs ranks inside the server container) and forwards signals
        "init": True,
        "restart": "unless-stopped",
        "stop_grace_period": "60s",
        "environment": environment(cfg),
        "volumes": list(volumes),
    }


def render_compose(cfg: UpConfig) -> dict[str, Any]:
    dirs = host_dirs(cfg)
    root = cfg.hai_platform_path
    services: dict[str, Service] = {}
    log = f"{dirs['log']}:{LOG_DIR}"
    if not cfg.external_database_url:
        services["postgres"] = _service(
            cfg, ["postgres"], [f"{dirs['postgres']}:/var/lib/postgresql/data", log]
        )
    if not cfg.external_redis_url:
        services["redis"] = _service(cfg, ["redis"], [f"{dirs['redis']}:/var/lib/redis", log])
    volumes = [
        log,
        f"{dirs['home']}:{HOME}",
        f"{root / 'init.sql'}:/etc/hai/init.sql:ro",
        f"{root / 'override.toml'}:/etc/hai/override.toml:ro",
        f"{root / 'installation.json'}:{INSTALLATION_IN_CONTAINER}:ro",
        f"{dirs['workspace']}:{dirs['workspace']}",
        # haienv: the same path as on the host (an environment works only where it was made)
        f"{envs_root(cfg)}:{envs_root(cfg)}",
        f"{dirs['environments']}:{SPECS_IN_CONTAINER}:ro",
    ]
    if cfg.hai_backend == "kubernetes":
        volumes.append(f"{kubeconfig_source(cfg)}:{KUBECONFIG_IN_CONTAINER}:ro")
    else:  # EXTRA_MOUNTS: the local backend's ranks run in the server containers
        volumes += [
            f"{m.source}:{m.target}{':ro' if m.read_only else ''}" for m in cfg.extra_mounts
        ]
    depends = [name for name in ("postgres", "redis") if name in services]
    digest = config_digest(cfg)
    for i in range(cfg.server_replicas):
        port = str(cfg.server_port + i)
        server = _service(cfg, ["server", "--host", cfg.bind_address, "--port", port], volumes)
        # the files the servers read at start are bind mounts: a new digest makes compose
        # recreate the servers, so a changed config (users, nodes, settings) reaches them
        server["labels"] = {CONFIG_LABEL: digest}
        if depends:
            server["depends_on"] = list(depends)
        services[f"server-{i}"] = server
    doc = {"name": cfg.compose_project, "services": services}
    check_host_network(doc)
    return doc


GPU_REQUEST = {  # compose's device request, served by the NVIDIA container runtime
    "driver": "nvidia",
    "count": "all",
    "capabilities": ["gpu", "utility", "compute"],  # utility: nvidia-smi inside
}


def with_gpus(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with every host's GPU requested for the services that run ranks: the servers
    of the local backend (ranks are their children). Pure; the provider decides when."""
    out = {**doc, "services": dict(doc.get("services") or {})}
    for name, service in out["services"].items():
        command = service.get("command") or []
        if command[:1] == ["server"]:
            devices = {"resources": {"reservations": {"devices": [dict(GPU_REQUEST)]}}}
            out["services"][name] = {**service, "deploy": devices}
    return out


def gpu_decision(cfg: UpConfig, engine_has_nvidia: bool) -> bool | str:
    """True: request the GPUs; False: none; a str: the reason to refuse (pure).

    Only the local backend runs ranks in the servers. ``NODE_GPUS`` empty: the GPUs when the
    engine has the NVIDIA runtime; 0: none; N > 0: the runtime is required."""
    if cfg.hai_backend != "local" or cfg.node_gpus == 0:
        return False
    if engine_has_nvidia:
        return True
    if cfg.node_gpus is None:
        return False
    return (
        f"NODE_GPUS={cfg.node_gpus} but the Docker engine has no NVIDIA runtime: install the "
        "NVIDIA container toolkit (nvidia-ctk runtime configure), or set NODE_GPUS empty or 0"
    )


def check_host_network(doc: dict[str, Any]) -> None:
    """Refuse a service without ``network_mode: host`` (compose would create a bridge)."""
    for name, service in doc.get("services", {}).items():
        if service.get("network_mode") not in ("host", "none"):
            raise ValueError(
                f"compose service {name!r} has no network_mode: host; compose would create a "
                "bridge network, which must never happen on these machines"
            )
    if doc.get("networks"):
        raise ValueError("the compose file declares networks; only the host network is allowed")


def compose_yaml(cfg: UpConfig) -> str:
    return dump(render_compose(cfg))
