"""Tasks by name as well as id (the original's convention), on a real embedded server:
a number is an id, an existing *.yml file means its ``name``, anything else a task name
(the alive one, else the latest); ambiguity is an error listing the ids; another user's
task name is not found, like their ids."""

from __future__ import annotations

import json
import re

import pytest

from tests.support.e2e import EXAMPLES, Platform

pytestmark = pytest.mark.e2e
TRAIN = EXAMPLES / "train.py"
LONG = ("--steps", "10000", "--step-time", "0.05")


def test_names_everywhere_a_task_is_named(platform: Platform) -> None:
    done = platform.submit(TRAIN, "--steps", "1", "--step-time", "0", opts=("--name", "nm-a"))
    platform.wait_state(done, "succeeded")
    assert platform.json("status", "nm-a")["id"] == done  # none alive: the latest
    alive = platform.submit(TRAIN, *LONG, opts=("--name", "nm-a"))
    platform.wait_state(alive, "running")
    assert platform.json("status", "nm-a")["id"] == alive  # the alive one wins
    assert "start: step=0" in platform.ok("logs", "nm-a").stdout
    assert platform.json("why", "nm-a")["task_id"] == alive

    second = platform.submit(TRAIN, *LONG, opts=("--name", "nm-a"))  # queued behind it
    res = platform.cli("status", "nm-a")
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.strip() == (
        f"error: 2 tasks are named 'nm-a': {second} (queued), {alive} (running); say which by id"
    )
    assert platform.cli("stop", "nm-a").returncode == 2  # nothing changed
    assert platform.task(alive)["state"] == "running"

    platform.ok("stop", str(second))
    (platform.workdir / "nm.yml").write_text("name: nm-a\nscript: train.py\n")
    assert platform.json("status", "nm.yml")["id"] == alive  # a file names its task
    out = platform.ok("stop", "nm-a").stdout
    assert out.startswith(f"task {alive} (nm-a): stop")
    platform.wait_state(alive, "stopped")

    res = platform.cli("status", "no-such-name")
    assert (res.returncode, res.stderr.strip()) == (3, "error: no task named 'no-such-name'")
    res = platform.cli("logs", "bad\x1bname")
    assert res.returncode == 2 and "U+001B" in res.stderr
    (platform.workdir / "bad.yml").write_text("name: x\nscript: t.py\nnodes: 2\nbogus: 1\n")
    res = platform.cli("status", "bad.yml")
    assert res.returncode == 2 and "bad.yml:4: unknown key 'bogus'" in res.stderr


def test_another_users_task_name_is_not_found(platform: Platform) -> None:
    mine = platform.submit(TRAIN, "--steps", "1", "--step-time", "0", opts=("--name", "secret"))
    added = platform.ok("admin", "user", "add", "nm-bob").stdout
    token = re.search(r"(hai_\S+)", added).group(1)  # type: ignore[union-attr]
    url = platform.json("whoami")["url"]
    bob = {"HAI_SERVER_URL": url, "HAI_TOKEN": token}
    for ref in ("secret", str(mine)):
        res = platform.cli("status", ref, env=bob)
        assert res.returncode == 3, res.stderr  # like an id: not found, nothing leaks
    res = platform.cli("python", str(TRAIN), "--steps", "1", "--", "--name", "secret", "--json",
                       env=bob)  # fmt: skip
    theirs = json.loads(res.stdout)["id"]
    assert json.loads(platform.cli("status", "secret", "--json", env=bob).stdout)["id"] == theirs
    assert platform.json("status", "secret")["id"] == mine  # each sees their own
