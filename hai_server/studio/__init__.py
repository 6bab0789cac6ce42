"""Studio: the web UI the server serves at ``/`` (``/api/v1`` stays the API).

Server-rendered Jinja templates (templates/), a little JavaScript for the live parts
(static/studio.js: Server-Sent Events for logs, polling for task state), CSS and JS shipped
in the package (no CDN: clusters are often offline). Pages call the services, as the API
does (pages.py); view models (views.py, charts.py) are pure.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from litestar import MediaType, Request, Response, Router
from litestar.datastructures import ResponseHeader
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.middleware import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from hai_server.services.errors import DatabaseDown, ServiceError
from hai_server.studio.pages import LoginController, StudioController
from hai_server.studio.session import LoginRequired, csrf_config, session_config
from hai_server.studio.views import visible

HERE = Path(__file__).parent
# defence in depth behind escaping: no inline or foreign script, no framing (clickjacking)
SECURITY_HEADERS = [
    ResponseHeader(
        name="Content-Security-Policy",
        value="default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'",
    ),
    ResponseHeader(name="X-Frame-Options", value="DENY"),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
    ResponseHeader(name="Referrer-Policy", value="same-origin"),
    ResponseHeader(name="Cache-Control", value="no-store"),
]
log = logging.getLogger("hai.studio")
DOWN = (
    "The server could not read the platform's state: its database may be unreachable. "
    "This page retries when reloaded; the server log has the details."
)


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    def setup(engine: JinjaTemplateEngine) -> None:
        engine.engine.filters["visible"] = visible
        engine.engine.trim_blocks = True
        engine.engine.lstrip_blocks = True

    return TemplateConfig(
        directory=HERE / "templates", engine=JinjaTemplateEngine, engine_callback=setup
    )


def _error(request: Request[Any, Any, Any], status: int, title: str, message: str) -> Template:
    wants_json = request.url.path.endswith(("/live", "/stream"))
    if wants_json:
        return Response(  # type: ignore[return-value]
            {"error": title, "message": message}, status_code=status, media_type=MediaType.JSON
        )
    return Template(
        template_name="error.html",
        context={"viewer": None, "title": title, "message": message, "path": request.url.path},
        status_code=status,
    )


def _login_required(request: Request[Any, Any, Any], _: LoginRequired) -> Response[Any]:
    if request.url.path.endswith(("/live", "/stream")):
        return Response({"error": "login"}, status_code=401, media_type=MediaType.JSON)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect("/login", query_params={"next": target}, status_code=303)


def _service_error(request: Request[Any, Any, Any], exc: ServiceError) -> Template:
    titles = {404: "Not found", 403: "Not allowed", 409: "Not now", 422: "Not valid"}
    return _error(request, exc.status, titles.get(exc.status, "Refused"), exc.message)


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Template:
    if isinstance(exc, PermissionDeniedException) and "CSRF" in str(exc.detail):
        return _error(
            request, 403, "Form expired", "The form was not sent by this page (CSRF check "
            "failed). Go back, reload the page and try again.",
        )  # fmt: skip
    if isinstance(exc, NotAuthorizedException):
        return _error(request, 401, "Log in", str(exc.detail))
    status = exc.status_code
    title = "Not found" if status == 404 else "Bad request" if status < 500 else "Error"
    return _error(request, status, title, str(exc.detail))


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Template:
    log.exception("studio page %s failed", request.url.path, exc_info=exc)
    return _error(request, 503, "Platform unavailable", DOWN)


def studio_router(*, session_max_age_s: int, secret: str | None) -> Router:
    return Router(
        path="/",
        route_handlers=[
            LoginController,
            StudioController,
            create_static_files_router(
                path="/static", directories=[HERE / "static"], name="studio-static"
            ),
        ],
        middleware=[
            session_config(session_max_age_s).middleware,
            DefineMiddleware(CSRFMiddleware, config=csrf_config(secret)),
        ],
        exception_handlers={
            LoginRequired: _login_required,
            ServiceError: _service_error,
            HTTPException: _http_error,
            ValidationException: _http_error,
            NotFoundException: _http_error,
            DatabaseDown: _internal,  # the API's 503 JSON would win over Exception here
            Exception: _internal,
        },
        response_headers=SECURITY_HEADERS,
        include_in_schema=False,
    )
