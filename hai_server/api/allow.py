"""``OPTIONS`` answers with every method of the path in ``Allow``.

Litestar 2.x builds a path's OPTIONS handler with the first route registered for that path:
when two controllers' methods share a path (``GET`` and ``POST /api/v1/tasks``) its ``Allow``
names only the first one's methods. ``fix_allow`` (a ``before_send`` hook) rewrites the header
from the methods the app really routes for that path template.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Litestar
from litestar.routes import HTTPRoute


def allow_map(app: Litestar) -> dict[str, str]:
    """Path template -> ``Allow`` value (sorted methods, OPTIONS included)."""
    methods: dict[str, set[str]] = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            methods.setdefault(route.path, set()).update(str(m) for m in route.methods)
    return {path: ", ".join(sorted(ms | {"OPTIONS"})) for path, ms in methods.items()}


def fix_allow(get_map: Callable[[], dict[str, str]]) -> Callable[[Any, Any], Awaitable[None]]:
    async def before_send(message: Any, scope: Any) -> None:
        if message.get("type") != "http.response.start" or scope.get("method") != "OPTIONS":
            return
        allow = get_map().get(scope.get("path_template", ""))
        if allow is None:
            return
        headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
        headers.append((b"allow", allow.encode()))
        message["headers"] = headers

    return before_send
