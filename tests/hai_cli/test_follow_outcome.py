"""What `-f` prints when the followed task ends: the state, the exit code, and why."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hai_cli.commands.tasks import follow_until_done


class _Client:
    def __init__(self, task: dict[str, Any]) -> None:
        self._task = task

    def follow_logs(self, task_id: int, **_: Any) -> Iterator[bytes]:
        yield b"a line\n"

    def task(self, task_id: int) -> dict[str, Any]:
        return self._task

    def clone(self) -> _Client:  # the queue notes' own connection
        return self

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("task", "line", "code"),
    [
        ({"state": "succeeded", "exit_code": 0, "detail": None}, "task 1 succeeded", 0),
        ({"state": "failed", "exit_code": 3, "detail": None}, "task 1 failed (exit code 3)", 3),
        (
            {
                "state": "failed",
                "exit_code": None,
                "detail": "start_failed: working directory /elsewhere does not exist",
            },
            "task 1 failed: start_failed: working directory /elsewhere does not exist",
            1,
        ),
    ],
)
def test_follow_says_how_and_why_it_ended(
    task: dict[str, Any], line: str, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert follow_until_done(_Client(task), 1) == code  # type: ignore[arg-type]
    assert capsys.readouterr().err == line + "\n"
