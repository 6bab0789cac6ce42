"""haienv's errors: one line for the user and the exit code ``hai-cli`` uses for the kind."""

from __future__ import annotations


class HaienvError(Exception):
    """A failure with a one-line message; ``code`` is the process exit code."""

    code = 1


class BadInput(HaienvError):
    code = 2


class NotFound(HaienvError):
    code = 3


class Unreachable(HaienvError):
    code = 4
