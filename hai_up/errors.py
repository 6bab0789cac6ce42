"""The one error type of hai-up: a message for the administrator and the exit code."""

from __future__ import annotations


class UpError(Exception):
    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
