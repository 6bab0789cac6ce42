"""Studio's login: a platform token in, a server-side session out.

The browser holds only a random session id (cookie ``hai_session``: HttpOnly,
SameSite=Strict); the token lives in the session store on the server and is checked on
every request through AuthService, so a revoked token or a disabled user is logged out at
once. The session id is renewed at login (no fixation). Every form POST carries a CSRF token
(Litestar's CSRF middleware, double-submit cookie ``hai_csrf``).
"""

from __future__ import annotations

import secrets
from typing import Any

from litestar import Request
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.types import Empty

from hai_server.services.errors import Unauthorized
from hai_server.services.tasks import Caller

SESSION_COOKIE = "hai_session"
CSRF_COOKIE = "hai_csrf"
_NEW_SESSION = "hai_new_session_id"  # scope key: the id that replaces the cookie's at login


class LoginRequired(Exception):
    """No session, an expired one, or a token no longer valid: back to the login page."""


class _RenewingBackend(ServerSideSessionBackend):
    """Renews the id at login; stores nothing for a visitor who is not logged in (Litestar
    would keep an empty session for every anonymous request)."""

    async def store_in_message(
        self, scope_session: Any, message: Any, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        if not scope_session:
            if not connection.cookies.get(SESSION_COOKIE):
                return  # nothing stored, nothing to clear
            scope_session = Empty
        await super().store_in_message(scope_session, message, connection)

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        renewed = connection.scope.get(_NEW_SESSION)  # type: ignore[misc]
        if renewed:
            return str(renewed)
        return super().get_session_id(connection)


class StudioSessionConfig(ServerSideSessionConfig):
    _backend_class = _RenewingBackend


def session_config(max_age_s: int) -> StudioSessionConfig:
    return StudioSessionConfig(
        key=SESSION_COOKIE,
        max_age=max_age_s,
        httponly=True,
        samesite="strict",
        secure=False,
        path="/",
    )


def csrf_config(secret: str | None) -> CSRFConfig:
    return CSRFConfig(
        secret=secret or secrets.token_urlsafe(32),
        cookie_name=CSRF_COOKIE,
        cookie_httponly=True,
        cookie_samesite="strict",
        header_name="x-hai-csrf",
    )


async def start_session(request: Request[Any, Any, Any], token: str, caller: Caller) -> None:
    """Log in: a new session id holding the token; the browser's previous session, if any,
    is deleted from the store."""
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await request.app.stores.get("sessions").delete(old)
    request.scope[_NEW_SESSION] = secrets.token_hex(32)  # type: ignore[literal-required]
    request.set_session({"token": token, "user": caller.name})


async def provide_viewer(request: Request[Any, Any, Any], state: State) -> Caller:
    """The logged-in caller (LoginRequired otherwise), checked against the token store."""
    session = request.session if request.scope.get("session") else {}
    token = session.get("token") if isinstance(session, dict) else None
    if not token:
        raise LoginRequired()
    try:
        return await state.services.auth.caller(f"Bearer {token}")
    except Unauthorized:
        request.clear_session()
        raise LoginRequired() from None
