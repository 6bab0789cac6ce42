"""Whose identity a local rank runs with, and what it may see of the server's environment.

A server run by an ordinary user runs every rank as that user (a single-user machine: the
README says so), and refuses the ranks of a user recorded with another uid (they would run with
the server's identity, able to read its token file). A server run as root never runs another user's ranks as root: each rank runs
as its owner's uid/gid (``AttemptSpec.run_as``, from the user's record), the attempt's
directories are handed to that uid, and an owner without a uid cannot start at all. Secrets in
the server's environment (tokens, passwords, database URLs) never reach a rank.
"""

from __future__ import annotations

import os
import pwd
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

from hai_cli.haienv.activation import strip as strip_haienv
from hai_server.backends.base import AttemptSpec, BackendError

_SECRET = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|_DSN$|^DATABASE_URL$|^REDIS_URL$")


def clean_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The server's environment minus its own settings (``HAI_*``), anything secret and a
    haienv active where it was started (a task runs in the environment it names, or none)."""
    return {
        k: v
        for k, v in strip_haienv(environ).items()
        if not k.startswith("HAI_") and not _SECRET.search(k)
    }


def rank_identity(spec: AttemptSpec, euid: int | None = None) -> tuple[int, int] | None:
    """(uid, gid) to drop to, or None to run as the server. Raises for an owner without uid
    on a root server."""
    euid = os.geteuid() if euid is None else euid
    if euid != 0:
        if spec.run_as is not None and spec.run_as[0] != euid:
            # it would run as the server's user, who can read the server's token file
            raise BackendError(
                f"user {spec.user} has uid {spec.run_as[0]} but this server runs as uid {euid} "
                "and cannot switch users: its ranks would run as the server's user (and could "
                "read its admin token). Run the server as root, or the task as its own user",
                retryable=False,
            )
        return None
    if spec.run_as is None:
        raise BackendError(
            f"user {spec.user} has no uid: this server runs as root and never runs another "
            f"user's ranks as root; an admin gives the user one (hai-cli admin user add "
            f"{spec.user} --uid N, or USER_INFO in hai-up)",
            retryable=False,
        )
    uid, gid = spec.run_as
    if uid == 0:
        return None  # an admin chose root for this user explicitly
    return uid, gid if gid is not None else uid


def unreachable(path: Path, uid: int, gid: int) -> Path | None:
    """The first directory above ``path`` that ``uid``/``gid`` cannot traverse, if any."""
    for parent in reversed(path.parents):
        try:
            st = parent.stat()
        except FileNotFoundError:
            return None  # made by the backend from here on, with modes it sets
        except OSError:
            return parent
        mode = st.st_mode
        if mode & stat.S_IXOTH:
            continue
        if st.st_uid == uid and mode & stat.S_IXUSR:
            continue
        if st.st_gid == gid and mode & stat.S_IXGRP:
            continue
        return parent
    return None


def hand_over(paths: Iterable[Path], uid: int, gid: int) -> None:
    """Give the attempt's directories to the rank's identity (private to it)."""
    for p in paths:
        os.chown(p, uid, gid)
        os.chmod(p, 0o700)


def check_reachable(paths: Iterable[Path], uid: int, gid: int) -> None:
    for p in paths:
        blocked = unreachable(p, uid, gid)
        if blocked is not None:
            mode = oct(blocked.stat().st_mode & 0o777) if blocked.exists() else "missing"
            raise BackendError(
                f"ranks run as uid {uid} but cannot reach {p}: {blocked} ({mode}) is closed to "
                "them; let them traverse it (chmod o+x) or run the server as that user",
                retryable=False,
            )


def user_env(uid: int) -> dict[str, str]:
    """HOME, USER and LOGNAME of ``uid`` when the system knows it."""
    try:
        pw = pwd.getpwuid(uid)
    except KeyError:
        return {"USER": str(uid), "LOGNAME": str(uid)}
    return {"HOME": pw.pw_dir, "USER": pw.pw_name, "LOGNAME": pw.pw_name}
