"""``hai-cli run exp.yml`` submits an experiment file; ``describe TASK`` prints the file that
submits the task again (hai_cli/experiment.py has the schema)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import typer

from hai_cli import ui
from hai_cli.commands.tasks import TASK_HELP, resolve

if TYPE_CHECKING:  # PyYAML costs tens of ms: every other command would pay it at start
    from hai_cli.experiment import Experiment


def from_submission(body: dict[str, Any]) -> Experiment:
    """The experiment that resubmits a task (GET /api/v1/tasks/{id}/submission)."""
    from hai_cli.experiment import Experiment

    argv, kind = list(body["argv"]), body["kind"]
    if kind == "python" and len(argv) >= 3 and argv[1] == "-u":
        script, args = argv[2], argv[3:]
    elif kind == "bash" and len(argv) >= 2 and argv[0] == "bash":
        script, args = argv[1], argv[2:]
    else:
        kind, script, args = "exec", argv[0], argv[1:]
    workdir = body["workdir"]
    if os.path.isabs(script) and script.startswith(workdir.rstrip("/") + "/"):
        script = os.path.relpath(script, workdir)
    haienv = body.get("haienv")
    return Experiment(
        name=body["name"],
        kind=kind,
        script=script,
        args=tuple(args),
        workdir=workdir,
        nodes=body["nodes"],
        group=body["group"],
        priority=body["priority"],
        env=f"{haienv}[{body['haienv_owner']}]" if haienv and body.get("haienv_owner") else haienv,
        image=body.get("image"),
        environment=dict(body.get("env") or {}),
        suspend_after=body.get("suspend_after"),
    )


def register(app: typer.Typer) -> None:
    @app.command(
        "run",
        help="Submit an experiment file (name, script, args, nodes, group, priority, env, "
        "image, environment, options); -n, -g, -p override the file. `hai-cli describe TASK` "
        "writes one.",
    )
    def run_cmd(
        path: str = typer.Argument(..., metavar="EXPERIMENT.yml"),
        nodes: int = typer.Option(None, "-n", "--nodes", help="instead of the file's nodes"),
        group: str = typer.Option(None, "-g", "--group", help="instead of the file's group"),
        priority: str = typer.Option(
            None, "-p", "--priority", help="instead of the file's priority"
        ),
        follow: bool = typer.Option(
            False, "-f", "--follow", help="stream rank 0's log until the task ends"
        ),
        as_json: bool = typer.Option(False, "--json", help="print the created task as JSON"),
    ) -> None:
        from hai_cli.commands.submit import submit
        from hai_cli.experiment import ExperimentError, load

        try:
            exp = load(path)
        except ExperimentError as exc:
            ui.die(str(exc), ui.EXIT_USAGE)
        assert exp.workdir is not None  # load() always sets it
        try:
            os.chdir(exp.workdir)
        except OSError as exc:
            ui.die(f"{path}: workdir {exp.workdir}: {exc.strerror}", ui.EXIT_USAGE)
        submit(
            exp.kind,
            exp.script,
            list(exp.args),
            nodes=nodes if nodes is not None else (exp.nodes or 1),
            priority=priority or exp.priority or "NORMAL",
            group=group or exp.group,
            name=exp.name,
            env=[exp.env] if exp.env else [],
            follow=follow,
            as_json=as_json,
            suspend_after=exp.suspend_after,
            image=exp.image,
            environments=[f"{k}={v}" for k, v in exp.environment.items()],
            inherit=False,  # the file says everything: the shell's haienv is not added
        )

    @app.command(
        "describe", help="Print the experiment file that submits TASK again (hai-cli run FILE)."
    )
    def describe_cmd(
        task_ref: str = typer.Argument(..., metavar="TASK", help=TASK_HELP),
        as_json: bool = typer.Option(False, "--json", help="the submission as the API takes it"),
    ) -> None:
        with ui.errors():
            client = ui.connect()
            body = client.submission(resolve(client, task_ref))
        if as_json:
            ui.print_json(body)
            return
        from hai_cli.experiment import dump

        typer.echo(dump(from_submission(body)), nl=False)
