"""Renderers: golden files, valid manifests, settings the server accepts, host network only."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from hai_server.backends.kubernetes.config import KubernetesConfig
from hai_server.settings import Settings, toml_to_settings
from hai_up.render import render_all
from hai_up.render.compose import check_host_network, gpu_decision, render_compose
from hai_up.render.k8s import SERVICE, render_manifests, render_node_labels
from hai_up.render.override import render_override
from tests.support.up import config

GOLDEN = Path(__file__).parent / "golden"
BASE_SPEC = 'name = "base"\npackages = []\n[environment]\nPYTHONUNBUFFERED = "1"\n'
CONFIGS = {
    # the specs are read by load_config (hai_up/baseenvs.py): given here as it would have
    "k8s": lambda: dataclasses.replace(config(), base_env_specs=(("base", BASE_SPEC),)),
    "local": lambda: config(
        HAI_BACKEND="local",
        SERVER_REPLICAS="1",
        BIND_ADDRESS="127.0.0.1",
        NODE_GPUS="",
        EXTERNAL_DATABASE_URL="postgresql://hai:pw@db.example:5432/hai",
        EXTERNAL_REDIS_URL="redis://:pw@cache.example:6379/0",
    ),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_golden(name: str) -> None:
    files = render_all(CONFIGS[name]())
    assert files == render_all(CONFIGS[name]())  # deterministic
    for fname, text in files.items():
        path = GOLDEN / f"{name}-{fname}"
        if os.environ.get("HAI_UPDATE_GOLDEN"):
            path.write_text(text)
        assert path.read_text() == text, f"{path} differs (HAI_UPDATE_GOLDEN=1 after a change)"


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_every_manifest_is_valid_strict(name: str) -> None:
    version = kubernetes_validate.latest_version()
    docs = list(yaml.safe_load_all(render_all(CONFIGS[name]())["k8s.yaml"]))
    assert docs == render_manifests(CONFIGS[name]())
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_service_type_and_platform_namespace() -> None:
    """SERVICE_TYPE=LoadBalancer (the original's entrance) and PLATFORM_NAMESPACE honoured."""
    version = kubernetes_validate.latest_version()
    docs = render_manifests(config(SERVICE_TYPE="LoadBalancer", PLATFORM_NAMESPACE="ops"))
    (svc,) = [d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == SERVICE]
    assert svc["spec"]["type"] == "LoadBalancer"
    namespaced = [d for d in docs if "namespace" in d["metadata"]]
    assert {d["metadata"].get("namespace") for d in namespaced} <= {"ops", "hai-tasks"}
    assert any(d["metadata"].get("namespace") == "ops" for d in namespaced)
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)
    default = [d for d in render_manifests(config()) if d["kind"] == "Service"]
    assert all("type" not in d["spec"] for d in default)  # ClusterIP, behind the Ingress


@pytest.mark.parametrize(
    ("change", "recreates"),
    [
        ({"USER_INFO": "carol:1002:internal:carol-token-0123456789"}, True),
        ({"TRAINING_NODES": "gpu-1 gpu-2 gpu-3"}, True),
        ({"PUBLIC_QUOTA": "HIGH=3"}, True),
        ({"NODE_GPUS": "4"}, True),
        ({"BUILD_IMAGES": "0"}, False),
        ({"INGRESS_HOST": "other.example.com"}, False),
    ],
)
def test_compose_servers_carry_the_digest_of_what_they_read(
    change: dict[str, str], recreates: bool
) -> None:
    """A new digest label makes compose recreate the servers: config changes reach them."""
    base = render_compose(config(HAI_BACKEND="local"))["services"]["server-0"]["labels"]
    new = render_compose(config(HAI_BACKEND="local", **change))["services"]["server-0"]["labels"]
    assert (base != new) is recreates


@pytest.mark.parametrize(
    ("overrides", "nvidia", "decision"),
    [
        ({"HAI_BACKEND": "local", "NODE_GPUS": ""}, True, True),  # detected: requested
        ({"HAI_BACKEND": "local", "NODE_GPUS": ""}, False, False),  # CPU box
        ({"HAI_BACKEND": "local", "NODE_GPUS": "0"}, True, False),  # the operator says none
        ({"HAI_BACKEND": "local", "NODE_GPUS": "8"}, True, True),
        ({"HAI_BACKEND": "local", "NODE_GPUS": "8"}, False, "NODE_GPUS=8 but the Docker engine"),
        ({"HAI_BACKEND": "kubernetes", "NODE_GPUS": "8"}, True, False),  # ranks are pods
    ],
)
def test_gpu_decision_table(overrides: dict[str, str], nvidia: bool, decision: bool | str) -> None:
    got = gpu_decision(config(**overrides), nvidia)
    if isinstance(decision, str):
        assert isinstance(got, str) and got.startswith(decision)
    else:
        assert got is decision


def test_extra_mounts_reach_the_ranks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The original's EXTRA_MOUNTS: storage rows (task pods' hostPath mounts on the kubernetes
    backend; tests/hai_up/test_up_init_sql.py applies them), no static mounts any more, and
    the server containers' volumes (local backend: the ranks run there)."""
    from hai_up.render.init_sql import storage_rows

    extra = "/data/sets:/datasets:directory:ro /etc/hai-extra.conf:/opt/extra.conf:file"
    cfg = config(EXTRA_MOUNTS=extra)
    s = _settings(render_override(cfg), tmp_path, monkeypatch)
    assert s.kubernetes.storage_mounts == []
    ws = "/srv/hai/hai-platform/workspace/{user.user_name}"
    assert storage_rows(cfg) == [
        (ws, ws, "Directory", False),
        ("/data/sets", "/datasets", "Directory", True),
        ("/etc/hai-extra.conf", "/opt/extra.conf", "File", False),
    ]
    local = render_compose(config(HAI_BACKEND="local", EXTRA_MOUNTS=extra))["services"]
    assert local["server-0"]["volumes"][-2:] == [
        "/data/sets:/datasets:ro",
        "/etc/hai-extra.conf:/opt/extra.conf",
    ]
    assert "/data/sets:/datasets:ro" not in local["postgres"]["volumes"]


def test_manifests_hold_what_the_platform_needs() -> None:
    cfg = config()
    docs = render_manifests(cfg)
    by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"] == [
        "hai-platform",
        "hai-tasks",
    ]
    server = by[("Deployment", "hai-server")]
    assert server["spec"]["replicas"] == 2
    pod = server["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert "command" not in c and c["args"] == ["server", "--host", "0.0.0.0", "--port", "18080"]
    assert pod["serviceAccountName"] == "hai-server"
    env = {e["name"]: e for e in c["env"]}
    assert env["HAI_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "database-url"
    secret = by[("Secret", "hai-platform")]["stringData"]
    assert secret["database-url"] == (
        "postgresql+psycopg://root:pg-password-fixed@hai-postgres:15432/hai"
    )
    assert secret["redis-url"] == "redis://:redis-password-fixed@hai-redis:16379/0"
    assert "init.sql" in secret and "pg-password-fixed" not in str(
        by[("ConfigMap", "hai-platform-config")]
    )
    ingress = by[("Ingress", "hai-platform")]
    assert ingress["apiVersion"] == "networking.k8s.io/v1"
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["rules"][0]["host"] == "hai.example.com"
    assert by[("StatefulSet", "hai-postgres")]["spec"]["template"]["spec"]["containers"][0][
        "args"
    ] == ["postgres"]
    assert ("Deployment", "hai-redis") in by
    # the server pods only on MANAGER_NODES
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"][0]["matchFields"][0]["values"] == ["mgr-1"]


def test_rbac_is_the_backends_file_with_our_namespaces() -> None:
    shipped = Path(__file__).resolve().parents[2] / "hai_server/backends/kubernetes/rbac.yaml"
    expected = [d for d in yaml.safe_load_all(shipped.read_text()) if d]
    kinds = {"ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}
    got = [d for d in render_manifests(config()) if d["kind"] in kinds]
    # cluster-scoped names carry the platform namespace (two installations on one cluster)
    own = {"ClusterRole", "ClusterRoleBinding"}
    assert [(d["kind"], d["metadata"]["name"]) for d in got] == [
        (d["kind"], d["metadata"]["name"] + ("-hai-platform" if d["kind"] in own else ""))
        for d in expected
    ]
    for mine, theirs in zip(got, expected, strict=True):
        assert mine.get("rules") == theirs.get("rules")
        if "roleRef" in theirs:
            suffix = "-hai-platform" if theirs["roleRef"]["kind"] == "ClusterRole" else ""
            assert mine["roleRef"] == {
                **theirs["roleRef"],
                "name": theirs["roleRef"]["name"] + suffix,
            }
    ns = {d["kind"]: d["metadata"].get("namespace") for d in got}
    assert ns == {
        "ServiceAccount": "hai-platform",
        "Role": "hai-tasks",
        "RoleBinding": "hai-tasks",
        "ClusterRole": None,
        "ClusterRoleBinding": None,
    }
    assert all(s["namespace"] == "hai-platform" for d in got for s in d.get("subjects", []))


def test_external_urls_drop_builtin_databases() -> None:
    cfg = CONFIGS["local"]()
    kinds = {(d["kind"], d["metadata"]["name"]) for d in render_manifests(cfg)}
    assert not {n for _, n in kinds} & {"hai-postgres", "hai-redis"}
    assert set(render_compose(cfg)["services"]) == {"server-0"}


def test_node_labels() -> None:
    assert render_node_labels(config()) == [
        {"node": "gpu-1", "labels": {"hai-platform-one_mars_group": "training"}},
        {"node": "gpu-2", "labels": {"hai-platform-one_mars_group": "training"}},
        {"node": "cpu-1", "labels": {"hai-platform-one_mars_group": "jupyter_cpu"}},
    ]
    assert render_node_labels(config(MARS_PREFIX=""))[0]["labels"] == {"mars_group": "training"}


def _settings(toml: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    path = tmp_path / "override.toml"
    path.write_text(toml)
    for key in list(os.environ):
        if key.startswith("HAI_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HAI_CONFIG_FILE", str(path))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings()


def test_override_is_what_the_server_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config()
    text = render_override(cfg)
    mapped = toml_to_settings(tomllib.loads(text))
    assert (
        mapped["database_url"] == "postgresql+psycopg://root:pg-password-fixed@127.0.0.1:15432/hai"
    )
    assert mapped["redis_url"] == "redis://:redis-password-fixed@127.0.0.1:16379/0"
    s = _settings(text, tmp_path, monkeypatch)
    assert s.backend == "kubernetes" and s.database_url == mapped["database_url"]
    assert s.scheduler.default_group == "training"
    assert s.resolved_log_dir == Path("/var/log/hai/tasks") and s.home == Path("/var/lib/hai")
    k = s.kubernetes
    assert isinstance(k, KubernetesConfig)
    assert (k.namespace, k.group_label, k.default_image) == (
        "hai-tasks",
        "hai-platform-one_mars_group",
        "hai-platform/train:latest",
    )
    assert k.kubeconfig == "/etc/hai/kubeconfig" and not k.in_cluster
    assert k.shared.server_path == "/var/log/hai"
    assert k.shared.source == "/srv/hai/hai-platform/log"
    assert k.storage_mounts == []  # the workspace is a storage row now (init.sql)


def test_override_for_kubernetes_has_no_password_and_takes_urls_from_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = config()
    text = render_override(cfg, for_kubernetes=True)
    assert "pg-password-fixed" not in text and "redis-password-fixed" not in text
    s = _settings(text, tmp_path, monkeypatch, HAI_DATABASE_URL="postgresql+psycopg://u:p@h/hai")
    assert s.database_url == "postgresql+psycopg://u:p@h/hai"
    assert s.kubernetes.in_cluster and s.backend == "kubernetes"


def test_override_local_backend_with_external_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = _settings(render_override(CONFIGS["local"]()), tmp_path, monkeypatch)
    assert s.backend == "local"
    assert s.database_url == "postgresql+psycopg://hai:pw@db.example:5432/hai"
    assert s.redis_url == "redis://:pw@cache.example:6379/0"
    assert (s.local.nodes, s.local.group, s.local.gpus_per_node) == (2, "training", None)


def test_compose_every_service_on_the_host_network() -> None:
    doc = render_compose(config())
    assert set(doc["services"]) == {"postgres", "redis", "server-0", "server-1"}
    assert all(s["network_mode"] == "host" for s in doc["services"].values())
    assert "networks" not in doc and doc["name"] == "hai-platform"
    bad: dict[str, Any] = {"services": {**doc["services"], "extra": {"image": "x"}}}
    with pytest.raises(ValueError, match="'extra' has no network_mode: host"):
        check_host_network(bad)


def test_compose_servers_env_and_mounts() -> None:
    cfg = config()
    services = render_compose(cfg)["services"]
    s1 = services["server-1"]
    assert s1["image"] == "hai-platform/platform:latest"
    assert s1["command"] == ["server", "--host", "0.0.0.0", "--port", "18081"]
    assert s1["depends_on"] == ["postgres", "redis"]
    assert services["postgres"]["command"] == ["postgres"]
    assert services["redis"]["command"] == ["redis"]
    env = s1["environment"]
    assert env["HAI_PG_PORT"] == "15432" and env["HAI_PG_LISTEN"] == "0.0.0.0"
    assert env["HAI_REDIS_PORT"] == "16379" and env["HAI_CONFIG_FILE"] == "/etc/hai/override.toml"
    assert env["HAI_INIT_SQL"] == "/etc/hai/init.sql" and env["HAI_HOME"] == "/var/lib/hai"
    assert env["HAI_ADMIN_TOKEN"] == "admin-token-0123456789"
    root = "/srv/hai/hai-platform"
    assert s1["volumes"] == [
        f"{root}/log:/var/log/hai",
        f"{root}/home:/var/lib/hai",
        f"{root}/init.sql:/etc/hai/init.sql:ro",
        f"{root}/override.toml:/etc/hai/override.toml:ro",
        f"{root}/installation.json:/etc/hai/installation.json:ro",
        f"{root}/workspace:{root}/workspace",
        f"{root}/envs:{root}/envs",  # the server's envs_root, at the host's path
        f"{root}/environments:/etc/hai/environments:ro",
        f"{root}/kubeconfig/config:/etc/hai/kubeconfig:ro",
    ]
    assert services["postgres"]["volumes"][0] == f"{root}/postgres:/var/lib/postgresql/data"
    assert services["redis"]["volumes"][0] == f"{root}/redis:/var/lib/redis"
    yaml_text = render_all(cfg)["docker-compose.yaml"]
    assert "&id" not in yaml_text and "*id" not in yaml_text  # no YAML aliases
