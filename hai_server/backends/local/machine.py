"""This machine as a node of the shared Jupyter group, and its GPUs' utilisation (the idle
culler's reading on the local backend)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess

from hai_server.backends.base import NodeState


def gpu_utilisation(devices: tuple[int, ...]) -> float | None:
    """The highest ``utilization.gpu`` of ``devices`` (nvidia-smi); None when unreadable."""
    exe = shutil.which("nvidia-smi")
    if exe is None or not devices:
        return None
    try:
        out = subprocess.run(
            [exe, "--query-gpu=index,utilization.gpu", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    seen = {}
    for line in out.splitlines():
        index, _, util = line.partition(",")
        with contextlib.suppress(ValueError):
            seen[int(index)] = float(util)
    wanted = [seen[d] for d in devices if d in seen]
    return max(wanted) if len(wanted) == len(devices) else None


def machine_memory_gib() -> float:
    """This machine's memory in GiB (from /proc/meminfo; 1 when it cannot be read)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024**2, 2)
    except (OSError, ValueError, IndexError):
        pass
    return 1.0


def jupyter_node(group: str, zone: str, cpus: float | None, memory_gib: float | None) -> NodeState:
    """This machine as the node of the shared Jupyter group ``group``: containers share it by
    CPU and memory (no GPUs: those belong to the training nodes)."""
    return NodeState(
        name="local-jupyter", group=group, zone=zone, gpus=0,
        cpus=cpus or float(os.cpu_count() or 1),
        memory_gib=memory_gib or machine_memory_gib(),
    )  # fmt: skip
