"""Directory walking for workspaces without ever following a symlink (``openat`` style).

Every part of a path is opened from its parent's descriptor with ``O_NOFOLLOW``: a symlink
anywhere (a task can make one in its workspace) fails with ELOOP/ENOTDIR instead of being
followed out of the tree. Missing directories are made on the way when asked, and given to
their owner (a root server writes as the user).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os

from hai_server.services.errors import Conflict, NotFound, TooLarge

READ_CHUNK = 1 << 20
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
Owner = tuple[int, int] | None


def hash_fd(fd: int) -> str:
    h = hashlib.sha256()
    while chunk := os.read(fd, READ_CHUNK):
        h.update(chunk)
    return h.hexdigest()


def through(exc: OSError, where: str) -> Exception:
    """The service error an OSError of a walk means (or the error itself)."""
    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
        return Conflict(f"{where} goes through a symlink or a file: refused")
    if exc.errno == errno.ENOENT:
        return NotFound(f"no {where}")
    if exc.errno == errno.ENOSPC:
        return TooLarge("the workspaces' storage is full")
    return exc


def open_under(fd: int, parts: list[str], owner: Owner = None, *, create: bool = True) -> int:
    """A new descriptor of ``fd/parts...`` (made, for ``owner``, when missing and ``create``)."""
    cur = os.dup(fd)
    try:
        for part in parts:
            try:
                nfd = os.open(part, DIR_FLAGS, dir_fd=cur)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=cur)
                    if owner is not None:
                        os.chown(part, *owner, dir_fd=cur, follow_symlinks=False)
                nfd = os.open(part, DIR_FLAGS, dir_fd=cur)
            os.close(cur)
            cur = nfd
        return cur
    except BaseException:
        os.close(cur)
        raise
