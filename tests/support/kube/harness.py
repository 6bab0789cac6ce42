"""Start and stop a real Kubernetes control plane on 127.0.0.1 for the tests.

etcd, kube-apiserver (RBAC on, its own PKI), kube-controller-manager (service accounts,
garbage collection), kube-scheduler (pods are pinned by node affinity, someone must bind
them) and kwok (fake nodes with ``nvidia.com/gpu`` capacity and a fake pod lifecycle), every
one on a free port of 127.0.0.1, from the binaries ``build.py`` put in the cache.

``python -m tests.support.kube.harness up`` starts one in the background (its last line is
the admin kubeconfig's path; a second ``up`` finds it running and prints the same path),
``down`` stops it. The pytest fixture (``tests/support/kube_fixtures.py``) uses
:func:`start` in-process and stops it at the end of the session.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support.kube import stages, versions
from tests.support.kube.pki import Pki, make_pki

#: the fake GPU nodes: two groups in two zones, 8 GPUs each
NODES = (
    ("gpu-a1", "grp-a", "zone-1"),
    ("gpu-a2", "grp-a", "zone-1"),
    ("gpu-b1", "grp-b", "zone-2"),
    ("gpu-b2", "grp-b", "zone-2"),
)
GPUS_PER_NODE = 8
POD_LOG_LINE = "hello from the pod log (kwok)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def default_dir() -> Path:
    return versions.version_dir() / "run"


@dataclass
class ControlPlane:
    dir: Path
    url: str = ""
    pids: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def admin_kubeconfig(self) -> Path:
        return self.dir / "admin.kubeconfig"

    @property
    def pki(self) -> Pki:
        return Pki(self.dir / "pki")

    @property
    def state_file(self) -> Path:
        return self.dir / "state.json"

    # -------------------------------------------------------------- talking to it
    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki.ca_crt))
        ctx.load_cert_chain(str(self.pki.crt("admin")), str(self.pki.key("admin")))
        return ctx

    def request(self, method: str, path: str, body: Any = None, timeout: float = 5) -> Any:
        """One admin call on the API server (JSON in, JSON out)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        ctype = "application/merge-patch+json" if method == "PATCH" else "application/json"
        req.add_header("Content-Type", ctype)
        with urllib.request.urlopen(req, timeout=timeout, context=self.ssl_context()) as resp:
            raw = resp.read()
        return json.loads(raw) if raw[:1] in (b"{", b"[") else raw.decode()

    def ready(self) -> bool:
        try:
            return self.request("GET", "/readyz", timeout=2) == "ok"
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def apply(self, obj: dict) -> None:
        """Create ``obj`` (admin); an existing one is left as it is."""
        kind = obj["kind"]
        ns = obj["metadata"].get("namespace")
        group = obj["apiVersion"]
        base = "/api/v1" if group == "v1" else f"/apis/{group}"
        plural = {
            "Namespace": "namespaces",
            "ServiceAccount": "serviceaccounts",
            "Role": "roles",
            "RoleBinding": "rolebindings",
            "ClusterRole": "clusterroles",
            "ClusterRoleBinding": "clusterrolebindings",
            "ResourceQuota": "resourcequotas",
            "Node": "nodes",
        }[kind]
        path = f"{base}/namespaces/{ns}/{plural}" if ns else f"{base}/{plural}"
        try:
            self.request("POST", path, obj)
        except urllib.error.HTTPError as exc:
            if exc.code != 409:
                raise

    def server_kubeconfig(self, namespace: str) -> Path:
        """A kubeconfig of the ``hai-server`` ServiceAccount of ``rbac.yaml``, bound to
        ``namespace`` (the namespace is created; the Role and bindings are applied there)."""
        self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        for doc in rbac_documents(namespace):
            self.apply(doc)
        token = self.request(
            "POST",
            f"/api/v1/namespaces/{namespace}/serviceaccounts/hai-server/token",
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": 86400},
            },
        )["status"]["token"]
        path = self.dir / f"server-{namespace}.kubeconfig"
        write_kubeconfig(path, self.url, self.pki.ca_crt, user={"token": token}, ns=namespace)
        return path

    # -------------------------------------------------------------- stopping
    def stop(self) -> None:
        """Stop the components in reverse order (kube-apiserver is slow on SIGTERM: kill it)."""
        order = ["kwok", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"]
        for name in order:
            pid = self.pids.get(name)
            if pid is None:
                continue
            proc = self.procs.get(name)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + (1 if name == "kube-apiserver" else 3)
            while time.monotonic() < deadline and _alive(pid, proc):
                time.sleep(0.05)
            if _alive(pid, proc):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(5)
        self.pids.clear()
        self.procs.clear()
        self.state_file.unlink(missing_ok=True)


def _alive(pid: int, proc: subprocess.Popen | None) -> bool:
    if proc is not None:
        return proc.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie of a process we did not start still "exists": read its state
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def rbac_documents(namespace: str) -> list[dict]:
    """``hai_server/backends/kubernetes/rbac.yaml`` with its namespace set to ``namespace``."""
    import hai_server.backends.kubernetes as kpkg

    path = Path(kpkg.__file__).with_name("rbac.yaml")
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    for doc in docs:
        if "namespace" in doc["metadata"]:
            doc["metadata"]["namespace"] = namespace
        for subject in doc.get("subjects", ()):
            subject["namespace"] = namespace
        if doc["kind"] in ("ClusterRoleBinding",):  # one per namespace: bindings of other SAs
            doc["metadata"]["name"] = f"{doc['metadata']['name']}-{namespace}"
    return docs


def write_kubeconfig(
    path: Path, url: str, ca: Path, *, user: dict[str, str], ns: str = "default"
) -> None:
    conf = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "hai-test", "cluster": {"server": url, "certificate-authority": str(ca)}}
        ],
        "users": [{"name": "user", "user": user}],
        "contexts": [
            {
                "name": "hai-test",
                "context": {"cluster": "hai-test", "user": "user", "namespace": ns},
            }
        ],
        "current-context": "hai-test",
    }
    path.write_text(yaml.safe_dump(conf))
    path.chmod(0o600)


def node_object(name: str, group: str, zone: str, gpus: int = GPUS_PER_NODE) -> dict:
    capacity = {"cpu": "64", "memory": "512Gi", "pods": "110", "nvidia.com/gpu": str(gpus)}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake"},
            "labels": {
                "type": "kwok",
                "kubernetes.io/hostname": name,
                "mars_group": group,
                "topology.kubernetes.io/zone": zone,
            },
        },
        "spec": {},
        "status": {"capacity": capacity, "allocatable": capacity},
    }


def _die_with_parent() -> None:
    """In the child: SIGKILL when the process that started it dies (a killed pytest leaves no
    control plane behind)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _spawn(cp: ControlPlane, name: str, args: list[str], *, detach: bool) -> None:
    log = (cp.dir / "logs" / f"{name}.log").open("ab")
    proc = subprocess.Popen(
        [str(versions.bin_dir() / name), *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=cp.dir,
        start_new_session=detach,
        preexec_fn=None if detach else _die_with_parent,
    )
    log.close()
    cp.procs[name] = proc
    cp.pids[name] = proc.pid


def _wait(what: str, pred, cp: ControlPlane, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, proc in cp.procs.items():
            if proc.poll() is not None:
                tail = (cp.dir / "logs" / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(
                    f"{name} exited ({proc.returncode}) while waiting for {what}:\n{tail}"
                )
        with contextlib.suppress(Exception):
            if pred():
                return
        time.sleep(0.1)
    raise RuntimeError(
        f"timed out after {timeout:.0f} s waiting for {what} (logs in {cp.dir}/logs)"
    )


def start(
    directory: Path | None = None, *, detach: bool = False, timeout: float = 120
) -> ControlPlane:
    """Start a fresh control plane in ``directory`` (wiped first) and return once its nodes are
    Ready and the ``default`` ServiceAccount exists. Raises RuntimeError with the reason."""
    missing = versions.missing_binaries()
    if missing:
        raise RuntimeError(
            f"not built: {', '.join(missing)} (run `task k8s-build` or "
            "`python -m tests.support.kube.build`)"
        )
    directory = directory or Path(tempfile.mkdtemp(prefix="hai-kube-"))
    shutil.rmtree(directory, ignore_errors=True)
    (directory / "logs").mkdir(parents=True)
    cp = ControlPlane(directory)
    try:
        _start(cp, detach=detach, timeout=timeout)
    except BaseException:
        cp.stop()
        raise
    return cp


def _start(cp: ControlPlane, *, detach: bool, timeout: float) -> None:
    pki = make_pki(cp.dir / "pki")
    etcd_port, peer_port, api_port, kwok_port = (free_port() for _ in range(4))
    etcd_url = f"http://127.0.0.1:{etcd_port}"
    _spawn(
        cp,
        "etcd",
        [
            "--name=hai-test",
            f"--data-dir={cp.dir / 'etcd'}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-cluster=hai-test=http://127.0.0.1:{peer_port}",
            "--unsafe-no-fsync",
            "--log-level=warn",
        ],
        detach=detach,
    )
    _wait(
        "etcd",
        lambda: b"true" in urllib.request.urlopen(etcd_url + "/health", timeout=1).read(),
        cp,
        30,
    )
    cp.url = f"https://127.0.0.1:{api_port}"
    _spawn(
        cp,
        "kube-apiserver",
        [
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={api_port}",
            f"--tls-cert-file={pki.crt('apiserver')}",
            f"--tls-private-key-file={pki.key('apiserver')}",
            f"--client-ca-file={pki.ca_crt}",
            f"--kubelet-client-certificate={pki.crt('kubelet-client')}",
            f"--kubelet-client-key={pki.key('kubelet-client')}",
            "--kubelet-preferred-address-types=InternalIP",
            f"--service-account-key-file={pki.sa_pub}",
            f"--service-account-signing-key-file={pki.sa_key}",
            "--service-account-issuer=https://kubernetes.default.svc",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--authorization-mode=RBAC",
            "--allow-privileged=true",
            "--enable-priority-and-fairness=false",
            "--profiling=false",
            f"--cert-dir={cp.dir / 'pki'}",
            "--v=1",
        ],
        detach=detach,
    )
    write_kubeconfig(
        cp.admin_kubeconfig,
        cp.url,
        pki.ca_crt,
        user={"client-certificate": str(pki.crt("admin")), "client-key": str(pki.key("admin"))},
    )
    _wait("kube-apiserver /readyz", cp.ready, cp, timeout)
    kubeconfig = f"--kubeconfig={cp.admin_kubeconfig}"
    _spawn(
        cp,
        "kube-controller-manager",
        [
            kubeconfig,
            "--bind-address=127.0.0.1",
            "--secure-port=0",
            "--leader-elect=false",
            "--controllers=*,-node-ipam-controller",
            f"--service-account-private-key-file={pki.sa_key}",
            f"--root-ca-file={pki.ca_crt}",
            "--use-service-account-credentials=false",
            "--concurrent-gc-syncs=5",
            "--v=1",
        ],
        detach=detach,
    )
    _spawn(
        cp,
        "kube-scheduler",
        [
            kubeconfig,
            "--bind-address=127.0.0.1",
            "--secure-port=0",
            "--leader-elect=false",
            "--v=1",
        ],
        detach=detach,
    )
    # the container log kwok serves for every pod, in the CRI log format a kubelet reads
    (cp.dir / "pod.log").write_text(f"2026-01-01T00:00:00.000000000Z stdout F {POD_LOG_LINE}\n")
    (cp.dir / "kwok.yaml").write_text(stages.kwok_config(logs_file=str(cp.dir / "pod.log")))
    _spawn(
        cp,
        "kwok",
        [
            kubeconfig,
            f"--config={cp.dir / 'kwok.yaml'}",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--node-ip=127.0.0.1",
            f"--node-port={kwok_port}",
            f"--server-address=127.0.0.1:{kwok_port}",
            f"--tls-cert-file={pki.crt('kwok')}",
            f"--tls-private-key-file={pki.key('kwok')}",
            "--cidr=10.244.0.1/16",
            "--node-lease-duration-seconds=40",
            "--v=INFO",
        ],
        detach=detach,
    )
    for name, group, zone in NODES:
        cp.apply(node_object(name, group, zone))

    def nodes_ready() -> bool:
        items = cp.request("GET", "/api/v1/nodes")["items"]
        ready = [
            n
            for n in items
            for c in n["status"].get("conditions", ())
            if c["type"] == "Ready"
            and c["status"] == "True"
            # the node lifecycle controller lifts the not-ready taint the API server put on
            and not n["spec"].get("taints")
        ]
        return len(ready) >= len(NODES)

    _wait("kwok nodes Ready", nodes_ready, cp, timeout)
    _wait(
        "the default ServiceAccount (kube-controller-manager)",
        lambda: cp.request("GET", "/api/v1/namespaces/default/serviceaccounts/default"),
        cp,
        timeout,
    )
    cp.state_file.write_text(json.dumps({"url": cp.url, "pids": cp.pids}))


def attach(directory: Path) -> ControlPlane | None:
    """The control plane a detached ``up`` left in ``directory``, when it still answers."""
    cp = ControlPlane(directory)
    try:
        state = json.loads(cp.state_file.read_text())
    except (OSError, ValueError):
        return None
    cp.url = state["url"]
    cp.pids = {k: int(v) for k, v in state["pids"].items()}
    return cp if cp.ready() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a real Kubernetes control plane for the tests")
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument(
        "--dir", type=Path, default=None, help=f"state dir (default {default_dir()})"
    )
    args = parser.parse_args(argv)
    directory = args.dir or default_dir()
    running = attach(directory)
    if args.action == "down":
        if running is None and (directory / "state.json").exists():
            running = ControlPlane(directory)
            running.pids = json.loads(running.state_file.read_text())["pids"]
        if running is not None:
            running.stop()
            print("control plane stopped")
        else:
            print("no control plane running in", directory)
        return 0
    if args.action == "status":
        print(running.admin_kubeconfig if running else "not running")
        return 0 if running else 1
    if running is None:
        begin = time.monotonic()
        try:
            running = start(directory, detach=True)
        except RuntimeError as exc:
            print(f"k8s-up: {exc}", file=sys.stderr)
            return 1
        print(f"control plane up in {time.monotonic() - begin:.1f} s at {running.url}")
    print(running.admin_kubeconfig)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
