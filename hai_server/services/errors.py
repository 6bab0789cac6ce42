"""Errors the use cases raise; the API maps each to one precise HTTP status."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

# the database could not serve (down, unreachable, locked too long): the API answers 503
DatabaseDown = OperationalError


class ServiceError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(ServiceError):
    status = 422
    code = "invalid"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class QuotaRefused(Forbidden):
    """A submission its quota rows (or its owner's role) never let run."""

    code = "quota_refused"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class Unauthorized(ServiceError):
    status = 401
    code = "unauthorized"


class TooLarge(ServiceError):
    status = 413
    code = "too_large"
