"""Pure parts of the TUI: rows, filters, sorting, bars, detail text, log lines, submit body."""

from __future__ import annotations

from hai_cli.client import ApiError, ConnectionFailed
from hai_cli.tui.app import error_message
from hai_cli.tui.demo import NOW, make_nodes, make_tasks
from hai_cli.tui.detail import detail_text
from hai_cli.tui.dialogs import submit_body
from hai_cli.tui.logs import find_line
from hai_cli.tui.logstream import LineBuffer, LogFollower
from hai_cli.tui.model import (
    ROW_FIELDS,
    Filter,
    RowMemo,
    age_text,
    bar,
    clip,
    group_usage,
    row_cells,
    row_values,
    sparkline,
    table_values,
    visible,
    waiting,
    widths,
)


def test_row_cells_fit_80_columns_and_explain_queued_tasks() -> None:
    w = widths(80)
    assert sum(w.values()) + 2 * len(w) + 2 <= 80  # cell padding and a scrollbar
    task = make_tasks(40)[35]  # id 36: queued
    cells = row_cells(task, NOW, w)
    assert cells[3].plain == "queued" and cells[3].style == "yellow"
    assert cells[-1].plain.startswith("#") and "no_capac" in cells[-1].plain
    assert all(len(getattr(c, "plain", c)) <= w[k] for c, k in zip(cells, w, strict=True))
    assert cells[0].plain == "  36"  # right-aligned in its column


def test_row_memo_reuses_unchanged_rows_and_never_shows_a_stale_one() -> None:
    tasks = make_tasks(40)
    memo = RowMemo()
    first = memo.rows(tasks, short=True)
    assert first == [(str(t["id"]), table_values(t, short=True)) for t in tasks]
    again = memo.rows([dict(t) for t in tasks], short=True)  # equal fields, new dicts
    assert all(a[1] is b[1] for a, b in zip(first, again, strict=True))
    assert memo.rows(tasks, short=False)[35][1] == table_values(tasks[35], short=False)
    fields = {key for t in tasks for key in t} | set(ROW_FIELDS)
    shows = set()
    for field in sorted(fields - {"id"}):  # any field a row shows: the memo sees it change
        for task in tasks:
            changed = {**task, field: "changed" if field != "submitted_at" else 123.0}
            if table_values(changed) != table_values(task):
                memo.rows([task])
                assert memo.rows([changed])[0][1] == table_values(changed), field
                shows.add(field)
                break
    assert shows <= set(ROW_FIELDS) and {"name", "state", "reason", "submitted_at"} <= shows


def test_age_is_raw_in_the_table_and_text_on_screen() -> None:
    task = make_tasks(40)[0]
    values = table_values(task)
    assert values[7] == task["submitted_at"]  # the table turns it into text when drawn
    assert row_values(task, NOW)[7] == age_text(task["submitted_at"], NOW)
    assert age_text(NOW - 3720, NOW) == "1h02" and age_text(None, NOW) == "-"


def test_waiting_notes() -> None:
    assert waiting({"state": "queued", "reason": "quota_exceeded", "position": 3}) == (
        "#3 quota_exceeded"
    )
    assert waiting({"state": "queued", "reason": "quota_exceeded"}, short=True) == "over quota"
    assert waiting({"state": "failed", "exit_code": 3}) == "exit 3"
    assert waiting({"state": "running", "stop_requested": True}) == "stop requested"
    assert clip("abcdef", 4) == "abc…"


def test_filter_text_group_state_and_sort() -> None:
    tasks = make_tasks(40)
    flt = Filter(text="resnet")
    assert {t["name"].split("-")[0] for t in visible(tasks, flt)} == {"resnet50"}
    assert all(t["group"] == "h100" for t in visible(tasks, Filter(group="h100")))
    assert Filter().next_group(["b", "a"]).group == "a"
    assert Filter(group="b").next_group(["a", "b"]).group is None
    assert Filter().next_state().states == [
        "queued",
        "starting",
        "running",
        "suspending",
        "suspended",
    ]
    ids = [t["id"] for t in visible(tasks, Filter())]
    assert ids == sorted(ids, reverse=True)
    by_name = visible(tasks, Filter().sorted_by("name"))
    assert [t["name"] for t in by_name] == sorted(t["name"] for t in tasks)
    flipped = Filter().sorted_by("name").sorted_by("name")
    assert flipped.sort_reverse
    prio = visible(tasks, Filter().sorted_by("priority"))
    assert prio[0]["priority_value"] >= prio[-1]["priority_value"]
    assert "all users" in Filter(all_users=True).describe()


def test_usage_bar_and_sparkline() -> None:
    groups = group_usage(make_nodes(make_tasks(40)))
    assert [(g.name, g.nodes, g.busy, g.unhealthy) for g in groups] == [
        ("a100", 6, 4, 0),
        ("h100", 4, 2, 1),
    ]
    assert bar(1, 4, 8) == "██░░░░░░"
    assert bar(0, 0, 3) == "░░░"
    assert sparkline([0, 4, 8], top=8) == "▁▅█"
    assert sparkline([]) == ""


def test_detail_text_shows_ranks_attempts_events_and_why() -> None:
    task = {
        "id": 7,
        "name": "t",
        "state": "queued",
        "user": "u",
        "group": "g",
        "nodes": 2,
        "priority": "LOW",
        "restart_count": 1,
        "reason": "no_capacity",
        "position": 2,
        "submitted_at": NOW - 100,
        "ranks": [{"rank": 0, "node": "n0", "state": "exited", "exit_code": 0}],
        "attempts": [
            {
                "number": 0,
                "nodes": ["n0"],
                "started_at": NOW - 90,
                "ended_at": NOW - 30,
                "outcome": "suspended",
                "exit_code": None,
            },
        ],
        "events": [{"at": NOW - 30, "kind": "suspended", "message": "made room for task 9"}],
    }
    why = {"summary": "waits: no_capacity", "lines": ["needs 2 nodes"]}
    text = detail_text(task, why, NOW).plain
    for part in ("#2 no_capacity", "ranks", "n0", "attempts", "#0", "made room for task 9"):
        assert part in text
    assert "needs 2 nodes" in text
    missing = detail_text(task, None, NOW, why_unavailable="why: not available").plain
    assert "why: not available" in missing
    assert "no task selected" in detail_text(None, None, NOW).plain


def test_line_buffer_keeps_partial_lines_and_utf8() -> None:
    buf = LineBuffer()
    assert buf.feed(b"one\ntw") == ["one"]
    assert buf.feed("o é\r\n".encode()[:5]) == []
    assert buf.feed("o é\r\n".encode()[5:] + b"three") == ["two é"]
    assert buf.flush() == ["three"]


def test_follower_hands_over_chunks_and_errors() -> None:
    f = LogFollower(lambda: iter([b"a\n", b"b\n"])).start()
    f._thread.join(5)
    assert f.done and f.error is None and f.take() == b"a\nb\n" and f.take() == b""

    def broken():
        raise ConnectionError("boom")
        yield b""

    g = LogFollower(broken).start()
    g._thread.join(5)
    assert g.done and "boom" in (g.error or "")


def test_find_line_wraps_both_ways() -> None:
    lines = ["a", "needle 1", "b", "needle 2"]
    assert find_line(lines, "NEEDLE", -1) == 1
    assert find_line(lines, "needle", 1) == 3
    assert find_line(lines, "needle", 3) == 1
    assert find_line(lines, "needle", 1, backwards=True) == 3
    assert find_line(lines, "zzz", 0) == -1


def test_submit_body(tmp_path) -> None:
    script = tmp_path / "train.py"
    script.write_text("print(1)\n")
    body = submit_body("train.py", "2", "HIGH", "", "", python="py", cwd=str(tmp_path))
    assert isinstance(body, dict)
    assert body["argv"] == ["py", "-u", str(script)] and body["nodes"] == 2
    assert body["group"] is None and body["name"] == "train.py" and body["kind"] == "python"
    assert body["priority"] == "HIGH"
    # no priority chosen: the server's default (external users may not ask for NORMAL)
    blank = submit_body("train.py", "1", "", "", "", python="py", cwd=str(tmp_path))
    assert isinstance(blank, dict) and blank["priority"] is None
    assert "no such file" in submit_body("x.py", "1", "LOW", "", "", python="p", cwd="/")
    assert "whole number" in submit_body(str(script), "two", "LOW", "", "", python="p", cwd="/")
    assert "at least 1" in submit_body(str(script), "0", "LOW", "", "", python="p", cwd="/")


def test_error_messages() -> None:
    msg = error_message(ConnectionFailed("cannot reach x: refused"), "http://x", 2)
    assert "unreachable" in msg and "retrying every 2 s" in msg
    assert "HAI_TOKEN" in error_message(ApiError(401, "unauthorized", "bad"), "http://x", 2)
    assert "not allowed" in error_message(ApiError(403, "forbidden", "no"), "http://x", 2)
    assert "ValueError" in error_message(ValueError("?"), "http://x", 2)
