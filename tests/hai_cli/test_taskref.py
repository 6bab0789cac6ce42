"""Which task a TASK argument names (hai_cli/taskref.py): the pure rules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hai_cli.taskref import RefError, parse, pick


def t(task_id: int, state: str) -> dict:
    return {"id": task_id, "state": state}


@pytest.mark.parametrize(
    ("tasks", "expected"),
    [
        ([t(9, "succeeded"), t(4, "failed")], 9),  # none alive: the latest
        ([t(9, "succeeded"), t(4, "running")], 4),  # the alive one, even if older
        ([t(9, "suspended"), t(4, "stopped")], 9),
        ([t(3, "queued")], 3),
    ],
)
def test_pick(tasks: list[dict], expected: int) -> None:
    assert pick("bert", tasks) == expected


def test_pick_refuses_none_and_several_alive() -> None:
    with pytest.raises(RefError, match=r"^no task named 'bert'$") as info:
        pick("bert", [])
    assert info.value.code == 3
    with pytest.raises(RefError) as info:
        pick("bert", [t(7, "queued"), t(5, "stopped"), t(2, "running")])
    assert str(info.value) == "2 tasks are named 'bert': 7 (queued), 2 (running); say which by id"
    assert info.value.code == 2


def test_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse("12") == 12 and parse(str(2**70)) == 2**70
    assert parse("bert") == "bert" and parse("12a") == "12a" and parse("٣") == "٣"  # not ASCII
    assert parse("missing.yml") == "missing.yml"  # no such file: a name
    (tmp_path / "exp.yml").write_text("script: sub/train.py\n")
    assert parse("exp.yml") == "train.py"  # no name: the script's file name, as on submit
    (tmp_path / "named.yaml").write_text("name: bert-large\nscript: train.py\n")
    assert parse("named.yaml") == "bert-large"
    for bad, words in (("a\x00b", "U+0000"), ("\u202e", "U+202E"), ("", "must not be empty")):
        with pytest.raises(RefError, match=re.escape(words)):
            parse(bad)
