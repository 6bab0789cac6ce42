"""Checks made before a running platform is touched (the compose provider).

Every check here runs before hai-up writes a file or stops a container, so a config that
cannot work (a port another program holds, a kubeconfig that is missing) fails with the
running deployment untouched. The pure parts: which ports a compose file binds
(:func:`compose_ports`) and which of the new ones must be free (:func:`ports_to_check`);
:func:`busy_ports` asks the kernel.
"""

from __future__ import annotations

import errno
import itertools
import socket
from pathlib import Path
from typing import Any

from hai_up.errors import EXIT_CONFIG, UpError

PORT_ENV = {"postgres": "HAI_PG_PORT", "redis": "HAI_REDIS_PORT"}
LISTEN_ENV = {"postgres": "HAI_PG_LISTEN", "redis": "HAI_REDIS_LISTEN"}


def compose_ports(doc: dict[str, Any]) -> dict[str, tuple[str, int]]:
    """(address, port) each service of a rendered compose file listens on, by service."""
    out: dict[str, tuple[str, int]] = {}
    for name, service in (doc.get("services") or {}).items():
        service = service or {}
        env = service.get("environment") or {}
        command = service.get("command") or []
        if name in PORT_ENV and str(env.get(PORT_ENV[name], "")).isdigit():
            out[name] = (str(env.get(LISTEN_ENV[name], "0.0.0.0")), int(env[PORT_ENV[name]]))
        elif command and command[0] == "server":
            flags = dict(itertools.pairwise(command[1:]))
            if str(flags.get("--port", "")).isdigit():
                out[name] = (str(flags.get("--host", "0.0.0.0")), int(flags["--port"]))
    return out


def ports_to_check(
    new: dict[str, tuple[str, int]], running: dict[str, tuple[str, int]] | None
) -> dict[str, tuple[str, int]]:
    """The new ports that must be free: all of them on a fresh start, else those the running
    deployment does not hold already (its containers hold theirs, and give them up when
    recreated)."""
    held = {port for _, port in (running or {}).values()}
    return {name: where for name, where in new.items() if where[1] not in held}


def _busy(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def busy_ports(wanted: dict[str, tuple[str, int]]) -> list[str]:
    """``service address:port`` of each wanted port another program listens on."""
    return [f"{name} {addr}:{port}" for name, (addr, port) in wanted.items() if _busy(addr, port)]


def check_ports(wanted: dict[str, tuple[str, int]]) -> None:
    busy = busy_ports(wanted)
    if busy:
        raise UpError(
            "port(s) already in use by another program: "
            + ", ".join(busy)
            + " (change SERVER_PORT / POSTGRES_PORT / REDIS_PORT, or stop that program); "
            "nothing was changed",
            EXIT_CONFIG,
        )


def check_kubeconfig(path: Path, variable: str = "KUBECONFIG") -> None:
    """The kubeconfig the servers mount (HAI_BACKEND=kubernetes) must be a readable file."""
    if path.is_file():
        return
    what = "is a directory" if path.is_dir() else "does not exist"
    raise UpError(
        f"HAI_BACKEND=kubernetes needs a kubeconfig for the servers, but {path} {what}: set "
        f"{variable} to the cluster's kubeconfig file, or HAI_BACKEND=local to run ranks in the "
        "server container; nothing was changed",
        EXIT_CONFIG,
    )


def missing_mount_sources(mounts: list[tuple[str, str]]) -> list[str]:
    """``source (kind)`` of each EXTRA_MOUNTS source that is not there as that kind (Docker
    would make a missing one as an empty root-owned directory)."""
    out = []
    for source, kind in mounts:
        path = Path(source)
        if not (path.is_file() if kind == "file" else path.is_dir()):
            out.append(f"{source} ({kind})")
    return out


def check_mount_sources(mounts: list[tuple[str, str]]) -> None:
    missing = missing_mount_sources(mounts)
    if missing:
        raise UpError(
            "EXTRA_MOUNTS source(s) missing on this host: " + ", ".join(missing) + "; "
            "nothing was changed",
            EXIT_CONFIG,
        )
