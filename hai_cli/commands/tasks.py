"""Observe and control tasks: list, status, logs, stop, suspend, resume, hold, release, why.

Typer is imported inside ``register`` only: ``list_tasks``, ``show_status`` and ``show_logs``
also serve the fast path (hai_cli/fastpath.py), which must not pay for importing it."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from hai_cli import ui
from hai_cli import validate as check
from hai_cli.client import Client
from hai_cli.safe_text import shown

if TYPE_CHECKING:
    import typer

STATE_FILTERS = "queued, starting, running, suspending, suspended, succeeded, failed, stopped"


def outcome_code(task: dict) -> int:
    state = task.get("state")
    if state == "succeeded":
        return ui.EXIT_OK
    if state == "failed":
        code = task.get("exit_code")
        return code if isinstance(code, int) and 0 < code < 256 else ui.EXIT_FAILED
    if state == "stopped":
        return ui.EXIT_STOPPED
    return ui.EXIT_FAILED


def follow_until_done(
    client: Client, task_id: int, *, rank: int = 0, attempt: int | None = None, quiet: bool = False
) -> int:
    """Stream the log until the task ends; return the exit code for its outcome. While the
    task waits in the queue, its reason and position go to stderr as they change."""
    from hai_cli.waitnotes import WaitNotes

    out = sys.stdout.buffer
    notes = None if quiet else WaitNotes(client, task_id, lambda s: ui.echo(s, err=True))
    try:
        if notes is not None:
            notes.start()
        for chunk in client.follow_logs(task_id, rank=rank, attempt=attempt):
            if not quiet:
                out.write(chunk)
                out.flush()
    except KeyboardInterrupt:
        ui.echo(f"\n(detached; task {task_id} keeps running)", err=True)
        return 130
    finally:
        if notes is not None:
            notes.stop()
    task = client.task(task_id)
    if not quiet:
        why = task.get("detail") if task["state"] in ("failed", "stopped") else None
        ui.echo(
            f"task {task_id} {task['state']}"
            + (
                f" (exit code {task['exit_code']})"
                if task.get("exit_code") not in (None, 0)
                else ""
            )
            + (f": {why}" if why else ""),  # e.g. why it could not start
            err=True,
        )
    if attempt is not None:
        return ui.EXIT_OK
    return outcome_code(task)


TASK_HELP = "a task id, a task name (yours: the alive one, else the latest) or an experiment file"


def resolve(client: Client, text: str) -> int:
    """The id a TASK argument names (hai_cli/taskref.py); a clear error and exit otherwise."""
    from hai_cli.taskref import RefError
    from hai_cli.taskref import resolve as find

    try:
        return find(client, text)
    except RefError as exc:
        ui.die(str(exc), exc.code)


def waiting_note(task: dict) -> str:
    if task["state"] == "queued":
        reason = task.get("reason") or "-"
        pos = task.get("position")
        return f"{reason} #{pos}" if pos else reason
    if task["state"] in ("suspending", "running"):  # running: "hung" (the watchdog)
        return task.get("reason") or ""
    if task["state"] in ("failed", "stopped") and task.get("exit_code") not in (None, 0):
        return f"exit {task['exit_code']}"
    return ""


def print_task_list(tasks: list[dict], total: int, offset: int, show_user: bool) -> None:
    import time

    from hai_cli.table import format_table

    if not tasks:
        ui.echo("no tasks" if total == 0 else f"no tasks on this page ({total} in all)")
        return
    now = time.time()
    headers = [
        "ID",
        "NAME",
        *(["USER"] if show_user else []),
        "STATE",
        "PRIO",
        "NODES",
        "RST",
        "AGE",
        "WAITING",
    ]
    rows = [
        [
            str(t["id"]),
            shown(t["name"]),
            *([shown(t["user"])] if show_user else []),
            t["state"],
            t["priority"],
            str(t["nodes"]),
            str(t["restart_count"]),
            ui.age(t["submitted_at"], now),
            shown(waiting_note(t)),
        ]
        for t in tasks
    ]
    width = 80
    if sys.stdout.isatty():  # shutil (~3 ms to import) only when there is a terminal to fit
        import shutil

        width = shutil.get_terminal_size((80, 24)).columns
    right = frozenset({0, len(headers) - 4, len(headers) - 3, len(headers) - 2})
    ui.echo(
        format_table(
            headers,
            rows,
            width=max(width, 60),
            shrink=1,
            right=right,
            color_col=3 if show_user else 2,
        )
    )
    span = f"{offset + 1}-{offset + len(tasks)}" if total > len(tasks) else str(len(tasks))
    ui.echo(f"{span} of {total} task(s)")


def list_tasks(
    state: list[str],
    all_users: bool,
    limit: int,
    offset: int,
    page: int | None,
    page_size: int | None,
    as_json: bool,
) -> None:
    """``hai-cli list``."""
    if page_size is not None:
        limit = ui.checked(check.whole, "--page-size", page_size, 1, 1000)
    ui.checked(check.whole, "--limit", limit, 1, 1000)
    ui.checked(check.whole, "--offset", offset, 0, check.MAX_INT32)
    if page is not None:
        if offset:
            ui.die("give --page or --offset, not both", ui.EXIT_USAGE)
        ui.checked(check.whole, "--page", page, 1, check.MAX_INT32 // limit)
        offset = (page - 1) * limit
    with ui.errors():
        found = ui.connect().list_tasks(
            states=state or None, all_users=all_users, limit=limit, offset=offset
        )
    if as_json:
        ui.print_json(found)
        return
    print_task_list(found["tasks"], found["total"], offset, all_users)
    if page is not None:
        pages = max(1, -(-found["total"] // limit))
        ui.echo(f"page {page} of {pages}")


def show_status(task_ref: str, as_json: bool) -> None:
    """``hai-cli status TASK``."""
    with ui.errors():
        client = ui.connect()
        task = client.task(resolve(client, task_ref))
    if as_json:
        ui.print_json(task)
        return
    from hai_cli.render import task_detail

    task_detail(task)


def show_logs(task_ref: str, follow: bool, rank: int, attempt: int | None) -> None:
    """``hai-cli logs TASK``."""
    ui.checked(check.whole, "--rank", rank, 0, check.MAX_NODES - 1)
    if attempt is not None:
        ui.checked(check.whole, "--attempt", attempt, 0, check.MAX_INT32)
    with ui.errors():
        client = ui.connect()
        task_id = resolve(client, task_ref)
        if follow:
            raise SystemExit(
                follow_until_done(client, task_id, rank=rank, attempt=attempt, quiet=False)
                if attempt is None
                else _follow_attempt(client, task_id, rank, attempt)
            )
        text = client.logs(task_id, rank=rank, attempt=attempt)
    sys.stdout.write(text)


def register(app: typer.Typer) -> None:
    import typer

    @app.command("list", help="List your tasks, newest first, with why queued tasks wait.")
    def list_cmd(
        state: list[str] = typer.Option(
            [], "-s", "--state", help=f"only these states ({STATE_FILTERS}); repeatable"
        ),
        all_users: bool = typer.Option(False, "-a", "--all", help="every user's tasks (admins)"),
        limit: int = typer.Option(50, "-l", "--limit", help="at most this many (1-1000)"),
        offset: int = typer.Option(0, "--offset", help="skip this many (paging)"),
        page: int = typer.Option(None, "-p", "--page", help="page number, from 1 (the original's)"),
        page_size: int = typer.Option(
            None, "-ps", "--page-size", help="tasks per page with -p (1-1000; default --limit)"
        ),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        list_tasks(state, all_users, limit, offset, page, page_size, as_json)

    @app.command("status", help="Details of one task: state, ranks, attempts, events.")
    def status_cmd(
        task_ref: str = typer.Argument(..., metavar="TASK", help=TASK_HELP),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        show_status(task_ref, as_json)

    @app.command("logs", help="Print a rank's log; -f follows it until the task ends.")
    def logs_cmd(
        task_ref: str = typer.Argument(..., metavar="TASK", help=TASK_HELP),
        follow: bool = typer.Option(
            False, "-f", "--follow", help="keep printing new lines until the task ends"
        ),
        rank: int = typer.Option(0, "-r", "--rank", help="which rank (default 0, the master)"),
        attempt: int = typer.Option(None, "--attempt", help="which attempt (default: the latest)"),
    ) -> None:
        show_logs(task_ref, follow, rank, attempt)

    for verb, text in (
        (
            "stop",
            "Stop a task (its ranks get SIGTERM, then SIGKILL); it ends as stopped, or as "
            "succeeded / failed with --succeeded / --failed.",
        ),
        ("suspend", "Ask a running task to checkpoint and go back to the queue."),
        ("resume", "Put a stopped, failed or suspended task back in the queue."),
        ("hold", "Keep a waiting task from starting (it keeps its place); release undoes it."),
        ("release", "Let a held task be scheduled again, in its old place."),
    ):
        _register_action(app, verb, text)

    @app.command(
        "why", help="Explain why a task waits (or runs): rule, quota, tasks ahead, preemption."
    )
    def why_cmd(
        task_ref: str = typer.Argument(..., metavar="TASK", help=TASK_HELP),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        with ui.errors():
            client = ui.connect()
            why = client.why(resolve(client, task_ref))
        if as_json:
            ui.print_json(why)
            return
        from hai_cli.render import explanation

        explanation(why)


def _follow_attempt(client: Client, task_id: int, rank: int, attempt: int) -> int:
    for chunk in client.follow_logs(task_id, rank=rank, attempt=attempt):
        sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
    return ui.EXIT_OK


SHOW_EACH = 20  # more changed tasks than this: one summary line


def _register_action(app: typer.Typer, verb: str, text: str) -> None:
    import typer

    @app.command(
        verb,
        help=f"{text} TASK is an id, a task name or an experiment file. Many at once, "
        "server-side in one transaction: give several TASKs or filters (like scancel's): "
        "--state, --name (a glob), --group, --user (admins), --all.",
    )
    def _cmd(
        task_refs: list[str] = typer.Argument(None, metavar="[TASK]...", show_default=False),
        states: list[str] = typer.Option(
            None,
            "--state",
            "-s",
            help=f"only tasks in this state (repeat, or a,b): {STATE_FILTERS}",
        ),
        name: str = typer.Option(None, "--name", "-n", help="task name, or a glob (* and ?)"),
        group: str = typer.Option(None, "--group", "-g", help="only tasks of this group"),
        user: str = typer.Option(None, "--user", "-u", help="another user's tasks (admins)"),
        all_users: bool = typer.Option(
            False, "--all-users", "-A", help="every user's tasks (admins)"
        ),
        all_mine: bool = typer.Option(
            False, "--all", help=f"every task of yours that {verb} applies to"
        ),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="say what would change; change nothing"
        ),
        as_json: bool = typer.Option(False, "--json", help="print the answer as JSON"),
        succeeded: bool = typer.Option(
            False, "--succeeded", hidden=verb != "stop", help="the task ends as succeeded"
        ),
        failed: bool = typer.Option(
            False, "--failed", hidden=verb != "stop", help="the task ends as failed"
        ),
    ) -> None:
        if (succeeded or failed) and verb != "stop":
            ui.die(f"--succeeded and --failed go with stop, not {verb}", ui.EXIT_USAGE)
        if succeeded and failed:
            ui.die("give --succeeded or --failed, not both", ui.EXIT_USAGE)
        wanted = [s for part in states or () for s in part.split(",") if s]
        task_ids: list[int] = []
        client: Client | None = None
        if task_refs:
            with ui.errors():
                client = ui.connect()
                task_ids = [resolve(client, ref) for ref in task_refs]
        selection = {
            "ids": task_ids, "states": wanted, "name": name, "group": group,
            "user": user, "all_users": all_users, "all": all_mine, "dry_run": dry_run,
        }  # fmt: skip
        if succeeded or failed:
            selection["outcome"] = "succeeded" if succeeded else "failed"
        if not (task_ids or wanted or name or group or user or all_users or all_mine):
            ui.die(
                f"say which tasks to {verb}: IDs, a filter (--state, --name, --group, --user) "
                "or --all",
                ui.EXIT_USAGE,
            )
        with ui.errors():
            answer = (client or ui.connect()).bulk(verb, selection)
        ids_only = selection["ids"] and not (
            wanted or name or group or user or all_users or all_mine or dry_run
        )
        if as_json and ids_only:
            # as before bulk actions: the task (one id) or the tasks, problems on stderr
            changed = answer["changed"]
            ui.print_json(changed[0] if len(task_ids) == 1 and changed else changed)
            _report(verb, {**answer, "changed": []}, quiet=True)
        elif as_json:
            ui.print_json(answer)
        else:
            _report(verb, answer)
        if answer["missing"]:
            raise SystemExit(ui.EXIT_NOT_FOUND)
        if answer["skipped"]:
            raise SystemExit(ui.EXIT_USAGE)


def _report(verb: str, answer: dict[str, Any], quiet: bool = False) -> None:
    changed = answer["changed"]
    would = "would " if answer["dry_run"] else ""
    if len(changed) <= SHOW_EACH:
        for task in changed:
            what = verb if would else _after(verb, task)
            ui.echo(f"{would}task {task['id']} ({shown(task['name'])}): {what}")
    else:
        by_state: dict[str, int] = {}
        for task in changed:
            by_state[task["state"]] = by_state.get(task["state"], 0) + 1
        counts = ", ".join(f"{n:,} {st}" for st, n in sorted(by_state.items()))
        then = "they would be" if would else "now"
        ui.echo(f"{would}{verb}: {len(changed):,} tasks ({then} {counts})")
    if not changed and not answer["skipped"] and not answer["missing"] and not quiet:
        ui.echo(f"no task to {verb} matched", err=True)
    for item in answer["skipped"][:SHOW_EACH]:
        ui.echo(f"error: {item['reason']}", err=True)
    if len(answer["skipped"]) > SHOW_EACH:
        ui.echo(f"error: ... and {len(answer['skipped']) - SHOW_EACH} more", err=True)
    for task_id in answer["missing"]:
        ui.echo(f"error: no task {task_id}", err=True)


def _after(verb: str, task: dict) -> str:
    if verb == "stop":
        if task["state"] in ("stopped", "succeeded", "failed"):
            return task["state"]
        return "stopping"
    if verb == "suspend":
        return "suspend requested; it gets the notice and goes back to the queue"
    if verb == "hold":
        return "held: it keeps its place and does not start until released"
    if verb == "release":
        return "released: it is scheduled again in its old place"
    return f"queued again (restart {task['restart_count']})"
