"""Errors of hai-up: each carries the process exit code the CLI uses."""

from __future__ import annotations

EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_UNREACHABLE = 4


class UpError(Exception):
    """A failure to report as one line; ``exit_code`` is what ``hai-up`` exits with."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class ConfigError(UpError):
    """A bad configuration; ``problems`` lists every problem found, each naming its variable."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("bad configuration: " + "; ".join(self.problems), EXIT_CONFIG)
