"""Shared CLI plumbing: exit codes, error reporting, the connected client, output helpers.

Typer-free on purpose: the hot commands (hai_cli/fastpath.py) run without importing Typer,
so nothing here may import it. ``die`` raises SystemExit, which Click lets through."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

from hai_cli.client import ApiError, Client, ConnectionFailed
from hai_cli.timefmt import duration

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILED = 1  # a followed task failed without an exit code; other failures
EXIT_USAGE = 2  # bad input: usage, validation (422), conflict (409)
EXIT_NOT_FOUND = 3  # no such task / attempt (404)
EXIT_UNREACHABLE = 4  # the server cannot be reached or started
EXIT_AUTH = 5  # token missing, wrong, revoked (401) or not allowed (403)
EXIT_STOPPED = 6  # a followed task was stopped


def echo(message: str = "", err: bool = False) -> None:
    """One line to stdout (or stderr), flushed: what ``typer.echo`` does for plain text."""
    stream = sys.stderr if err else sys.stdout
    stream.write(f"{message}\n")
    stream.flush()


def die(message: str, code: int = EXIT_FAILED) -> NoReturn:
    echo(f"error: {message}", err=True)
    raise SystemExit(code)


def checked(rule: Callable[..., T], *args: Any) -> T:
    """``rule(*args)`` of hai_cli.validate, or ``error: <its message>`` and exit 2."""
    try:
        return rule(*args)
    except ValueError as exc:
        die(str(exc), EXIT_USAGE)


def api_exit_code(exc: ApiError) -> int:
    if exc.status in (401, 403):
        return EXIT_AUTH
    if exc.status == 404:
        return EXIT_NOT_FOUND
    if 400 <= exc.status < 500:
        return EXIT_USAGE
    return EXIT_FAILED


@contextmanager
def errors() -> Iterator[None]:
    """Turn client errors into one clear line and a meaningful exit code."""
    from hai_cli.config import ConfigError
    from hai_cli.embedded import EmbeddedError

    try:
        yield
    except ApiError as exc:
        hint = ""
        if exc.status == 401:
            hint = " (check HAI_TOKEN or run hai-cli init TOKEN --url URL)"
        die(f"{exc.message}{hint}", api_exit_code(exc))
    except ConnectionFailed as exc:
        die(str(exc), EXIT_UNREACHABLE)
    except (ConfigError, EmbeddedError) as exc:
        die(str(exc), EXIT_UNREACHABLE)
    except BrokenPipeError:
        raise SystemExit(EXIT_OK) from None


def connect() -> Client:
    """A client for the configured server, or the embedded one (started when needed)."""
    from hai_cli import config, embedded

    target = config.configured_target()
    if target is None:
        target = embedded.ensure()
    try:
        return Client(target.url, target.token, source=target.source)
    except ValueError as exc:
        die(str(exc), EXIT_USAGE)


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def age(ts: float | None, now: float | None = None) -> str:
    if ts is None:
        return "-"
    return duration((now or time.time()) - ts)


def clock(ts: float | None) -> str:
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))
