"""Kubernetes backend: ranks as pods. See README.md in this folder.

``KubernetesConfig`` is cheap to import (settings use it); ``KubernetesBackend`` pulls in the
``kubernetes`` client, so it is imported on first use.
"""

from __future__ import annotations

import hashlib
import os
import urllib.parse
from typing import TYPE_CHECKING, Any

from hai_server.backends.kubernetes.config import KubernetesConfig, SharedStorage, StorageMount

if TYPE_CHECKING:
    from hai_server.backends.kubernetes.backend import KubernetesBackend


def make_backend(settings: Any) -> KubernetesBackend:
    """Build the backend from the server settings (``settings.kubernetes``).

    Fails fast when the server's log directory is not on the shared storage the pods mount.
    """
    from hai_server.backends.kubernetes.backend import KubernetesBackend

    config = getattr(settings, "kubernetes", None) or KubernetesConfig()
    log_root = getattr(settings, "resolved_log_dir", None)
    if log_root is not None:
        root = os.path.normpath(str(log_root))
        shared = config.shared.server_path
        if os.path.commonpath([root, shared]) != shared or root == shared:
            raise ValueError(
                f"the log directory {root} must be inside kubernetes.shared.server_path "
                f"({shared}) so that pods can write their logs there; set HAI_LOG_DIR or "
                "HAI_KUBERNETES__SHARED__SERVER_PATH"
            )
    if "installation" not in config.model_fields_set:
        url = getattr(settings, "resolved_database_url", None)
        if isinstance(url, str) and url:
            config = config.model_copy(update={"installation": installation_id(url)})
    scheduler = getattr(settings, "scheduler", None)
    if config.heartbeat_s is None and scheduler is not None:
        config = config.model_copy(update={"heartbeat_s": scheduler.heartbeat_s})
    envs_root = getattr(settings, "resolved_envs_root", None)
    if config.envs_root is None and envs_root is not None:
        config = config.model_copy(update={"envs_root": os.path.normpath(str(envs_root))})
    return KubernetesBackend(config)


def installation_id(database_url: str) -> str:
    """The default installation id: a digest of the database URL without its password (the
    database is what knows the tasks, so one database is one installation; a rotated password
    keeps the id). Set ``kubernetes.installation`` to choose it."""
    parts = urllib.parse.urlsplit(database_url)
    netloc = parts.netloc.rsplit("@", 1)
    if len(netloc) == 2:
        netloc[0] = netloc[0].split(":", 1)[0]
    bare = urllib.parse.urlunsplit(parts._replace(netloc="@".join(netloc)))
    return "db-" + hashlib.sha256(bare.encode()).hexdigest()[:8]


def __getattr__(name: str) -> Any:
    if name == "KubernetesBackend":
        from hai_server.backends.kubernetes.backend import KubernetesBackend

        return KubernetesBackend
    raise AttributeError(name)


__all__ = [
    "KubernetesBackend",
    "KubernetesConfig",
    "SharedStorage",
    "StorageMount",
    "installation_id",
    "make_backend",
]
