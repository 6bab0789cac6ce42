"""hai-up knows it reached the installation it just started: the servers say their
installation id in /healthz (admins only), read from hai-up's marker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from litestar.testing import TestClient

from hai_server.app import create_app
from hai_server.services.system import installation_id
from hai_up.installation import answered_by
from hai_up.render import render_all
from tests.support.pg_server import ADMIN_TOKEN, make_settings
from tests.support.up import config


@pytest.mark.parametrize(
    ("health", "wanted", "expected"),
    [
        (None, "abc", "down"),
        ({"status": "ok", "installation": "abc"}, "abc", "ours"),
        ({"status": "ok", "installation": "xyz"}, "abc", "other"),  # a stale or second platform
        ({"status": "ok"}, "abc", "unverified"),  # our admin token not taken: not ours
        ({"status": "ok"}, "", "ours"),  # restoring an older deployment: no id to check
        ({"status": "ok", "installation": "xyz"}, "", "ours"),
    ],
)
def test_answered_by(health: dict | None, wanted: str, expected: str) -> None:
    assert answered_by(health, wanted) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"provider": "docker-compose", "name": "hai", "id": "abc123"}', "abc123"),
        ('{"id": 5}', ""),
        ("[1, 2]", ""),
        ("not json\x00", ""),
        (None, ""),  # no file
    ],
)
def test_installation_id(tmp_path: Path, text: str | None, expected: str) -> None:
    path = tmp_path / "installation.json"
    if text is not None:
        path.write_text(text)
    assert installation_id(path) == expected


def test_healthz_names_the_installation_to_admins_only(tmp_path: Path) -> None:
    marker = tmp_path / "installation.json"
    marker.write_text(json.dumps({"provider": "docker-compose", "name": "hai", "id": "feed42"}))
    db = f"sqlite+aiosqlite:///{tmp_path / 'hai.db'}"
    settings = make_settings(tmp_path / "home", db, nodes=1).model_copy(
        update={"installation_file": marker}
    )
    with TestClient(create_app(settings), timeout=30) as client:
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        assert client.get("/healthz", headers=admin).json()["installation"] == "feed42"
        assert client.get("/healthz").json() == {"status": "ok"}


def test_compose_servers_read_the_marker() -> None:
    doc = render_all(config(HAI_BACKEND="local"))["docker-compose.yaml"]
    assert "HAI_INSTALLATION_FILE: /etc/hai/installation.json" in doc
    assert "installation.json:/etc/hai/installation.json:ro" in doc
