"""``hai-up -p k8s`` against a real kube-apiserver (controllers, scheduler, kwok nodes).

Each test deploys into its own namespaces with its own node label key (``MARS_PREFIX``), so
the shared session cluster's nodes keep their other labels. Under kwok no container runs:
the hai-server Deployment hai-up applies has "Running" pods but no server process, so the
graceful tests run a real ``hai-server`` process on 127.0.0.1 against the harness, as the
ServiceAccount hai-up created, with the ``init.sql`` hai-up rendered, and point hai-up at it
with ``SERVER_URL``. The test acknowledges the suspend notice the way a rank does
(``hai_cli.control`` files in the shared run directory).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hai_cli import control
from hai_up.changes import ANNOTATION
from hai_up.cli import app
from hai_up.render.k8s import CONFIG_HASH
from tests.support.kube import harness
from tests.support.kube_fixtures import KubeCluster
from tests.support.poll import wait
from tests.support.up import values

ADMIN = "admin-token-0123456789"
ALICE = "alice-token-0123456789"
CAROL = "carol-token-0123456789"
BODY = {"argv": ["python3", "-u", "train.py"], "workdir": "/work", "kind": "exec", "nodes": 1}


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Background:
    thread: threading.Thread
    box: list[Result]

    def result(self, timeout: float) -> Result:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"hai-up still running after {timeout} s"
        return self.box[0]


@dataclass
class Deployment:
    """One hai-up installation on the harness: its config, namespaces and node label."""

    cluster: KubeCluster
    tmp: Path
    suffix: str
    server_url: str = ""

    @property
    def ns(self) -> str:
        return f"hup-{self.suffix}"

    @property
    def tasks_ns(self) -> str:
        return f"hup-{self.suffix}-tasks"

    @property
    def label(self) -> str:
        return f"hup{self.suffix}_mars_group"

    @property
    def root(self) -> Path:
        return self.tmp / "shared" / "hai-platform"

    def config(self, **overrides: str) -> Path:
        v = values(
            self.tmp / "shared",
            KUBECONFIG=str(self.cluster.kubeconfig),
            PLATFORM_NAMESPACE=self.ns,
            TASK_NAMESPACE=self.tasks_ns,
            MARS_PREFIX=f"hup{self.suffix}",
            TRAINING_NODES="gpu-a1",
            JUPYTER_NODES="",
            MANAGER_NODES="",
            SERVER_REPLICAS="1",
            INGRESS_HOST="",
            ADMIN_TOKEN=ADMIN,
            USER_INFO=f"alice:1000:internal:{ALICE}",
            PUBLIC_QUOTA="NORMAL=10",
            SERVER_URL=self.server_url,
        )
        v.update(overrides)
        path = self.tmp / "config.sh"
        path.write_text("".join(f"export {k}={json.dumps(val)}\n" for k, val in v.items()))
        return path

    def hai_up(self, *args: str, **overrides: str) -> Result:
        """The CLI in this process (importing the kubernetes client again in a child costs
        ~5 s on the loaded test machine); stdin is no terminal: down without -y refuses."""
        r = CliRunner().invoke(app, [*args, "-p", "k8s", "-c", str(self.config(**overrides))])
        return Result(r.exit_code, r.stdout, r.stderr)

    def start(self, *args: str, **overrides: str) -> Background:
        """``hai_up`` in a thread, for commands that wait on what the test then does."""
        config = self.config(**overrides)
        box: list[Result] = []

        def invoke() -> None:
            r = CliRunner().invoke(app, [*args, "-p", "k8s", "-c", str(config)])
            box.append(Result(r.exit_code, r.stdout, r.stderr))

        thread = threading.Thread(target=invoke, daemon=True)
        thread.start()
        return Background(thread, box)

    # ------------------------------------------------------------------ the cluster's view
    def node_labels(self, node: str) -> dict[str, str]:
        return self.cluster.api.read_node(node).metadata.labels or {}

    def server_deployment(self) -> Any:
        from kubernetes import client

        apps = client.AppsV1Api(self.cluster.api.api_client)
        return apps.read_namespaced_deployment("hai-server", self.ns)

    def secret(self, key: str) -> str:
        secret = self.cluster.api.read_namespaced_secret("hai-platform", self.ns)
        return base64.b64decode(secret.data[key]).decode()

    def gone(self) -> bool:
        """The platform's Deployment is deleted and its namespace going away."""
        from kubernetes.client.rest import ApiException

        try:
            self.server_deployment()
            return False
        except ApiException as exc:
            if exc.status != 404:
                raise
        names = {n.metadata.name: n for n in self.cluster.api.list_namespace().items}
        return self.ns not in names or names[self.ns].status.phase == "Terminating"

    def cleanup(self) -> None:
        for ns in (self.tasks_ns, self.ns):
            self.cluster.delete_namespace(ns)
        for node in harness.NODES:
            with contextlib.suppress(Exception):
                self.cluster.api.patch_node(node[0], {"metadata": {"labels": {self.label: None}}})


@pytest.fixture
def dep(kube_cluster: KubeCluster, tmp_path: Path) -> Iterator[Deployment]:
    d = Deployment(kube_cluster, tmp_path, secrets.token_hex(3))
    try:
        yield d
    finally:
        d.cleanup()


def test_run_converges_nodes_users_and_rolls_the_servers(dep: Deployment) -> None:
    r = dep.hai_up("run")
    assert r.returncode == 0, r.stderr
    assert dep.node_labels("gpu-a1")[dep.label] == "training"
    first = dep.server_deployment().spec.template.metadata.annotations[CONFIG_HASH]
    two = f"alice:1000:internal:{ALICE} carol:1001:internal:{CAROL}"

    r = dep.hai_up("run", TRAINING_NODES="gpu-a1 gpu-a2", USER_INFO=two)
    assert r.returncode == 0, r.stderr
    said = [line for line in r.stdout.splitlines() if "changed:" in line]
    assert said == [
        "hai-up: changed: nodes added: gpu-a2 (training)",
        "hai-up: changed: users added: carol",
    ]
    assert dep.node_labels("gpu-a2")[dep.label] == "training"
    assert "'carol'" in dep.secret("init.sql")
    cm = dep.cluster.api.read_namespaced_config_map("hai-platform-config", dep.ns)
    assert sorted(json.loads(cm.metadata.annotations[ANNOTATION])["users"]) == ["alice", "carol"]
    second = dep.server_deployment().spec.template.metadata.annotations[CONFIG_HASH]
    assert second != first

    def rolled() -> bool:  # the controller manager replaced the pods with the new template
        pods = dep.cluster.pods(dep.ns, "app.kubernetes.io/name=hai-server")
        return bool(pods) and all(
            p.metadata.annotations.get(CONFIG_HASH) == second
            and p.status.phase == "Running"
            and not p.metadata.deletion_timestamp
            for p in pods
        )

    wait(rolled, "the server pods rolled to the new config", 60)

    r = dep.hai_up("run", TRAINING_NODES="gpu-a2", USER_INFO=two)
    assert r.returncode == 0, r.stderr
    assert "hai-up: changed: nodes removed: gpu-a1 (their group label is removed)" in r.stdout
    assert dep.label not in dep.node_labels("gpu-a1")
    assert dep.node_labels("gpu-a2")[dep.label] == "training"

    r = dep.hai_up("down", "-y", TRAINING_NODES="gpu-a2", USER_INFO=two)
    assert r.returncode == 0, r.stderr
    assert "0 task(s) suspended" in r.stdout
    assert dep.label not in dep.node_labels("gpu-a2")
    assert dep.gone()


@dataclass
class Server:
    """A real hai-server process on 127.0.0.1 playing the platform hai-up deployed."""

    url: str
    shared: Path

    def call(self, method: str, path: str, body: Any = None, token: str = ADMIN) -> Any:
        req = urllib.request.Request(
            self.url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"null")

    def task(self, task_id: int) -> dict[str, Any]:
        return self.call("GET", f"/api/v1/tasks/{task_id}", token=ALICE)

    def state(self, task_id: int, *states: str, timeout: float = 30) -> dict[str, Any]:
        return wait(
            lambda: (t := self.task(task_id))["state"] in states and t,
            f"task {task_id} in {states}",
            timeout,
        )

    def nodes(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/api/v1/nodes")["nodes"])

    def ack_notice(self, task_id: int, attempt: int) -> None:
        """What a rank's go_suspend() does once it saw the notice: write its ack."""
        ctl = self.shared / "run" / str(task_id) / str(attempt) / "control"
        wait(lambda: (ctl / control.SUSPEND).exists(), f"the suspend notice of task {task_id}")
        control.write_atomic(Path(control.ack_file(ctl, 0)), f"{time.time():.6f}\n")


@contextlib.contextmanager
def platform_server(dep: Deployment) -> Iterator[Server]:
    """hai-server as the ServiceAccount hai-up created, on the init.sql hai-up rendered."""
    api = dep.cluster.api
    token = api.create_namespaced_service_account_token(
        "hai-server", dep.ns, {"spec": {"expirationSeconds": 3600}}
    ).status.token
    conf = api.api_client.configuration
    kubeconfig = dep.tmp / "server.kubeconfig"
    harness.write_kubeconfig(
        kubeconfig, conf.host, Path(conf.ssl_ca_cert), user={"token": token}, ns=dep.tasks_ns
    )
    shared = dep.tmp / "kube-shared"
    shared.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAI_")}
    env.update(
        {
            "HAI_BACKEND": "kubernetes",
            "HAI_ADMIN_USER": "admin",
            "HAI_ADMIN_TOKEN": ADMIN,
            "HAI_LOG_DIR": str(shared / "logs"),
            "HAI_SCHEDULER__TICK_S": "0.2",
            "HAI_SCHEDULER__DEFAULT_GROUP": "training",
            "HAI_KUBERNETES__NAMESPACE": dep.tasks_ns,
            "HAI_KUBERNETES__KUBECONFIG": str(kubeconfig),
            "HAI_KUBERNETES__MARS_PREFIX": f"hup{dep.suffix}",
            "HAI_KUBERNETES__SHARED__SERVER_PATH": str(shared),
            "HAI_KUBERNETES__POD_DELETE_GRACE_S": "1",
        }
    )
    exe = [sys.executable, "-m", "hai_server.main", "--home", str(dep.tmp / "server-home")]
    init = subprocess.run(
        [*exe, "--init-sql", str(dep.root / "init.sql")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert init.returncode == 0, init.stderr
    port = harness.free_port()
    log = (dep.tmp / "server.log").open("w")
    proc = subprocess.Popen(
        [*exe, "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Server(f"http://127.0.0.1:{port}", shared)
    try:

        def node_seen() -> bool:
            try:
                return any(n["name"] == "gpu-a1" and n["healthy"] for n in server.nodes())
            except OSError:
                assert proc.poll() is None, (dep.tmp / "server.log").read_text()[-2000:]
                return False

        wait(node_seen, "gpu-a1 (labelled by hai-up) in the server's inventory", 60)
        dep.server_url = server.url
        yield server
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(20)
        if proc.poll() is None:
            proc.kill()
        log.close()


def test_upgrade_suspends_the_running_task_with_notice_and_it_resumes(dep: Deployment) -> None:
    assert dep.hai_up("run").returncode == 0
    with platform_server(dep) as srv:
        task = srv.call("POST", "/api/v1/tasks", BODY, token=ALICE)["id"]
        srv.state(task, "running")
        upgrade = dep.start(
            "upgrade",
            BASE_IMAGE="hai-platform/platform:v2",
            PUBLIC_QUOTA="NORMAL=20",
            USER_INFO=f"alice:1000:admin:{ALICE}",
        )
        srv.ack_notice(task, attempt=0)
        r = upgrade.result(timeout=180)
        assert r.returncode == 0, r.stderr
        out = r.stdout
        assert "suspending 1 task(s) with notice (cordoning 1 node(s))" in out
        assert "1 task(s) suspended and requeued" in out
        assert "hai-up: changed: BASE_IMAGE: hai-platform/platform:latest -> " in out
        assert "uncordoned 1 node(s): the suspended tasks are scheduled again" in out
        # a changed quota and role reach the database (the rows still held what the last run set)
        assert "hai-up: changed: public quota NORMAL: 10 -> 20" in out
        rows = srv.call("GET", "/api/v1/admin/quotas?principal=public")["quotas"]
        assert {r["resource"]: r["quota"] for r in rows}["node-training-NORMAL"] == 20
        assert "hai-up: changed: user alice: role internal -> admin" in out
        users = {u["name"]: u["role"] for u in srv.call("GET", "/api/v1/admin/users")["users"]}
        assert users["alice"] == "admin"
        image = dep.server_deployment().spec.template.spec.containers[0].image
        assert image == "hai-platform/platform:v2"
        assert not [n for n in srv.nodes() if n["cordoned"]]
        assert not (dep.root / "drained.json").exists()
        back = srv.state(task, "running")  # resumed: a new attempt on the uncordoned node
        assert back["restart_count"] == 1
        pods = dep.cluster.pods(dep.tasks_ns, f"hai.platform/task-id={task}")
        assert {p.metadata.labels["hai.platform/attempt"] for p in pods} == {"1"}


def test_down_suspends_first_and_asks(dep: Deployment) -> None:
    assert dep.hai_up("run").returncode == 0
    with platform_server(dep) as srv:
        task = srv.call("POST", "/api/v1/tasks", BODY, token=ALICE)["id"]
        srv.state(task, "running")
        r = dep.hai_up("down")  # no terminal and no -y: nothing happens
        assert r.returncode == 1
        assert r.stderr.strip() == (
            f"hai-up: down would delete the platform's objects in namespace {dep.ns} (data kept "
            f"in {dep.root}), suspending 1 running task(s) with notice first: confirm with -y"
        )
        r = dep.hai_up("down", "-y", SERVER_URL="http://127.0.0.1:9")  # a wrong address
        assert r.returncode == 4
        assert r.stderr.startswith(
            f"hai-up: 1 task(s) have pods in namespace {dep.tasks_ns} but the platform's API at "
            "http://127.0.0.1:9 does not answer ("
        )
        assert dep.server_deployment().spec.replicas == 1  # nothing deleted
        assert srv.task(task)["state"] == "running" and srv.task(task)["restart_count"] == 0
        assert not [n for n in srv.nodes() if n["cordoned"]]

        down = dep.start("down", "-y")
        srv.ack_notice(task, attempt=0)
        r = down.result(timeout=120)
        assert r.returncode == 0, r.stderr
        assert "1 task(s) suspended with notice (they resume after the next run)" in r.stdout
        queued = srv.state(task, "queued")
        assert queued["restart_count"] == 1
        assert dep.gone()
        assert dep.label not in dep.node_labels("gpu-a1")
        # the next run uncordons what this drain cordoned (the task's resumption after an
        # uncordon is the upgrade test's: this server's ServiceAccount token died with the
        # namespace, as a real server pod's would, so it cannot start pods any more)
        assert json.loads((dep.root / "drained.json").read_text()) == {"nodes": ["gpu-a1"]}
        state = json.loads(dep.hai_up("status").stdout)
        assert state["cordoned_by_hai_up"] == ["gpu-a1"] and state["ready"] is False
        assert (state["installation"]["provider"], state["installation"]["name"]) == ("k8s", dep.ns)
        names = lambda: {n.metadata.name for n in dep.cluster.api.list_namespace().items}  # noqa: E731
        wait(lambda: not {dep.ns, dep.tasks_ns} & names(), "the namespaces deleted", 60)
        r = dep.hai_up("run")
        assert r.returncode == 0, r.stderr
        assert "uncordoned 1 node(s): the suspended tasks are scheduled again" in r.stdout
        assert not [n for n in srv.nodes() if n["cordoned"]]
        assert not (dep.root / "drained.json").exists()
