"""The proxy of Jupyter containers: ``/{user}/{name}/...`` (HTTP and websockets) to the
container's JupyterLab, so one URL works on every backend.

It wraps the application's ASGI handler: a path whose first segment is one of the app's own
(``api``, ``schema``, Studio's pages, ...) never reaches it. Who may pass:

* the platform token of the container's owner or of an admin (``Authorization: Bearer``, or
  ``?token=`` once, after which a cookie scoped to the container's path carries the
  container's token), or
* the container's own token (``Authorization: token``, ``?token=``, the cookie).

No credentials: 401; another user's token: 403; no such container: 404; a container that is
not serving (queued, stopped, starting): 503. The request reaches JupyterLab with the
container's token in its ``Authorization`` header; the caller's credentials never do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx

from hai_server.services.errors import ServiceError
from hai_server.services.jupyter import JupyterService, Route
from hai_server.services.tasks import Caller

COOKIE = "hai_jupyter"
ROUTE_TTL_S = 2.0
MAX_ROUTES = 10_000
HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te",
    b"trailers", b"transfer-encoding", b"upgrade", b"host", b"authorization", b"cookie",
    b"content-length",
})  # fmt: skip
ASGI = Callable[[dict[str, Any], Callable[..., Awaitable[Any]], Callable[..., Awaitable[Any]]],
                Awaitable[None]]  # fmt: skip


class Denied(Exception):
    def __init__(self, status: int, message: str, retry: bool = False) -> None:
        super().__init__(message)
        self.status, self.message, self.retry = status, message, retry


class JupyterProxy:
    """``JupyterProxy(inner, services, reserved)``: ``inner`` handles every other path."""

    def __init__(self, inner: ASGI, services: Callable[[], Any], reserved: Iterable[str]) -> None:
        self._inner = inner
        self._services = services
        self._reserved = frozenset(reserved)
        self._client: httpx.AsyncClient | None = None
        # serving routes for ROUTE_TTL_S: a request costs no database read (a container that
        # stops in the meantime answers 502 for at most that long, then 503)
        self._routes: dict[tuple[str, str], tuple[float, Route]] = {}

    async def _route(self, jupyter: JupyterService, user: str, name: str) -> Route | None:
        now = time.monotonic()
        hit = self._routes.get((user, name))
        if hit is not None and hit[0] > now:
            return hit[1]
        route = await jupyter.route(user, name)
        if route is not None and route.endpoint and route.state == "running":
            if len(self._routes) > MAX_ROUTES:
                self._routes.clear()
            self._routes[(user, name)] = (now + ROUTE_TTL_S, route)
        else:
            self._routes.pop((user, name), None)
        return route

    def _target(self, scope: dict[str, Any]) -> tuple[str, str, str] | None:
        if scope["type"] not in ("http", "websocket"):
            return None
        parts = scope.get("path", "").split("/", 3)
        if len(parts) < 4 or not parts[1] or not parts[2] or parts[1] in self._reserved:
            return None
        return parts[1], parts[2], "/" + parts[3]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        target = self._target(scope)
        services = self._services() if target else None
        if target is None or services is None:
            await self._inner(scope, receive, send)
            return
        jupyter: JupyterService = services.jupyter
        user, name, _rest = target
        try:
            route = await self._route(jupyter, user, name)
            if route is None:
                raise Denied(404, f"no container {user}/{name}")
            cookie = await self._authorize(scope, route, services)
            if route.state != "running" or not route.endpoint:
                raise Denied(503, f"container {user}/{name} is {route.state}, not serving yet",
                             retry=True)  # fmt: skip
        except Denied as exc:
            await _deny(scope, receive, send, exc)
            return
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send, route)
        else:
            await self._http(scope, receive, send, route, cookie, f"/{user}/{name}/")

    # -- who may pass --------------------------------------------------------------------
    async def _authorize(self, scope: dict[str, Any], route: Route, services: Any) -> str | None:
        """None, or the cookie value to set (a successful ``?token=``). Raises Denied."""
        headers = _headers(scope)
        auth = headers.get(b"authorization", b"").decode("latin-1")
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "token" and value.strip():
            if _same(value.strip(), route.token):
                return None
            raise Denied(401, "invalid container token")
        if scheme.lower() == "bearer" and value.strip():
            await self._platform(services, auth, route)
            return None
        if query.get("token"):
            given = query["token"]
            if not _same(given, route.token):
                await self._platform(services, f"Bearer {given}", route)
            return route.token
        cookie = SimpleCookie()
        with contextlib.suppress(Exception):
            cookie.load(headers.get(b"cookie", b"").decode("latin-1"))
        if COOKIE in cookie and _same(cookie[COOKIE].value, route.token):
            return None
        if scope["type"] == "websocket" and COOKIE in cookie:
            raise Denied(401, "invalid container cookie")
        raise Denied(401, "missing credentials: a platform token (Authorization: Bearer) or "
                          "the container's token")  # fmt: skip

    @staticmethod
    async def _platform(services: Any, authorization: str, route: Route) -> Caller:
        try:
            caller: Caller = await services.auth.caller(authorization)
        except ServiceError as exc:
            raise Denied(401, str(exc)) from None
        if caller.user_id != route.user_id and not caller.admin:
            raise Denied(403, f"user {caller.name} may not open another user's container")
        return caller

    # -- HTTP ----------------------------------------------------------------------------
    async def _http(
        self,
        scope: dict[str, Any],
        receive: Any,
        send: Any,
        route: Route,
        cookie: str | None,
        base: str,
    ) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(trust_env=False, timeout=httpx.Timeout(None))
        body = bytearray()
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in HOP]
        headers.append((b"authorization", f"token {route.token}".encode()))
        jar = _kept_cookies(_headers(scope).get(b"cookie", b""))
        if jar:
            headers.append((b"cookie", jar))
        url = f"http://{route.endpoint}{scope.get('raw_path', scope['path'].encode()).decode('latin-1')}"
        query = _without_token(scope.get("query_string", b""))
        if query:
            url += "?" + query
        try:
            request = self._client.build_request(scope["method"], url, headers=headers,
                                                 content=bytes(body))  # fmt: skip
            upstream = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            self._routes.clear()  # look the container up again next time
            await _deny(scope, receive, send, Denied(502, f"JupyterLab is not answering: {exc}",
                                                      retry=True))  # fmt: skip
            return
        try:
            out = [(k.lower(), v) for k, v in upstream.headers.raw if k.lower() not in HOP]
            if cookie is not None:
                out.append((b"set-cookie", f"{COOKIE}={cookie}; Path={base}; HttpOnly; "
                                           "SameSite=Strict".encode()))  # fmt: skip
            await send({"type": "http.response.start", "status": upstream.status_code,
                        "headers": out})  # fmt: skip
            async for chunk in upstream.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await upstream.aclose()

    # -- websockets ----------------------------------------------------------------------
    async def _websocket(
        self, scope: dict[str, Any], receive: Any, send: Any, route: Route
    ) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import WebSocketException

        headers = _headers(scope)
        origin = headers.get(b"origin", b"").decode("latin-1")
        host = headers.get(b"host", b"").decode("latin-1")
        if origin and origin.split("://", 1)[-1] != host:  # cross-site websocket hijacking
            await _deny(scope, receive, send, Denied(403, "cross-origin websocket refused"))
            return
        path = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        query = _without_token(scope.get("query_string", b""))
        url = f"ws://{route.endpoint}{path}" + (f"?{query}" if query else "")
        protocols = scope.get("subprotocols") or None
        msg = await receive()
        if msg["type"] != "websocket.connect":
            return
        try:
            upstream = await connect(
                url, additional_headers={"Authorization": f"token {route.token}"},
                subprotocols=protocols, proxy=None, max_size=None, compression=None,
                open_timeout=10, ping_interval=None,
            )  # fmt: skip
        except (OSError, WebSocketException, TimeoutError):
            await send({"type": "websocket.close", "code": 1011})
            return
        await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})

        async def down() -> None:
            with contextlib.suppress(WebSocketException):
                async for data in upstream:
                    key = "bytes" if isinstance(data, bytes) else "text"
                    await send({"type": "websocket.send", key: data})
            with contextlib.suppress(Exception):
                await send({"type": "websocket.close", "code": upstream.close_code or 1000})

        async def up() -> None:
            while True:
                m = await receive()
                if m["type"] == "websocket.disconnect":
                    return
                data = m.get("bytes") if m.get("bytes") is not None else m.get("text")
                if data is not None:
                    await upstream.send(data)

        tasks = [asyncio.create_task(down()), asyncio.create_task(up())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            await upstream.close()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()


def _same(given: str, token: str) -> bool:
    return bool(token) and secrets.compare_digest(given.encode(), token.encode())


def _headers(scope: dict[str, Any]) -> dict[bytes, bytes]:
    return {k.lower(): v for k, v in scope.get("headers", [])}


def _without_token(query: bytes) -> str:
    pairs = [(k, v) for k, v in parse_qsl(query.decode("latin-1"), keep_blank_values=True)
             if k != "token"]  # fmt: skip
    return urlencode(pairs)


def _kept_cookies(raw: bytes) -> bytes:
    """The caller's cookies minus the platform's (JupyterLab's own _xsrf and such pass)."""
    kept = [c.strip() for c in raw.decode("latin-1").split(";")
            if c.strip() and not c.strip().startswith((f"{COOKIE}=", "session="))]  # fmt: skip
    return "; ".join(kept).encode("latin-1")


async def _deny(scope: dict[str, Any], receive: Any, send: Any, exc: Denied) -> None:
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 4000 + exc.status})
        return
    code = {401: "unauthorized", 403: "forbidden", 404: "not_found", 502: "unavailable",
            503: "unavailable"}.get(exc.status, "error")  # fmt: skip
    body = json.dumps({"error": code, "message": exc.message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if exc.retry:
        headers.append((b"retry-after", b"2"))
    if exc.status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="hai"'))
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
