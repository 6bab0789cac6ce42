"""Workspace sync use cases: the caller's own workspaces only (another user's: 404).

Every name and path is checked by ``hai_cli.workspace.paths`` (422 with the rule broken);
sizes over the limits are 413; the disk work (``wsfiles.WorkspaceStore``: no symlink is ever
followed) runs in a worker thread. On a server running as root the files and directories
are given to the caller's uid/gid; a caller without one cannot write there (403).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from typing import Any

from hai_cli.workspace import paths
from hai_server.db.reads import Reads
from hai_server.services.errors import Forbidden, Invalid, NotFound, TooLarge
from hai_server.services.tasks import Caller
from hai_server.services.wsfd import READ_CHUNK, Owner
from hai_server.services.wsfiles import WorkspaceStore

MAX_BUNDLE_BYTES = 16 << 20


def _checked(rule: Any, *args: Any) -> Any:
    try:
        return rule(*args)
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def _user_dir(name: str) -> str:
    """The caller's name as a directory: one plain part, not hidden."""
    if name.startswith(".") or "/" in name:
        raise Forbidden(f"user name {name!r} cannot name a directory: no workspaces")
    return _checked(paths.rel_path, name)  # type: ignore[no-any-return]


class WorkspaceService:
    def __init__(self, store: WorkspaceStore, reads: Reads) -> None:
        self.store = store
        self._reads = reads

    async def _owner(self, caller: Caller) -> Owner:
        if os.geteuid() != 0:
            return None  # files belong to the server's user (the embedded server's user)
        uid, gid = await self._reads.user_identity(caller.user_id)
        if uid is None:
            raise Forbidden(
                f"user {caller.name} has no uid: this server runs as root and writes "
                "workspace files as their owner (an admin gives it one: hai-cli admin user add NAME --uid N)"
            )
        return (uid, gid if gid is not None else uid)

    def _where(self, caller: Caller, name: str) -> tuple[str, str]:
        return _user_dir(caller.name), _checked(paths.workspace_name, name)

    async def _existing(self, caller: Caller, name: str) -> tuple[str, str]:
        user, ws = self._where(caller, name)
        if not await asyncio.to_thread(self.store.exists, user, ws):
            raise NotFound(f"no workspace {ws}")
        return user, ws

    async def create(self, caller: Caller, name: str) -> dict[str, Any]:
        user, ws = self._where(caller, name)
        owner = await self._owner(caller)
        remote = await asyncio.to_thread(self.store.create, user, ws, owner)
        return {"name": ws, "remote_path": remote}

    async def list(self, caller: Caller) -> dict[str, Any]:
        user = _user_dir(caller.name)
        names = await asyncio.to_thread(self.store.names, user)
        out = []
        for ws in names:
            if not _valid_name(ws):
                continue
            files = await asyncio.to_thread(self.store.manifest, user, ws)
            out.append({"name": ws, "files": len(files), "bytes": sum(e[1] for e in files.values()),
                        "remote_path": str(self.store.root / user / ws)})  # fmt: skip
        return {"workspaces": out}

    async def manifest(self, caller: Caller, name: str) -> dict[str, Any]:
        user, ws = await self._existing(caller, name)
        files = await asyncio.to_thread(self.store.manifest, user, ws)
        return {
            "name": ws,
            "remote_path": str(self.store.root / user / ws),
            "files": {p: {"sha256": e[0], "size": e[1], "exec": e[2]} for p, e in files.items()},
        }

    async def upload_state(self, caller: Caller, sha: str) -> dict[str, Any]:
        user = _user_dir(caller.name)
        sha = _checked(paths.sha256_hex, sha)
        have = await asyncio.to_thread(self.store.upload_state, user, sha)
        return {"sha256": sha, "offset": have or 0}

    async def put_chunk(
        self, caller: Caller, sha: str, size: int, offset: int, data: bytes
    ) -> dict[str, Any]:
        user = _user_dir(caller.name)
        sha = _checked(paths.sha256_hex, sha)
        if size < 0 or offset < 0:
            raise Invalid("size and offset must be >= 0")
        done = await asyncio.to_thread(self.store.put_chunk, user, sha, size, offset, data)
        return {"sha256": sha, "offset": done, "complete": done == size}

    async def put_bundle(self, caller: Caller, body: bytes) -> dict[str, Any]:
        """Small contents sent whole in one body: ``<sha256> <size>\n<bytes>`` repeated."""
        user = _user_dir(caller.name)
        blobs: list[tuple[str, bytes]] = []
        pos = 0
        while pos < len(body):
            end = body.find(b"\n", pos, pos + 100)
            head = body[pos:end].decode("ascii", "replace").split(" ") if end > 0 else []
            if len(head) != 2 or not head[1].isdigit():
                raise Invalid(f"bad bundle: expected '<sha256> <size>\\n' at byte {pos}")
            sha, size = _checked(paths.sha256_hex, head[0]), int(head[1])
            data = body[end + 1 : end + 1 + size]
            if len(data) != size:
                raise Invalid(f"bad bundle: {sha[:12]} announces {size} bytes, has {len(data)}")
            blobs.append((sha, data))
            pos = end + 1 + size
        count = await asyncio.to_thread(self.store.put_whole, user, blobs)
        return {"stored": count}

    async def commit(self, caller: Caller, name: str, body: Any) -> dict[str, Any]:
        user, ws = await self._existing(caller, name)
        if not isinstance(body, dict):
            raise Invalid("expected {'files': [...], 'delete': [...]}")
        files_in, delete_in = body.get("files", []), body.get("delete", [])
        if not isinstance(files_in, list) or not isinstance(delete_in, list):
            raise Invalid("'files' and 'delete' must be lists")
        files: list[tuple[str, str, bool]] = []
        seen: set[str] = set()
        for f in files_in:
            if not isinstance(f, dict):
                raise Invalid("each file is {'path', 'sha256', 'exec'}")
            path = _checked(paths.rel_path, f.get("path"))
            if path in seen:
                raise Invalid(f"path {path!r} given twice")
            seen.add(path)
            files.append((path, _checked(paths.sha256_hex, f.get("sha256")), bool(f.get("exec"))))
        delete = [_checked(paths.rel_path, p) for p in delete_in]
        dirs_in = body.get("dirs", [])
        if not isinstance(dirs_in, list) or len(dirs_in) > 100:
            raise Invalid("'dirs' must be a list of at most 100 directories")
        dirs = [_checked(paths.rel_path, p) for p in dirs_in]
        owner = await self._owner(caller)
        result = await asyncio.to_thread(self.store.commit, user, ws, files, delete, owner, dirs)
        return {"name": ws, **result}

    async def read(
        self, caller: Caller, name: str, path: str, offset: int
    ) -> tuple[int, AsyncIterator[bytes]]:
        """(size, the bytes from ``offset``) of one file of the caller's workspace."""
        user, ws = await self._existing(caller, name)
        path = _checked(paths.rel_path, path)
        fd, size = await asyncio.to_thread(self.store.open_file, user, ws, path)
        if not 0 <= offset <= size:
            os.close(fd)
            raise Invalid(f"offset {offset} is outside the file's {size} bytes")

        async def chunks() -> AsyncIterator[bytes]:
            try:
                pos = offset
                while pos < size:
                    data = await asyncio.to_thread(os.pread, fd, READ_CHUNK, pos)
                    if not data:
                        break
                    pos += len(data)
                    yield data
            finally:
                os.close(fd)

        return size - offset, chunks()

    async def read_many(self, caller: Caller, name: str, body: Any) -> bytes:
        """Small files whole, many in one answer: ``<sha256> <size>\n<bytes>`` per path, in
        the order asked; at most MAX_BUNDLE_BYTES in all (the client asks for bigger ones
        one by one)."""
        user, ws = await self._existing(caller, name)
        wanted = body.get("paths") if isinstance(body, dict) else None
        if not isinstance(wanted, list) or len(wanted) > 5000:
            raise Invalid("expected {'paths': [...]} with at most 5000 paths")
        checked = [_checked(paths.rel_path, p) for p in wanted]
        return await asyncio.to_thread(self._bundle, user, ws, checked)

    def _bundle(self, user: str, ws: str, wanted: list[str]) -> bytes:
        out: list[bytes] = []
        total = 0
        for path in wanted:
            fd, size = self.store.open_file(user, ws, path)
            try:
                total += size
                if total > MAX_BUNDLE_BYTES:
                    raise TooLarge(f"a bundle holds at most {MAX_BUNDLE_BYTES} bytes")
                data = os.pread(fd, size, 0)
            finally:
                os.close(fd)
            out += [f"{hashlib.sha256(data).hexdigest()} {len(data)}\n".encode(), data]
        return b"".join(out)

    async def remove(self, caller: Caller, name: str) -> dict[str, Any]:
        user, ws = await self._existing(caller, name)
        await asyncio.to_thread(self.store.remove, user, ws)
        return {"name": ws, "removed": True}


def _valid_name(name: str) -> bool:
    try:
        paths.workspace_name(name)
        return True
    except ValueError:
        return False
