"""Which task a command names: ``status 12``, ``status bert``, ``status exp.yml``.

As in the original: a number is an id; an existing ``*.yml``/``*.yaml`` file means the task
named by its ``name``; anything else is a task name. A name means the caller's task of that
name: the one still alive (queued, starting, running, suspending, suspended) if there is
one, else the latest. Two alive tasks sharing the name are ambiguous: an error listing them.

Resolved here, in the CLI, with one ``GET /api/v1/tasks?name=...`` (the caller's tasks
only, so another user's name is not found, as their ids are 404): the id stays the API's
only handle on a task (its URLs, its 404s, Studio's links), and no endpoint doubles up.
"""

from __future__ import annotations

import os
from typing import Any

from hai_cli import validate as check

ALIVE = frozenset({"queued", "starting", "running", "suspending", "suspended"})
MAX_SAME_NAME = 1000  # one page of the API: more same-named tasks than this is not a name


class RefError(ValueError):
    """The reference names no task, or several; ``code`` is the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def parse(text: str) -> int | str:
    """An id (int) or a task name (str); a ``*.yml`` file that exists gives its ``name``."""
    if text.isascii() and text.isdigit():
        return int(text)
    if text.endswith((".yml", ".yaml")) and os.path.isfile(text):
        from hai_cli.experiment import ExperimentError, name_of

        try:
            return name_of(text)
        except ExperimentError as exc:
            raise RefError(str(exc), 2) from None
    try:
        return check.display_name("task name", text)
    except ValueError as exc:
        raise RefError(str(exc), 2) from None


def pick(name: str, tasks: list[dict[str, Any]]) -> int:
    """The id ``name`` means among the caller's tasks of that name (newest first)."""
    if not tasks:
        raise RefError(f"no task named {name!r}", 3)
    alive = [t for t in tasks if t["state"] in ALIVE]
    if len(alive) > 1:
        ids = ", ".join(f"{t['id']} ({t['state']})" for t in alive)
        raise RefError(f"{len(alive)} tasks are named {name!r}: {ids}; say which by id", 2)
    return int((alive or tasks)[0]["id"])


def resolve(client: Any, text: str) -> int:
    """The id of the task ``text`` names, asking the server when it is a name."""
    ref = parse(text)
    if isinstance(ref, int):
        return ref
    page = client.list_tasks(name=ref, limit=MAX_SAME_NAME)
    return pick(ref, page["tasks"])
