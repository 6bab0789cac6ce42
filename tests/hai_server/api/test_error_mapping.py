"""The API's error table: each kind of failure gets its status and the one error shape."""

from __future__ import annotations

import pytest
from litestar import Litestar, get
from litestar.testing import TestClient
from sqlalchemy.exc import OperationalError

from hai_server.api.errors import HANDLERS
from hai_server.services.errors import Conflict, NotFound


def _raising(exc: BaseException) -> Litestar:
    @get("/boom", sync_to_thread=False)
    def boom() -> None:
        raise exc

    return Litestar([boom], exception_handlers=HANDLERS, logging_config=None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        # PostgreSQL down or unreachable: try again later, not "the server is broken"
        (OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "refused")), 503,
         "unavailable"),
        (OperationalError("UPDATE tasks", {}, Exception("database is locked")), 503,
         "unavailable"),
        (NotFound("no task 7"), 404, "not_found"),
        (Conflict("task 7 is already stopped"), 409, "conflict"),
        (RecursionError(), 400, "bad_request"),
        (RuntimeError("a bug"), 500, "internal"),
    ],
)  # fmt: skip
def test_each_failure_has_its_status(exc: BaseException, status: int, code: str) -> None:
    with TestClient(_raising(exc)) as client:
        r = client.get("/boom")
    assert r.status_code == status
    assert r.json()["error"] == code and set(r.json()) == {"error", "message"}
    if status == 503:
        assert r.headers["retry-after"] == "5" and "try again" in r.json()["message"]
        assert "SELECT" not in r.text  # no SQL leaks to the caller
