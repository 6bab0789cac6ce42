"""Push and pull a workspace through the server's API (resumable, only what changed).

Push: scan (hash cache) -> the remote manifest -> upload each new content once, in chunks,
resuming where an earlier push stopped (``/api/v1/uploads/SHA``) -> commit in batches (the
files land in place on the server). Pull: the remote manifest -> download what differs to
``PATH.hai-part`` (resumed by size), check its hash, move it in place. Files ignored by
``.hfignore`` never move either way; ``delete`` also removes what the other side lacks.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hai_cli.client import ApiError, Client
from hai_cli.workspace import paths
from hai_cli.workspace.diff import Diff, Entry, diff
from hai_cli.workspace.ignore import Ignore, load
from hai_cli.workspace.local import Config, scan, sha256_file

CHUNK = 4 << 20  # the server's request body limit
SMALL = 1 << 20  # files up to this size go whole, many per request (a bundle)
COMMIT_BATCH = 2000
PART = ".hai-part"
Say = Callable[[str], None]


class SyncError(Exception):
    """A push or pull that could not finish; running it again resumes."""


@dataclass(slots=True)
class Result:
    diff: Diff
    moved: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    bytes: int = 0
    skipped: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"moved": self.moved, "deleted": self.deleted, "bytes": self.bytes,
                "unchanged": self.diff.same, "skipped": self.skipped}  # fmt: skip


def remote_manifest(client: Client, name: str, ignore: Ignore) -> tuple[dict[str, Entry], str]:
    data = client.request("GET", f"/api/v1/workspaces/{name}")
    files = {
        p: (str(e["sha256"]), int(e["size"]), bool(e.get("exec")))
        for p, e in data["files"].items()
        if not ignore(p)
    }
    return files, str(data["remote_path"])


def compare(
    client: Client, cfg: Config
) -> tuple[Diff, dict[str, Entry], dict[str, Entry], list[str]]:
    ignore = load(str(cfg.root))
    local = scan(cfg.root, ignore)
    remote, _ = remote_manifest(client, cfg.name, ignore)
    return diff(local.files, remote), local.files, remote, local.skipped


def push(
    client: Client,
    cfg: Config,
    *,
    delete: bool = False,
    say: Say = lambda _m: None,
    dirs: tuple[str, ...] = (),
) -> Result:
    """Send what is new or changed here (``dirs``: directories to make there, even empty)."""
    d, local, _remote, skipped = compare(client, cfg)
    res = Result(d, skipped=skipped)
    send = [*d.only_local, *d.changed]
    done: set[str] = set()
    bundle: list[bytes] = []
    bundled = 0
    for path in send:
        sha, size, _x = local[path]
        if sha in done:
            continue
        done.add(sha)
        res.bytes += size
        if size > SMALL:
            _upload(client, cfg.root / path, sha, size, path)
            continue
        data = (cfg.root / path).read_bytes()
        if len(data) != size:
            raise SyncError(f"{path} changed while it was being pushed; push again")
        if bundled + size + 80 > CHUNK:
            _send_bundle(client, bundle)
            bundle, bundled = [], 0
        bundle += [f"{sha} {size}\n".encode(), data]
        bundled += size + 80
    if bundle:
        _send_bundle(client, bundle)
    gone = list(d.only_remote) if delete else []
    for i in range(0, max(len(send), 1), COMMIT_BATCH):
        batch = send[i : i + COMMIT_BATCH]
        removing = gone if i == 0 else []
        making = list(dirs) if i == 0 else []
        if not batch and not removing and not making:
            break
        body = {"files": [{"path": p, "sha256": local[p][0], "exec": local[p][2]} for p in batch],
                "delete": removing, "dirs": making}  # fmt: skip
        client.request("POST", f"/api/v1/workspaces/{cfg.name}/commit", body=body)
        say(f"pushed {min(i + COMMIT_BATCH, len(send))}/{len(send)} file(s)")
    res.moved, res.deleted = send, gone
    return res


def _send_bundle(client: Client, parts: list[bytes]) -> None:
    try:
        client.request("POST", "/api/v1/uploads", raw=b"".join(parts))
    except ApiError as exc:
        if exc.status == 422 and "does not match" in exc.message:
            raise SyncError("a file changed while it was being pushed; push again") from None
        raise


def _upload(client: Client, file: Path, sha: str, size: int, rel: str) -> None:
    offset = 0
    if size > CHUNK:  # a big file: resume where an earlier push stopped
        offset = int(client.request("GET", f"/api/v1/uploads/{sha}")["offset"])
    conflicts = 0
    with open(file, "rb") as fh:
        while True:
            fh.seek(offset)
            data = fh.read(min(CHUNK, size - offset))
            try:
                ans = client.request("PUT", f"/api/v1/uploads/{sha}",
                                     params={"size": size, "offset": offset}, raw=data)  # fmt: skip
            except ApiError as exc:
                if exc.status == 409 and conflicts < 3:  # the server has another offset
                    conflicts += 1
                    offset = int(client.request("GET", f"/api/v1/uploads/{sha}")["offset"])
                    continue
                if exc.status == 422 and "does not match" in exc.message:
                    raise SyncError(
                        f"{rel} changed while it was being pushed; push again"
                    ) from None
                raise
            offset = int(ans["offset"])
            if ans.get("complete") or offset >= size:
                return


def pull(
    client: Client, cfg: Config, *, delete: bool = False, say: Say = lambda _m: None
) -> Result:
    d, _local, remote, skipped = compare(client, cfg)
    res = Result(d, skipped=skipped)
    fetch = [*d.only_remote, *d.changed]
    root = cfg.root.resolve()
    small: list[str] = []
    for path in fetch:
        target = _target(root, path)
        if remote[path][1] <= SMALL:
            small.append(path)
        else:
            _download(client, cfg.name, path, target, remote[path])
        res.bytes += remote[path][1]
    batch: list[str] = []
    size = 0
    for n, path in enumerate(small, 1):
        if batch and size + remote[path][1] > CHUNK:
            _fetch_many(client, cfg.name, root, batch, remote)
            batch, size = [], 0
        batch.append(path)
        size += remote[path][1]
        if n % 500 == 0:
            say(f"pulled {n}/{len(small)} small file(s)")
    if batch:
        _fetch_many(client, cfg.name, root, batch, remote)
    gone = list(d.only_local) if delete else []
    for path in gone:
        (root / path).unlink(missing_ok=True)
    res.moved, res.deleted = fetch, gone
    return res


def _target(root: Path, path: str) -> Path:
    """Where a remote file lands here: never through a symlink out of the workspace."""
    paths.rel_path(path)  # a path no workspace may hold is never written
    target = root / path
    parent = target.parent.resolve()
    if parent != root and root not in parent.parents:
        raise SyncError(f"{path}: its folder leads out of the workspace (a symlink?)")
    if target.is_symlink():
        target.unlink()
    parent.mkdir(parents=True, exist_ok=True)
    return target


def _fetch_many(
    client: Client, name: str, root: Path, batch: list[str], remote: dict[str, Entry]
) -> None:
    """Small files in one request, each checked against the hash the manifest gave."""
    data = client.get_bytes(f"/api/v1/workspaces/{name}/files", body={"paths": batch})
    pos = 0
    for path in batch:
        end = data.find(b"\n", pos)
        _sha, size = data[pos:end].decode().split(" ")
        body = data[end + 1 : end + 1 + int(size)]
        pos = end + 1 + int(size)
        sha, _size, executable = remote[path]
        if hashlib.sha256(body).hexdigest() != sha:
            raise SyncError(f"{path} changed on the server while it was being pulled; pull again")
        target = _target(root, path)
        part = target.with_name(target.name + PART)
        part.write_bytes(body)
        os.chmod(part, 0o755 if executable else 0o644)
        os.replace(part, target)


def _download(client: Client, name: str, path: str, target: Path, entry: Entry) -> None:
    sha, size, executable = entry
    part = target.with_name(target.name + PART)
    have = part.stat().st_size if part.exists() and not part.is_symlink() else 0
    if have > size:
        part.unlink()
        have = 0
    url, params = f"/api/v1/workspaces/{name}/file", {"path": path, "offset": have}
    with open(part, "ab") as out:
        if size - have <= SMALL:  # on the kept-alive connection
            out.write(client.get_bytes(url, params))
        else:
            for chunk in client.stream(url, params):
                out.write(chunk)
    if sha256_file(part) != sha:
        part.unlink()
        raise SyncError(f"{path} changed on the server while it was being pulled; pull again")
    os.chmod(part, 0o755 if executable else 0o644)
    os.replace(part, target)
