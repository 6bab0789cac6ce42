"""The shared storage hai-up prepares under HAI_PLATFORM_PATH, and who owns what.

Ownership model (both providers; the original hai-up created the same per-user folders):

- ``HAI_PLATFORM_PATH`` itself: root, 0711. It holds the rendered files with secrets (0600
  root) and the platform's data; users may pass through it to their workspace, not list it.
- ``workspace/``: root, 0755, the parent of the users' folders.
- ``workspace/{user}`` for every USER_INFO user: owned by the user's uid and gid (the gid is the
  uid, as init.sql records it), mode 0750. Ranks run as that uid (a root server never runs a
  user's rank as root), so a task's working directory, its scripts and what it writes live
  here. hai-up creates it when missing and never changes one that exists (an operator may
  have chowned it on purpose); an existing folder owned by someone else is reported.
- ``log/``, ``home/``, ``postgres/``, ``redis/``: root; the image's entrypoint and the server
  set the modes inside (PostgreSQL and Redis chown their own data directories).
- ``envs/`` (the haienv root, the server's ``envs_root``): root, 0755; ``envs/platform`` owned
  by ``BASE_ENVS_UID`` (the base environments' builds run as it) and ``envs/{user}`` by each
  USER_INFO user, 0755: everyone reads (extends, lists) the others' environments, only the
  owner writes.

:func:`storage_layout` is pure; :func:`prepare_storage` applies it and returns the warnings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from hai_up.config import UpConfig
from hai_up.errors import EXIT_CONFIG, UpError
from hai_up.render.override import envs_root

ROOT = 0


@dataclass(frozen=True)
class Folder:
    """One directory to create: owner, group and mode when hai-up creates it."""

    path: Path
    uid: int
    gid: int
    mode: int
    user: str | None = None  # the USER_INFO user it belongs to
    what: str = "workspace"  # what it is, in a warning about its owner


def workspace_root(cfg: UpConfig) -> Path:
    return cfg.hai_platform_path / "workspace"


def user_workspace(cfg: UpConfig, user: str) -> Path:
    """Where a user's tasks run (their working directory) and keep their files."""
    return workspace_root(cfg) / user


def storage_layout(cfg: UpConfig, service_dirs: dict[str, Path]) -> list[Folder]:
    """Every directory hai-up creates, parents first (pure)."""
    out = [Folder(cfg.hai_platform_path, ROOT, ROOT, 0o711)]
    for name, path in service_dirs.items():
        if name != "workspace":
            out.append(Folder(path, ROOT, ROOT, 0o755))
    out.append(Folder(workspace_root(cfg), ROOT, ROOT, 0o755))
    out += [
        Folder(user_workspace(cfg, u.name), u.uid, u.uid, 0o750, user=u.name) for u in cfg.users
    ]
    envs = Path(envs_root(cfg))  # the server's envs_root (render/override.py)
    uid = cfg.base_envs_uid
    out.append(Folder(envs, ROOT, ROOT, 0o755))
    out.append(Folder(envs / "platform", uid, uid, 0o755, user="platform", what="haienv root"))
    out += [
        Folder(envs / u.name, u.uid, u.uid, 0o755, user=u.name, what="haienv root")
        for u in cfg.users
    ]
    return out


def _source(folder: Folder) -> str:
    return "BASE_ENVS_UID" if folder.user == "platform" else "USER_INFO"


def _consequence(folder: Folder) -> str:
    if folder.what == "workspace":
        return "its tasks may not write there"
    return "its environments cannot be made there"


def _create(folder: Folder) -> None:
    folder.path.mkdir(mode=0o700)  # nobody sees it before it has its owner and mode
    os.chown(folder.path, folder.uid, folder.gid)
    os.chmod(folder.path, folder.mode)


def prepare_storage(layout: list[Folder]) -> list[str]:
    """Create what is missing with its owner and mode; leave existing folders alone.

    Returns one warning per existing user folder that its user does not own. Raises UpError
    (exit 2) naming the path when a folder cannot be made.
    """
    warnings: list[str] = []
    for folder in layout:
        try:
            if not folder.path.exists():
                if folder.path == layout[0].path:
                    folder.path.parent.mkdir(parents=True, exist_ok=True)
                _create(folder)
                continue
            if not folder.path.is_dir():
                raise UpError(f"{folder.path} exists and is not a directory", EXIT_CONFIG)
            st = folder.path.stat()
            if folder.user is not None and st.st_uid != folder.uid:
                warnings.append(
                    f"{folder.what} of {folder.user}: {folder.path} is owned by uid {st.st_uid}, "
                    f"not {folder.uid} ({_source(folder)}); {_consequence(folder)} "
                    f"(chown {folder.uid}:{folder.gid} {folder.path})"
                )
        except OSError as exc:
            raise UpError(
                f"cannot prepare {folder.path} under HAI_PLATFORM_PATH: {exc.strerror or exc}",
                EXIT_CONFIG,
            ) from None
    return warnings


def prepare_shared_storage(cfg: UpConfig, service_dirs: dict[str, Path] | None = None) -> None:
    """:func:`prepare_storage` of the layout, its warnings printed (both providers)."""
    dirs = service_dirs if service_dirs is not None else {"log": cfg.hai_platform_path / "log"}
    for warning in prepare_storage(storage_layout(cfg, dirs)) + old_envs_root(cfg):
        print(f"hai-up: warning: {warning}", flush=True)


def old_envs_root(cfg: UpConfig) -> list[str]:
    """Environments left in the envs root of earlier deployments (the servers' home, which
    containers saw at another path): no longer seen, said once per run."""
    old = cfg.hai_platform_path / "home" / "envs"
    try:
        owners = sorted(p.name for p in old.iterdir() if p.is_dir())
    except OSError:
        return []
    if not owners:
        return []
    return [
        f"{old} holds environments of {', '.join(owners)} made under an earlier envs root; "
        f"the servers now use {cfg.hai_platform_path / 'envs'} (the same path in every "
        "container and pod): make them again there (haienv create), then remove the old ones"
    ]
