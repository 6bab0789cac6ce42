"""Small builders shared by the Kubernetes tests."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable

from hai_server.backends.base import AttemptSpec, RankSpec, platform_env, rank_env
from hai_server.backends.kubernetes import KubernetesBackend
from hai_server.backends.kubernetes.config import KubernetesConfig
from tests.support.k8s_emulator import node


def spec(
    task_id: int,
    nodes: list[str],
    *,
    shared: str,
    attempt: int = 0,
    user: str = "alice",
    gpus: int = 8,
    image: str | None = "registry.local/hai/train:2024",
    mounts=(),
) -> AttemptSpec:
    log_dir = f"{shared}/log/{user}/{task_id}/{attempt}"
    ranks = tuple(
        RankSpec(
            rank=i,
            node=n,
            env=rank_env(rank=i, node=n, gpus=tuple(range(gpus))),
            gpus=tuple(range(gpus)),
        )
        for i, n in enumerate(nodes)
    )
    env = platform_env(
        task_id=task_id,
        name=f"train-{task_id}",
        user=user,
        attempt=attempt,
        world_size=len(nodes),
        whole_life_state=0,
        log_dir=log_dir,
        user_env={"LR": "0.1"},
    )
    return AttemptSpec(
        task_id=task_id,
        attempt=attempt,
        name=f"train-{task_id}",
        user=user,
        argv=("python3", "-u", "train.py", "--lr", "0.1"),
        workdir=f"/home/{user}/proj",
        env=env,
        ranks=ranks,
        log_dir=log_dir,
        image=image,
        mounts=tuple(mounts),
    )


async def wait_for(
    pred: Callable[[], object], timeout: float = 5.0, what: str = "condition"
) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


NS = "hai"


def running(image: str = "img") -> dict:
    return {
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "hai-experiment",
                    "image": image,
                    "imageID": "",
                    "ready": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
                }
            ],
        }
    }


def finished(code: int) -> dict:
    return {
        "status": {
            "phase": "Succeeded" if code == 0 else "Failed",
            "containerStatuses": [
                {
                    "name": "hai-experiment",
                    "image": "img",
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "state": {
                        "terminated": {
                            "exitCode": code,
                            "reason": "Completed" if code == 0 else "Error",
                        }
                    },
                }
            ],
        }
    }


def waiting(reason: str, message: str) -> dict:
    return {
        "status": {
            "phase": "Pending",
            "containerStatuses": [
                {
                    "name": "hai-experiment",
                    "image": "registry.local/hai/nope:1",
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"waiting": {"reason": reason, "message": message}},
                }
            ],
        }
    }


async def opened(config: KubernetesConfig) -> tuple[KubernetesBackend, list[int]]:
    backend = KubernetesBackend(config)
    wakeups: list[int] = []
    loop_thread = threading.get_ident()

    def wakeup() -> None:
        assert threading.get_ident() == loop_thread  # called on the event loop, not a watch thread
        wakeups.append(1)

    backend.set_wakeup(wakeup)
    await backend.open()
    return backend, wakeups


def add_nodes(emulator, names: list[str], **kw) -> None:
    api = emulator.api()
    for name in names:
        api.create_node(node(name, **kw))


async def ranks_of(backend: KubernetesBackend, key: tuple[int, int]):
    for obs in await backend.observe():
        if obs.key == key:
            return obs
    return None


def pods_in(emulator) -> dict[str, dict]:
    api = emulator.api()
    items = api.list_namespaced_pod(NS, _preload_content=False)
    return {p["metadata"]["name"]: p for p in json.loads(items.data)["items"]}
