"""Studio over HTTP (the app in process, litestar's TestClient, SQLite): login and sessions,
permissions (another user's task is 404, with nothing of it in the page), CSRF refusal,
user text escaped, admin forms, task actions, the log stream, samples and the database-down
banner."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from hai_server.app import create_app
from hai_server.services.tasks import Caller
from hai_server.settings import LocalSettings, SchedulerSettings, Settings, StudioSettings
from tests.support.pg_server import ADMIN_TOKEN, Api

CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')
XSS = "<script>alert('x')</script><img src=x onerror=alert(1)>\u202eexe.txt\x1b[31m"


def settings(home: Path, **studio: Any) -> Settings:
    return Settings(
        home=home,
        database_url=f"sqlite+aiosqlite:///{home / 'hai.db'}",
        admin_user="root",
        admin_token=ADMIN_TOKEN,
        local=LocalSettings(nodes=2, gpus_per_node=0),
        scheduler=SchedulerSettings(tick_s=0.2, grace_s=2, default_quota="unlimited"),
        studio=StudioSettings(**studio),
    )


@contextmanager
def server(home: Path, **studio: Any) -> Iterator[Api]:
    with TestClient(create_app(settings(home, **studio)), timeout=30) as client:
        yield Api(client, ADMIN_TOKEN)


class Browser:
    """One user's browser: a cookie jar of its own on the app's one TestClient."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.cookies = httpx.Cookies()

    @contextmanager
    def _jar(self) -> Iterator[TestClient]:
        client = self.api.client
        saved, client.cookies = client.cookies, self.cookies
        try:
            yield client
        finally:
            self.cookies, client.cookies = client.cookies, saved

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        with self._jar() as client:
            return client.request(method, path, follow_redirects=False, **kw)

    def get(self, path: str) -> httpx.Response:
        return self.request("GET", path)

    def csrf(self) -> str:
        page = self.get("/login")
        found = CSRF.search(page.text)
        assert found, page.text[:500]
        return found.group(1)

    def post(
        self, path: str, data: dict[str, str] | None = None, csrf: bool = True
    ) -> httpx.Response:
        body = dict(data or {})
        if csrf:
            body["_csrf_token"] = self.csrf()
        return self.request("POST", path, data=body)

    def login(self, token: str) -> httpx.Response:
        return self.post("/login", {"token": token, "next": "/"})


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with server(tmp_path_factory.mktemp("studio")) as api:
        yield api


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("work")


def add_user(root: Api, name: str) -> str:
    return str(root.ok("POST", "/api/v1/admin/users", {"name": name})["token"])


def test_login_sets_a_strict_httponly_session_and_logout_ends_it(root: Api) -> None:
    b = Browser(root)
    r = b.get("/tasks?state=running")
    assert (
        r.status_code == 303 and r.headers["location"] == "/login?next=%2Ftasks%3Fstate%3Drunning"
    )
    bad = b.login("hai_not_a_token_at_all")
    assert bad.status_code == 401 and "invalid or revoked token" in bad.text
    assert "hai_session" not in b.cookies
    r = b.login(ADMIN_TOKEN)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("hai_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert ADMIN_TOKEN not in cookie and ADMIN_TOKEN not in r.headers["location"]
    home = b.get("/")
    assert home.status_code == 200 and "root (admin)" in home.text
    csp = home.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert home.headers["x-frame-options"] == "DENY" and home.headers["cache-control"] == "no-store"
    assert ADMIN_TOKEN not in home.text  # the token never comes back to the browser
    assert b.post("/logout").status_code == 303
    assert b.get("/").status_code == 303


def test_login_renews_the_session_id(root: Api) -> None:
    b = Browser(root)
    b.cookies.set("hai_session", "f" * 64, domain="testserver.local")  # planted by someone else
    b.login(ADMIN_TOKEN)
    assert b.cookies.get("hai_session") != "f" * 64
    other = Browser(root)
    other.cookies.set("hai_session", "f" * 64, domain="testserver.local")
    assert other.get("/").status_code == 303  # the planted id is not logged in
    first = b.cookies.get("hai_session")
    b.login(ADMIN_TOKEN)  # logging in again: a new id, the old one forgotten
    assert b.cookies.get("hai_session") not in (None, first)
    copy = Browser(root)
    copy.cookies.set("hai_session", str(first), domain="testserver.local")
    assert copy.get("/").status_code == 303


def test_next_never_leaves_the_site(root: Api) -> None:
    b = Browser(root)
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        r = b.post("/login", {"token": ADMIN_TOKEN, "next": target})
        assert r.headers["location"] == "/"


def test_a_revoked_token_or_disabled_user_is_logged_out(root: Api) -> None:
    token = add_user(root, "carol")
    b = Browser(root)
    b.login(token)
    assert b.get("/").status_code == 200
    root.ok("POST", "/api/v1/admin/users/carol/disable")
    assert b.get("/").status_code == 303
    root.ok("POST", "/api/v1/admin/users/carol/enable")
    assert b.login(token).status_code == 303 and b.get("/").status_code == 200
    root.ok("POST", "/api/v1/admin/tokens/revoke", {"token": token})
    r = b.get("/tasks")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_an_expired_session_returns_to_login(root: Api) -> None:
    b = Browser(root)
    b.login(ADMIN_TOKEN)
    assert b.get("/nodes").status_code == 200
    store = root.app.stores.get("sessions")
    root.client.blocking_portal.call(store.delete_all)  # what max_age does to a session
    r = b.get("/nodes")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fnodes"
    assert b.get("/tasks/1/live").status_code == 401  # the page's script reloads to login


def test_another_users_task_is_404_and_leaks_nothing(root: Api, work: Path) -> None:
    secret = root.submit(["sleep", "30"], str(work), kind="exec", name="secret-experiment-42")
    tid = secret["id"]
    bob = Browser(root)
    bob.login(add_user(root, "bob"))
    for path in (
        f"/tasks/{tid}",
        f"/tasks/{tid}/live",
        f"/tasks/{tid}/logs/stream",
        f"/tasks/{tid}/confirm/stop",
        "/tasks/999999",
        "/tasks/99999999999999999999",
    ):
        r = bob.get(path)
        assert r.status_code == 404, (path, r.status_code)
        assert "secret-experiment-42" not in r.text
    r = bob.post(f"/tasks/{tid}/stop")
    assert r.status_code == 404
    assert root.ok("GET", f"/api/v1/tasks/{tid}")["stop_requested"] is False
    for path in ("/tasks", "/tasks?all=1", "/", "/tasks?q=secret"):
        page = bob.get(path)
        assert page.status_code == 200 and "secret-experiment-42" not in page.text, path
    # not an admin: no admin page, no node cordon
    assert bob.get("/admin").status_code == 403
    assert bob.get("/nodes/local-0/confirm/cordon").status_code == 404
    assert bob.post("/nodes/local-0/cordon").status_code == 403
    assert 'href="/admin"' not in bob.get("/").text
    root.ok("POST", f"/api/v1/tasks/{tid}/stop")


def test_every_form_post_needs_the_csrf_token(root: Api, work: Path) -> None:
    t = root.submit(["sleep", "30"], str(work), kind="exec")
    b = Browser(root)
    assert b.post("/login", {"token": ADMIN_TOKEN}, csrf=False).status_code == 403
    b.login(ADMIN_TOKEN)
    for path, data in (
        (f"/tasks/{t['id']}/stop", {}),
        ("/admin/users", {"name": "mallory"}),
        ("/admin/tokens", {"user": "root"}),
        ("/logout", {}),
    ):
        r = b.post(path, data, csrf=False)
        assert r.status_code == 403 and "CSRF" in r.text, path
        forged = b.request("POST", path, data={**data, "_csrf_token": "forged"})
        assert forged.status_code == 403, path
    assert root.ok("GET", f"/api/v1/tasks/{t['id']}")["stop_requested"] is False
    assert all(u["name"] != "mallory" for u in root.ok("GET", "/api/v1/admin/users")["users"])
    # the API (bearer tokens, no cookies) is not affected
    root.ok("POST", f"/api/v1/tasks/{t['id']}/stop")


def test_user_text_is_escaped_and_hidden_characters_shown(root: Api, work: Path) -> None:
    # a name with bidi or control characters is refused at submit: the command carries them
    name = "n" + XSS[:200].replace("\x1b", "").replace("\u202e", "")
    t = root.submit(["echo", XSS], str(work), kind="exec", name=name)
    b = Browser(root)
    b.login(ADMIN_TOKEN)
    for path in (f"/tasks/{t['id']}", "/tasks", f"/tasks/{t['id']}/confirm/stop"):
        page = b.get(path).text
        assert "<script>alert" not in page and "<img src=x" not in page, path
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page, path
        assert "\u202e" not in page and "\x1b" not in page, path
    detail = b.get(f"/tasks/{t['id']}").text
    assert "&lt;U+202E&gt;exe.txt" in detail  # the command, with the hidden character shown


def test_stop_suspend_resume_through_confirmation(root: Api, work: Path) -> None:
    t = root.submit(["sleep", "60"], str(work), kind="exec", name="ctl")
    root.wait_state(t["id"], {"running"})
    b = Browser(root)
    b.login(ADMIN_TOKEN)
    page = b.get(f"/tasks/{t['id']}").text
    assert f'href="/tasks/{t["id"]}/confirm/suspend"' in page
    confirm = b.get(f"/tasks/{t['id']}/confirm/suspend")
    assert "Suspend task" in confirm.text and f'action="/tasks/{t["id"]}/suspend"' in confirm.text
    r = b.post(f"/tasks/{t['id']}/suspend")
    assert r.status_code == 303 and r.headers["location"] == f"/tasks/{t['id']}?done=suspend"
    assert "Suspend requested." in b.get(r.headers["location"]).text
    root.wait_state(t["id"], {"suspended", "queued", "starting", "running"})
    assert b.post(f"/tasks/{t['id']}/stop").status_code == 303
    root.wait_state(t["id"], {"stopped"})
    live = b.get(f"/tasks/{t['id']}/live").json()
    assert live["state"] == "stopped" and live["actions"] == ["resume"]
    # a conflict is a page saying why, not a 500
    r = b.post(f"/tasks/{t['id']}/suspend")
    assert r.status_code == 409 and "only a starting or running task can be suspended" in r.text
    assert b.post(f"/tasks/{t['id']}/resume").status_code == 303
    assert root.ok("GET", f"/api/v1/tasks/{t['id']}")["state"] != "stopped"
    root.ok("POST", f"/api/v1/tasks/{t['id']}/stop")
    assert b.post(f"/tasks/{t['id']}/explode").status_code == 404


def test_the_log_stream_sends_the_rank_log_then_ends(root: Api, work: Path) -> None:
    t = root.submit(["sh", "-c", "echo héllo; echo '<b>x</b>'"], str(work), kind="exec")
    root.wait_state(t["id"], {"succeeded"})
    b = Browser(root)
    b.login(ADMIN_TOKEN)
    text, ended = "", False
    with b._jar() as client, client.stream("GET", f"/tasks/{t['id']}/logs/stream") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        event = "message"
        for line in r.iter_lines():  # to the end: the server closes the stream after "end"
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                if event == "end":
                    ended = True
                else:
                    text += json.loads(line.split(":", 1)[1])["text"]
    assert ended and text.endswith("\n")
    assert [line.split("] ", 1)[-1] for line in text.splitlines()] == ["héllo", "<b>x</b>"]
    assert b.get(f"/tasks/{t['id']}/logs/stream?rank=5").status_code == 422


def test_task_list_filters_and_pages(root: Api, work: Path) -> None:
    ids = [
        root.submit(["true"], str(work), kind="exec", name=f"sweep-{i}", group="default")["id"]
        for i in range(55)
    ]
    b = Browser(root)
    b.login(ADMIN_TOKEN)
    first = b.get("/tasks?q=sweep-").text
    assert "1-50 of 55 task(s)" in first and "offset=50" in first
    assert "51-55 of 55" in b.get("/tasks?q=sweep-&offset=50").text
    one = b.get(f"/tasks?q={ids[3]}").text
    assert f'href="/tasks/{ids[3]}"' in one
    assert "No tasks match." in b.get("/tasks?group=nope").text
    assert b.get("/tasks?state=bogus").status_code == 422
    assert b.get("/tasks?offset=abc").status_code == 400
    for bad in ("/tasks?offset=-1", "/tasks?offset=99999999999999999999"):
        r = b.get(bad)
        assert r.status_code == 422 and "offset must be between" in r.text, bad
    # the API refuses it the same way (it was a 500: an SQL overflow)
    r = root.call("GET", "/api/v1/tasks", offset=99999999999999999999)
    assert r.status_code == 400 and "offset" in r.json()["message"]
    r = b.get(f"/tasks/{ids[0]}/logs/stream?attempt=99999999999999999999")
    assert r.status_code == 422 and "attempt must be between" in r.json()["message"]
    assert "bogus" in b.get("/tasks?state=bogus").text


def test_admin_forms_users_tokens_quotas(root: Api) -> None:
    admin = Browser(root)
    admin.login(ADMIN_TOKEN)
    r = admin.post("/admin/users", {"name": "dana", "role": "internal", "groups": "vision"})
    assert r.status_code == 200
    token = re.search(r'<code id="new-token">([^<]+)</code>', r.text).group(1)
    assert token not in admin.get("/admin").text  # shown once
    r = admin.post(
        "/admin/quotas",
        {"principal": "dana", "resource": "node-default-HIGH", "quota": "3", "expires_days": "2"},
    )
    assert r.status_code == 303
    dana = Browser(root)
    dana.login(token)
    home = dana.get("/").text
    assert "default · HIGH" in home and "0 / 3" in home and "(dana)" in home
    # issue a second token, revoke it by id
    r = admin.post("/admin/tokens", {"user": "dana", "label": "laptop"})
    second = re.search(r'<code id="new-token">([^<]+)</code>', r.text).group(1)
    assert second != token
    tid = next(
        t["id"] for t in root.ok("GET", "/api/v1/admin/tokens")["tokens"] if t["label"] == "laptop"
    )
    assert admin.post(f"/admin/tokens/{tid}/revoke").status_code == 303
    assert Browser(root).login(second).status_code == 401
    # bad input: a precise message, never a 500
    for path, data, message in (
        (
            "/admin/quotas",
            {"principal": "dana", "resource": "node-x-BOGUS", "quota": "1"},
            "bad quota resource",
        ),
        (
            "/admin/quotas",
            {"principal": "dana", "resource": "node_limit", "quota": "-1"},
            "whole number",
        ),
        (
            "/admin/quotas",
            {"principal": "dana", "resource": "node_limit", "quota": "9" * 40},
            "whole number",
        ),
        ("/admin/users", {"name": "Bad Name\x00"}, "bad user name"),
        ("/admin/users", {"name": "dana"}, "already exists"),
        ("/admin/tokens", {"user": "nobody-here"}, "no user"),
        ("/admin/users/root/disable", {}, "cannot disable yourself"),
    ):
        r = admin.post(path, data)
        assert 400 <= r.status_code < 500 and message in r.text, (
            path,
            r.status_code,
            r.text[-400:],
        )
    assert admin.post("/admin/users/dana/role", {"role": "external"}).status_code == 303
    assert (
        admin.post(
            "/admin/quotas/delete", {"principal": "dana", "resource": "node-default-HIGH"}
        ).status_code
        == 303
    )
    assert "default · HIGH" not in dana.get("/").text


def test_admin_cordons_a_node_after_confirmation(root: Api) -> None:
    admin = Browser(root)
    admin.login(ADMIN_TOKEN)
    node = root.ok("GET", "/api/v1/nodes")["nodes"][-1]["name"]
    assert "Cordon node" in admin.get(f"/nodes/{node}/confirm/cordon").text
    assert admin.post(f"/nodes/{node}/cordon").status_code == 303
    assert "st-cordoned" in admin.get("/nodes").text
    assert admin.post(f"/nodes/{node}/uncordon").status_code == 303
    assert admin.post("/nodes/no-such-node/cordon").status_code == 404


def test_samples_are_recorded_and_drawn(tmp_path: Path) -> None:
    t_start = time.time()
    with server(tmp_path, sample_interval_s=0.1, sample_retention_s=1.0) as root:
        b = Browser(root)
        b.login(ADMIN_TOKEN)
        overview = root.app.state.services.overview
        me = Caller(1, "root", "admin")
        deadline = time.monotonic() + 30
        while True:  # until the first samples have aged out (retention 1 s)
            history = root.client.blocking_portal.call(overview.history, me, 0.0, time.time())
            ats = [s["at"] for s in history["samples"]]
            if len(ats) >= 3 and min(ats) > t_start + 0.5:
                break
            assert time.monotonic() < deadline, ats
            time.sleep(0.2)
        # the local backend's machine is also the node of the shared Jupyter group
        assert {s["group"] for s in history["samples"]} == {"default", "jupyter"}
        trained = [s for s in history["samples"] if s["group"] == "default"]
        assert all(s["nodes"] == 2 and s["busy"] == 0 for s in trained)
        home = b.get("/").text
        assert "<polyline" in home and "Utilisation per group" in home


def test_an_unreachable_database_shows_a_banner_not_a_trace(tmp_path: Path) -> None:
    from hai_server.db.session import make_engine, make_sessions
    from hai_server.services.overview import OverviewService

    dead_engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:9/none")
    with server(tmp_path) as root:
        services = root.app.state.services
        dead = OverviewService(make_sessions(dead_engine), services.overview._config)
        b = Browser(root)
        b.login(ADMIN_TOKEN)
        root.app.state.services = dataclasses.replace(services, overview=dead)
        try:
            r = b.get("/")
            assert r.status_code == 503
            assert "database may be unreachable" in r.text and "Traceback" not in r.text
        finally:
            root.app.state.services = services
        assert b.get("/").status_code == 200  # back once it is reachable
        root.client.blocking_portal.call(dead_engine.dispose)
