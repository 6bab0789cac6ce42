"""A name's pattern ends at the end of the string: Python's ``$`` also matches before a final
newline, so ``"bob\\n"`` passed every ``^...$`` check with ``re.match`` (a user, group, node,
quota resource and environment variable could be created with a newline in its name). Found
by the stateful schemathesis run's review; each check now uses ``fullmatch``."""

from __future__ import annotations

from pathlib import Path

import pytest

from hai_cli import validate
from hai_cli.haienv.errors import HaienvError
from hai_cli.haienv.names import check_name
from tests.support.pg_server import api


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/api/v1/admin/users", {"name": "bob\n"}, "user name"),
        ("POST", "/api/v1/admin/users", {"name": "bob", "groups": ["g\n"]}, "group"),
        ("POST", "/api/v1/admin/nodes", {"name": "n1\n", "group": "default"}, "node"),
        (
            "PUT",
            "/api/v1/admin/quotas",
            {"principal": "root", "resource": "node-default-NORMAL\n", "quota": 1},
            "quota",
        ),
        (
            "POST",
            "/api/v1/tasks",
            {"argv": ["true"], "workdir": "/tmp", "kind": "exec", "env": {"A\n": "1"}},
            "variable",
        ),
    ],
)
def test_a_trailing_newline_is_refused(
    tmp_path: Path, method: str, path: str, body: dict, field: str
) -> None:
    with api(tmp_path / "home", f"sqlite+aiosqlite:///{tmp_path / 'hai.db'}", nodes=1) as root:
        r = root.call(method, path, body)
        assert r.status_code in (400, 422), (r.status_code, r.text)
        assert field in r.json()["message"].lower() or "pattern" in r.json()["message"], r.text
        if path == "/api/v1/admin/users":
            names = [u["name"] for u in root.ok("GET", "/api/v1/admin/users")["users"]]
            assert not any("\n" in n for n in names)


def test_pure_checks_refuse_a_trailing_newline() -> None:
    with pytest.raises(ValueError):
        validate.env({"A\n": "1"})
    with pytest.raises(ValueError):
        validate.image("python:3.11\n")
    with pytest.raises(HaienvError):
        check_name("torch\n")
