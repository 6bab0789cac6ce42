"""Workspaces on disk, reached only through directory file descriptors.

Layout under the workspaces root (``HAI_WORKSPACES_ROOT``)::

    {root}/{user}/{name}/...                the workspace (the user's files, their ownership)
    {root}/.hai-staging/{user}/{sha256}     uploaded content, waiting to be committed
    {root}/.hai-staging/{user}/{sha256}.part   an upload under way (resumable at its size)
    {root}/.hai-index/{user}/{name}.json    a hash cache: {path: [size, mtime_ns, sha256]}

Every path was checked by ``hai_cli.workspace.paths`` before it arrives here; on top of
that, every directory is opened with ``O_NOFOLLOW`` from its parent's descriptor and every
file with ``O_NOFOLLOW``, so a symlink anywhere under the root (a task can make one in its
workspace) is never followed out of it. Blocking I/O: callers run these in a thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hai_cli.control import write_atomic
from hai_server.services.errors import Conflict, Invalid, NotFound, TooLarge
from hai_server.services.wsfd import DIR_FLAGS, READ_CHUNK, Owner, hash_fd, open_under, through

STAGING = ".hai-staging"
INDEX = ".hai-index"
STAGED_TTL_S = 2.0
Entry = tuple[str, int, bool]  # sha256, size, executable


@dataclass(frozen=True, slots=True)
class Limits:
    max_file_bytes: int = 4 << 30
    max_workspace_bytes: int = 50 << 30
    max_files: int = 200_000
    chunk_bytes: int = 4 << 20


class WorkspaceStore:
    def __init__(self, root: Path, limits: Limits = Limits()) -> None:
        self.root = root
        self.limits = limits
        self._staged: dict[str, tuple[float, int]] = {}  # user -> (counted at, bytes)

    # -- directories -------------------------------------------------------------------
    def _open(self, parts: list[str], create: bool = False, owner: Owner = None) -> int:
        if create:
            self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            return open_under(fd, parts, owner, create=create)
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _dir(
        self, parts: list[str], where: str, create: bool = False, owner: Owner = None
    ) -> Iterator[int]:
        try:
            fd = self._open(parts, create, owner)
        except OSError as exc:
            raise through(exc, where) from None
        try:
            yield fd
        finally:
            os.close(fd)

    # -- workspaces --------------------------------------------------------------------
    def create(self, user: str, name: str, owner: Owner) -> str:
        with self._dir([user, name], f"workspace {name}", create=True, owner=owner):
            pass
        return str(self.root / user / name)

    def exists(self, user: str, name: str) -> bool:
        try:
            os.close(self._open([user, name]))
            return True
        except OSError:
            return False

    def names(self, user: str) -> list[str]:
        try:
            fd = self._open([user])
        except OSError:
            return []
        try:
            with os.scandir(fd) as it:
                return sorted(e.name for e in it if e.is_dir(follow_symlinks=False))
        finally:
            os.close(fd)

    def remove(self, user: str, name: str) -> None:
        with self._dir([user], f"workspace {name}") as ufd:
            try:
                st = os.stat(name, dir_fd=ufd, follow_symlinks=False)
            except FileNotFoundError:
                raise NotFound(f"no workspace {name}") from None
            if not stat.S_ISDIR(st.st_mode):
                raise Conflict(f"workspace {name} is not a directory")
            shutil.rmtree(name, dir_fd=ufd)  # never follows symlinks (fd-based on Linux)
        with contextlib.suppress(OSError):
            os.unlink(self._index_path(user, name))

    # -- manifest ----------------------------------------------------------------------
    def _index_path(self, user: str, name: str) -> Path:
        return self.root / INDEX / user / f"{name}.json"

    def _load_index(self, user: str, name: str) -> dict[str, list[object]]:
        try:
            data = json.loads(self._index_path(user, name).read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _save_index(self, user: str, name: str, index: dict[str, list[object]]) -> None:
        path = self._index_path(user, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(index, separators=(",", ":")))

    def manifest(self, user: str, name: str) -> dict[str, Entry]:
        """Every regular file of the workspace: {path: (sha256, size, executable)}.
        Symlinks and special files are not part of it; hashes come from the cache when the
        size and mtime did not change."""
        index = self._load_index(user, name)
        fresh: dict[str, list[object]] = {}
        out: dict[str, Entry] = {}
        with self._dir([user, name], f"workspace {name}") as fd:
            self._walk(fd, "", index, fresh, out)
        if fresh != index:
            self._save_index(user, name, fresh)
        return out

    def _walk(
        self,
        fd: int,
        prefix: str,
        index: dict[str, list[object]],
        fresh: dict[str, list[object]],
        out: dict[str, Entry],
    ) -> None:
        with os.scandir(fd) as it:
            entries = list(it)
        for e in entries:
            rel = prefix + e.name
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                try:
                    sub = os.open(e.name, DIR_FLAGS, dir_fd=fd)
                except OSError:
                    continue
                try:
                    self._walk(sub, rel + "/", index, fresh, out)
                finally:
                    os.close(sub)
            elif stat.S_ISREG(st.st_mode):
                cached = index.get(rel)
                if isinstance(cached, list) and cached[:2] == [st.st_size, st.st_mtime_ns]:
                    digest = str(cached[2])
                else:
                    try:
                        ffd = os.open(e.name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
                    except OSError:
                        continue
                    try:
                        digest = hash_fd(ffd)
                    finally:
                        os.close(ffd)
                fresh[rel] = [st.st_size, st.st_mtime_ns, digest]
                out[rel] = (digest, st.st_size, bool(st.st_mode & 0o100))

    # -- uploads -----------------------------------------------------------------------
    def upload_state(self, user: str, sha: str) -> int | None:
        """Bytes of ``sha`` received so far (its size when complete), None: none yet."""
        with self._dir([STAGING, user], "staging", create=True) as sfd:
            for name in (sha, f"{sha}.part"):
                with contextlib.suppress(FileNotFoundError):
                    return os.stat(name, dir_fd=sfd, follow_symlinks=False).st_size
        return None

    def _reserve(self, user: str, sfd: int, adding: int) -> None:
        """Count ``adding`` more bytes of uploads, or 413 past the limit. What a user's uploads
        hold is re-counted at most every STAGED_TTL_S (a push of thousands of small files
        must not list the staging directory for each)."""
        now = time.monotonic()
        at, total = self._staged.get(user, (0.0, 0))
        if now - at > STAGED_TTL_S:
            with os.scandir(sfd) as it:
                total = sum(e.stat(follow_symlinks=False).st_size for e in it if e.is_file())
            at = now
        if total + adding > self.limits.max_workspace_bytes:
            self._staged[user] = (at, total)
            raise TooLarge("too many uploads waiting to be committed; push again later")
        self._staged[user] = (at, total + adding)

    def put_chunk(self, user: str, sha: str, size: int, offset: int, data: bytes) -> int:
        """Write ``data`` at ``offset`` of the upload of ``sha`` (``size`` bytes in all); on
        the last byte the content is checked against ``sha``. Returns the bytes received."""
        lim = self.limits
        if size > lim.max_file_bytes:
            raise TooLarge(f"a file of {size} bytes is over the limit of {lim.max_file_bytes}")
        if len(data) > lim.chunk_bytes:
            raise TooLarge(f"a chunk is at most {lim.chunk_bytes} bytes")
        if offset + len(data) > size:
            raise Invalid(f"{offset + len(data)} bytes is more than the size given ({size})")
        with self._dir([STAGING, user], "staging", create=True) as sfd:
            with contextlib.suppress(FileNotFoundError):
                os.stat(sha, dir_fd=sfd, follow_symlinks=False)
                return size  # this content is already here (same hash: same bytes)
            part = f"{sha}.part"
            try:
                have = os.stat(part, dir_fd=sfd, follow_symlinks=False).st_size
            except FileNotFoundError:
                have = None
            if have is None:
                self._reserve(user, sfd, size)
            if (have or 0) != offset:
                raise Conflict(f"the upload of {sha[:12]} is at byte {have or 0}, not {offset}")
            fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                         dir_fd=sfd)  # fmt: skip
            try:
                os.pwrite(fd, data, offset)
            finally:
                os.close(fd)
            done = offset + len(data)
            if done == size:
                fd = os.open(part, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=sfd)
                try:
                    digest = hash_fd(fd)
                finally:
                    os.close(fd)
                if digest != sha:
                    os.unlink(part, dir_fd=sfd)
                    self._staged.pop(user, None)
                    raise Invalid(f"the content uploaded does not match its hash {sha[:12]}")
                os.rename(part, sha, src_dir_fd=sfd, dst_dir_fd=sfd)
            return done

    def put_whole(self, user: str, blobs: list[tuple[str, bytes]]) -> int:
        """Store small contents sent whole (a bundle): each checked against its hash."""
        with self._dir([STAGING, user], "staging", create=True) as sfd:
            self._reserve(user, sfd, sum(len(d) for _s, d in blobs))
            for sha, data in blobs:
                if hashlib.sha256(data).hexdigest() != sha:
                    raise Invalid(f"the content uploaded does not match its hash {sha[:12]}")
                tmp = f"{sha}.whole"
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
                             | os.O_CLOEXEC, 0o600, dir_fd=sfd)  # fmt: skip
                try:
                    os.write(fd, data)
                finally:
                    os.close(fd)
                os.rename(tmp, sha, src_dir_fd=sfd, dst_dir_fd=sfd)
        return len(blobs)

    # -- commit ------------------------------------------------------------------------
    def commit(
        self, user: str, name: str, files: list[tuple[str, str, bool]], delete: list[str],
        owner: Owner, dirs: list[str] = (),  # type: ignore[assignment]
    ) -> dict[str, int]:  # fmt: skip
        """Put the uploaded contents of ``files`` [(path, sha256, executable)] in place, make
        the directories ``dirs`` and delete ``delete``; within the workspace's limits (413)
        and without following links."""
        current = self.manifest(user, name)
        sizes: dict[str, int] = {}
        with self._dir([STAGING, user], "staging", create=True) as sfd:
            for _path, sha, _x in files:
                if sha not in sizes:
                    try:
                        sizes[sha] = os.stat(sha, dir_fd=sfd, follow_symlinks=False).st_size
                    except FileNotFoundError:
                        raise Conflict(
                            f"content {sha[:12]} was not uploaded (or not whole)"
                        ) from None
            after = dict(current)
            for path in delete:
                after.pop(path, None)
            for path, sha, x in files:
                after[path] = (sha, sizes[sha], x)
            total = sum(e[1] for e in after.values())
            if total > self.limits.max_workspace_bytes:
                raise TooLarge(
                    f"the workspace would hold {total} bytes, over its limit of "
                    f"{self.limits.max_workspace_bytes}"
                )
            if len(after) > self.limits.max_files:
                raise TooLarge(
                    f"the workspace would hold {len(after)} files, over {self.limits.max_files}"
                )
            uses: dict[str, int] = {}
            for _p, sha, _x in files:
                uses[sha] = uses.get(sha, 0) + 1
            placed: dict[str, list[object]] = {}
            with self._dir([user, name], f"workspace {name}") as wfd:
                for path, sha, x in files:
                    uses[sha] -= 1
                    st = self._place(sfd, wfd, path, sha, x, owner, keep=uses[sha] > 0)
                    placed[path] = [st.st_size, st.st_mtime_ns, sha]
                deleted = sum(self._delete(wfd, path) for path in delete)
                for path in dirs:
                    try:
                        os.close(open_under(wfd, path.split("/"), owner))
                    except OSError as exc:
                        raise through(exc, f"directory {path!r}") from None
        self._staged.pop(user, None)  # contents left the staging directory: count again
        # the hash cache learns what was placed (its hashes are known: nothing is re-read)
        index = self._load_index(user, name)
        for path in delete:
            index.pop(path, None)
        index.update(placed)
        self._save_index(user, name, index)
        return {"written": len(files), "deleted": deleted, "bytes": total, "files": len(after)}

    def _place(
        self, sfd: int, wfd: int, path: str, sha: str, executable: bool, owner: Owner, keep: bool
    ) -> os.stat_result:
        *parents, leaf = path.split("/")
        src = sha
        if keep:  # the same content goes to another path of this commit too: a copy moves
            src = f"{sha}.copy"
            with (
                open(os.open(sha, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=sfd), "rb") as fin,
                open(
                    os.open(
                        src,
                        os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW,
                        0o600,
                        dir_fd=sfd,
                    ),
                    "wb",
                ) as fout,  # fmt: skip
            ):
                shutil.copyfileobj(fin, fout, READ_CHUNK)
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=sfd)
        try:
            os.fchmod(fd, 0o755 if executable else 0o644)
            if owner is not None:
                os.fchown(fd, *owner)
        finally:
            os.close(fd)
        try:
            dfd = open_under(wfd, parents, owner)
        except OSError as exc:
            raise through(exc, f"path {path!r}") from None
        try:
            os.rename(src, leaf, src_dir_fd=sfd, dst_dir_fd=dfd)  # replaces a link, never follows
            return os.stat(leaf, dir_fd=dfd, follow_symlinks=False)
        except IsADirectoryError:
            raise Conflict(f"{path!r} is a directory in the workspace") from None
        except OSError as exc:
            raise through(exc, f"path {path!r}") from None
        finally:
            os.close(dfd)

    def _delete(self, wfd: int, path: str) -> int:
        *parents, leaf = path.split("/")
        try:
            dfd = open_under(wfd, parents, create=False)
        except OSError:
            return 0
        try:
            os.unlink(leaf, dir_fd=dfd)  # a symlink is removed itself, never followed
            return 1
        except FileNotFoundError:
            return 0
        except IsADirectoryError:
            raise Conflict(f"{path!r} is a directory: not deleted") from None
        finally:
            os.close(dfd)

    # -- downloads ---------------------------------------------------------------------
    def open_file(self, user: str, name: str, path: str) -> tuple[int, int]:
        """(descriptor, size) of a regular file of the workspace, opened without links."""
        *parents, leaf = path.split("/")
        with self._dir([user, name], f"workspace {name}") as wfd:
            try:
                dfd = open_under(wfd, parents, create=False)
                try:
                    fd = os.open(leaf, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
                finally:
                    os.close(dfd)
            except OSError as exc:
                raise through(exc, f"file {path!r} in workspace {name}") from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise Conflict(f"{path!r} is not a regular file")
        return fd, st.st_size
