"""Map every error to a precise status and one JSON shape: {"error": code, "message": text}."""

from __future__ import annotations

import logging

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException

from hai_server.services.errors import ServiceError

log = logging.getLogger("hai.api")


def _body(code: str, message: str) -> dict[str, str]:
    return {"error": code, "message": message}


def service_error(_: Request, exc: ServiceError) -> Response[dict[str, str]]:
    return Response(_body(exc.code, exc.message), status_code=exc.status, media_type=MediaType.JSON)


def validation_error(_: Request, exc: ValidationException) -> Response[dict[str, str]]:
    detail = exc.detail or "invalid request"
    extra = exc.extra
    if isinstance(extra, list) and extra:
        parts = []
        for item in extra:
            if isinstance(item, dict):
                key = item.get("key") or item.get("source") or ""
                parts.append(f"{key}: {item.get('message', '')}".strip(": "))
        if parts:
            detail = "; ".join(parts)
    return Response(_body("invalid", detail), status_code=422, media_type=MediaType.JSON)


def http_error(_: Request, exc: HTTPException) -> Response[dict[str, str]]:
    code = "not_found" if isinstance(exc, NotFoundException) else "http_error"
    return Response(_body(code, exc.detail), status_code=exc.status_code, media_type=MediaType.JSON)


def internal_error(_: Request, exc: Exception) -> Response[dict[str, str]]:
    log.exception("unhandled error", exc_info=exc)
    return Response(_body("internal", "internal server error; see the server log"), status_code=500)


HANDLERS = {
    ServiceError: service_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    Exception: internal_error,
}
