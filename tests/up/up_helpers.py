"""Fixed configurations of the hai-up tests."""

from __future__ import annotations

import re
from pathlib import Path

from hai_up.config import UpConfig, parse_config
from hai_up.template import CONFIG_TEMPLATE

DEFAULTS = dict(re.findall(r'^export ([A-Z_0-9]+)="\$\{[A-Z_0-9]+-(.*)\}"$', CONFIG_TEMPLATE, re.M))

ALICE_TOKEN = "alice-token-0123456789"
ADMIN_TOKEN = "admin-token-0123456789"


def values(root: Path | str = "/srv/hai", **overrides: str) -> dict[str, str]:
    """Every variable, fixed (no reference to the machine), then ``overrides``."""
    v = {k: d for k, d in DEFAULTS.items()}
    v.update(
        SHARED_FS_ROOT=str(root),
        HAI_PLATFORM_PATH=f"{root}/hai-platform",
        TRAINING_NODES="gpu-1 gpu-2",
        JUPYTER_NODES="cpu-1",
        MANAGER_NODES="mgr-1",
        NODE_GPUS="8",
        SERVER_REPLICAS="2",
        SERVER_PORT="18080",
        POSTGRES_PORT="15432",
        REDIS_PORT="16379",
        INGRESS_HOST="hai.example.com",
        ADMIN_TOKEN=ADMIN_TOKEN,
        USER_INFO=f"alice:1000:internal:{ALICE_TOKEN}:team-a bob:1001:external:bob-token-0123456789",
        PUBLIC_QUOTA="NORMAL=100 HIGH=10",
        TASK_NAMESPACE="hai-tasks",
    )
    v.update(overrides)
    return v


def config(root: Path | str = "/srv/hai", **overrides: str) -> UpConfig:
    return parse_config(values(root, **overrides))
