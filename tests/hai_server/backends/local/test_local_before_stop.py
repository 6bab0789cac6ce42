"""The local backend tells a rank that ended on its own from one our stop ended, by the
order of its exit file and the attempt's kill mark (written just before the SIGTERM)."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from hai_server.backends.local.backend import _exited_before_stop


@pytest.mark.parametrize(
    ("exit_at", "kill_at", "expected"),
    [
        (100.0, 101.0, True),  # exited, then the stop began
        (102.0, 101.0, False),  # the stop began first: maybe it saved on our SIGTERM
        (101.0, 101.0, False),  # a tie is ours (resume rather than lose work)
        (100.0, None, False),  # never stopped
        (None, 101.0, False),  # no exit file (yet)
    ],
)
def test_exited_before_stop(
    tmp_path: Path, exit_at: float | None, kill_at: float | None, expected: bool
) -> None:
    rank_dir = tmp_path / "rank0"
    rank_dir.mkdir()
    if exit_at is not None:
        (rank_dir / "exit_code").write_text("0\n")
        os.utime(rank_dir / "exit_code", (exit_at, exit_at))
    if kill_at is not None:
        (tmp_path / "kill_at").write_text(f"{kill_at + 5}\n")
        os.utime(tmp_path / "kill_at", (kill_at, kill_at))
    att = SimpleNamespace(directory=tmp_path)
    assert _exited_before_stop(att, rank_dir) is expected  # type: ignore[arg-type]
