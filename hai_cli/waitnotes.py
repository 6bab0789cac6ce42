"""While ``-f`` follows a queued task, say why it waits and where it is in the queue.

The log stream is silent until a rank writes; a task held by quota or capacity would look
hung. A small thread polls the task on its own connection and prints a line to stderr each
time its reason or position changes while it is queued (the first start and every requeue).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from hai_cli.client import ApiError, Client, ConnectionFailed
from hai_cli.safe_text import shown

FIRST_S = 0.5  # a task that starts at once prints nothing
EVERY_S = 1.0
SLOW_AFTER_S = 60.0  # then every SLOW_S: a long wait needs no tight polling
SLOW_S = 5.0
DONE = frozenset({"succeeded", "failed", "stopped"})


def wait_note(task: dict[str, Any]) -> str | None:
    """The line for a queued task (None for any other state), e.g.
    ``task 4 waiting: quota_exceeded, position 2 (node-default-NORMAL ...)``."""
    if task.get("state") != "queued":
        return None
    reason = task.get("reason") or "queued"
    pos = task.get("position")
    text = f"task {task['id']} waiting: {shown(reason)}"
    if pos:
        text += f", position {pos}"
    detail = task.get("detail")
    if detail:
        text += f" ({shown(detail)})"
    return text


class WaitNotes:
    """Start with :meth:`start`; :meth:`stop` ends the thread (it is a daemon anyway)."""

    def __init__(self, client: Client, task_id: int, echo: Callable[[str], None]) -> None:
        self._client = client.clone()
        self._task_id = task_id
        self._echo = echo
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wait-notes", daemon=True)

    def start(self) -> WaitNotes:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._client.close()

    def _run(self) -> None:
        last: str | None = None
        waited = 0.0
        delay = FIRST_S
        while not self._stop.wait(delay):
            waited += delay
            try:
                task = self._client.task(self._task_id)
            except (ApiError, ConnectionFailed):
                return  # the main stream reports what went wrong
            if task.get("state") in DONE:
                return
            note = wait_note(task)
            if note is not None and note != last:
                self._echo(note)
            last = note
            delay = EVERY_S if waited < SLOW_AFTER_S else SLOW_S
