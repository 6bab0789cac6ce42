"""Which installation owns a HAI_PLATFORM_PATH: one platform per data directory.

Two platforms on one database directory destroy it: a second PostgreSQL on the same data
makes the running one shut down ("data directory lock file is invalid"). ``run`` therefore
records its installation in ``HAI_PLATFORM_PATH/installation.json`` (provider and name: the
compose project, or the platform namespace on Kubernetes) and refuses, before touching
anything, to start another installation on the same path. ``down`` of the owner keeps the
marker (the data still belongs to it); handing the data to another installation is a
deliberate act: ``hai-up down`` the owner, then delete the marker.

:func:`check_owner` is pure; :func:`read_marker` and :func:`claim` do the I/O.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hai_up.config import UpConfig
from hai_up.errors import EXIT_CONFIG, UpError

MARKER = "installation.json"


@dataclass(frozen=True)
class Installation:
    provider: str  # "docker-compose" or "k8s"
    name: str  # COMPOSE_PROJECT, or PLATFORM_NAMESPACE on Kubernetes
    id: str = ""
    created_at: float = 0.0

    def describe(self) -> str:
        what = "compose project" if self.provider == "docker-compose" else "k8s namespace"
        return f"{self.provider} installation ({what} {self.name!r})"


def installation_for(cfg: UpConfig, provider: str) -> Installation:
    """This config's installation: the compose project, or the platform namespace."""
    if provider == "docker-compose":
        return Installation(provider, cfg.compose_project)
    return Installation(provider, cfg.platform_namespace)


def marker_path(root: Path) -> Path:
    return root / MARKER


def read_marker(root: Path) -> Installation | None:
    """The recorded owner of ``root``, None when there is none; UpError when unreadable."""
    path = marker_path(root)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Installation(
            str(data["provider"]),
            str(data["name"]),
            str(data.get("id", "")),
            float(data.get("created_at", 0.0)),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UpError(
            f"{path} is unreadable ({exc}); it records which installation owns this data: "
            "fix or remove it by hand once you know no other platform uses this path",
            EXIT_CONFIG,
        ) from None


def check_owner(root: Path, found: Installation | None, wanted: Installation) -> None:
    """Refuse (exit 2) when ``root`` belongs to another installation than ``wanted``; pure."""
    if found is None or (found.provider, found.name) == (wanted.provider, wanted.name):
        return
    raise UpError(
        f"HAI_PLATFORM_PATH {root} belongs to the {found.describe()}; refusing to start the "
        f"{wanted.describe()} on the same data (two platforms on one database directory "
        f"corrupt it). Use the owner's name again, or another HAI_PLATFORM_PATH; to hand the "
        f"data over: hai-up down the owner, then remove {marker_path(root)}",
        EXIT_CONFIG,
    )


def claim(root: Path, wanted: Installation) -> Installation:
    """Record ``wanted`` as the owner of ``root`` unless it already is (mode 0644)."""
    found = read_marker(root)
    check_owner(root, found, wanted)
    if found is not None:
        return found
    mine = Installation(wanted.provider, wanted.name, uuid.uuid4().hex, round(time.time(), 3))
    path = marker_path(root)
    tmp = path.with_name(f".{MARKER}.tmp")
    try:
        tmp.write_text(json.dumps(asdict(mine), indent=2) + "\n", encoding="utf-8")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        raise UpError(f"cannot record the installation in {path}: {exc}", EXIT_CONFIG) from None
    return mine


def answered_by(health: dict[str, Any] | None, wanted_id: str) -> str:
    """Who answered a health check made with the admin token (pure): ``down`` (no answer
    yet), ``ours`` (this installation; anything when ``wanted_id`` is empty), ``other`` (a
    server of another installation on the same address: never call that healthy), or
    ``unverified`` (a server that does not say: it did not take our admin token, so it is not
    ours either; waited for like ``down``)."""
    if health is None:
        return "down"
    if not wanted_id:
        return "ours"
    found = health.get("installation")
    if found == wanted_id:
        return "ours"
    return "unverified" if found is None else "other"
