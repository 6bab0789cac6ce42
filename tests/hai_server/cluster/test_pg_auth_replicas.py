"""Token cache coherence: a revoke or disable on one replica is refused on the other at once.

Two real ``hai-server`` replicas on one PostgreSQL, no Redis (the cache listens on
PostgreSQL itself). Each replica caches tokens that authenticated (db/callers.py).
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest

from hai_cli.client import ApiError, Client
from tests.support.pg import free_port
from tests.support.pg_server import ADMIN_TOKEN, ServerProc, server_env

pytestmark = [pytest.mark.e2e]


def _refused_after(client: Client, timeout: float = 10.0) -> float:
    """Seconds until ``client`` is refused (401); fails the test past ``timeout``, well below
    the cache's 30 s expiry: only the notification can make the other replica refuse sooner."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            client.request("GET", "/api/v1/whoami")
        except ApiError as exc:
            assert exc.status == 401, exc
            return time.monotonic() - t0
        time.sleep(0.002)
    pytest.fail(f"still accepted {timeout} s after the change on the other replica")


def _warm(client: Client) -> None:
    for _ in range(5):  # cached on this replica from now on
        assert client.request("GET", "/api/v1/whoami")["user"]


def test_revoke_and_disable_reach_the_other_replica(pg_url: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = server_env(home, pg_url, None, nodes=1)
    a = ServerProc(home, env, free_port(), "replica-a").start()
    b = ServerProc(home, env, free_port(), "replica-b").start()
    try:
        root_a = Client(a.url, ADMIN_TOKEN)
        alice = root_a.request("POST", "/api/v1/admin/users", body={"name": "alice"})
        extra = root_a.request("POST", "/api/v1/admin/users/alice/tokens", body={"label": "2"})
        alice_b, alice2_b = Client(b.url, alice["token"]), Client(b.url, extra["token"])
        _warm(alice_b)
        _warm(alice2_b)

        root_a.request("POST", f"/api/v1/admin/tokens/{extra['id']}/revoke")
        revoke_s = _refused_after(alice2_b)
        assert alice_b.request("GET", "/api/v1/whoami")["user"] == "alice"

        root_a.request("POST", "/api/v1/admin/users/alice/disable")
        disable_s = _refused_after(alice_b)

        # the listener of replica b loses its connection: b stops trusting its cache, so a
        # revoke made while it reconnects is still refused on b's next request
        root_a.request("POST", "/api/v1/admin/users/alice/enable")
        _warm(alice_b)
        with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as conn:
            # this test's database only: the PostgreSQL server also hosts other tests' servers
            killed = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN hai_auth%' AND datname = current_database()"
            ).fetchall()
        assert len(killed) == 2  # one listener per replica
        root_a.request("POST", "/api/v1/admin/tokens/revoke", body={"token": alice["token"]})
        after_kill_s = _refused_after(alice_b)
    finally:
        a.stop()
        b.stop()
    print(
        f"\nrefused on the other replica after: revoke {revoke_s * 1000:.1f} ms, "
        f"disable {disable_s * 1000:.1f} ms, revoke with its listener down "
        f"{after_kill_s * 1000:.1f} ms"
    )
