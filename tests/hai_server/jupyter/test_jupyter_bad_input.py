"""Every bad create and every reach into someone else's container, on both databases: a
precise 4xx, and nothing stored. The fake backend: no container here may run a process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from hai_server.app import create_app
from hai_server.backends.base import NodeState
from hai_server.backends.fake import FakeBackend
from tests.support.pg_server import ADMIN_TOKEN, Api, make_settings

NODES = [
    NodeState("train-0", "default", gpus=8),
    NodeState("jup-0", "jupyter", cpus=4, memory_gib=8),
    NodeState("jup-1", "jupyter", cpus=2, memory_gib=16),
]


def _serve(db_url: str, home: Path) -> Iterator[Api]:
    app = create_app(make_settings(home, db_url, nodes=1), backend=FakeBackend(NODES))
    with TestClient(app, timeout=30) as client:
        yield Api(client, ADMIN_TOKEN)


@pytest.fixture
def root(db_url: str, tmp_path: Path) -> Iterator[Api]:
    yield from _serve(db_url, tmp_path / "home")


@pytest.fixture(scope="module")
def refusing(module_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One app for the table of refusals (each case checks nothing was stored)."""
    yield from _serve(module_db_url, tmp_path_factory.mktemp("jupyter-bad") / "home")


BAD: list[tuple[dict[str, Any], int, str]] = [
    ({"group": "nosuch"}, 422, "unknown group 'nosuch'"),
    ({"group": "default"}, 422, "is not a Jupyter group"),
    ({"exclusive": True, "group": "jupyter"}, 422, "is a shared Jupyter group"),
    ({"exclusive": True, "gpus": 1, "group": "default"}, 422, "contradict"),
    ({"cpus": 0}, 422, "--cpu must be more than 0"),
    ({"cpus": -1}, 422, "--cpu must be more than 0"),
    ({"cpus": 1e12}, 422, "--cpu must be more than 0 and at most"),
    ({"cpus": 5}, 422, "the largest node of jupyter has 4 CPU(s), 16 GiB"),
    ({"memory_gib": 0}, 422, "--mem must be more than 0"),
    ({"memory_gib": 17}, 422, "the largest node of jupyter has"),
    ({"gpus": 1}, 422, "0 GPU(s)"),
    ({"gpus": -1}, 422, "--gpus must be a whole number"),
    ({"env": "nosuch"}, 422, "no environment nosuch[root]"),
    ({"env": "../x"}, 422, "bad environment name"),
    ({"name": "a\x00b"}, 422, "U+0000"),
    ({"name": "a\x1b[31mred"}, 422, "U+001B"),
    ({"name": "a/b"}, 422, "bad container name 'a/b'"),
    ({"name": ".."}, 422, "bad container name"),
    ({"name": "x" * 64}, 422, "at most 63"),
    ({"name": ""}, 400, ""),
    ({"image": "bad image"}, 400, ""),
    ({"cpus": "many"}, 400, ""),
    ({"surprise": 1}, 400, ""),
]


@pytest.mark.parametrize(("extra", "status", "message"), BAD)
def test_bad_create_refused_and_nothing_stored(
    refusing: Api, extra: dict[str, Any], status: int, message: str
) -> None:
    root = refusing
    r = root.call("POST", "/api/v1/jupyter", {"name": "box", **extra})
    assert r.status_code in ((400, 422) if status == 400 else (status,)), r.text
    assert message in r.json()["message"], r.text
    assert root.ok("GET", "/api/v1/jupyter")["containers"] == []
    assert root.ok("GET", "/api/v1/tasks")["total"] == 0


def test_duplicate_and_someone_elses(root: Api) -> None:
    box = root.ok("POST", "/api/v1/jupyter", {"name": "box", "cpus": 2, "memory_gib": 4})
    assert (box["state"], box["group"], box["path"]) == ("queued", "jupyter", "/root/box/")
    r = root.call("POST", "/api/v1/jupyter", {"name": "box"})
    assert r.status_code == 409 and "already have a container box" in r.text
    bob = root.as_(root.ok("POST", "/api/v1/admin/users", {"name": "bob", "uid": 4100})["token"])
    for method, path in [
        ("GET", "/api/v1/jupyter/box"), ("GET", "/api/v1/jupyter/box/token"),
        ("POST", "/api/v1/jupyter/box/stop"), ("POST", "/api/v1/jupyter/box/start"),
        ("DELETE", "/api/v1/jupyter/box"), ("GET", "/api/v1/jupyter/box/logs"),
    ]:  # fmt: skip
        for params in ({}, {"user": "root"}):
            r = bob.call(method, path, **params)
            assert r.status_code == 404, (method, path, params, r.text)
            assert "no container 'box'" in r.json()["message"]
    assert bob.ok("GET", "/api/v1/jupyter")["containers"] == []
    assert bob.call("GET", "/api/v1/jupyter", all=True).status_code == 200  # own only
    # the same name is free for bob; the token is his own container's
    mine = bob.ok("POST", "/api/v1/jupyter", {"name": "box"})
    assert mine["user"] == "bob"
    assert bob.ok("GET", "/api/v1/jupyter/box/token")["token"] != root.ok(
        "GET", "/api/v1/jupyter/box/token")["token"]  # fmt: skip
    # the admin sees and controls bob's
    assert root.ok("GET", "/api/v1/jupyter/box", user="bob")["user"] == "bob"
    assert len(root.ok("GET", "/api/v1/jupyter", all=True)["containers"]) == 2
    # a task API record never shows the token
    assert "token" not in str(root.ok("GET", f"/api/v1/tasks/{box['id']}"))


def test_over_quota_refused_at_once_with_limit_and_use(root: Api) -> None:
    bob = root.as_(root.ok("POST", "/api/v1/admin/users", {"name": "bob", "uid": 4100})["token"])
    # the original's encoding: 6 GiB, 3 CPUs, 2 containers
    root.ok("PUT", "/api/v1/admin/quotas",
            {"principal": "bob", "resource": "jupyter:jupyter", "quota": 600302})  # fmt: skip
    bob.ok("POST", "/api/v1/jupyter", {"name": "a", "cpus": 2, "memory_gib": 4})
    r = bob.call("POST", "/api/v1/jupyter", {"name": "b", "cpus": 1, "memory_gib": 4})
    assert r.status_code == 409
    assert r.json()["message"] == (
        "over quota: quota jupyter:jupyter allows 6 GiB; you use 4 GiB and ask for 4 more"
    )
    r = bob.call("POST", "/api/v1/jupyter", {"name": "b", "cpus": 2, "memory_gib": 1})
    assert "allows 3 CPUs; you use 2 and ask for 2 more" in r.json()["message"]
    bob.ok("POST", "/api/v1/jupyter", {"name": "b", "cpus": 1, "memory_gib": 2})
    r = bob.call("POST", "/api/v1/jupyter", {"name": "c", "cpus": 0.1, "memory_gib": 0.1})
    assert "allows 2 container(s); you have 2" in r.json()["message"]
    assert len(bob.ok("GET", "/api/v1/jupyter")["containers"]) == 2
    # a stopped container no longer counts
    bob.ok("POST", "/api/v1/jupyter/a/stop")
    deadline = time.monotonic() + 20
    while bob.ok("GET", "/api/v1/jupyter/a")["state"] != "stopped":  # queued or running
        assert time.monotonic() < deadline
        time.sleep(0.05)
    bob.ok("POST", "/api/v1/jupyter", {"name": "c", "cpus": 0.1, "memory_gib": 0.1})
    for bad, why in [(1_000_000_000, "MMMMCCCQQ"), (-1, ">= 0")]:
        r = root.call("PUT", "/api/v1/admin/quotas",
                      {"principal": "bob", "resource": "jupyter:jupyter", "quota": bad})  # fmt: skip
        assert r.status_code == 422 and why in r.text
    r = root.call("PUT", "/api/v1/admin/quotas",
                  {"principal": "bob", "resource": "jupyter:a/b", "quota": 1})  # fmt: skip
    assert r.status_code == 422 and "jupyter:{group}" in r.text
