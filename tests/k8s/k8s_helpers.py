"""Small builders shared by the Kubernetes tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from hai_server.backends.base import AttemptSpec, RankSpec, platform_env, rank_env


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
