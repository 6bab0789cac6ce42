"""Kubernetes backend figures against the kmock API emulator (127.0.0.1 only).

1. render: the objects of a 64-node task (pure; target < 50 ms);
2. create: ``start()`` of a 64-node task (1 ConfigMap + 1 Service + 64 Pods) on the emulator;
3. pod events: 1,000 pod events per second injected into the emulator's watch stream for a
   few seconds; how many reach the backend's cache, with what delay, how many wake-ups;
4. observe(): the time to build observations for 16 attempts x 64 ranks (1,024 pods).

Usage: python benchmarks/bench_k8s.py [--seconds 5] [--rate 1000]
Prints readable figures, then ONE JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from kubernetes import client as k8s  # noqa: E402

from hai_server.backends.kubernetes import KubernetesBackend, render  # noqa: E402
from hai_server.backends.kubernetes.config import KubernetesConfig, SharedStorage  # noqa: E402
from tests.support.k8s import spec  # noqa: E402
from tests.support.k8s_emulator import node  # noqa: E402

NS = "hai"


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def bench_render(shared: str, config: KubernetesConfig, repeat: int = 100) -> dict:
    s = spec(1, [f"gpu-node-{i:03d}" for i in range(64)], shared=shared)
    render.render_attempt(s, config)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        render.render_attempt(s, config)
        times.append((time.perf_counter() - t0) * 1000)
    return {"median_ms": statistics.median(times), "p95_ms": pct(times, 95), "repeat": repeat}


class EmulatorProcess:
    """The emulator in its own process, so it does not share the GIL with the backend."""

    def __init__(self) -> None:
        path = os.path.join(ROOT, "tests", "k8s", "k8s_emulator.py")
        self.proc = subprocess.Popen(
            [sys.executable, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.url = json.loads(self.proc.stdout.readline())["url"]
        conf = k8s.Configuration()
        conf.host = self.url
        self.api = k8s.CoreV1Api(k8s.ApiClient(conf))

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        resp = self.api.api_client.rest_client.request(
            method, self.url + path, headers={"Content-Type": "application/json"}, body=body
        )
        return json.loads(resp.read() if hasattr(resp, "read") else resp.data)

    def stop(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


async def bench_cluster(shared: str, config: KubernetesConfig, rate: int, seconds: float) -> dict:
    emu = EmulatorProcess()
    for i in range(64):
        emu.api.create_node(node(f"gpu-node-{i:03d}"))
    cfg = config.model_copy(update={"api_server": emu.url, "namespace": NS})
    backend = KubernetesBackend(cfg)
    wakeups = 0

    def wakeup() -> None:
        nonlocal wakeups
        wakeups += 1

    backend.set_wakeup(wakeup)
    await backend.open()
    out: dict = {}
    try:
        create_ms = []
        cpu_ms = []  # CPU time of this process (all threads): our share of start()
        for task in range(1, 5):
            s = spec(task, [f"gpu-node-{i:03d}" for i in range(64)], shared=shared)
            t0, c0 = time.perf_counter(), time.process_time()
            await backend.start(s)
            create_ms.append((time.perf_counter() - t0) * 1000)
            cpu_ms.append((time.process_time() - c0) * 1000)
        out["create_64"] = {
            "tasks": len(create_ms),
            "first_ms": create_ms[0],
            "median_ms": statistics.median(create_ms),
            "objects": 66,
            "backend_cpu_median_ms": statistics.median(cpu_ms),
            "objects_per_s": 66 / (statistics.median(create_ms) / 1000),
        }

        # Pod events: 16 attempts x 64 ranks; wrap the watcher's hook to time every event.
        lags: list[float] = []
        seen = backend.pods.on_event

        def timed(etype: str, obj: dict) -> None:
            sent = (obj.get("metadata", {}).get("annotations") or {}).get("bench/sent")
            if sent:
                lags.append(time.time() - float(sent))
            seen(etype, obj)

        backend.pods.on_event = timed
        events = [
            [
                f"hai-alice-{t}-0-{r}",
                NS,
                {
                    **render.attempt_labels(t, 0, "alice"),
                    render.L_RANK: str(r),
                    render.L_WORLD: "64",
                },
                f"gpu-node-{r:03d}",
            ]
            for t in range(1, 17)
            for r in range(64)
        ]
        wakeups = 0
        t0 = time.perf_counter()
        emu.call("POST", "/bench/inject", {"events": events, "rate": rate, "seconds": seconds})
        state = {"done": False, "sent": 0}
        while not state.get("done") or len(lags) < state["sent"]:
            await asyncio.sleep(0.1)
            state = await asyncio.to_thread(emu.call, "GET", "/bench/inject")
            if time.perf_counter() - t0 > seconds + 30:
                break
        elapsed = time.perf_counter() - t0
        out["pod_events"] = {
            "target_rate": rate,
            "seconds": seconds,
            "sent": state["sent"],
            "received": len(lags),
            "received_per_s": len(lags) / elapsed,
            "lag_p50_ms": pct(lags, 50) * 1000 if lags else None,
            "lag_p99_ms": pct(lags, 99) * 1000 if lags else None,
            "lag_max_ms": max(lags) * 1000 if lags else None,
            "wakeups": wakeups,
        }

        obs_ms = []
        for _ in range(20):
            t0 = time.perf_counter()
            result = await backend.observe()
            obs_ms.append((time.perf_counter() - t0) * 1000)
        running = sum(1 for o in result for r in o.ranks if r.state == "running")
        out["observe_1024_pods"] = {
            "median_ms": statistics.median(obs_ms),
            "attempts": len(result),
            "running": running,
        }
    finally:
        await backend.close()
        emu.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as shared:
        config = KubernetesConfig(shared=SharedStorage(server_path=shared))
        r = bench_render(shared, config)
        print(
            f"render 64-node task: median {r['median_ms']:.2f} ms, p95 {r['p95_ms']:.2f} ms "
            f"(target < 50 ms: {'OK' if r['median_ms'] < 50 else 'MISSED'})"
        )
        c = asyncio.run(bench_cluster(shared, config, args.rate, args.seconds))
    cr = c["create_64"]
    print(
        f"start() 64-node task on the emulator (66 objects): first {cr['first_ms']:.0f} ms "
        f"(empty emulator), median {cr['median_ms']:.0f} ms over {cr['tasks']} tasks "
        "(kmock's cost per request grows with the objects it stores)"
    )
    print(
        f"  of which CPU in the backend's process: median {cr['backend_cpu_median_ms']:.0f} ms "
        "(render, client validation, JSON, HTTP); the rest is the emulator answering"
    )
    pe = c["pod_events"]
    print(
        f"pod events at {pe['target_rate']}/s for {args.seconds:.0f}s: sent {pe['sent']}, "
        f"received {pe['received']} ({pe['received_per_s']:.0f}/s), lag p50 {pe['lag_p50_ms']:.1f} ms, "
        f"p99 {pe['lag_p99_ms']:.1f} ms, max {pe['lag_max_ms']:.1f} ms, wake-ups {pe['wakeups']}"
    )
    ob = c["observe_1024_pods"]
    print(
        f"observe() 16 attempts x 64 ranks: median {ob['median_ms']:.1f} ms ({ob['running']} running)"
    )
    print(json.dumps({"bench": "k8s", "render_64": r, **c}, sort_keys=True))


if __name__ == "__main__":
    main()
