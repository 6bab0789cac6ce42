"""Bulk stop/suspend/resume/hold/release: one request, one transaction, scancel-like filters,
on both databases. Tasks picked by filter are those the verb applies to; tasks named by id
that it does not apply to are reported; someone else's ids are missing, never touched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.pg_server import Api, api

BULK = "/api/v1/tasks/actions/{}"


def _states(root: Api, ids: list[int]) -> dict[int, str]:
    return {i: root.ok("GET", f"/api/v1/tasks/{i}")["state"] for i in ids}


def _bulk(who: Api, verb: str, **sel: Any) -> dict[str, Any]:
    return who.ok("POST", BULK.format(verb), sel)


def test_bulk_by_filter_ids_and_users(db_url: str, tmp_path: Path) -> None:
    work = str(tmp_path)
    with api(tmp_path / "home", db_url, nodes=1) as root:
        running = root.submit(["sleep", "60"], work, kind="exec", name="long")["id"]
        root.wait_state(running, {"running"})
        sweep = [
            root.submit(["true"], work, kind="exec", name=f"sweep-{i}")["id"] for i in range(30)
        ]
        other = [root.submit(["true"], work, kind="exec", name="other_1")["id"] for _ in range(3)]
        bob = root.as_(root.ok("POST", "/api/v1/admin/users", {"name": "bob"})["token"])
        bobs = [bob.submit(["true"], work, kind="exec", name="sweep-bob")["id"] for _ in range(2)]

        # a dry run says what would change and changes nothing
        dry = _bulk(root, "stop", name="sweep-*", dry_run=True)
        assert dry["dry_run"] and sorted(t["id"] for t in dry["changed"]) == sweep
        assert set(_states(root, sweep).values()) == {"queued"}

        # by a glob: only the caller's tasks; "_" in a pattern is a character, not a wildcard
        done = _bulk(root, "stop", name="sweep-*", states=["queued"])
        assert sorted(t["id"] for t in done["changed"]) == sweep
        assert {t["state"] for t in done["changed"]} == {"stopped"}
        assert done["skipped"] == [] and done["missing"] == []
        assert set(_states(root, sweep).values()) == {"stopped"}
        assert set(_states(root, bobs).values()) == {"queued"}  # bob's were not touched
        assert _bulk(root, "stop", name="othe_*", dry_run=True)["changed"] == []
        picked = _bulk(root, "stop", name="other?1", dry_run=True)["changed"]
        assert sorted(t["id"] for t in picked) == other
        events = root.ok("GET", f"/api/v1/tasks/{sweep[0]}")["events"]
        assert events[-1]["kind"] == "stopped" and "by root" in events[-1]["message"]

        # resume everything of mine resume applies to, then hold and release by filter
        resumed = _bulk(root, "resume", all=True)
        assert set(sweep) <= {t["id"] for t in resumed["changed"]}
        held = _bulk(root, "hold", name="sweep-*")
        assert len(held["changed"]) == 30 and all(
            root.ok("GET", f"/api/v1/tasks/{i}")["held"] for i in sweep[:3]
        )
        assert _bulk(root, "hold", name="sweep-*")["changed"] == []  # already held: not picked
        assert len(_bulk(root, "release", name="sweep-*")["changed"]) == 30

        # an admin may act on one user's tasks, or on everyone's
        assert sorted(t["id"] for t in _bulk(root, "hold", user="bob")["changed"]) == bobs
        everyone = _bulk(root, "stop", all_users=True, states=["queued"])
        assert set(bobs) | set(sweep) <= {t["id"] for t in everyone["changed"]}
        assert set(_states(root, bobs).values()) == {"stopped"}

        # by ids (last: the node frees): applied, refused (already stopped), missing (no such task, bob's, too big)
        before = bob.ok("GET", f"/api/v1/tasks/{bobs[0]}")
        # root names bob's task by id without --user: it is not picked (missing)
        r = _bulk(root, "stop", ids=[running, sweep[0], 999_999, bobs[0], 2**40])
        assert [t["id"] for t in r["changed"]] == [running]
        assert r["changed"][0]["stop_requested"] is True
        assert [s["id"] for s in r["skipped"]] == [sweep[0]]
        assert r["skipped"][0]["reason"] == f"task {sweep[0]} is already stopped"
        assert r["missing"] == [bobs[0], 999_999, 2**40]
        assert bob.ok("GET", f"/api/v1/tasks/{bobs[0]}") == before


@pytest.mark.parametrize(
    ("who", "verb", "body", "status", "message"),
    [
        ("root", "stop", {}, 422, "say which tasks"),
        ("root", "explode", {"all": True}, 404, "no action 'explode'"),
        ("root", "stop", {"states": ["sleeping"]}, 422, "unknown state 'sleeping'"),
        ("root", "stop", {"user": "nobody"}, 404, "no user 'nobody'"),
        ("root", "stop", {"name": "a\x00b"}, 422, "NUL"),
        ("root", "stop", {"group": "\x00"}, 422, "NUL"),
        ("root", "stop", {"user": "\x00"}, 422, "NUL"),
        ("root", "stop", {"ids": list(range(1, 100_002))}, 422, "at most 100000 ids"),
        ("root", "stop", {"ids": ["x"]}, 422, "Expected `int`"),
        ("root", "stop", {"all": True, "bogus": 1}, 422, "unknown field `bogus`"),
        ("bob", "stop", {"user": "root"}, 403, "only admins"),
        ("bob", "stop", {"all_users": True}, 403, "only admins"),
        ("anonymous", "stop", {"all": True}, 401, ""),
    ],
)
def test_bulk_refuses_bad_requests(
    tmp_path: Path, who: str, verb: str, body: dict[str, Any], status: int, message: str
) -> None:
    with api(tmp_path / "home", f"sqlite+aiosqlite:///{tmp_path / 'hai.db'}", nodes=1) as root:
        mine = root.submit(["true"], str(tmp_path), kind="exec")["id"]
        caller = root
        if who == "bob":
            caller = root.as_(root.ok("POST", "/api/v1/admin/users", {"name": "bob"})["token"])
        elif who == "anonymous":
            caller = root.as_("not-a-token")
        r = caller.call("POST", BULK.format(verb), body)
        assert r.status_code == status, r.text
        if message:
            assert message in r.json()["message"]
        assert root.ok("GET", f"/api/v1/tasks/{mine}")["stop_requested"] is False
