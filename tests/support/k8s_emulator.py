"""A stateful Kubernetes API emulator (``kmock``) running in a background thread on 127.0.0.1.

kmock stores what it is sent; this subclass adds the little a real API server does that our
backend relies on: ``metadata.namespace`` from the URL (without it kmock's namespaced
watches drop every event), a ``uid``, a ``resourceVersion`` and a ``creationTimestamp``.
It can also refuse requests (``deny``) to test 403 handling. Label selectors are ignored
by kmock; the backend filters by labels itself.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import itertools
import re
import threading
import time
import uuid
from collections.abc import Coroutine
from typing import Any

import kmock
from kubernetes import client as k8s


class HaiEmulator(kmock.KubernetesEmulator):
    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.deny: dict[tuple[str, str], int] = {}  # (METHOD, plural) -> HTTP status
        self._rv = itertools.count(1)
        for plural, kind, namespaced in [
            ("pods", "Pod", True),
            ("services", "Service", True),
            ("configmaps", "ConfigMap", True),
            ("nodes", "Node", False),
            ("secrets", "Secret", True),  # a Jupyter container's tokens
        ]:
            self.resources[f"v1/{plural}"] = kmock.ResourceInfo(
                namespaced=namespaced,
                kind=kind,
                subresources={"status"} if plural in ("pods", "nodes") else set(),
            )

        self.resources["networking.k8s.io/v1/ingresses"] = kmock.ResourceInfo(
            namespaced=True, kind="Ingress"
        )  # a Jupyter container's /{user}/{name}/ rule

    async def _handle(self, request: kmock.Request) -> Any:
        if request.resource is not None:
            method = str(request.method).upper().rsplit(".", 1)[-1]
            status = self.deny.get((method, request.resource.plural or ""))
            if status:
                raise kmock.KubernetesError(
                    status=status,
                    reason="Forbidden" if status == 403 else "Error",
                    message=(
                        f'{request.resource.plural} is forbidden: User "system:serviceaccount:hai:'
                        f'hai-server" cannot {method.lower()} resource "{request.resource.plural}"'
                    ),
                    details={},
                )
            data = request.data if isinstance(request.data, dict) else None
            if data is not None and request.action == kmock.action.CREATE:
                meta = data.setdefault("metadata", {})
                if request.namespace:
                    meta["namespace"] = request.namespace
                meta.setdefault("uid", str(uuid.uuid4()))
                meta["resourceVersion"] = str(next(self._rv))
                meta.setdefault(
                    "creationTimestamp",
                    datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                )
            elif data is not None and request.action == kmock.action.UPDATE:
                data.setdefault("metadata", {})["resourceVersion"] = str(next(self._rv))
        return await super()._handle(request)


PLATFORM_RESOURCES = [
    # (group/version, plural, kind, namespaced): what hai-up applies to deploy the platform
    ("v1", "namespaces", "Namespace", False),
    ("v1", "secrets", "Secret", True),
    ("v1", "serviceaccounts", "ServiceAccount", True),
    ("apps/v1", "deployments", "Deployment", True),
    ("apps/v1", "statefulsets", "StatefulSet", True),
    ("networking.k8s.io/v1", "ingresses", "Ingress", True),
    ("batch/v1", "jobs", "Job", True),
    ("rbac.authorization.k8s.io/v1", "roles", "Role", True),
    ("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding", True),
    ("rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", False),
    ("rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", False),
]


class PlatformEmulator(HaiEmulator):
    """:class:`HaiEmulator` that also stores the kinds of a platform deployment (hai-up).

    kmock cannot parse the Namespace paths (``/api/v1/namespaces[/name]`` reads as a namespace
    prefix) and has no replace (PUT): namespaces are served under ``/api/v1/hai-namespaces``
    and a PUT is stored as kmock stores a PATCH (a merge, which equals a replace for a body
    that carries every field, as hai-up's do).
    """

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.resources["v1/hai-namespaces"] = kmock.ResourceInfo(namespaced=False, kind="Namespace")
        for gv, plural, kind, namespaced in PLATFORM_RESOURCES[1:]:
            self.resources[f"{gv}/{plural}"] = kmock.ResourceInfo(
                namespaced=namespaced,
                kind=kind,
                subresources={"status"} if plural in ("deployments", "statefulsets") else set(),
            )

    async def __call__(self, raw_request: Any) -> Any:
        url = raw_request.rel_url
        match = re.fullmatch(r"/api/v1/namespaces(/[^/]+)?", url.path)
        changes: dict[str, Any] = {}
        if match:
            path = "/api/v1/hai-namespaces" + (match.group(1) or "")
            changes["rel_url"] = url.with_path(path).with_query(url.query)
        if raw_request.method == "PUT":
            changes["method"] = "PATCH"
        return await super().__call__(raw_request.clone(**changes) if changes else raw_request)


class EmulatorThread:
    """Runs :class:`HaiEmulator` on its own event loop; ``url`` is ready after construction."""

    def __init__(self, emulator_class: type[HaiEmulator] = HaiEmulator) -> None:
        self._emulator_class = emulator_class
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.emulator: HaiEmulator | None = None
        self.url = ""
        self._thread = threading.Thread(target=self._main, name="kmock", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("kmock did not start")

    def _main(self) -> None:
        async def serve() -> None:
            self._stopped = asyncio.Event()
            async with (
                self._emulator_class() as km,
                kmock.Server(km, host="127.0.0.1") as srv,
            ):
                self.emulator = km
                self.loop = asyncio.get_running_loop()
                self.url = str(srv.url).rstrip("/")
                self._ready.set()
                await self._stopped.wait()

        asyncio.run(serve())

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future:
        """Run a coroutine on the emulator's loop (e.g. to inject watch events)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self) -> None:
        if self.loop is not None and self._stopped is not None:
            self.loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(5)

    def api(self) -> k8s.CoreV1Api:
        """A plain client for the test's own reads and writes (playing kubelet and admin)."""
        conf = k8s.Configuration()
        conf.host = self.url
        return k8s.CoreV1Api(k8s.ApiClient(conf))


def node(
    name: str,
    group: str = "default",
    *,
    gpus: int = 8,
    ready: bool = True,
    zone: str = "z1",
    label: str = "mars_group",
    unschedulable: bool = False,
    since: str | None = None,
) -> dict:
    cond: dict[str, Any] = {
        "type": "Ready",
        "status": "True" if ready else "False",
        "reason": "KubeletReady" if ready else "NodeStatusUnknown",
        "message": "" if ready else "Kubelet stopped posting node status.",
    }
    if since:
        cond["lastTransitionTime"] = since
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {label: group, "topology.kubernetes.io/zone": zone}},
        "spec": {"unschedulable": unschedulable},
        "status": {"allocatable": {"nvidia.com/gpu": str(gpus), "cpu": "96"}, "conditions": [cond]},
    }


def pod_event(
    name: str, namespace: str, labels: dict[str, str], node_name: str, stamp: float
) -> dict:
    """A MODIFIED event of a running rank pod, stamped with the time it was sent."""
    return {
        "type": "MODIFIED",
        "object": {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": labels,
                "annotations": {"bench/sent": repr(stamp)},
            },
            "spec": {"nodeName": node_name},
            "status": {"phase": "Running", "containerStatuses": [{"state": {"running": {}}}]},
        },
    }


async def inject(
    km: HaiEmulator,
    events: list[tuple[str, str, dict, str]],
    rate: int,
    seconds: float,
    progress: dict,
) -> None:
    """Put ``rate`` pod events per second on the emulator's pod watch stream."""
    bus = km._buses[kmock.resource(group="", version="v1", plural="pods")]
    batch = max(1, rate // 100)  # every 10 ms
    sent = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        now = time.time()
        await bus.put(*(pod_event(*events[(sent + i) % len(events)], now) for i in range(batch)))
        sent += batch
        progress["sent"] = sent
        ahead = t0 + sent / rate - time.perf_counter()
        if ahead > 0:
            await asyncio.sleep(ahead)
    progress["done"] = True


def serve_forever() -> None:
    """``python -m tests.support.k8s_emulator``: serve on 127.0.0.1, print the URL, stop at stdin EOF.

    Extra endpoint for the benchmark: ``POST /bench/inject`` with JSON
    ``{"events": [[name, namespace, labels, node], ...], "rate": 1000, "seconds": 5}`` starts the
    injection; ``GET /bench/inject`` reports ``{"sent": n, "done": bool}``.
    """
    import json
    import sys

    emu = EmulatorThread()
    km = emu.emulator
    assert km is not None
    progress: dict = {"sent": 0, "done": False}
    tasks: list = []

    async def start(request: kmock.Request) -> dict:
        body = request.data
        progress.update(sent=0, done=False)
        tasks.append(
            asyncio.create_task(
                inject(km, body["events"], int(body["rate"]), float(body["seconds"]), progress)
            )
        )
        return {"started": True}

    km["post /bench/inject"] << start
    km["get /bench/inject"] << (lambda request: dict(progress))
    print(json.dumps({"url": emu.url}), flush=True)
    sys.stdin.read()
    emu.stop()


if __name__ == "__main__":
    serve_forever()
