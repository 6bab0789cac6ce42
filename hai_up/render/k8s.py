"""Kubernetes manifests of the platform (a list of dicts, in apply order) and node labels.

Namespaces; the backend's minimal RBAC (``hai_server/backends/kubernetes/rbac.yaml``, read as
data, namespaces rewritten); a Secret (URLs, passwords, admin token, init.sql); a ConfigMap
(override.toml without passwords); PostgreSQL (StatefulSet) and Redis (Deployment) with their
Services unless EXTERNAL_* URLs are given; the server Deployment; its Service and Ingress;
the base environments' ConfigMap and build Job (render/base_envs.py) when specs are selected.
The image's entrypoint is kept: containers get ``args`` (its CMD), never ``command``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import yaml

from hai_up.changes import ANNOTATION, applied, encode, label_key
from hai_up.config import UpConfig
from hai_up.errors import UpError
from hai_up.render.base_envs import render_base_envs
from hai_up.render.init_sql import render_init_sql
from hai_up.render.override import HOME, LOG_DIR, envs_root, render_override
from hai_up.render.yamlout import dump_all

Obj = dict[str, Any]
SECRET = "hai-platform"
CONFIGMAP = "hai-platform-config"
SERVICE = "hai-platform-svc"
SERVICE_ACCOUNT = "hai-server"
CONFIG_HASH = "hai.platform/config-sha256"
MANAGED = {"app.kubernetes.io/part-of": "hai-platform", "app.kubernetes.io/managed-by": "hai-up"}


def rbac_documents() -> list[Obj]:
    """The server's RBAC as the Kubernetes backend ships it (without importing the server)."""
    spec = importlib.util.find_spec("hai_server")
    if spec is None or not spec.submodule_search_locations:
        raise UpError("hai_server is not installed: its backends/kubernetes/rbac.yaml is needed")
    path = Path(next(iter(spec.submodule_search_locations))) / "backends/kubernetes/rbac.yaml"
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _meta(name: str, namespace: str | None, component: str) -> Obj:
    meta: Obj = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta["labels"] = {**MANAGED, "app.kubernetes.io/component": component}
    return meta


CLUSTER_SCOPED = ("ClusterRole", "ClusterRoleBinding")


def _rbac(cfg: UpConfig) -> list[Obj]:
    """The shipped RBAC in our namespaces. Its cluster-scoped objects are named after the
    platform namespace: two installations on one cluster would otherwise replace each other's
    binding (the second run's subject wins) and one's down would delete the other's role."""
    out = []
    for doc in rbac_documents():
        kind = doc["kind"]
        if kind in CLUSTER_SCOPED:
            doc["metadata"]["name"] = f"{doc['metadata']['name']}-{cfg.platform_namespace}"
            if kind == "ClusterRoleBinding" and doc["roleRef"]["kind"] == "ClusterRole":
                doc["roleRef"]["name"] = f"{doc['roleRef']['name']}-{cfg.platform_namespace}"
        if kind in ("Role", "RoleBinding"):
            doc["metadata"]["namespace"] = cfg.task_namespace
        elif kind == "ServiceAccount":
            doc["metadata"]["namespace"] = cfg.platform_namespace
        for subject in doc.get("subjects", []):
            subject["namespace"] = cfg.platform_namespace
        doc["metadata"].setdefault("labels", {}).update(
            {**MANAGED, "app.kubernetes.io/component": "rbac"}
        )
        out.append(doc)
    return out


def database_url(cfg: UpConfig) -> str:
    if cfg.external_database_url:
        return cfg.external_database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    return (
        f"postgresql+psycopg://{cfg.postgres_user}:{cfg.postgres_password}"
        f"@hai-postgres:{cfg.postgres_port}/hai"
    )


def redis_url(cfg: UpConfig) -> str:
    if cfg.external_redis_url:
        return cfg.external_redis_url
    auth = f":{cfg.redis_password}@" if cfg.redis_password else ""
    return f"redis://{auth}hai-redis:{cfg.redis_port}/0"


def _secret_env(name: str, key: str) -> Obj:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": SECRET, "key": key}}}


def _affinity(cfg: UpConfig) -> Obj:
    if not cfg.manager_nodes:
        return {}
    term = {
        "matchFields": [
            {"key": "metadata.name", "operator": "In", "values": list(cfg.manager_nodes)}
        ]
    }
    return {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}
            }
        }
    }


def _host_dir(name: str, path: Path) -> Obj:
    return {"name": name, "hostPath": {"path": str(path), "type": "DirectoryOrCreate"}}


def _workload(cfg: UpConfig, kind: str, name: str, replicas: int, pod: Obj) -> Obj:
    labels = {"app.kubernetes.io/name": name}
    spec: Obj = {
        "replicas": replicas,
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": {**labels, **MANAGED}},
            "spec": {**pod, **_affinity(cfg)},
        },
    }
    if kind == "StatefulSet":
        spec["serviceName"] = name
    elif replicas == 1:
        spec["strategy"] = {"type": "Recreate"}  # one writer of its data directory
    meta = _meta(name, cfg.platform_namespace, name)
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": spec}


def _service(cfg: UpConfig, name: str, selector: str, port: int, target: int) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, cfg.platform_namespace, selector),
        "spec": {
            "selector": {"app.kubernetes.io/name": selector},
            "ports": [{"name": "tcp", "port": port, "targetPort": target, "protocol": "TCP"}],
        },
    }


def _postgres(cfg: UpConfig) -> list[Obj]:
    container = {
        "name": "postgres",
        "image": cfg.base_image,
        "args": ["postgres"],
        "env": [
            {"name": "POSTGRES_USER", "value": cfg.postgres_user},
            _secret_env("POSTGRES_PASSWORD", "postgres-password"),
            {"name": "HAI_PG_PORT", "value": str(cfg.postgres_port)},
            {"name": "HAI_PG_LISTEN", "value": "0.0.0.0"},
        ],
        "ports": [{"containerPort": cfg.postgres_port, "name": "postgres"}],
        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}],
    }
    pod = {
        "terminationGracePeriodSeconds": 60,
        "containers": [container],
        "volumes": [_host_dir("data", cfg.hai_platform_path / "postgres")],
    }
    return [
        _service(cfg, "hai-postgres", "hai-postgres", cfg.postgres_port, cfg.postgres_port),
        _workload(cfg, "StatefulSet", "hai-postgres", 1, pod),
    ]


def _redis(cfg: UpConfig) -> list[Obj]:
    container = {
        "name": "redis",
        "image": cfg.base_image,
        "args": ["redis"],
        "env": [
            {"name": "HAI_REDIS_PORT", "value": str(cfg.redis_port)},
            {"name": "HAI_REDIS_LISTEN", "value": "0.0.0.0"},
            _secret_env("REDIS_PASSWORD", "redis-password"),
        ],
        "ports": [{"containerPort": cfg.redis_port, "name": "redis"}],
        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/redis"}],
    }
    pod = {
        "containers": [container],
        "volumes": [_host_dir("data", cfg.hai_platform_path / "redis")],
    }
    return [
        _service(cfg, "hai-redis", "hai-redis", cfg.redis_port, cfg.redis_port),
        _workload(cfg, "Deployment", "hai-redis", 1, pod),
    ]


def _server(cfg: UpConfig, config_hash: str) -> Obj:
    container = {
        "name": "server",
        "image": cfg.base_image,
        "args": ["server", "--host", "0.0.0.0", "--port", str(cfg.server_port)],
        "env": [
            {"name": "HAI_CONFIG_FILE", "value": "/etc/hai/override.toml"},
            {"name": "HAI_INIT_SQL", "value": "/etc/hai/init.sql"},
            {"name": "HAI_HOME", "value": HOME},
            {"name": "HAI_BACKEND", "value": cfg.hai_backend},
            _secret_env("HAI_DATABASE_URL", "database-url"),
            _secret_env("HAI_REDIS_URL", "redis-url"),
            _secret_env("HAI_ADMIN_TOKEN", "admin-token"),
            {"name": "HAI_ADMIN_USER", "value": cfg.admin_user},
        ],
        "ports": [{"containerPort": cfg.server_port, "name": "http"}],
        "readinessProbe": {
            "httpGet": {"path": "/healthz", "port": cfg.server_port},
            "periodSeconds": 5,
        },
        "volumeMounts": [
            {
                "name": "config",
                "mountPath": "/etc/hai/override.toml",
                "subPath": "override.toml",
                "readOnly": True,
            },
            {
                "name": "init-sql",
                "mountPath": "/etc/hai/init.sql",
                "subPath": "init.sql",
                "readOnly": True,
            },
            {"name": "log", "mountPath": LOG_DIR},
            {"name": "home", "mountPath": HOME},
            # haienv: the same path as on the host (the submit checks an environment exists)
            {"name": "envs", "mountPath": envs_root(cfg), "readOnly": True},
        ],
    }
    pod = {
        "serviceAccountName": SERVICE_ACCOUNT,
        "containers": [container],
        "volumes": [
            {"name": "config", "configMap": {"name": CONFIGMAP}},
            {
                "name": "init-sql",
                "secret": {
                    "secretName": SECRET,
                    "items": [{"key": "init.sql", "path": "init.sql"}],
                },
            },
            _host_dir("log", cfg.hai_platform_path / "log"),
            {"name": "home", "emptyDir": {}},
            _host_dir("envs", Path(envs_root(cfg))),
        ],
    }
    server = _workload(cfg, "Deployment", "hai-server", cfg.server_replicas, pod)
    # a new init.sql / override.toml / secret rolls the servers (they apply them at start)
    server["spec"]["template"]["metadata"]["annotations"] = {CONFIG_HASH: config_hash}
    return server


def _ingress(cfg: UpConfig) -> Obj:
    backend = {"service": {"name": SERVICE, "port": {"number": 80}}}
    rule: Obj = {"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}
    if cfg.ingress_host:
        rule = {"host": cfg.ingress_host, **rule}
    spec: Obj = {"rules": [rule]}
    if cfg.ingress_class:
        spec = {"ingressClassName": cfg.ingress_class, **spec}
    meta = _meta("hai-platform", cfg.platform_namespace, "hai-server")
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": spec}


def render_manifests(cfg: UpConfig) -> list[Obj]:
    """Every object to apply, in apply order (namespaces first, the entrance last)."""
    namespaces = list(dict.fromkeys([cfg.platform_namespace, cfg.task_namespace]))
    out: list[Obj] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(ns, None, "namespace")}
        for ns in namespaces
    ]
    out += _rbac(cfg)
    secret: dict[str, str] = {
        "database-url": database_url(cfg),
        "redis-url": redis_url(cfg),
        "admin-token": cfg.admin_token,
        "postgres-password": cfg.postgres_password,
        "redis-password": cfg.redis_password,
        "init.sql": render_init_sql(cfg),
    }
    override = render_override(cfg, for_kubernetes=True)
    digest = hashlib.sha256(json.dumps([secret, override], sort_keys=True).encode()).hexdigest()
    out.append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": _meta(SECRET, cfg.platform_namespace, "config"),
            "type": "Opaque",
            "stringData": secret,
        }
    )
    # what this config applies, without secrets: the next run says what changed against it
    meta = _meta(CONFIGMAP, cfg.platform_namespace, "config")
    meta["annotations"] = {ANNOTATION: encode(applied(cfg, override))}
    out.append(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta,
            "data": {"override.toml": override},
        }
    )
    if not cfg.external_database_url:
        out += _postgres(cfg)
    if not cfg.external_redis_url:
        out += _redis(cfg)
    out.append(_server(cfg, digest))
    entrance = _service(cfg, SERVICE, "hai-server", 80, cfg.server_port)
    if cfg.service_type != "ClusterIP":  # SERVICE_TYPE: LoadBalancer as the original had
        entrance["spec"]["type"] = cfg.service_type
    out.append(entrance)
    out.append(_ingress(cfg))
    out += render_base_envs(cfg, _meta, _affinity(cfg))  # built once the objects exist
    return out


def render_node_labels(cfg: UpConfig) -> list[Obj]:
    """Label patches of TRAINING_NODES / JUPYTER_NODES: ``{MARS_PREFIX}_mars_group=<group>``."""
    key = label_key(cfg)
    return [{"node": node, "labels": {key: group}} for node, group in cfg.node_groups]


def to_yaml(objs: list[Obj]) -> str:
    return dump_all(objs)
