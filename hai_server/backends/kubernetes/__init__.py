"""Kubernetes backend: ranks as pods. See README.md in this folder.

``KubernetesConfig`` is cheap to import (settings use it); ``KubernetesBackend`` pulls in the
``kubernetes`` client, so it is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hai_server.backends.kubernetes.config import KubernetesConfig, SharedStorage, StorageMount

if TYPE_CHECKING:
    from hai_server.backends.kubernetes.backend import KubernetesBackend


def __getattr__(name: str) -> Any:
    if name == "KubernetesBackend":
        from hai_server.backends.kubernetes.backend import KubernetesBackend

        return KubernetesBackend
    raise AttributeError(name)


__all__ = ["KubernetesBackend", "KubernetesConfig", "SharedStorage", "StorageMount"]
