"""Ranks never run with the server's identity where that matters (a root server), and never
see its secrets: unit tables, then real ranks of a root server dropping to another uid."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hai_server.backends.base import AttemptSpec, BackendError, RankSpec
from hai_server.backends.local.identity import clean_env, rank_identity, unreachable
from tests.support import REPO
from tests.support.pg_server import api


def spec(run_as) -> AttemptSpec:
    return AttemptSpec(1, 0, "t", "bob", ("true",), "/", {}, (RankSpec(0, "n", {}),), "/l",
                       run_as=run_as)  # fmt: skip


def test_the_servers_secrets_never_reach_a_rank() -> None:
    env = {
        "PATH": "/bin", "HOME": "/root", "LANG": "C.UTF-8", "HAI_ADMIN_TOKEN": "t",
        "POSTGRES_PASSWORD": "p", "REDIS_PASSWORD": "r", "HAI_DATABASE_URL": "x",
        "AWS_SECRET_ACCESS_KEY": "s", "GITHUB_TOKEN": "g", "DATABASE_URL": "d",
        "SENTRY_DSN": "y", "REDIS_URL": "z", "MY_CREDENTIALS": "c",
    }  # fmt: skip
    assert clean_env(env) == {"PATH": "/bin", "HOME": "/root", "LANG": "C.UTF-8"}


@pytest.mark.parametrize(
    ("euid", "run_as", "expected"),
    [
        (1000, None, None),  # an ordinary user's server runs ranks as itself
        (1000, (1000, 1000), None),  # the server's own user (the first admin)
        (0, (0, 0), None),  # root, chosen explicitly by an admin
        (0, (2000, None), (2000, 2000)),  # gid defaults to the uid
        (0, (2000, 50), (2000, 50)),
    ],
)
def test_whose_identity_a_rank_gets(euid, run_as, expected) -> None:
    assert rank_identity(spec(run_as), euid=euid) == expected


def test_a_plain_server_refuses_an_owner_with_another_uid() -> None:
    with pytest.raises(
        BackendError, match="user bob has uid 2000 but this server runs as uid 1000"
    ):
        rank_identity(spec((2000, 2000)), euid=1000)


def test_a_root_server_refuses_an_owner_without_uid() -> None:
    with pytest.raises(BackendError, match="user bob has no uid") as info:
        rank_identity(spec(None), euid=0)
    assert not info.value.retryable


def test_unreachable_names_the_closed_directory(open_tree: Path) -> None:
    closed = open_tree / "a" / "closed"
    (closed / "b").mkdir(parents=True)
    os.chmod(open_tree / "a", 0o711)
    os.chmod(closed, 0o700)
    me = os.getuid()
    assert unreachable(closed / "b" / "c", 4242, 4242) == closed
    assert unreachable(closed / "b" / "c", me, me) is None  # its owner passes
    assert unreachable(open_tree / "a" / "new" / "x", 4242, 4242) is None  # made later


NOBODY = 65534
PROBE = r"""
import os, sys
print("uid", os.getuid(), "gid", os.getgid(), "groups", os.getgroups())
home, server = sys.argv[1], sys.argv[2]
for path in (f"{home}/hai.db", f"{home}/embedded.token", f"/proc/{server}/environ",
             f"/proc/1/environ", "/etc/shadow"):
    try:
        open(path).read(1)
        print("READ", path)
    except OSError as exc:
        print("denied", path, type(exc).__name__)
try:
    os.listdir(f"{home}/runs")
    print("LISTED runs")
except OSError:
    print("denied listing runs")
print("secret env:", sorted(k for k in os.environ if "PASSWORD" in k or k.startswith("HAI_A")))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the server drops to another uid")
def test_a_root_server_runs_each_rank_as_its_owner(
    db_url: str, open_tree: Path, monkeypatch
) -> None:
    monkeypatch.setenv("POSTGRES_PASSWORD", "hunter2")  # in the server's environment
    # ranks run as another uid: the wrapper's interpreter and the code must be theirs to run
    # (this checkout's venv lives under /root, closed to them)
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    work = open_tree / "work"
    work.mkdir()
    os.chmod(work, 0o755)
    script = work / "probe.py"
    script.write_text(PROBE)
    os.chmod(script, 0o644)
    home = open_tree / "home"
    with api(home, db_url, nodes=1, python="/usr/bin/python3") as root:
        token = home / "embedded.token"  # as hai-server keeps its files: private to it
        token.write_text("hai_secret\n")
        os.chmod(token, 0o600)
        if (home / "hai.db").exists():
            os.chmod(home / "hai.db", 0o600)
        bob = root.ok("POST", "/api/v1/admin/users", {"name": "bob", "uid": NOBODY})
        assert bob["uid"] == NOBODY and bob["gid"] == NOBODY
        as_bob = root.as_(bob["token"])
        argv = ["python3", str(script), str(home), str(os.getpid())]  # the server is in-process
        t = as_bob.submit(argv, str(work), kind="exec")
        done = as_bob.wait_state(t["id"], {"succeeded", "failed"})
        log = as_bob.ok("GET", f"/api/v1/tasks/{t['id']}/logs")
        assert done["state"] == "succeeded", (done, log)
        assert f"uid {NOBODY} gid {NOBODY} groups []" in log
        assert "READ" not in log and "LISTED" not in log, log
        assert log.count("denied") == 6 and "secret env: []" in log
        assert stat.S_IMODE(home.stat().st_mode) == 0o711  # pass through, no listing

        # a user without a uid cannot start on a root server: the task fails once, saying why
        cyd = root.as_(root.ok("POST", "/api/v1/admin/users", {"name": "cyd"})["token"])
        t = cyd.submit(["true"], str(work), kind="exec")
        failed = cyd.wait_state(t["id"], {"failed"})
        assert "user cyd has no uid" in failed["detail"]
        kinds = [e["kind"] for e in cyd.ok("GET", f"/api/v1/tasks/{t['id']}")["events"]]
        assert kinds.count("start_failed") == 1
