"""Fixtures of the real-cluster tier: a real kube-apiserver, scheduler and controller manager,
with kwok playing the kubelets (``tests/support/kube``).

``kube_cluster`` (session): the cluster ``HAI_TEST_KUBECONFIG`` names (admin rights; it must
have kwok-managed nodes, e.g. one ``task k8s-up`` started), else a control plane this session
starts from the cached binaries, else the tests skip and say why (not built, build failed).
``kube_ns`` (per test): a fresh namespace with ``rbac.yaml`` applied and a kubeconfig of the
``hai-server`` ServiceAccount, which is what the platform under test uses.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.kube import harness, stages, versions


@dataclass
class KubeCluster:
    kubeconfig: Path
    started_here: harness.ControlPlane | None = None
    start_s: float | None = None
    _api: Any = None

    @property
    def api(self) -> Any:
        """``kubernetes.client.CoreV1Api`` with the admin's credentials."""
        if self._api is None:
            from kubernetes import client as k8s
            from kubernetes import config as k8s_config

            conf = k8s.Configuration()
            k8s_config.load_kube_config(config_file=str(self.kubeconfig), client_configuration=conf)
            self._api = k8s.CoreV1Api(k8s.ApiClient(conf))
        return self._api

    def kwok_nodes(self) -> list[Any]:
        return list(self.api.list_node(label_selector="type=kwok").items)

    def create(self, obj: dict) -> None:
        """Create a namespaced or cluster object (admin), ignoring "already exists"."""
        from kubernetes import utils
        from kubernetes.client.rest import ApiException

        try:
            utils.create_from_dict(self.api.api_client, obj)
        except utils.FailToCreateError as exc:
            if not all(isinstance(e, ApiException) and e.status == 409 for e in exc.api_exceptions):
                raise

    def namespace(self, name: str, labels: dict[str, str] | None = None) -> Path:
        """Create ``name`` with ``rbac.yaml`` applied; returns the kubeconfig of its
        ``hai-server`` ServiceAccount (a short-lived token from the TokenRequest API)."""
        self.create(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": name, "labels": labels or {}},
            }
        )
        for doc in harness.rbac_documents(name):
            self.create(doc)
        # pods are refused until the controller manager has made the "default" ServiceAccount
        deadline = time.monotonic() + 30
        while not [
            a
            for a in self.api.list_namespaced_service_account(name).items
            if a.metadata.name == "default"
        ]:
            if time.monotonic() > deadline:
                raise RuntimeError(f'no ServiceAccount "default" in {name} after 30 s')
            time.sleep(0.1)
        token = self.api.create_namespaced_service_account_token(
            "hai-server", name, {"spec": {"expirationSeconds": 86400}}
        ).status.token
        conf = self.api.api_client.configuration
        path = self.kubeconfig.parent / f"server-{name}.kubeconfig"
        harness.write_kubeconfig(
            path, conf.host, Path(conf.ssl_ca_cert), user={"token": token}, ns=name
        )
        return path

    def delete_namespace(self, name: str) -> None:
        with contextlib.suppress(Exception):
            self.api.delete_namespace(name, grace_period_seconds=0)

    # -------------------------------------------------------------- playing the kubelet
    def exit_pod(self, ns: str, pod: str, code: int) -> None:
        """Make the container of ``pod`` exit with ``code`` (kwok's ``hai-pod-exit`` stage)."""
        body = {"metadata": {"annotations": {stages.EXIT_ANNOTATION: str(code)}}}
        self.api.patch_namespaced_pod(pod, ns, body)

    def set_node_ready(self, node: str, ready: bool) -> None:
        """NotReady through kwok's ``hai-node-not-ready`` stage; Ready again by dropping it."""
        value = None if ready else "true"
        self.api.patch_node(node, {"metadata": {"labels": {stages.NOT_READY_LABEL: value}}})

    def pods(self, ns: str, selector: str = "") -> list[Any]:
        return list(self.api.list_namespaced_pod(ns, label_selector=selector).items)


def _skip_reason() -> str:
    reason = f"the real Kubernetes control plane is not built in {versions.bin_dir()}"
    failed = versions.version_dir() / "build-failed"
    if failed.exists():
        reason += f"; the last build failed: {failed.read_text().strip()[:400]}"
    else:
        reason += "; build it with `task k8s-build` (about 15 min) or set HAI_TEST_KUBECONFIG"
    return reason


@pytest.fixture(scope="session")
def kube_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    given = os.environ.get("HAI_TEST_KUBECONFIG")
    if given:
        cluster = KubeCluster(Path(given))
        try:
            nodes = cluster.kwok_nodes()
        except Exception as exc:
            pytest.skip(f"HAI_TEST_KUBECONFIG={given} does not answer: {exc}")
        if not nodes:
            pytest.skip(
                f"HAI_TEST_KUBECONFIG={given} has no kwok nodes (label type=kwok): this tier "
                "drives pods through kwok; start one with `task k8s-up`"
            )
        yield cluster
        return
    if versions.missing_binaries():
        pytest.skip(_skip_reason())
    begin = time.monotonic()
    try:
        plane = harness.start(tmp_path_factory.mktemp("kube"))
    except RuntimeError as exc:
        pytest.fail(f"the control plane did not start: {exc}")
    cluster = KubeCluster(plane.admin_kubeconfig, plane, time.monotonic() - begin)
    try:
        yield cluster
    finally:
        plane.stop()


@dataclass
class KubeNamespace:
    cluster: KubeCluster
    name: str
    kubeconfig: Path  # the hai-server ServiceAccount's
    shared: Path  # the "shared storage" the server and (fake) pods see
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    def config(self, **overrides: Any) -> Any:
        from hai_server.backends.kubernetes.config import KubernetesConfig, SharedStorage

        values: dict[str, Any] = {
            "namespace": self.name,
            "kubeconfig": str(self.kubeconfig),
            "shared": SharedStorage(server_path=str(self.shared)),
            "notready_grace_s": 1,
            "pod_delete_grace_s": 1,
            "initial_sync_timeout_s": 10,
        }
        values.update(overrides)
        return KubernetesConfig(**values)

    def pods(self, selector: str = "") -> list[Any]:
        return self.cluster.pods(self.name, selector)


@pytest.fixture
def kube_ns(kube_cluster: KubeCluster, tmp_path: Path) -> Iterator[KubeNamespace]:
    name = f"hai-{secrets.token_hex(3)}"
    kubeconfig = kube_cluster.namespace(name)
    shared = tmp_path / "shared"
    shared.mkdir()
    ns = KubeNamespace(kube_cluster, name, kubeconfig, shared)
    try:
        yield ns
    finally:
        for fn in reversed(ns.cleanup):
            with contextlib.suppress(Exception):
                fn()
        kube_cluster.delete_namespace(name)
