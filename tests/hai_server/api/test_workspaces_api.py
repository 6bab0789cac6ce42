"""Workspace sync through the API (both databases), tested like an attacker would: paths that
try to leave the workspace (``..``, absolute, symlinks planted in it, NUL, control chars),
another user's workspace (404), sizes over the limits (413), a content that does not match
its hash (422), an upload resumed where it stopped, files given to their owner's uid."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from hai_server.app import create_app
from hai_server.backends.base import NodeState
from hai_server.backends.fake import FakeBackend
from hai_server.settings import WorkspaceSettings
from tests.support.pg_server import ADMIN_TOKEN, Api, make_settings

LIMITS = WorkspaceSettings(max_file_bytes=100_000, max_workspace_bytes=250_000, max_files=50)


def _serve(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Api, Path]]:
    settings = make_settings(tmp_path / "home", db_url, nodes=1).model_copy(
        update={"workspace": LIMITS, "workspaces_root": tmp_path / "ws"}
    )
    app = create_app(settings, backend=FakeBackend([NodeState("fake-0", "default")]))
    with TestClient(app, timeout=30) as client:
        root = Api(client, ADMIN_TOKEN)
        bob = root.ok("POST", "/api/v1/admin/users", {"name": "bob", "uid": 4242, "gid": 4343})
        yield root, root.as_(bob["token"]), tmp_path / "ws"


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Api, Path]]:
    """(root's client, bob's client, the workspaces root)."""
    yield from _serve(db_url, tmp_path)


@pytest.fixture(scope="module")
def refusing(
    module_db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Api, Api, Path]]:
    """``served`` shared by the tables of refusals (each case checks what it refused)."""
    yield from _serve(module_db_url, tmp_path_factory.mktemp("ws-refusals"))


def upload(api: Api, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    r = put(api, sha, data, size=len(data))
    assert r.status_code == 200 and r.json()["complete"], r.text
    return sha


def put(api: Api, sha: str, data: bytes, **params: Any) -> Any:
    return api.client.put(
        f"/api/v1/uploads/{sha}", content=data, params=params,
        headers={"Authorization": f"Bearer {api.token}"},
    )  # fmt: skip


def commit(api: Api, name: str, files: dict[str, bytes], delete: list[str] = ()) -> Any:  # type: ignore[assignment]
    body = {"files": [{"path": p, "sha256": upload(api, d)} for p, d in files.items()],
            "delete": list(delete)}  # fmt: skip
    return api.call("POST", f"/api/v1/workspaces/{name}/commit", body)


def download(api: Api, name: str, path: str, offset: int = 0) -> Any:
    return api.client.get(
        f"/api/v1/workspaces/{name}/file", params={"path": path, "offset": offset},
        headers={"Authorization": f"Bearer {api.token}"},
    )  # fmt: skip


def test_round_trip_and_only_the_changed_file_moves(served: Any) -> None:
    root, _bob, ws = served
    made = root.ok("POST", "/api/v1/workspaces/proj")
    assert made["remote_path"] == str(ws / "root" / "proj")
    files = {"train.py": b"print(1)\n", "data/a.bin": os.urandom(5000), "empty": b""}
    assert commit(root, "proj", files).json()["written"] == 3
    manifest = root.ok("GET", "/api/v1/workspaces/proj")["files"]
    assert {p: e["sha256"] for p, e in manifest.items()} == {
        p: hashlib.sha256(d).hexdigest() for p, d in files.items()
    }
    assert download(root, "proj", "data/a.bin").content == files["data/a.bin"]
    assert download(root, "proj", "data/a.bin", offset=4000).content == files["data/a.bin"][4000:]
    assert download(root, "proj", "empty").content == b""
    # a second commit with one changed file and one deleted: the rest is not touched
    before = os.stat(ws / "root/proj/train.py").st_mtime_ns
    out = commit(root, "proj", {"data/a.bin": b"new"}, delete=["empty"]).json()
    assert (out["written"], out["deleted"], out["files"]) == (1, 1, 2)
    assert os.stat(ws / "root/proj/train.py").st_mtime_ns == before
    assert (ws / "root/proj/data/a.bin").read_bytes() == b"new"
    listed = root.ok("GET", "/api/v1/workspaces")["workspaces"]
    assert [(w["name"], w["files"], w["bytes"]) for w in listed] == [("proj", 2, 12)]
    assert root.ok("DELETE", "/api/v1/workspaces/proj")["removed"]
    assert root.call("GET", "/api/v1/workspaces/proj").status_code == 404


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("../escape.txt", "has an empty, '.' or '..' part"),
        ("a/../../escape.txt", "'..' part"),
        ("/etc/passwd", "is absolute"),
        ("a//b", "empty"),
        ("./a", "'.'"),
        ("a\x00b", "control character U+0000"),
        ("a\nb", "control character U+000A"),
        ("a\\..\\b", "backslash"),
        ("", "non-empty"),
        ("x" * 256, "longer than 255 bytes"),
        ("a/" * 2100 + "b", "longer than 4096 bytes"),
    ],
)
def test_paths_that_try_to_leave_are_refused(refusing: Any, path: str, words: str) -> None:
    root, _bob, ws = refusing
    root.ok("POST", "/api/v1/workspaces/proj")
    r = commit(root, "proj", {path: b"pwned"})
    assert r.status_code == 422 and words in r.json()["message"], r.text
    r = download(root, "proj", path)
    assert r.status_code == 422, r.text
    assert not list(ws.parent.glob("**/escape.txt"))


def test_symlinks_planted_in_a_workspace_are_never_followed(served: Any, tmp_path: Path) -> None:
    root, _bob, ws = served
    root.ok("POST", "/api/v1/workspaces/proj")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret")
    # what a task running in the workspace could do
    os.symlink(outside, ws / "root/proj/out")
    os.symlink(outside / "secret", ws / "root/proj/link")
    r = commit(root, "proj", {"out/planted": b"x"})
    assert r.status_code == 409 and "goes through a symlink" in r.json()["message"], r.text
    assert not (outside / "planted").exists()
    r = download(root, "proj", "link")
    assert r.status_code == 409 and "secret" not in r.text, r.text
    r = download(root, "proj", "out/secret")
    assert r.status_code == 409, r.text
    assert "link" not in root.ok("GET", "/api/v1/workspaces/proj")["files"]
    # writing over the link replaces the link itself; the file it pointed to is untouched
    assert commit(root, "proj", {"link": b"mine"}).status_code == 200
    assert (outside / "secret").read_text() == "secret"
    assert not os.path.islink(ws / "root/proj/link")
    # a workspace that is itself a symlink is refused too
    os.symlink(outside, ws / "root/alias")
    assert root.call("GET", "/api/v1/workspaces/alias").status_code == 404
    assert commit(root, "alias", {"a": b"x"}).status_code == 404


def test_another_users_workspace_is_not_found(served: Any) -> None:
    root, bob, ws = served
    root.ok("POST", "/api/v1/workspaces/proj")
    assert commit(root, "proj", {"a.txt": b"root's"}).status_code == 200
    for method, path, params in (
        ("GET", "/api/v1/workspaces/proj", {}),
        ("DELETE", "/api/v1/workspaces/proj", {}),
    ):
        r = bob.call(method, path, **params)
        assert r.status_code == 404 and r.json()["message"] == "no workspace proj", r.text
    for r in (download(bob, "proj", "a.txt"), download(bob, "proj", "../../root/proj/a.txt")):
        assert r.status_code == 404 and r.json()["message"] == "no workspace proj", r.text
    assert commit(bob, "proj", {"a.txt": b"bob's"}).status_code == 404
    assert bob.ok("GET", "/api/v1/workspaces")["workspaces"] == []
    # bob's own workspace of the same name is his, apart
    bob.ok("POST", "/api/v1/workspaces/proj")
    assert commit(bob, "proj", {"a.txt": b"bob's"}).status_code == 200
    assert (ws / "root/proj/a.txt").read_bytes() == b"root's"
    # an upload is the uploader's: bob cannot commit content only root sent
    sha = upload(root, b"only root sent this")
    r = bob.call("POST", "/api/v1/workspaces/proj/commit",
                 {"files": [{"path": "x", "sha256": sha}]})  # fmt: skip
    assert r.status_code == 409 and "was not uploaded" in r.json()["message"]


@pytest.mark.skipif(os.geteuid() != 0, reason="giving files to another uid needs root")
def test_files_belong_to_their_owner(served: Any) -> None:
    _root, bob, ws = served
    bob.ok("POST", "/api/v1/workspaces/proj")
    assert commit(bob, "proj", {"d/run.sh": b"echo hi\n"}).status_code == 200
    for p in (ws / "bob/proj", ws / "bob/proj/d", ws / "bob/proj/d/run.sh"):
        st = os.stat(p)
        assert (st.st_uid, st.st_gid) == (4242, 4343), p


def test_sizes_over_the_limits_are_413(served: Any) -> None:
    root, _bob, _ws = served
    root.ok("POST", "/api/v1/workspaces/proj")
    r = put(root, "a" * 64, b"x", size=100_001)
    assert r.status_code == 413 and "over the limit of 100000" in r.json()["message"]
    r = put(root, "a" * 64, b"x" * (4 * 1024 * 1024 + 1), size=5_000_000)
    assert r.status_code == 413, r.text
    assert commit(root, "proj", {f"f{i}": os.urandom(90_000) for i in range(2)}).status_code == 200
    r = commit(root, "proj", {"f3": os.urandom(90_000)})  # 270 kB > 250 kB
    assert r.status_code == 413 and "over its limit of 250000" in r.json()["message"]
    assert sorted(root.ok("GET", "/api/v1/workspaces/proj")["files"]) == ["f0", "f1"]
    # uploads never committed cannot pile up past the limit either
    upload(root, os.urandom(90_000))
    r = put(root, "b" * 64, b"x", size=90_000)
    assert r.status_code == 413 and "waiting to be committed" in r.json()["message"]
    many = {f"n{i}": str(i).encode() for i in range(49)}  # 2 + 49 > 50 files
    assert commit(root, "proj", many).status_code == 413


def test_an_upload_resumes_and_is_checked_against_its_hash(served: Any) -> None:
    root, _bob, _ws = served
    data = os.urandom(30_000)
    sha = hashlib.sha256(data).hexdigest()
    assert put(root, sha, data[:10_000], size=30_000, offset=0).json()["offset"] == 10_000
    assert root.ok("GET", f"/api/v1/uploads/{sha}")["offset"] == 10_000  # where to resume
    r = put(root, sha, data[:10_000], size=30_000, offset=0)  # a stale client
    assert r.status_code == 409 and "is at byte 10000, not 0" in r.json()["message"]
    done = put(root, sha, data[10_000:], size=30_000, offset=10_000).json()
    assert done == {"sha256": sha, "offset": 30_000, "complete": True}
    # sending it again costs nothing: the content is there
    assert put(root, sha, b"", size=30_000).json()["complete"]
    # bytes that do not match the hash are refused and dropped
    wrong = hashlib.sha256(b"other").hexdigest()
    r = put(root, wrong, b"not other", size=9)
    assert r.status_code == 422 and "does not match its hash" in r.json()["message"]
    assert root.ok("GET", f"/api/v1/uploads/{wrong}")["offset"] == 0
    r = put(root, wrong, b"123456", size=3)
    assert r.status_code == 422 and "more than the size given" in r.json()["message"]


@pytest.mark.parametrize(
    ("method", "url", "words"),
    [
        ("POST", "/api/v1/workspaces/..", "bad workspace name"),
        ("POST", "/api/v1/workspaces/a%00b", "bad workspace name"),
        ("POST", "/api/v1/workspaces/.hidden", "bad workspace name"),
        ("POST", "/api/v1/workspaces/" + "x" * 65, "bad workspace name"),
        ("GET", "/api/v1/uploads/NOTAHASH", "64 lowercase hex digits"),
        ("GET", "/api/v1/uploads/" + "A" * 64, "64 lowercase hex digits"),
        ("PUT", "/api/v1/uploads/" + "a" * 64, "'size'"),
    ],
)
def test_bad_names_and_hashes(refusing: Any, method: str, url: str, words: str) -> None:
    root, _bob, _ws = refusing
    r = root.call(method, url)
    assert r.status_code in (404, 422), r.text
    if r.status_code == 422:
        assert words in r.json()["message"], r.text


def test_bad_commit_bodies(served: Any) -> None:
    root, _bob, _ws = served
    root.ok("POST", "/api/v1/workspaces/proj")
    sha = upload(root, b"x")
    for body, words in (
        ([], "expected {'files'"),
        ({"files": "a"}, "must be lists"),
        ({"files": [1]}, "each file is"),
        ({"files": [{"path": "a", "sha256": "zz"}]}, "64 lowercase hex"),
        ({"files": [{"path": "a", "sha256": sha}, {"path": "a", "sha256": sha}]}, "given twice"),
        ({"delete": ["../x"]}, "'..' part"),
    ):
        r = root.call("POST", "/api/v1/workspaces/proj/commit", body)
        assert r.status_code == 422 and words in r.json()["message"], (body, r.text)
    r = root.client.post("/api/v1/workspaces/proj/commit", content=b"{not json",
                         headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})  # fmt: skip
    assert r.status_code == 422 and "must be JSON" in r.json()["message"]


def test_small_files_travel_in_bundles(served: Any) -> None:
    root, _bob, _ws = served
    root.ok("POST", "/api/v1/workspaces/proj")
    blobs = [b"one", b"", os.urandom(2000)]
    body = b"".join(f"{hashlib.sha256(b).hexdigest()} {len(b)}\n".encode() + b for b in blobs)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    r = root.client.post("/api/v1/uploads", content=body, headers=headers)
    assert r.status_code == 200 and r.json() == {"stored": 3}, r.text
    files = [
        {"path": f"f{i}", "sha256": hashlib.sha256(b).hexdigest()} for i, b in enumerate(blobs)
    ]
    assert root.call("POST", "/api/v1/workspaces/proj/commit", {"files": files}).status_code == 200
    assert download(root, "proj", "f2").content == blobs[2]
    sha = hashlib.sha256(b"x").hexdigest()
    for bad, words in (
        (b"nonsense", "bad bundle"),
        (f"{sha} 5\nx".encode(), "announces 5 bytes, has 1"),
        (f"{sha} 1\ny".encode(), "does not match its hash"),
        (f"{'Z' * 64} 1\nx".encode(), "64 lowercase hex"),
        (f"{sha} -1\nx".encode(), "bad bundle"),
    ):
        r = root.client.post("/api/v1/uploads", content=bad, headers=headers)
        assert r.status_code == 422 and words in r.json()["message"], (bad, r.text)


def test_small_files_come_back_in_bundles(served: Any) -> None:
    root, bob, _ws = served
    root.ok("POST", "/api/v1/workspaces/proj")
    files = {"a": b"one", "d/b": os.urandom(3000), "e": b""}
    assert commit(root, "proj", files).status_code == 200
    r = root.call("POST", "/api/v1/workspaces/proj/files", {"paths": ["d/b", "a", "e"]})
    assert r.status_code == 200, r.text
    expected = b"".join(
        f"{hashlib.sha256(files[p]).hexdigest()} {len(files[p])}\n".encode() + files[p]
        for p in ("d/b", "a", "e")
    )
    assert r.content == expected
    for body, code, words in (
        ({"paths": ["../x"]}, 422, "'..' part"),
        ({"paths": ["/etc/passwd"]}, 422, "absolute"),
        ({"paths": ["nope"]}, 404, "no file 'nope'"),
        ({"paths": "a"}, 422, "expected {'paths'"),
    ):
        r = root.call("POST", "/api/v1/workspaces/proj/files", body)
        assert r.status_code == code and words in r.json()["message"], (body, r.text)
    r = bob.call("POST", "/api/v1/workspaces/proj/files", {"paths": ["a"]})
    assert r.status_code == 404 and r.json()["message"] == "no workspace proj"
