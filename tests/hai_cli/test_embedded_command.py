"""How hai-cli starts its embedded server: the database only when asked, never from the shell."""

from __future__ import annotations

from pathlib import Path

import pytest

from hai_cli import embedded


def test_sqlite_by_default_and_the_database_only_when_asked(tmp_path: Path) -> None:
    plain = embedded.server_command(tmp_path, 0, nodes=2)
    assert "--database-url" not in plain and "--redis-url" not in plain
    assert plain[plain.index("--nodes") + 1] == "2"
    url = "postgresql+psycopg://hai@127.0.0.1:5432/hai"
    asked = embedded.server_command(tmp_path, 0, None, url, "redis://127.0.0.1:6379/0")
    assert asked[asked.index("--database-url") + 1] == url
    assert asked[asked.index("--redis-url") + 1] == "redis://127.0.0.1:6379/0"
    assert "--embedded" in asked


def test_cluster_and_client_settings_never_reach_the_embedded_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in (
        "HAI_DATABASE_URL",
        "HAI_REDIS_URL",
        "HAI_SERVER_URL",
        "HAI_TOKEN",
        "HAI_BACKEND",
        "HAI_WORKERS",
        "HAI_EMBEDDED_DATABASE_URL",
        "HAI_EMBEDDED_REDIS_URL",
    ):
        monkeypatch.setenv(key, "x")
    monkeypatch.setenv("HAI_SCHEDULER__GRACE_S", "3")
    monkeypatch.setenv("HAI_ADMIN_TOKEN", "from-the-shell")
    env = embedded.server_env(tmp_path)
    # no token in the server's environment at all (/proc/PID/environ shows it): a file instead
    assert not {k for k in env if k.endswith(("_URL", "_TOKEN")) and k.startswith("HAI_")}
    assert "HAI_BACKEND" not in env and "HAI_WORKERS" not in env
    assert env["HAI_SCHEDULER__GRACE_S"] == "3" and env["HAI_HOME"] == str(tmp_path)
    cmd = embedded.server_command(tmp_path, 0)
    token_file = Path(cmd[cmd.index("--admin-token-file") + 1])
    assert token_file.read_text().strip() == embedded.token(tmp_path)
    assert token_file.stat().st_mode & 0o777 == 0o600


def test_passwords_are_not_printed() -> None:
    assert (
        embedded._redacted("postgresql+psycopg://hai:s3cret@db:5432/hai")
        == "postgresql+psycopg://hai:***@db:5432/hai"
    )
    assert embedded._redacted("postgresql+psycopg://hai@/hai?host=/run") == (
        "postgresql+psycopg://hai@/hai?host=/run"
    )


def test_settings_are_kept_and_a_port_is_chosen_once(tmp_path: Path) -> None:
    first = embedded.resolve_settings(tmp_path, nodes=3)
    assert first["nodes"] == 3 and 1024 <= int(first["port"]) <= 65535  # type: ignore[call-overload]
    assert (tmp_path / "embedded.json").stat().st_mode & 0o777 == 0o600
    again = embedded.resolve_settings(tmp_path)  # an on-demand start: nothing given
    assert again == first
    moved = embedded.resolve_settings(tmp_path, port=40123, database_url="postgresql://x/y")
    assert moved == {**first, "port": 40123, "database_url": "postgresql://x/y"}
    assert embedded.load_settings(tmp_path) == moved
    (tmp_path / "embedded.json").write_text("[not, settings")
    assert embedded.load_settings(tmp_path) == {}
