"""Two replicas on one PostgreSQL and one Redis: a Studio login made on one is valid on the
other (sessions in Redis), and a form from one page is accepted by the other replica (the
CSRF secret every replica is given, HAI_STUDIO__SECRET)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from litestar.testing import TestClient

from hai_server.app import create_app
from hai_server.settings import LocalSettings, SchedulerSettings, Settings, StudioSettings
from tests.support.pg_server import ADMIN_TOKEN

CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


def replica(home: Path, pg_url: str, redis_url: str) -> TestClient:
    settings = Settings(
        home=home,
        database_url=pg_url,
        redis_url=redis_url,
        admin_user="root",
        admin_token=ADMIN_TOKEN,
        local=LocalSettings(nodes=1, gpus_per_node=0),
        scheduler=SchedulerSettings(tick_s=0.5, default_quota="unlimited"),
        studio=StudioSettings(secret="shared-by-every-replica-0123456789"),
    )
    return TestClient(create_app(settings), timeout=30)


def test_a_login_on_one_replica_holds_on_the_other(
    pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    with (
        replica(tmp_path / "a", pg_url, redis_url) as a,
        replica(tmp_path / "b", pg_url, redis_url) as b,
    ):
        jar = httpx.Cookies()
        a.cookies = jar
        csrf = CSRF.search(a.get("/login").text).group(1)  # type: ignore[union-attr]
        r = a.post(
            "/login", data={"token": ADMIN_TOKEN, "_csrf_token": csrf}, follow_redirects=False
        )
        assert r.status_code == 303
        b.cookies = a.cookies
        home = b.get("/", follow_redirects=False)
        assert home.status_code == 200 and "root (admin)" in home.text
        # a form rendered by replica b, posted to replica a
        csrf_b = CSRF.search(home.text).group(1)  # type: ignore[union-attr]
        a.cookies = b.cookies
        r = a.post("/logout", data={"_csrf_token": csrf_b}, follow_redirects=False)
        assert r.status_code == 303
        b.cookies = a.cookies
        assert b.get("/", follow_redirects=False).status_code == 303  # logged out everywhere
