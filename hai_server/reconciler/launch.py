"""Pure adapter: a plan's :class:`Start`, the task's row and the nodes -> an attempt to launch.

This is the one place that decides what a backend receives: the attempt's log directory, the
variables every rank shares, and for each rank its node and the GPU device indices it gets
(``RankSpec.gpus``: a whole node's devices, ``gpu_first`` onwards). Backends only carry it
out: the local backend exports ``CUDA_VISIBLE_DEVICES`` from it, pods request
``nvidia.com/gpu`` for it. No I/O.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from hai_cli.scheduler.model import Start, priority_name
from hai_server.backends.base import AttemptSpec, RankSpec, platform_env, rank_env
from hai_server.domain import states as st
from hai_server.domain.changes import AttemptWrite, Call, TaskWrite, write_of
from hai_server.domain.draft import Draft
from hai_server.domain.storage import MountTask, MountUser, StorageRow, mounts_for
from hai_server.domain.transition import transition


def task_mounts(
    row: Any, storage: Sequence[StorageRow], groups: Mapping[str, tuple[str, ...]]
) -> tuple[dict[str, object], ...]:
    """The storage rows' mounts of this task's pods (templated, owner-filtered, conditions)."""
    if not storage:
        return ()
    mapping = row._mapping
    user = MountUser(
        row.user_name, mapping.get("role") or "internal", groups.get(row.user_name, ()),
        mapping.get("uid"),
    )  # fmt: skip
    task = MountTask(
        id=row.id, name=row.name, group=mapping.get("group") or "",
        nodes=mapping.get("nodes") or 1, image=(row.options or {}).get("image") or "",
        workdir=row.workdir,
    )  # fmt: skip
    return tuple(m.as_pod_mount() for m in mounts_for(user, storage, task))


def gpu_indices(gpus: int, first: int) -> tuple[int, ...]:
    """The device indices of a node with ``gpus`` GPUs numbered from ``first``."""
    return tuple(range(first, first + max(gpus, 0)))


def haienv_env(name: str | None, owner: str | None, envs_root: str) -> dict[str, str]:
    """The variables that make every rank run in haienv ``name[owner]`` (none without one).

    The rank wrapper (``hai_cli.rankrun``) completes the activation on the node from the
    environment's metadata: PATH, PYTHONPATH and its extra variables."""
    if not name or not owner or not envs_root:
        return {}
    return {
        "HF_ENV_NAME": name,
        "HF_ENV_OWNER": owner,
        "VIRTUAL_ENV": os.path.join(envs_root, owner, name),
    }


def jupyter_env(row: Any, envs_root: str) -> dict[str, str]:
    """What the container's JupyterLab (``hai_cli.jupyterrun``) reads: its token, base URL,
    notebook and settings folder, default environment, and the CLI's server and token."""
    j = (row.options or {}).get("jupyter") or {}
    env = {
        "JUPYTER_TOKEN": str(j.get("token", "")),
        "HAI_JUPYTER_BASE_URL": f"/{row.user_name}/{row.name}/",
        "HAI_JUPYTER_ROOT": os.path.join(row.workdir, "jupyter"),
        "HAI_JUPYTER_NAME": row.name,
    }
    if envs_root:
        env["HAIENV_PATH"] = os.path.join(envs_root, row.user_name)
    if j.get("env"):
        env["HAI_JUPYTER_ENV"] = str(j["env"])
    if j.get("server_url") and j.get("cli_token"):
        env["HAI_SERVER_URL"] = str(j["server_url"])
        env["HAI_TOKEN"] = str(j["cli_token"])
    return env


def attempt_spec(
    row: Any,
    nodes: tuple[str, ...],
    node_gpus: Mapping[str, tuple[int, int]],
    log_root: str,
    envs_root: str = "",
    mounts: tuple[Mapping[str, object], ...] = (),
) -> AttemptSpec:
    """The attempt ``row.restart_count`` of task ``row`` on ``nodes`` (rank i on nodes[i])."""
    attempt = row.restart_count
    log_dir = os.path.join(log_root, str(row.id), f"attempt-{attempt}")
    env = platform_env(
        task_id=row.id,
        name=row.name,
        user=row.user_name,
        attempt=attempt,
        world_size=len(nodes),
        whole_life_state=row.whole_life_state,
        log_dir=log_dir,
        user_env=row.env or {},
    )
    mapping = row._mapping
    env.update(haienv_env(mapping.get("haienv_name"), mapping.get("haienv_owner"), envs_root))
    kind = mapping.get("kind") or "python"
    j = (row.options or {}).get("jupyter") or {}
    shared = kind == "jupyter" and not j.get("exclusive")
    if kind == "jupyter":
        env.update(jupyter_env(row, envs_root))
    ranks = []
    for i, node in enumerate(nodes):
        count, first = node_gpus.get(node, (0, 0))
        if shared:  # a slice of a shared node: its own GPUs only (none on a CPU node)
            count = min(count, int(j.get("gpus") or 0))
        gpus = gpu_indices(count, first)
        ranks.append(RankSpec(rank=i, node=node, env=rank_env(rank=i, node=node, gpus=gpus),
                              gpus=gpus))  # fmt: skip
    options = row.options or {}
    return AttemptSpec(
        task_id=row.id,
        attempt=attempt,
        name=row.name,
        user=row.user_name,
        argv=tuple(row.argv),
        workdir=row.workdir,
        env=env,
        ranks=tuple(ranks),
        log_dir=log_dir,
        image=options.get("image"),
        run_as=(row.uid, row.gid) if row.uid is not None else None,
        kind=kind,
        resources={k: float(j[k]) for k in ("cpus", "memory_gib", "gpus") if j.get(k)},
        mounts=mounts,
    )


def start_write(
    row: Any,
    start: Start,
    node_gpus: Mapping[str, tuple[int, int]],
    log_root: str,
    now: float,
    envs_root: str = "",
    mounts: tuple[Mapping[str, object], ...] = (),
) -> TaskWrite:
    """Reserve a planned start: the task becomes starting, its attempt row is inserted and the
    backend's start call rides with the guarded write."""
    t = Draft(row._mapping)
    where = ", ".join(start.nodes)
    t.record(
        transition(
            t, st.STARTING, now=now, kind="start", priority=start.priority,
            message=f"attempt {t.restart_count} starting on {where} at "
            f"{priority_name(start.priority)}",
        )
    )  # fmt: skip
    t.retry_at = None
    spec = attempt_spec(row, start.nodes, node_gpus, log_root, envs_root, mounts)
    attempt = AttemptWrite(
        t.restart_count,
        insert={
            "nodes": list(start.nodes),
            "priority": start.priority,
            "started_at": now,
            "log_dir": spec.log_dir,
            "ranks": [
                {"rank": r.rank, "node": r.node, "state": "pending", "exit_code": None,
                 "message": ""}
                for r in spec.ranks
            ],
        },
    )  # fmt: skip
    write = write_of(t, attempt=attempt, calls=(Call("start", row.id, t.restart_count, spec=spec),))
    assert write is not None
    return write
