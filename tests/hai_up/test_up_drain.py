"""Suspending tasks before a stop: cordon through the admin API, wait, uncordon after."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hai_up.drain import Api, active_count, drain, drained_nodes, undrain
from hai_up.errors import UpError
from tests.support.fake_admin import TOKEN, FakeServer, fake_admin_api


@pytest.fixture
def fake() -> Iterator[tuple[FakeServer, str]]:
    state = FakeServer({"local-0": False, "local-1": True}, tasks=2)
    with fake_admin_api(state) as url:
        yield state, url


def test_drain_then_undrain(fake: tuple[FakeServer, str], tmp_path: Path) -> None:
    state, url = fake
    said: list[str] = []
    api = Api(url, TOKEN)
    assert active_count(api) == 2
    assert drain(api, tmp_path, said.append) == 2
    assert state.nodes == {"local-0": True, "local-1": True} and state.tasks == 0
    # only the node hai-up cordoned is recorded (local-1 was an admin's)
    assert json.loads((tmp_path / "drained.json").read_text()) == {"nodes": ["local-0"]}
    assert said[0].startswith("suspending 2 task(s) with notice (cordoning 1 node(s))")
    assert drained_nodes(tmp_path) == ["local-0"]
    undrain(api, tmp_path, said.append)
    assert state.nodes == {"local-0": False, "local-1": True}  # the admin's cordon stays
    assert not (tmp_path / "drained.json").exists()
    assert said[-1] == "uncordoned 1 node(s): the suspended tasks are scheduled again"


def test_nothing_running_cordons_nothing(fake: tuple[FakeServer, str], tmp_path: Path) -> None:
    state, url = fake
    state.tasks = 0
    assert drain(Api(url, TOKEN), tmp_path, print) == 0
    assert not any(c.startswith("POST") for c in state.calls)
    assert not (tmp_path / "drained.json").exists()


def test_tasks_that_do_not_suspend_stop_nothing(
    fake: tuple[FakeServer, str], tmp_path: Path
) -> None:
    state, url = fake
    state.suspends = False
    with pytest.raises(UpError) as err:
        drain(Api(url, TOKEN), tmp_path, print, timeout_s=1.0)
    assert "task(s) 0, 1 still active 1 s after the suspend notice; nothing was stopped" in (
        err.value.message
    )
    assert json.loads((tmp_path / "drained.json").read_text()) == {"nodes": ["local-0"]}


def test_unreachable_or_refusing_server_is_said_not_fatal(
    fake: tuple[FakeServer, str], tmp_path: Path
) -> None:
    _, url = fake
    said: list[str] = []
    assert drain(Api(url, "wrong-token-0123456789"), tmp_path, said.append) == 0
    assert "HTTP 401" in said[0] and "stopping without notice" in said[0]
    assert active_count(Api("http://127.0.0.1:9", TOKEN, timeout=1)) is None


def test_a_server_that_must_answer_refuses_unless_forced(tmp_path: Path) -> None:
    """Kubernetes: task pods outlive the server, so one that does not answer is a refusal."""
    api = Api("http://127.0.0.1:9", TOKEN, timeout=1)
    with pytest.raises(UpError) as err:
        drain(api, tmp_path, print, must_reach=True)
    assert err.value.exit_code == 4
    assert err.value.message.startswith(
        "cannot reach the platform's API at http://127.0.0.1:9 to suspend the running tasks first"
    )
    assert err.value.message.endswith("nothing was changed (--force goes on without notice)")
    said: list[str] = []
    assert drain(api, tmp_path, said.append, must_reach=True, force=True) == 0
    assert "stopping without notice" in said[0]
    assert not (tmp_path / "drained.json").exists()


def test_forced_drain_goes_on_after_the_timeout(
    fake: tuple[FakeServer, str], tmp_path: Path
) -> None:
    state, url = fake
    state.suspends = False
    said: list[str] = []
    assert drain(Api(url, TOKEN), tmp_path, said.append, timeout_s=1.0, force=True) == 0
    assert said[-1] == (
        "warning: task(s) 0, 1 still active 1 s after the suspend notice; going on without "
        "waiting for them (--force)"
    )
    assert json.loads((tmp_path / "drained.json").read_text()) == {"nodes": ["local-0"]}
