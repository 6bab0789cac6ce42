"""``hai-up run -p k8s`` against the kmock API emulator: run, status, re-run, upgrade, down."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from typer.testing import CliRunner

from hai_up.cli import app
from tests.support.fake_admin import FakeServer, fake_admin_api
from tests.support.k8s_emulator import EmulatorThread, PlatformEmulator, node
from tests.support.up import values

runner = CliRunner()
KINDS = [
    ("Namespace", "list_namespace", None),
    ("Deployment", "list_deployment_for_all_namespaces", "apps"),
    ("StatefulSet", "list_stateful_set_for_all_namespaces", "apps"),
    ("Service", "list_service_for_all_namespaces", None),
    ("Secret", "list_secret_for_all_namespaces", None),
    ("ConfigMap", "list_config_map_for_all_namespaces", None),
    ("ServiceAccount", "list_service_account_for_all_namespaces", None),
    ("Ingress", "list_ingress_for_all_namespaces", "net"),
    ("Role", "list_role_for_all_namespaces", "rbac"),
    ("RoleBinding", "list_role_binding_for_all_namespaces", "rbac"),
    ("ClusterRole", "list_cluster_role", "rbac"),
    ("ClusterRoleBinding", "list_cluster_role_binding", "rbac"),
    ("Job", "list_job_for_all_namespaces", "batch"),
]


class Env:
    def __init__(self, emu: EmulatorThread, tmp: Path) -> None:
        self.emu = emu
        self.tmp = tmp
        api = emu.api().api_client
        self.core = k8s.CoreV1Api(api)
        self.apis = {
            None: self.core,
            "apps": k8s.AppsV1Api(api),
            "net": k8s.NetworkingV1Api(api),
            "rbac": k8s.RbacAuthorizationV1Api(api),
            "batch": k8s.BatchV1Api(api),
        }
        self.kubeconfig = tmp / "kubeconfig"
        self.kubeconfig.write_text(kubeconfig(emu.url))
        self.platform = tmp / "platform"

    def config_file(self, server: str | None = None, **overrides: str) -> Path:
        v = values(
            self.tmp,
            **{"HAI_PLATFORM_PATH": str(self.platform), "KUBECONFIG": str(self.kubeconfig),
               **overrides},
        )  # fmt: skip
        path = self.tmp / "config.sh"
        path.write_text("".join(f"export {k}={json.dumps(val)}\n" for k, val in v.items()))
        return path

    def objects(self) -> dict[str, list[str]]:
        out = {}
        for kind, method, api in KINDS:
            items = getattr(self.apis[api], method)().items
            out[kind] = sorted(
                f"{i.metadata.namespace}/{i.metadata.name}"
                if i.metadata.namespace
                else i.metadata.name
                for i in items
            )
        return {k: v for k, v in out.items() if v}

    def emulator_deny(self, method: str, plural: str, status: int) -> None:
        assert self.emu.emulator is not None
        self.emu.emulator.deny[(method, plural)] = status

    def labels(self, name: str) -> dict[str, str]:
        return self.core.read_node(name).metadata.labels or {}


def kubeconfig(url: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "emu", "cluster": {"server": url}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "c", "context": {"cluster": "emu", "user": "u"}}],
            "current-context": "c",
        }
    )


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    emu = EmulatorThread(PlatformEmulator)
    try:
        e = Env(emu, tmp_path)
        for name, group in [
            ("gpu-1", "x"),
            ("gpu-2", "x"),
            ("cpu-1", "x"),
            ("mgr-1", "x"),
            ("other", "x"),
        ]:
            e.core.create_node(node(name, group, label="zone-label"))
        yield e
    finally:
        emu.stop()


def hai_up(*args: str) -> Any:
    return runner.invoke(app, list(args))


EXPECTED = {
    "Namespace": ["hai-platform", "hai-tasks"],
    "Deployment": ["hai-platform/hai-redis", "hai-platform/hai-server"],
    "StatefulSet": ["hai-platform/hai-postgres"],
    "Service": [
        "hai-platform/hai-platform-svc",
        "hai-platform/hai-postgres",
        "hai-platform/hai-redis",
    ],
    "Secret": ["hai-platform/hai-platform"],
    "ConfigMap": ["hai-platform/hai-base-envs", "hai-platform/hai-platform-config"],
    "Job": ["hai-platform/hai-base-envs"],
    "ServiceAccount": ["hai-platform/hai-server"],
    "Ingress": ["hai-platform/hai-platform"],
    "Role": ["hai-tasks/hai-server-tasks"],
    "RoleBinding": ["hai-tasks/hai-server-tasks"],
    "ClusterRole": ["hai-server-nodes-hai-platform"],
    "ClusterRoleBinding": ["hai-server-nodes-hai-platform"],
}
LABEL = "hai-platform-one_mars_group"


def test_run_status_rerun_upgrade_down(env: Env) -> None:
    cfg = env.config_file()
    r = hai_up("run", "-c", str(cfg), "-p", "k8s")
    assert r.exit_code == 0, r.output
    assert env.objects() == EXPECTED
    assert env.labels("gpu-1")[LABEL] == "training" and env.labels("cpu-1")[LABEL] == "jupyter_cpu"
    assert LABEL not in env.labels("other")
    assert sorted(p.name for p in env.platform.iterdir()) == [
        "docker-compose.yaml",
        "envs",
        "init.sql",
        "installation.json",
        "k8s.yaml",
        "log",
        "node-labels.yaml",
        "override.toml",
        "workspace",
    ]
    # the users' workspaces, owned by their uid (USER_INFO), as the original created them
    alice = env.platform / "workspace" / "alice"
    assert (alice.stat().st_uid, alice.stat().st_mode & 0o777) == (1000, 0o750)
    server = env.apis["apps"].read_namespaced_deployment("hai-server", "hai-platform")
    assert server.spec.replicas == 2

    r = hai_up("status", "-c", str(cfg))
    assert r.exit_code == 0, r.output
    st = json.loads(r.stdout)
    assert st["ready"] is False and st["workloads"]["hai-server"]["replicas"] == 2
    for name, n in (("hai-server", 2), ("hai-redis", 1)):
        env.apis["apps"].patch_namespaced_deployment_status(
            name, "hai-platform", {"status": {"replicas": n, "readyReplicas": n}}
        )
    env.apis["apps"].patch_namespaced_stateful_set_status(
        "hai-postgres", "hai-platform", {"status": {"replicas": 1, "readyReplicas": 1}}
    )
    assert json.loads(hai_up("status", "-c", str(cfg)).stdout)["ready"] is True

    r = hai_up("run", "-c", str(cfg))  # idempotent
    assert r.exit_code == 0, r.output
    assert "replaced Deployment hai-server" in r.stdout and "created" not in r.stdout
    assert env.objects() == EXPECTED

    cfg = env.config_file(BASE_IMAGE="hai-platform/platform:v2")
    r = hai_up("upgrade", "-c", str(cfg))
    assert r.exit_code == 0, r.output
    server = env.apis["apps"].read_namespaced_deployment("hai-server", "hai-platform")
    assert server.spec.template.spec.containers[0].image == "hai-platform/platform:v2"
    assert env.objects() == EXPECTED

    r = hai_up("down", "-c", str(cfg))  # no terminal to ask, no -y: nothing deleted
    assert r.exit_code == 1
    assert r.stderr.startswith("hai-up: down would delete the platform's objects in namespace")
    assert r.stderr.rstrip().endswith(": confirm with -y")
    assert env.objects() == EXPECTED

    r = hai_up("down", "-y", "-c", str(cfg))
    assert r.exit_code == 0, r.output
    assert env.objects() == {}
    assert LABEL not in env.labels("gpu-1")
    assert (env.platform / "init.sql").exists()  # files and data are kept


def test_existing_namespace_is_kept_by_down(env: Env) -> None:
    env.core.create_namespace(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "hai-tasks"}}
    )
    cfg = env.config_file()
    assert hai_up("run", "-c", str(cfg)).exit_code == 0
    assert hai_up("down", "-y", "-c", str(cfg)).exit_code == 0
    assert env.objects() == {"Namespace": ["hai-tasks"]}


def test_two_installations_keep_their_own_cluster_rbac(env: Env) -> None:
    """The cluster-scoped binding is per platform namespace: a second installation does not
    take the first one's node access, and its down leaves the first one's role alone."""
    rbac = env.apis["rbac"]
    assert hai_up("run", "-c", str(env.config_file())).exit_code == 0
    other = env.config_file(
        PLATFORM_NAMESPACE="hai-b", TASK_NAMESPACE="hai-b-tasks",
        HAI_PLATFORM_PATH=str(env.tmp / "platform-b"),
    )  # fmt: skip
    r = hai_up("run", "-c", str(other))
    assert r.exit_code == 0, r.output
    for ns in ("hai-platform", "hai-b"):
        binding = rbac.read_cluster_role_binding(f"hai-server-nodes-{ns}")
        assert [(s.name, s.namespace) for s in binding.subjects] == [("hai-server", ns)]
        assert binding.role_ref.name == f"hai-server-nodes-{ns}"
    assert hai_up("down", "-y", "-c", str(other)).exit_code == 0
    kept = env.objects()
    assert kept["ClusterRole"] == kept["ClusterRoleBinding"] == ["hai-server-nodes-hai-platform"]


def test_down_of_data_another_installation_owns_is_refused(env: Env) -> None:
    """A renamed PLATFORM_NAMESPACE on the same HAI_PLATFORM_PATH: down says whose data it is
    and changes nothing (compose's down says so too)."""
    cfg = env.config_file()
    assert hai_up("run", "-c", str(cfg)).exit_code == 0
    before = env.objects()
    renamed = env.config_file(PLATFORM_NAMESPACE="hai-other")
    r = hai_up("down", "-y", "-c", str(renamed))
    assert r.exit_code == 2, r.output
    assert r.stderr.strip() == (
        f"hai-up: down: HAI_PLATFORM_PATH {env.platform} belongs to the k8s installation (k8s "
        "namespace 'hai-platform'), not to this configuration's k8s installation (k8s namespace "
        "'hai-other'); nothing changed (bring the owner down with its own configuration)"
    )
    assert env.objects() == before
    cfg = env.config_file()  # (config_file rewrites the one file)
    assert hai_up("down", "-y", "-c", str(cfg)).exit_code == 0  # the owner's config still can


def test_upgrade_before_run_is_refused(env: Env) -> None:
    r = hai_up("upgrade", "-c", str(env.config_file()))
    assert r.exit_code == 1
    assert r.stderr.strip() == (
        "hai-up: nothing to upgrade: no Deployment hai-server in namespace hai-platform; "
        "run hai-up run first"
    )
    assert env.objects() == {} and not env.platform.exists()


def test_failure_mid_apply_rolls_back_this_runs_objects(env: Env) -> None:
    assert env.emulator_deny("POST", "ingresses", 403) is None
    r = hai_up("run", "-c", str(env.config_file()))
    assert r.exit_code == 1
    line = r.stderr.strip()
    assert "\n" not in line and "Traceback" not in r.output
    assert line.startswith("hai-up: create Ingress hai-platform in hai-platform: HTTP 403")
    assert "rolled back 15 change(s) of this run" in line
    assert env.objects() == {}
    assert LABEL not in env.labels("gpu-1")


def test_missing_node_changes_nothing(env: Env) -> None:
    r = hai_up("run", "-c", str(env.config_file(TRAINING_NODES="gpu-1 gpu-9", MANAGER_NODES="m2")))
    assert r.exit_code == 2
    assert r.stderr.strip() == (
        "hai-up: not in the cluster: node 'gpu-9' (TRAINING_NODES), 'm2' (MANAGER_NODES); "
        "expected existing node names"
    )
    assert env.objects() == {} and not env.platform.exists()


def test_local_backend_is_refused_on_kubernetes(env: Env) -> None:
    r = hai_up("run", "-c", str(env.config_file(HAI_BACKEND="local")))
    assert r.exit_code == 2
    assert r.stderr == (
        "hai-up: bad configuration: HAI_BACKEND='local': expected kubernetes with -p k8s "
        "(the local backend runs ranks inside the server container: use -p docker-compose)\n"
    )
    assert env.objects() == {} and not env.platform.exists()


def test_bad_config_touches_nothing(env: Env) -> None:
    r = hai_up("run", "-c", str(env.config_file(SERVER_PORT="abc", USER_INFO="bob")))
    assert r.exit_code == 2
    assert r.stderr == (
        "hai-up: bad configuration: SERVER_PORT='abc': expected an integer port 1-65535; "
        "USER_INFO entry 'bob': expected name:uid:role:token[:group]\n"
    )
    assert env.objects() == {} and not env.platform.exists()
    assert all(LABEL not in env.labels(n) for n in ("gpu-1", "gpu-2", "cpu-1"))


def test_unreachable_cluster_exits_4(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    kc = tmp_path / "kubeconfig"
    kc.write_text(kubeconfig(f"http://127.0.0.1:{port}"))
    v = values(tmp_path, HAI_PLATFORM_PATH=str(tmp_path / "platform"), KUBECONFIG=str(kc))
    cfg = tmp_path / "config.sh"
    cfg.write_text("".join(f"export {k}={json.dumps(val)}\n" for k, val in v.items()))
    for command in ("run", "status", "down", "upgrade"):
        r = hai_up(command, "-c", str(cfg))
        assert r.exit_code == 4, (command, r.output)
        assert r.stderr.startswith(
            f"hai-up: the Kubernetes API at http://127.0.0.1:{port} is unreachable"
        ), r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "platform").exists()


def test_unreadable_kubeconfig_is_a_config_error(tmp_path: Path) -> None:
    v = values(tmp_path, KUBECONFIG=str(tmp_path / "nope"))
    cfg = tmp_path / "config.sh"
    cfg.write_text("".join(f"export {k}={json.dumps(val)}\n" for k, val in v.items()))
    r = hai_up("status", "-c", str(cfg))
    assert r.exit_code == 2 and r.stderr.startswith(
        f"hai-up: KUBECONFIG={tmp_path / 'nope'}: cannot load it"
    )


def test_second_installation_on_the_same_data_is_refused(env: Env) -> None:
    """Another platform namespace (or provider) on the same HAI_PLATFORM_PATH: nothing applied."""
    assert hai_up("run", "-c", str(env.config_file())).exit_code == 0
    before = env.objects()
    r = hai_up("run", "-c", str(env.config_file(PLATFORM_NAMESPACE="hai-two")))
    assert r.exit_code == 2
    assert "belongs to the k8s installation (k8s namespace 'hai-platform')" in r.stderr
    assert env.objects() == before
    r = hai_up("run", "-p", "docker-compose", "-c", str(env.config_file(HAI_BACKEND="local")))
    assert r.exit_code == 2 and "refusing to start the docker-compose installation" in r.stderr
    assert env.objects() == before


def _secret_value(env: Env, key: str) -> str:
    secret = env.core.read_namespaced_secret("hai-platform", "hai-platform")
    if secret.data and key in secret.data:
        return base64.b64decode(secret.data[key]).decode()
    return str(secret.string_data[key])


def _admin_token(env: Env) -> str:
    return _secret_value(env, "admin-token")


def test_generated_admin_token_is_kept_and_printed_once(env: Env) -> None:
    r = hai_up("run", "-c", str(env.config_file(ADMIN_TOKEN="")))
    assert r.exit_code == 0, r.output
    (line,) = [x for x in r.stdout.splitlines() if "admin token (printed this once)" in x]
    token = line.rsplit(": ", 1)[1]
    assert _admin_token(env) == token and len(token) >= 16
    r = hai_up("upgrade", "-c", str(env.config_file(ADMIN_TOKEN="")))
    assert r.exit_code == 0 and "printed this once" not in r.stdout  # kept, not regenerated
    assert _admin_token(env) == token


def test_base_envs_job_kept_when_unchanged_replaced_when_changed(env: Env) -> None:
    specs = env.tmp / "specs"
    specs.mkdir()
    (specs / "base.toml").write_text('name = "base"\n')
    cfg = env.config_file(BASE_ENVS_DIR=str(specs))
    batch = env.apis["batch"]

    def job() -> Any:
        return batch.read_namespaced_job("hai-base-envs", "hai-platform")

    r = hai_up("run", "-c", str(cfg), "-p", "k8s")
    assert r.exit_code == 0, r.output
    assert "created Job hai-base-envs" in r.stdout
    spec = env.core.read_namespaced_config_map("hai-base-envs", "hai-platform").data
    assert spec == {"base.toml": 'name = "base"\n'}
    first = job().metadata.annotations["hai.platform/job-digest"]
    pod = job().spec.template.spec
    assert pod.security_context.run_as_user == 990
    assert pod.volumes[0].host_path.path == str(env.platform / "envs")
    assert (env.platform / "envs/platform").stat().st_uid == 990  # BASE_ENVS_UID owns it

    r = hai_up("run", "-c", str(cfg), "-p", "k8s")  # unchanged: the Job is left alone
    assert r.exit_code == 0, r.output
    assert "kept Job hai-base-envs" in r.stdout

    (specs / "base.toml").write_text('name = "base"\n[environment]\nA = "1"\n')
    r = hai_up("run", "-c", str(cfg), "-p", "k8s")  # changed: deleted and made again
    assert r.exit_code == 0, r.output
    assert "replaced Job hai-base-envs" in r.stdout
    assert job().metadata.annotations["hai.platform/job-digest"] != first
    assert env.objects()["Job"] == ["hai-platform/hai-base-envs"]


def test_run_converges_on_a_changed_config(env: Env) -> None:
    assert hai_up("run", "-c", str(env.config_file())).exit_code == 0
    users = f"alice:1000:internal:{'a' * 20}:team-a carol:1002:internal:{'c' * 20}"
    r = hai_up("run", "-c", str(env.config_file(TRAINING_NODES="gpu-1 other", USER_INFO=users)))
    assert r.exit_code == 0, r.output
    said = [x for x in r.stdout.splitlines() if "changed:" in x]
    assert said == [
        "hai-up: changed: nodes added: other (training)",
        "hai-up: changed: nodes removed: gpu-2 (their group label is removed)",
        "hai-up: changed: users added: carol",
        "hai-up: changed: users no longer in USER_INFO: bob (still in the database: hai-cli "
        "admin user disable NAME)",
    ]
    assert env.labels("other")[LABEL] == "training" and LABEL not in env.labels("gpu-2")
    assert "carol" in _secret_value(env, "init.sql")
    # an admin's own label on a dropped node is not hai-up's to remove
    env.core.patch_node("other", {"metadata": {"labels": {LABEL: "admins-own"}}})
    r = hai_up("run", "-c", str(env.config_file(USER_INFO=users)))
    assert r.exit_code == 0, r.output
    assert env.labels("other")[LABEL] == "admins-own" and env.labels("gpu-2")[LABEL] == "training"


def test_down_with_task_pods_and_no_server_url_refuses_unless_forced(env: Env) -> None:
    cfg = env.config_file()
    assert hai_up("run", "-c", str(cfg)).exit_code == 0
    _task_pod(env, "7")
    before = env.objects()
    for command in (["down", "-y"], ["upgrade"]):
        r = hai_up(*command, "-c", str(cfg))
        assert r.exit_code == 2, r.output
        assert r.stderr.startswith(
            "hai-up: 1 task(s) have pods in namespace hai-tasks but SERVER_URL is empty"
        )
        assert env.objects() == before
    r = hai_up("down", "-y", "--force", "-c", str(cfg))
    assert r.exit_code == 0, r.output
    assert "going on without notice (--force)" in r.stdout
    assert env.objects() == {}


def test_secrets_are_kept_only_after_the_preflight_and_user_tokens_generated(env: Env) -> None:
    users = "alice:1000:internal: bob:1001:external:bob-token-0123456789"
    r = hai_up(
        "run", "-c", str(env.config_file(ADMIN_TOKEN="", USER_INFO=users, MANAGER_NODES="m2"))
    )
    assert r.exit_code == 2 and "'m2' (MANAGER_NODES)" in r.stderr
    assert "printed this once" not in r.stdout and not env.platform.exists()  # nothing kept

    r = hai_up("run", "-c", str(env.config_file(ADMIN_TOKEN="", USER_INFO=users)))
    assert r.exit_code == 0, r.output
    (line,) = [x for x in r.stdout.splitlines() if "token of user alice (printed this once)" in x]
    token = line.rsplit(": ", 1)[1]
    assert len(token) >= 16
    assert hashlib.sha256(token.encode()).hexdigest() in _secret_value(env, "init.sql")
    kept = json.loads((env.platform / "generated-secrets.json").read_text())
    assert kept["USER_INFO:alice"] == token and "USER_INFO:bob" not in kept
    r = hai_up("run", "-c", str(env.config_file(ADMIN_TOKEN="", USER_INFO=users)))
    assert r.exit_code == 0 and "printed this once" not in r.stdout  # kept, not made again


def _task_pod(env: Env, task: str) -> None:
    labels = {"app.kubernetes.io/managed-by": "hai-platform", "hai.platform/task-id": task}
    env.core.create_namespaced_pod(
        "hai-tasks",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"hai-alice-{task}-0-0", "labels": labels},
            "spec": {"containers": [{"name": "rank", "image": "t:1"}]},
        },
    )


def test_an_upgrade_failing_after_the_drain_says_so_and_the_next_run_resumes(env: Env) -> None:
    assert hai_up("run", "-c", str(env.config_file())).exit_code == 0
    _task_pod(env, "3")
    state = FakeServer({"gpu-1": False, "gpu-2": True}, tasks=1)  # gpu-2: an admin's cordon
    with fake_admin_api(state) as url:
        env.emulator_deny("PATCH", "nodes", 403)  # labelling the new node fails
        more = "gpu-1 gpu-2 other"
        r = hai_up("upgrade", "-c", str(env.config_file(SERVER_URL=url, TRAINING_NODES=more)))
        assert r.exit_code == 1, r.output
        assert "suspending 1 task(s) with notice (cordoning 1 node(s))" in r.stdout
        assert r.stderr.startswith("hai-up: label node other: HTTP 403")
        assert r.stderr.rstrip().endswith(
            "the 1 suspended task(s) stay queued and the nodes cordoned until a hai-up run succeeds"
        )
        assert state.nodes == {"gpu-1": True, "gpu-2": True}
        assert json.loads(hai_up("status", "-c", str(env.config_file())).stdout)[
            "cordoned_by_hai_up"
        ] == ["gpu-1"]

        assert env.emu.emulator is not None
        env.emu.emulator.deny.clear()
        status = {"observedGeneration": 99, "replicas": 2, "updatedReplicas": 2}
        env.apis["apps"].patch_namespaced_deployment_status(
            "hai-server", "hai-platform", {"status": {**status, "availableReplicas": 2}}
        )
        r = hai_up("run", "-c", str(env.config_file(SERVER_URL=url)))
        assert r.exit_code == 0, r.output
        assert "uncordoned 1 node(s): the suspended tasks are scheduled again" in r.stdout
        assert state.nodes == {"gpu-1": False, "gpu-2": True}  # the admin's cordon stays
        assert not (env.platform / "drained.json").exists()
