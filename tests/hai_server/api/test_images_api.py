"""Built-in images through the API (SQLite and PostgreSQL): admin rows, images by quota,
the default, what a task records; the local backend refusing -i."""

from __future__ import annotations

import os
from pathlib import Path

from litestar.testing import TestClient

from hai_server.app import create_app
from hai_server.backends.base import NodeState
from hai_server.backends.fake import FakeBackend
from tests.support.pg_server import ADMIN_TOKEN, Api, api, make_settings


def _user(a: Api, name: str, groups: list[str] | None = None) -> Api:
    body = {"name": name, "groups": groups or [], "uid": os.getuid()}
    return a.as_(a.ok("POST", "/api/v1/admin/users", body)["token"])


def _quota(a: Api, principal: str, resource: str, n: int) -> None:
    a.ok("PUT", "/api/v1/admin/quotas", {"principal": principal, "resource": resource, "quota": n})


def _images(root: Api) -> None:
    root.ok(
        "POST",
        "/api/v1/admin/images",
        {"name": "hai_base", "image": "reg/hai/train:1", "environments": {"HF_HOME": "/x"}},
    )
    root.ok("POST", "/api/v1/admin/images",
            {"name": "cuda12", "image": "reg/hai/cuda:12", "python": "/opt/py/bin/python3"})  # fmt: skip


def test_images_by_quota_on_a_backend_that_runs_images(db_url: str, tmp_path: Path) -> None:
    backend = FakeBackend(
        [NodeState(f"fake-{i}", "default") for i in range(4)]
    )  # fake ranks never end
    app = create_app(make_settings(tmp_path / "home", db_url, nodes=2), backend=backend)
    with TestClient(app, timeout=30) as client:
        root = Api(client, ADMIN_TOKEN)
        alice = _user(root, "alice", groups=["vision"])
        _images(root)
        r = root.call("POST", "/api/v1/admin/images", {"name": "cuda12", "image": "a/b:1"})
        assert r.status_code == 409
        r = root.call("POST", "/api/v1/admin/images", {"name": "../x", "image": "a/b:1"})
        assert r.status_code == 422 and "bad environment name" in r.text
        r = root.call("POST", "/api/v1/admin/images", {"name": "x\n", "image": "a/b:1"})
        assert r.status_code == 422 and "bad environment name" in r.text  # $ took the \n once
        r = root.call("POST", "/api/v1/admin/images", {"name": "x", "image": "a b"})
        assert r.status_code == 422
        assert (
            alice.call("POST", "/api/v1/admin/images", {"name": "y", "image": "a"}).status_code
            == 403
        )
        _quota(root, "public", "train_environment:hai_base", 1)
        _quota(root, "vision", "train_environment:cuda12", 2)

        mine = alice.ok("GET", "/api/v1/images")["images"]
        assert [(i["name"], i["quota"], i["default"]) for i in mine] == [
            ("cuda12", 2, True), ("hai_base", 1, False)]  # fmt: skip
        assert alice.call("GET", "/api/v1/images", all="true").status_code == 403

        # no -i: the default (highest quota); its python replaces python3
        t = alice.submit(["python3", "-u", "x.py"], str(tmp_path))
        assert (t["command"][0], t["image"], t["train_environment"]) == (
            "/opt/py/bin/python3", "reg/hai/cuda:12", "cuda12")  # fmt: skip
        # -i NAME: that image, its variables under the user's own
        t2 = alice.submit(["true"], str(tmp_path), kind="exec", image="hai_base",
                          env={"HF_HOME": "/mine", "MINE": "1"})  # fmt: skip
        assert (t2["image"], t2["train_environment"]) == ("reg/hai/train:1", "hai_base")
        t3 = alice.submit(["true"], str(tmp_path), kind="exec", image="hai_base")
        # a custom image: a registry reference
        t4 = alice.submit(["true"], str(tmp_path), kind="exec", image="reg/me/exp:3")
        assert (t4["image"], t4["train_environment"]) == ("reg/me/exp:3", None)
        _quota(root, "public", "train_environment:hai_base", 0)
        r = alice.call("POST", "/api/v1/tasks",
                       {"argv": ["true"], "workdir": str(tmp_path), "image": "hai_base"})  # fmt: skip
        assert r.status_code == 403 and "needs quota train_environment:hai_base" in r.text
        r = alice.call("POST", "/api/v1/tasks",
                       {"argv": ["true"], "workdir": str(tmp_path), "image": "nope"})  # fmt: skip
        assert r.status_code == 422 and "no train environment 'nope'" in r.text
        assert root.ok("DELETE", "/api/v1/admin/images/cuda12")["deleted"] == {"name": "cuda12"}
        assert root.call("DELETE", "/api/v1/admin/images/cuda12").status_code == 404
        assert alice.ok("GET", "/api/v1/images")["images"] == []
        ids = [t["id"], t2["id"], t3["id"], t4["id"]]
        for tid in ids:
            root.wait_for(tid, lambda x: x["state"] != "queued")
    specs = {k[0]: a.spec for k, a in backend.attempts.items()}
    assert [specs[i].image for i in ids] == [
        "reg/hai/cuda:12", "reg/hai/train:1", "reg/hai/train:1", "reg/me/exp:3"]  # fmt: skip
    assert specs[ids[1]].env["HF_HOME"] == "/mine" and specs[ids[1]].env["MINE"] == "1"
    assert specs[ids[2]].env["HF_HOME"] == "/x"  # the image's variable when the user sets none


def test_the_local_backend_refuses_an_image(db_url: str, tmp_path: Path) -> None:
    with api(tmp_path / "home", db_url) as root:
        _images(root)
        for image in ("hai_base", "reg/me/exp:3"):
            r = root.call("POST", "/api/v1/tasks",
                          {"argv": ["true"], "workdir": str(tmp_path), "image": image})  # fmt: skip
            assert r.status_code == 422, r.text
            assert f"-i {image}: this platform's local backend" in r.json()["message"]
        # no -i: runs, with the default image's variables (this open server allows both)
        t = root.submit(["sh", "-c", "echo HF_HOME=$HF_HOME"], str(tmp_path), kind="exec")
        assert t["image"] is None and t["train_environment"] == "cuda12"  # no image here
        assert root.wait_state(t["id"], {"succeeded"})["state"] == "succeeded"
        log = root.ok("GET", f"/api/v1/tasks/{t['id']}/logs")
        assert "HF_HOME=" in log
