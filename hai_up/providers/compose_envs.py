"""docker-compose: build the base environments in the first server's container, once the
servers are healthy (``haienv build`` through ``docker exec``, python-on-whales).

The container is the platform's own (its Python is the one the ranks use, and the envs root
is mounted at the host's path), the build runs as ``BASE_ENVS_UID`` with ``env -i`` (none of
the container's secrets), and it is idempotent: an unchanged spec is not rebuilt, a changed
one is built beside the current version and switched to in one rename, a failure leaves the
current version in use. A failure is exit 1 with one line; the platform stays up (see
hai_up/README.md for why it is not a warning).
"""

from __future__ import annotations

from typing import Any

from python_on_whales import DockerClient, DockerException

from hai_up.baseenvs import outcome, platform_root, write_spec_files
from hai_up.config import UpConfig
from hai_up.errors import UpError
from hai_up.images import Progress
from hai_up.render.base_envs import exec_command

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
BUILD_SERVICE = "server-0"


def _server(docker: DockerClient, cfg: UpConfig) -> Any:
    filters = [
        ("label", f"{PROJECT_LABEL}={cfg.compose_project}"),
        ("label", f"{SERVICE_LABEL}={BUILD_SERVICE}"),
    ]
    found = [c for c in docker.container.list(filters=filters) if c.state.running]
    if not found:
        raise UpError(
            f"the platform is up, but base environments did not build: no running "
            f"{BUILD_SERVICE} container of project {cfg.compose_project} to build them in",
            1,
        )
    return found[0]


def build_base_envs(docker: DockerClient, cfg: UpConfig, progress: Progress) -> None:
    """Build the selected base environments; UpError (exit 1, one line) when one fails."""
    if not cfg.base_env_specs:
        progress.say("base environments: none selected (BASE_ENVS)")
        return
    write_spec_files(cfg)
    container = _server(docker, cfg)
    names = ", ".join(name for name, _ in cfg.base_env_specs)
    uid = cfg.base_envs_uid
    where = f"{platform_root(cfg)} (haienv build in {BUILD_SERVICE}, uid {uid})"
    with progress.step(f"base environments {names} -> {where}"):
        try:
            stdout = docker.container.execute(container, exec_command(cfg), user=f"{uid}:{uid}")
            stderr, code = "", 0
        except DockerException as exc:
            stdout, stderr, code = exc.stdout or "", exc.stderr or "", exc.return_code
        lines = outcome(cfg, str(stdout or ""), stderr, code)
    for line in lines:
        progress.say(f"base environment {line}")
