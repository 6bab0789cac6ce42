"""The platform against a real Kubernetes control plane (tests/support/kube; kwok kubelets).

1. cached start: etcd, kube-apiserver, controller manager, scheduler and kwok up with 4
   Ready nodes, and the resident memory of the five processes;
2. submit -> pod created / pod Running / task running, for single-node tasks submitted one
   after another to the whole server (API, reconciler, policy; HAI_BACKEND=kubernetes, as the
   rbac.yaml service account); times seen by an admin watch and by polling the task API;
3. pod events per second the backend's watch applies while kwok drives a burst of pods
   (created by the admin, labelled as the backend's) through Pending -> Running -> deleted.

Usage: python benchmarks/bench_k8s_real.py [--tasks 10] [--pods 100]
Needs the binaries (``task k8s-build``). Prints figures, then ONE JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.support.kube import harness, versions  # noqa: E402


def rss_mib(pids: dict[str, int]) -> float:
    total = 0
    for pid in pids.values():
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def watch_pods(api, ns: str, seen: dict[str, dict[str, float]], stop: threading.Event) -> None:
    from kubernetes import watch

    w = watch.Watch()
    for event in w.stream(api.list_namespaced_pod, ns, timeout_seconds=600):
        now = time.monotonic()
        pod = event["object"]
        times = seen.setdefault(pod.metadata.name, {})
        times.setdefault("created", now)
        if pod.status.phase == "Running":
            times.setdefault("running", now)
        if stop.is_set():
            w.stop()


def bench_platform(cluster, ns: str, kubeconfig: Path, shared: Path, tasks: int) -> dict:
    from litestar.testing import TestClient

    from hai_server.app import create_app
    from hai_server.backends.kubernetes.config import KubernetesConfig, SharedStorage
    from hai_server.settings import SchedulerSettings, Settings

    token = "bench-k8s-real"
    headers = {"Authorization": f"Bearer {token}"}
    settings = Settings(
        home=shared.parent / "home",
        backend="kubernetes",
        kubernetes=KubernetesConfig(
            namespace=ns,
            kubeconfig=str(kubeconfig),
            shared=SharedStorage(server_path=str(shared)),
            pod_delete_grace_s=0,
        ),
        log_dir=shared / "logs",
        admin_user="root",
        admin_token=token,
        scheduler=SchedulerSettings(
            tick_s=1.0, kill_grace_s=0, default_group="grp-a", default_quota="unlimited"
        ),
    )
    seen: dict[str, dict[str, float]] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=watch_pods, args=(cluster.api, ns, seen, stop), daemon=True)
    watcher.start()
    created, running, task_running = [], [], []
    body = {"argv": ["python3", "train.py"], "workdir": "/w", "kind": "exec", "nodes": 1}
    with TestClient(create_app(settings), timeout=30) as client:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            nodes = client.get("/api/v1/nodes", headers=headers).json()["nodes"]
            if len([n for n in nodes if n["group"] == "grp-a"]) == 2:
                break
            time.sleep(0.1)
        for _ in range(tasks):
            t0 = time.monotonic()
            task_id = client.post("/api/v1/tasks", json=body, headers=headers).json()["id"]
            while client.get(f"/api/v1/tasks/{task_id}", headers=headers).json()["state"] != (
                "running"
            ):
                if time.monotonic() - t0 > 60:
                    raise RuntimeError(f"task {task_id} never ran")
                time.sleep(0.005)
            task_running.append((time.monotonic() - t0) * 1000)
            (name,) = [n for n in seen if f"-{task_id}-0-" in n]
            while "running" not in seen[name]:
                time.sleep(0.005)
            created.append((seen[name]["created"] - t0) * 1000)
            running.append((seen[name]["running"] - t0) * 1000)
            cluster.exit_pod(ns, name, 0)
            while client.get(f"/api/v1/tasks/{task_id}", headers=headers).json()["state"] != (
                "succeeded"
            ):
                time.sleep(0.02)
    stop.set()

    def med(values: list[float]) -> float:
        return round(statistics.median(values), 1)

    return {
        "tasks": tasks,
        "pod_created_ms": med(created),
        "pod_running_ms": med(running),
        "task_running_ms": med(task_running),
        "task_running_max_ms": round(max(task_running), 1),
    }


def bench_events(cluster, ns: str, kubeconfig: Path, shared: Path, pods: int) -> dict:
    from hai_server.backends.kubernetes import KubernetesBackend, render
    from hai_server.backends.kubernetes.config import KubernetesConfig, SharedStorage

    config = KubernetesConfig(
        namespace=ns,
        kubeconfig=str(kubeconfig),
        shared=SharedStorage(server_path=str(shared)),
        installation="bench",
    )
    stamps: list[float] = []

    async def run() -> dict:
        backend = KubernetesBackend(config)
        await backend.open()
        applied = backend.pods.on_event

        def counted(etype: str, obj: dict) -> None:
            stamps.append(time.monotonic())
            applied(etype, obj)

        backend.pods.on_event = counted
        names = [f"bench-{i}" for i in range(pods)]
        nodes = [n for n, _, _ in harness.NODES]
        t0 = time.monotonic()
        for i, name in enumerate(names):
            labels = {
                **render.attempt_labels(1000 + i, 0, "bench", "bench"),
                render.L_RANK: "0",
                render.L_WORLD: "1",
            }
            cluster.api.create_namespaced_pod(
                ns,
                {
                    "metadata": {"name": name, "labels": labels},
                    "spec": {
                        "nodeName": nodes[i % len(nodes)],
                        "containers": [{"name": "hai-experiment", "image": "x"}],
                    },
                },
            )
        create_s = time.monotonic() - t0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            phases = [p.status.phase for p in cluster.pods(ns, "hai.platform/installation=bench")]
            if len(phases) == pods and all(p == "Running" for p in phases):
                break
            await asyncio.sleep(0.2)
        for name in names:
            cluster.api.delete_namespaced_pod(name, ns, grace_period_seconds=0)
        while cluster.pods(ns, "hai.platform/installation=bench"):
            await asyncio.sleep(0.2)
        await asyncio.sleep(1)
        await backend.close()
        span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
        return {
            "pods": pods,
            "events": len(stamps),
            "span_s": round(span, 2),
            "events_per_s": round(len(stamps) / span, 1) if span else None,
            "admin_create_s": round(create_s, 2),
        }

    return asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--pods", type=int, default=100)
    args = parser.parse_args()
    if versions.missing_binaries():
        reason = f"not built: {', '.join(versions.missing_binaries())} (task k8s-build)"
        print(reason)
        print(json.dumps({"bench": "k8s_real", "skipped": reason}))
        return 0
    from tests.support.kube_fixtures import KubeCluster

    with tempfile.TemporaryDirectory(prefix="hai-bench-kube-") as tmp:
        t0 = time.monotonic()
        plane = harness.start(Path(tmp) / "plane")
        start_s = time.monotonic() - t0
        try:
            cluster = KubeCluster(plane.admin_kubeconfig, plane, start_s)
            time.sleep(2)
            rss = rss_mib(plane.pids)
            print(f"cached start: {start_s:.1f} s (4 Ready nodes), RSS of the plane {rss:.0f} MiB")
            shared = Path(tmp) / "shared"
            shared.mkdir()
            kubeconfig = cluster.namespace("bench")
            platform = bench_platform(cluster, "bench", kubeconfig, shared, args.tasks)
            print(
                f"submit -> pod created {platform['pod_created_ms']} ms, pod Running "
                f"{platform['pod_running_ms']} ms, task running {platform['task_running_ms']} ms"
                f" (median of {args.tasks}; max {platform['task_running_max_ms']} ms)"
            )
            events = bench_events(cluster, "bench", kubeconfig, shared, args.pods)
            print(
                f"pod events applied by the backend's watch: {events['events']} in "
                f"{events['span_s']} s = {events['events_per_s']} events/s ({args.pods} pods)"
            )
        finally:
            plane.stop()
    print(
        json.dumps(
            {
                "bench": "k8s_real",
                "kubernetes": versions.KUBERNETES,
                "etcd": versions.ETCD,
                "kwok": versions.KWOK,
                "cached_start_s": round(start_s, 1),
                "plane_rss_mib": round(rss),
                "platform": platform,
                "events": events,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
