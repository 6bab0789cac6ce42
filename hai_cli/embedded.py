"""The embedded server: a ``hai-server`` process under ``$HAI_HOME`` that hai-cli manages.

Files: ``server.json`` (pid and url, written by the server once it listens),
``embedded.token`` (the local admin token, mode 600), ``embedded.json`` (the settings it was
started with: nodes, port, database and Redis URLs, mode 600; every later start, on demand
after a crash too, reuses them, so the port is chosen once and ``--nodes`` is kept),
``server.log``.

The database is SQLite under ``$HAI_HOME`` unless asked otherwise: ``hai-cli server start
--database-url URL [--redis-url URL]``, or ``HAI_EMBEDDED_DATABASE_URL`` /
``HAI_EMBEDDED_REDIS_URL`` (also read when a command starts the server on demand).
``HAI_DATABASE_URL`` and ``HAI_REDIS_URL`` (the cluster server's settings) never reach it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

from hai_cli.config import Target, hai_home

# secrets and subprocess are imported where a token is made or the server started: a command
# that finds the server running does neither (each import is ~2 ms of every command)

START_TIMEOUT_S = 60.0
DATABASE_ENV = "HAI_EMBEDDED_DATABASE_URL"
REDIS_ENV = "HAI_EMBEDDED_REDIS_URL"


class EmbeddedError(Exception):
    pass


class ServerInfo(NamedTuple):  # not a dataclass: see hai_cli.config.Target
    pid: int
    url: str


def _state_file(home: Path) -> Path:
    return home / "server.json"


def _token_file(home: Path) -> Path:
    return home / "embedded.token"


def _settings_file(home: Path) -> Path:
    return home / "embedded.json"


SETTING_KEYS = ("nodes", "port", "database_url", "redis_url")


def load_settings(home: Path | None = None) -> dict[str, object]:
    """The settings the embedded server was last started with ({} if none or unreadable)."""
    try:
        data = json.loads(_settings_file(home or hai_home()).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: data[k] for k in SETTING_KEYS if data.get(k) is not None}


def save_settings(home: Path, settings: dict[str, object]) -> None:
    path = _settings_file(home)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({k: v for k, v in settings.items() if v is not None}, fh, indent=1)
    os.replace(tmp, path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def resolve_settings(
    home: Path,
    *,
    nodes: int | None = None,
    port: int | None = None,
    database_url: str | None = None,
    redis_url: str | None = None,
) -> dict[str, object]:
    """What this start uses: what is given, else what was kept, else defaults (a port chosen
    now, once). Saved for the next start."""
    kept = load_settings(home)
    given = {"nodes": nodes, "port": port, "database_url": database_url, "redis_url": redis_url}
    merged = {**kept, **{k: v for k, v in given.items() if v is not None}}
    if not merged.get("port"):
        merged["port"] = free_port()
    home.mkdir(parents=True, exist_ok=True)
    save_settings(home, merged)
    return merged


def log_file(home: Path | None = None) -> Path:
    return (home or hai_home()) / "server.log"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def read_state(home: Path | None = None) -> tuple[ServerInfo | None, bool]:
    """(running server, stale) - stale is True when a dead server left its file behind."""
    path = _state_file(home or hai_home())
    try:
        data = json.loads(path.read_text())
        info = ServerInfo(int(data["pid"]), str(data["url"]))
    except FileNotFoundError:
        return None, False
    except (OSError, ValueError, KeyError, TypeError):
        return None, True
    if _alive(info.pid):
        return info, False
    return None, True


def remove_stale(home: Path | None = None) -> None:
    _state_file(home or hai_home()).unlink(missing_ok=True)


def token(home: Path | None = None) -> str:
    """The local admin token, created on first use."""
    home = home or hai_home()
    path = _token_file(home)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    import secrets

    home.mkdir(parents=True, exist_ok=True)
    value = "hai_local_" + secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def new_token(home: Path) -> str:
    """Replace the local admin token with a fresh one (``hai-cli server recover``)."""
    import secrets

    home.mkdir(parents=True, exist_ok=True)
    value = "hai_local_" + secrets.token_urlsafe(24)
    path = _token_file(home)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    os.replace(tmp, path)
    return value


def server_command(
    home: Path,
    port: int,
    nodes: int | None = None,
    database_url: str | None = None,
    redis_url: str | None = None,
) -> list[str]:
    """The ``hai-server --embedded`` command line (``database_url`` None: SQLite in ``home``)."""
    cmd = [sys.executable, "-m", "hai_server.main", "--embedded", "--home", str(home)]
    cmd += ["--port", str(port), "--state-file", str(_state_file(home))]
    cmd += ["--admin-token-file", str(_token_file(home))]
    if nodes is not None:
        cmd += ["--nodes", str(nodes)]
    if database_url:
        cmd += ["--database-url", database_url]
    if redis_url:
        cmd += ["--redis-url", redis_url]
    return cmd


def server_env(home: Path) -> dict[str, str]:
    """The embedded server's environment: this one without the client's and cluster's keys."""
    env = dict(os.environ)
    for key in (
        "HAI_SERVER_URL",
        "HAI_TOKEN",
        "HAI_DATABASE_URL",
        "HAI_REDIS_URL",
        "HAI_BACKEND",
        "HAI_WORKERS",
        DATABASE_ENV,
        REDIS_ENV,
    ):
        env.pop(key, None)
    env.pop("HAI_ADMIN_TOKEN", None)  # read from the token file (--admin-token-file) instead
    token(home)  # created on first use
    env["HAI_HOME"] = str(home)
    return env


def start(
    nodes: int | None = None,
    home: Path | None = None,
    quiet: bool = False,
    database_url: str | None = None,
    redis_url: str | None = None,
    port: int | None = None,
    recover: bool = False,
) -> ServerInfo:
    """Start the embedded server in the background and wait until it answers.

    Arguments left None come from ``embedded.json`` (the last start's settings). Its
    ``database_url`` None: SQLite under ``home``; else that database (e.g. PostgreSQL), with
    Redis at ``redis_url`` if given. ``recover``: make the local admin and its token work
    again (``hai-cli server recover``).
    """
    home = home or hai_home()
    info, stale = read_state(home)
    if info is not None:
        raise EmbeddedError(f"the embedded server is already running (pid {info.pid}, {info.url})")
    if stale:
        remove_stale(home)
    home.mkdir(parents=True, exist_ok=True)
    kept = resolve_settings(
        home, nodes=nodes, port=port, database_url=database_url, redis_url=redis_url
    )
    port = int(kept["port"])  # type: ignore[call-overload]
    if not port_free(port):
        raise EmbeddedError(
            f"port {port} (kept in {_settings_file(home)}) is in use by another program; "
            "choose another: hai-cli server start --port N"
        )
    database_url = kept.get("database_url")  # type: ignore[assignment]
    env = server_env(home)
    cmd = server_command(
        home,
        port,
        kept.get("nodes"),  # type: ignore[arg-type]
        database_url,
        kept.get("redis_url"),  # type: ignore[arg-type]
    )
    if recover:
        cmd.append("--recover-admin")
    if not quiet:
        where = f" on {_redacted(database_url)}" if database_url else ""
        print(
            f"starting the embedded HAI server under {home}{where} ...",
            file=sys.stderr,
            flush=True,
        )
    import subprocess

    with open(log_file(home), "ab") as log:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, start_new_session=True
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EmbeddedError(
                f"the embedded server exited with code {proc.returncode}; see {log_file(home)}"
            )
        info, _ = read_state(home)
        if info is not None and info.pid == proc.pid:
            return info
        time.sleep(0.05)
    proc.terminate()
    raise EmbeddedError(
        f"the embedded server did not start within {START_TIMEOUT_S:.0f} s; see {log_file(home)}"
    )


def stop(home: Path | None = None, timeout: float = 20.0) -> ServerInfo | None:
    """Stop the embedded server. Returns what was stopped, None if nothing ran."""
    home = home or hai_home()
    info, stale = read_state(home)
    if info is None:
        if stale:
            remove_stale(home)
        return None
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(info.pid):
        time.sleep(0.05)
    if _alive(info.pid):
        os.kill(info.pid, signal.SIGKILL)
    remove_stale(home)
    return info


def ensure(home: Path | None = None) -> Target:
    """The running embedded server, started if needed."""
    home = home or hai_home()
    info, _ = read_state(home)
    if info is None:  # what is set in the environment, else the last start's settings
        nodes = os.environ.get("HAI_LOCAL__NODES")
        info = start(
            int(nodes) if nodes and nodes.isdigit() else None,
            home,
            database_url=os.environ.get(DATABASE_ENV) or None,
            redis_url=os.environ.get(REDIS_ENV) or None,
        )
    return Target(info.url, token(home), "embedded")


def _redacted(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
