"""override.toml -> settings: URLs built from parts escape what URLs cannot hold."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from sqlalchemy.engine import make_url

from hai_server.settings import toml_to_settings


def test_passwords_with_url_characters_survive() -> None:
    out = toml_to_settings(
        {
            "database": {
                "postgres": {"primary": {"user": "hai:u", "password": "p@ss:/w%rd#", "host": "db"}},
                "redis": {"password": "a@b/c", "host": "cache", "port": 6380},
            }
        }
    )
    url = make_url(out["database_url"])
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "hai:u",
        "p@ss:/w%rd#",
        "db",
        5432,
        "hai",
    )
    parsed = redis.connection.parse_url(out["redis_url"])
    assert parsed["password"] == "a@b/c" and parsed["host"] == "cache" and parsed["port"] == 6380


def test_explicit_server_urls_win() -> None:
    out = toml_to_settings(
        {
            "server": {"database_url": "sqlite+aiosqlite:///x.db", "workers": 2},
            "database": {"postgres": {"primary": {"user": "u"}}},
        }
    )
    assert out == {"database_url": "sqlite+aiosqlite:///x.db", "workers": 2}


def test_envs_root_from_toml_env_and_default(tmp_path, monkeypatch) -> None:
    from hai_server.settings import Settings, toml_to_settings

    assert (
        toml_to_settings({"server": {"envs_root": "/shared/envs"}})["envs_root"] == "/shared/envs"
    )
    monkeypatch.delenv("HAI_ENVS_ROOT", raising=False)
    assert Settings(home=tmp_path).resolved_envs_root == tmp_path / "envs"
    monkeypatch.setenv("HAI_ENVS_ROOT", "/shared/envs")
    assert str(Settings(home=tmp_path).resolved_envs_root) == "/shared/envs"


def test_jupyter_section() -> None:
    from hai_server.settings import Settings, toml_to_settings

    got = toml_to_settings({"jupyter": {"groups": ["jup_a"], "cull": {"*": {"idle_s": 3600}}}})
    s = Settings(**got)
    assert s.jupyter.groups == ["jup_a"] and s.jupyter.cull["*"].idle_s == 3600
    assert Settings().jupyter.cull == {}  # off by default


def test_no_quota_row_means_no_access_in_a_cluster_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pydantic import ValidationError

    from hai_server.settings import Settings

    monkeypatch.delenv("HAI_SCHEDULER__DEFAULT_QUOTA", raising=False)
    cluster, embedded = Settings(home=tmp_path), Settings(home=tmp_path, embedded=True)
    assert cluster.scheduler.default_quota == 0
    assert cluster.scheduler.policy_config().default_quota == 0
    assert embedded.scheduler.default_quota == "unlimited"
    assert embedded.scheduler.policy_config().default_quota is None
    monkeypatch.setenv("HAI_SCHEDULER__DEFAULT_QUOTA", "unlimited")
    assert Settings(home=tmp_path).scheduler.policy_config().default_quota is None
    monkeypatch.setenv("HAI_SCHEDULER__DEFAULT_QUOTA", "3")
    assert Settings(home=tmp_path).scheduler.policy_config().default_quota == 3
    for bad in ("lots", "-1", "99999999"):
        monkeypatch.setenv("HAI_SCHEDULER__DEFAULT_QUOTA", bad)
        with pytest.raises(ValidationError):
            Settings(home=tmp_path)
