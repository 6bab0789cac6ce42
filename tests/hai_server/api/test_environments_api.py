"""haienv through the API, on both databases: a submission naming an environment is checked
against the envs root before anything is stored; ranks get the activation; which tasks use an
environment is one GET."""

from __future__ import annotations

from pathlib import Path

import pytest

from hai_cli.haienv import meta
from tests.support.pg_server import api


def fake_env(root: Path, owner: str, name: str) -> str:
    """An environment's metadata (no interpreter needed for what the server checks)."""
    prefix = root / owner / name
    prefix.mkdir(parents=True)
    meta.write(meta.EnvMeta(name, owner, str(prefix), "3.11.2", str(prefix / "lib/site"),
                            environment={"FROM_ENV": name}))  # fmt: skip
    return str(prefix)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"haienv": "nosuch"}, "no environment nosuch[root] or nosuch[platform] under"),
        ({"haienv": "mine[bob]"}, "no environment mine[bob] under"),
        ({"haienv": "mine", "haienv_owner": "bob"}, "no environment mine[bob]"),
        ({"haienv": "mine[root]", "haienv_owner": "bob"}, "two owners given"),
        ({"haienv": "a/b"}, "bad environment name 'a/b'"),
        ({"haienv": "../../etc"}, "bad environment name"),
        ({"haienv": "a\x00b"}, "bad environment name"),
        ({"haienv": "x" * 65}, "at most 64"),
        ({"haienv": "mine", "haienv_owner": "../x"}, "bad owner name"),
        ({"haienv_owner": "root"}, "haienv_owner without haienv"),
        ({"haienv": 7}, "Expected `str | null`"),
    ],
)
def test_bad_environment_refused_before_storing(
    db_url: str, tmp_path: Path, body: dict[str, object], message: str
) -> None:
    home = tmp_path / "home"
    fake_env(home / "envs", "root", "mine")
    with api(home, db_url, nodes=1) as root:
        r = root.call("POST", "/api/v1/tasks", {"argv": ["true"], "workdir": "/", **body})
        assert r.status_code in (400, 422), r.text
        assert message in r.text
        assert root.ok("GET", "/api/v1/tasks")["total"] == 0


def test_tasks_in_environments(db_url: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    mine = fake_env(home / "envs", "root", "mine")
    fake_env(home / "envs", "platform", "base")
    work = tmp_path / "w"
    work.mkdir()
    probe = ["sh", "-c", 'echo "in $HF_ENV_NAME $HF_ENV_OWNER $VIRTUAL_ENV $FROM_ENV ${PATH%%:*}"']
    with api(home, db_url, nodes=1) as root:
        t = root.submit(probe, str(work), kind="exec", haienv="mine")
        assert t["environment"] == "mine[root]"
        done = root.wait_state(t["id"], {"succeeded", "failed"})
        assert done["state"] == "succeeded", done
        log = root.ok("GET", f"/api/v1/tasks/{t['id']}/logs")
        assert f"in mine root {mine} mine {mine}/bin" in log
        # no owner and none of the caller's: the platform's
        t2 = root.submit(["true"], str(work), kind="exec", haienv="base")
        assert t2["environment"] == "base[platform]"
        plain = root.submit(["true"], str(work), kind="exec")
        assert plain["environment"] is None

        sleeper = root.submit(["sleep", "30"], str(work), kind="exec", haienv="mine[root]")
        root.wait_state(sleeper["id"], {"running"})
        queued = root.submit(["true"], str(work), kind="exec", haienv="mine")
        using = root.ok("GET", "/api/v1/environments/root/mine/tasks")
        assert using["environment"] == "mine[root]"
        assert [(u["id"], u["state"]) for u in using["tasks"]] == [
            (sleeper["id"], "running"), (queued["id"], "queued"),
        ]  # fmt: skip
        assert root.ok("GET", "/api/v1/environments/platform/base/tasks")["tasks"] == []
        assert root.call("GET", "/api/v1/environments/a..b/mine/tasks").status_code == 404
        anon = root.as_("not-a-token")
        assert anon.call("GET", "/api/v1/environments/root/mine/tasks").status_code == 401
        root.ok("POST", f"/api/v1/tasks/{sleeper['id']}/stop")
        root.wait_state(queued["id"], {"succeeded"})
        assert root.ok("GET", "/api/v1/environments/root/mine/tasks")["tasks"] == []
