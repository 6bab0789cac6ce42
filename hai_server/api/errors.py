"""Map every error to a precise status and one JSON shape: {"error": code, "message": text}."""

from __future__ import annotations

import logging

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException

from hai_server.services.errors import DatabaseDown, ServiceError
from hai_server.services.tasks import PATTERN_WORDS

log = logging.getLogger("hai.api")


def _body(code: str, message: str) -> dict[str, str]:
    return {"error": code, "message": message}


def service_error(_: Request, exc: ServiceError) -> Response[dict[str, str]]:
    return Response(_body(exc.code, exc.message), status_code=exc.status, media_type=MediaType.JSON)


def _in_words(message: str) -> str:
    """msgspec names a pattern by its regex; say what it means instead."""
    for pattern, words in PATTERN_WORDS.items():
        message = message.replace(f"matching regex {pattern!r}", words)
    return message


def validation_error(_: Request, exc: ValidationException) -> Response[dict[str, str]]:
    """A body that does not fit its schema is 422; a bad query or path parameter is 400."""
    detail = exc.detail or "invalid request"
    extra = exc.extra
    in_body = True
    if isinstance(extra, list) and extra:
        parts = []
        for item in extra:
            if isinstance(item, dict):
                source = str(getattr(item.get("source"), "value", item.get("source")) or "")
                in_body = in_body and source in ("", "body")
                key = item.get("key") or source
                where = f"{source} parameter {key}" if source in ("query", "path") else key
                parts.append(f"{where}: {_in_words(str(item.get('message', '')))}".strip(": "))
        if parts:
            detail = "; ".join(parts)
    if in_body:
        return Response(_body("invalid", detail), status_code=422, media_type=MediaType.JSON)
    return Response(_body("bad_request", detail), status_code=400, media_type=MediaType.JSON)


def http_error(_: Request, exc: HTTPException) -> Response[dict[str, str]]:
    """Litestar's own errors (404, 405 with its Allow header, 413, a body that is no JSON)."""
    if isinstance(exc, NotFoundException):
        code = "not_found"
    elif exc.status_code == 405:
        code = "method_not_allowed"
    elif exc.status_code == 413:
        code = "too_large"
    else:
        code = "bad_request" if exc.status_code == 400 else "http_error"
    return Response(
        _body(code, exc.detail),
        status_code=exc.status_code,
        media_type=MediaType.JSON,
        headers=dict(exc.headers or {}),
    )


def too_deep(_: Request, exc: RecursionError) -> Response[dict[str, str]]:
    """A JSON body nested deeper than the decoder goes (e.g. 100,000 ``[``) is not a request."""
    return Response(
        _body("bad_request", "the request body is nested too deeply to be a valid request"),
        status_code=400,
        media_type=MediaType.JSON,
    )


def database_unavailable(_: Request, exc: DatabaseDown) -> Response[dict[str, str]]:
    """The database could not serve the request (down, unreachable, locked too long): the
    request may succeed later, so 503, not a 500 that says the server is broken."""
    log.warning("database unavailable: %s", str(exc).splitlines()[0] if str(exc) else exc)
    return Response(
        _body("unavailable", "the database cannot be reached right now; try again shortly"),
        status_code=503,
        media_type=MediaType.JSON,
        headers={"Retry-After": "5"},
    )


def internal_error(_: Request, exc: Exception) -> Response[dict[str, str]]:
    log.exception("unhandled error", exc_info=exc)
    return Response(_body("internal", "internal server error; see the server log"), status_code=500)


HANDLERS = {
    ServiceError: service_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    RecursionError: too_deep,
    DatabaseDown: database_unavailable,
    Exception: internal_error,
}
