"""Storage rows through the API (SQLite and PostgreSQL): admin-only writes with precise
refusals, users' own mounts, and a cluster's local backend refusing a working directory
outside the submitter's mounts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.pg_server import Api, api


def _user(a: Api, name: str, role: str = "internal", groups: list[str] | None = None) -> Api:
    body = {"name": name, "role": role, "groups": groups or [], "uid": os.getuid()}
    return a.as_(a.ok("POST", "/api/v1/admin/users", body)["token"])


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"host_path": "/a\u0000", "mount_path": "/a"}, "printable"),
        ({"host_path": "/a", "mount_path": "/a", "mount_type": "Dir"}, "bad mount type 'Dir'"),
        ({"host_path": "/a", "mount_path": "/x/../etc"}, "'..' is not allowed"),
        ({"host_path": "/a", "mount_path": "/"}, "not the root directory"),
        ({"host_path": "/{user.token}", "mount_path": "/a"}, "unknown field user.token"),
        ({"host_path": "/a", "mount_path": "/a", "conditions": ["open('/etc/passwd')"]},
         "Call is not allowed"),
        ({"host_path": "/a", "mount_path": "/a", "owners": []}, "owners: at least one"),
        ({"host_path": "/a", "mount_path": "/a", "action": "drop"}, "bad action 'drop'"),
    ],
)  # fmt: skip
def test_bad_rows_are_422_with_the_reason(
    db_url: str, tmp_path: Path, body: dict, words: str
) -> None:
    with api(tmp_path / "home", db_url) as root:
        r = root.call("POST", "/api/v1/admin/storage", body)
        assert r.status_code == 422, r.text
        assert words in r.json()["message"]


def test_storage_rows_users_and_the_workdir_rule(db_url: str, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "alice" / "proj").mkdir(parents=True)
    with api(tmp_path / "home", db_url) as root:
        alice = _user(root, "alice", groups=["vision"])
        # no rows: no restriction (a server nobody gave storage to works as before)
        t = alice.submit(["true"], str(tmp_path), kind="exec")
        assert alice.wait_state(t["id"], {"succeeded"})["state"] == "succeeded"

        row = {"host_path": f"{ws}/{{user.user_name}}", "mount_path": f"{ws}/{{user.user_name}}"}
        r = alice.call("POST", "/api/v1/admin/storage", row)
        assert r.status_code == 403 and "admin role" in r.json()["message"]
        made = root.ok("POST", "/api/v1/admin/storage", row)
        assert made["owners"] == ["public"] and made["mount_type"] == "Directory"
        r = root.call("POST", "/api/v1/admin/storage", row)
        assert r.status_code == 409 and "exists already" in r.json()["message"]
        bad = {"host_path": "/srv/vision", "mount_path": "/data", "mount_type": "ConfigMap"}
        r = root.call("POST", "/api/v1/admin/storage", bad)
        assert r.status_code == 422 and "names the object, NAME or NAME/KEY" in r.text
        data = {"host_path": "vision-cfg/labels.json", "mount_path": "/data", "owners": ["vision"],
                "read_only": True, "mount_type": "configMap"}  # fmt: skip
        r = root.call("POST", "/api/v1/admin/storage", data)
        assert r.status_code == 201 and r.json()["mount_type"] == "configmap"

        mine = alice.ok("GET", "/api/v1/storage")["mounts"]
        assert {x["mount_path"]: x["source"] for x in mine} == {
            "/data": "vision-cfg",  # a ConfigMap NAME/KEY row: the map (the key: its sub path)
            f"{ws}/alice": f"{ws}/alice",
        }
        assert root.ok("GET", "/api/v1/storage")["mounts"] == [
            {"mount_path": f"{ws}/root", "source": f"{ws}/root", "mount_type": "Directory",
             "read_only": False, "row": made["id"]}
        ]  # fmt: skip

        # inside her mount: admitted and run; outside: 422 naming her mounts
        t = alice.submit(["true"], str(ws / "alice" / "proj"), kind="exec")
        assert alice.wait_state(t["id"], {"succeeded"})["state"] == "succeeded"
        for outside in (str(tmp_path), f"{ws}/bob", f"{ws}/alice/../bob", f"{ws}/alicex"):
            r = alice.call("POST", "/api/v1/tasks", {"argv": ["true"], "workdir": outside})
            assert r.status_code == 422, (outside, r.text)
            assert (
                f"working directory {outside} is outside your storage mounts" in r.json()["message"]
            )
            assert f"{ws}/alice" in r.json()["message"]

        listed = root.ok("GET", "/api/v1/admin/storage")["storage"]
        assert [x["id"] for x in listed] == sorted(x["id"] for x in listed)
        assert root.call("DELETE", "/api/v1/admin/storage/999999").status_code == 404
        assert root.call("DELETE", "/api/v1/admin/storage/99999999999").status_code == 404
        assert alice.call("DELETE", f"/api/v1/admin/storage/{made['id']}").status_code == 403
        assert (
            root.ok("DELETE", f"/api/v1/admin/storage/{made['id']}")["deleted"]["id"] == made["id"]
        )
        assert {x["mount_path"] for x in alice.ok("GET", "/api/v1/storage")["mounts"]} == {"/data"}
