"""Versions of the real control plane the test harness builds, and where their binaries live."""

from __future__ import annotations

import os
from pathlib import Path

KUBERNETES = "v1.36.3"
ETCD = "v3.6.16"
KWOK = "v0.8.0"

#: the binaries the harness needs, each built from the Go module proxy
BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "kwok")


def cache_root() -> Path:
    """``$HAI_KUBE_CACHE`` or ``~/.cache/hai-platform/kube``."""
    env = os.environ.get("HAI_KUBE_CACHE")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "hai-platform" / "kube"


def version_dir() -> Path:
    """One directory per combination of versions, so a version bump never reuses old binaries."""
    return cache_root() / f"k8s-{KUBERNETES}_etcd-{ETCD}_kwok-{KWOK}"


def bin_dir() -> Path:
    return version_dir() / "bin"


def missing_binaries() -> list[str]:
    """Names of the binaries not (yet) in the cache."""
    return [name for name in BINARIES if not os.access(bin_dir() / name, os.X_OK)]
