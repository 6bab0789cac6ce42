"""``hai-server --init-sql`` with hai-up's init.sql, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from litestar.testing import TestClient
from sqlalchemy import text

from hai_server.app import create_app
from hai_server.db.session import hash_token, make_engine
from hai_server.dbprep import InitSqlError, split_sql
from hai_server.settings import LocalSettings, Settings
from hai_up.render.init_sql import render_init_sql
from tests.support.up import ADMIN_TOKEN, ALICE_TOKEN, config

TABLES = {
    "users": "SELECT name, role, active FROM users ORDER BY name",
    "tokens": "SELECT u.name, t.token_hash, t.label FROM tokens t JOIN users u ON u.id = t.user_id "
    "ORDER BY u.name",
    "user_groups": "SELECT user_name, group_name FROM user_groups ORDER BY user_name",
    "quotas": "SELECT principal, resource, quota FROM quotas ORDER BY resource",
    "nodes": 'SELECT name, "group", gpus, healthy FROM nodes ORDER BY name',
    "train_environment": "SELECT env_name, image, python, config FROM train_environment",
    "storage": "SELECT host_path, mount_path, owners, mount_type, read_only, action, active "
    "FROM storage ORDER BY id",
}


def init_sql(db_url: str, path: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAI_")}
    env.update(HAI_DATABASE_URL=db_url, HAI_HOME=str(home), HAI_LOG_LEVEL="warning")
    cmd = [sys.executable, "-m", "hai_server.main", "--init-sql", str(path)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180, check=False)


def dump(db_url: str) -> dict[str, list[tuple[object, ...]]]:
    async def go() -> dict[str, list[tuple[object, ...]]]:
        engine = make_engine(db_url)
        try:
            async with engine.connect() as conn:
                return {
                    k: [tuple(r) for r in (await conn.execute(text(q))).all()]
                    for k, q in TABLES.items()
                }
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_applied_twice_is_a_no_op_and_tokens_authenticate(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "init.sql"
    cfg = config(EXTRA_MOUNTS="/data/sets:/datasets:directory:ro",
                 EXTRA_ENVIRONMENTS="HF_HOME:/nfs/hf BFF_URL:http://x:8080/a")  # fmt: skip
    path.write_text(render_init_sql(cfg))
    first = init_sql(db_url, path, tmp_path / "home")
    assert first.returncode == 0, first.stderr
    rows = dump(db_url)
    assert rows["users"] == [
        ("admin", "admin", True),
        ("alice", "internal", True),
        ("bob", "external", True),
    ]
    assert ("alice", hash_token(ALICE_TOKEN), "hai-up") in rows["tokens"]
    assert ("admin", hash_token(ADMIN_TOKEN), "hai-up") in rows["tokens"]
    assert rows["user_groups"] == [("alice", "team-a")]
    assert rows["quotas"] == [
        ("public", "node-training-HIGH", 10),
        ("public", "node-training-NORMAL", 100),
        ("public", "train_environment:hai_base", 1),
    ]
    ((name, image, python, env_config),) = rows["train_environment"]
    if isinstance(env_config, str):
        env_config = json.loads(env_config)
    assert (name, image, python) == ("hai_base", cfg.train_image, "python3")
    assert env_config == {"environments": {"HF_HOME": "/nfs/hf", "BFF_URL": "http://x:8080/a"}}
    assert rows["nodes"] == [
        ("cpu-1", "jupyter_cpu", 8, False),
        ("gpu-1", "training", 8, False),
        ("gpu-2", "training", 8, False),
    ]
    ws = "/srv/hai/hai-platform/workspace/{user.user_name}"
    assert [(h, mp, json.loads(o) if isinstance(o, str) else o, t, bool(ro), a, bool(on))
            for h, mp, o, t, ro, a, on in rows["storage"]] == [
        (ws, ws, ["public"], "Directory", False, "add", True),
        ("/data/sets", "/datasets", ["public"], "Directory", True, "add", True),
    ]  # fmt: skip
    second = init_sql(db_url, path, tmp_path / "home")
    assert second.returncode == 0, second.stderr
    assert dump(db_url) == rows

    settings = Settings(
        home=tmp_path / "home",
        database_url=db_url,
        admin_user="admin",
        admin_token=ADMIN_TOKEN,
        local=LocalSettings(nodes=1, gpus_per_node=0),
    )
    with TestClient(create_app(settings), timeout=30) as client:

        def whoami(token: str) -> object:
            r = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})
            return r.json() if r.status_code == 200 else r.status_code

        assert whoami(ALICE_TOKEN) == {"user": "alice", "role": "internal"}
        assert whoami(ADMIN_TOKEN) == {"user": "admin", "role": "admin"}
        assert whoami("not-a-token-0123456789") == 401
    assert dump(db_url)["tokens"] == rows["tokens"]  # the server added no second admin token


def test_a_failing_statement_applies_nothing(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "init.sql"
    rendered = render_init_sql(config())
    path.write_text(rendered + "INSERT INTO no_such_table VALUES (1);\n")
    bad = len(split_sql(rendered)) + 1
    out = init_sql(db_url, path, tmp_path / "home")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert lines[0].startswith(
        f"hai-server: init SQL {path} failed, nothing applied: statement {bad} "
    )
    assert "no_such_table" in lines[0]
    assert dump(db_url)["users"] == []  # migrated, but not one row of the file


def test_unreadable_file_exits_2(tmp_path: Path) -> None:
    out = init_sql(f"sqlite+aiosqlite:///{tmp_path / 'hai.db'}", tmp_path / "missing.sql", tmp_path)
    assert out.returncode == 2
    assert out.stderr.startswith(f"hai-server: init SQL {tmp_path / 'missing.sql'} failed")
    assert "No such file" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_split_sql_respects_quotes_and_comments() -> None:
    sql = "-- a; comment\nINSERT INTO t VALUES ('a;b');\nSELECT 1; SELECT 'x\n;y';\n-- end\n"
    assert split_sql(sql) == [
        "-- a; comment\nINSERT INTO t VALUES ('a;b');",
        "SELECT 1; SELECT 'x\n;y';",
    ]
    with pytest.raises(InitSqlError, match="not terminated by ';': 'SELECT 2'"):
        split_sql("SELECT 1;\nSELECT 2\n")


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    from tests.support.pg import free_port

    url = f"postgresql+psycopg://hai:pw@127.0.0.1:{free_port()}/hai"  # nothing listens there
    path = tmp_path / "init.sql"
    path.write_text(render_init_sql(config()))
    out = init_sql(url, path, tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert (
        out.stderr.strip()
        .splitlines()[-1]
        .startswith("hai-server: cannot open the database: connection failed")
    )
