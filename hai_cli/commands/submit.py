"""``hai-cli python|bash|exec FILE [ARGS...] -- [OPTIONS]``: submit a task.

Typer is imported inside ``register`` only: ``submit`` and ``run_here`` also serve the fast
path (hai_cli/fastpath.py), which must not pay for importing it."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hai_cli import ui
from hai_cli import validate as check
from hai_cli.argv import LOCAL, SIMULATE

if TYPE_CHECKING:
    import typer

HELP = {
    "python": "Run a Python script here, or submit it as a task: "
    "hai-cli python train.py --lr 0.1 -- -n 2 -p HIGH",
    "bash": "Run a shell script here, or submit it as a task: hai-cli bash run.sh ARGS -- -n 1",
    "exec": "Run an executable here, or submit it as a task: hai-cli exec ./train ARGS -- -n 1",
}
SEPARATORS = (
    "No separator runs FILE here, in the foreground (the SDK in local mode; the exit code is "
    "the script's). `-- OPTIONS` submits it with the platform's options (they may also come "
    "before FILE). `++ [--suspend_seconds S] [--life_state N]` runs it here as rank 0 of a "
    "task: the ranks' variables, the control channel, a suspend notice after S seconds and "
    "the initial whole-life state N."
)


def parse_env(pairs: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            ui.die(f"bad -e value {pair!r}: expected KEY=VALUE", ui.EXIT_USAGE)
        env[key] = value
    return env


def split_env_options(values: list[str]) -> tuple[list[str], str | None]:
    """``--env`` values: KEY=VALUE pairs (as before) and at most one haienv NAME[owner]."""
    pairs = [v for v in values if "=" in v]
    names = [v for v in values if "=" not in v]
    if len(names) > 1:
        ui.die(f"--env names one haienv, got {', '.join(names)}", ui.EXIT_USAGE)
    return pairs, names[0] if names else None


def choose_haienv(
    named: str | None, inherit: bool, environ: dict[str, str] | os._Environ[str]
) -> tuple[str, str | None] | None:
    """(name, owner) of the haienv the task runs in: ``--env``, else (unless ``--no-inherit``)
    the one active in this shell (``HF_ENV_NAME``/``HF_ENV_OWNER``), else None. A name
    without an owner is resolved here when this machine sees the environments, else by the
    server (the submitter's, then the platform's)."""
    # imported only when an environment is involved: most submissions have none, and
    # hai_cli.haienv.store costs ~9 ms (the fast path's budget)
    if named is None and not (inherit and environ.get("HF_ENV_NAME")):
        return None
    from hai_cli.haienv import roots, store
    from hai_cli.haienv.errors import HaienvError
    from hai_cli.haienv.names import parse_ref

    if named is not None:
        try:
            name, owner = parse_ref(named)
        except HaienvError as exc:
            ui.die(f"--env: {exc}", ui.EXIT_USAGE)
    elif inherit and environ.get("HF_ENV_NAME"):
        name, owner = environ["HF_ENV_NAME"], environ.get("HF_ENV_OWNER") or None
    else:
        return None
    if owner is None:  # not visible here: the server resolves it (and refuses an unknown one)
        with contextlib.suppress(HaienvError):
            owner = store.resolve(roots.envs_root(environ), name, None, roots.me(environ)).owner
    return name, owner


def build_argv(kind: str, file: str, args: list[str], python: str) -> list[str]:
    if kind == "python":
        return [python, "-u", file, *args]
    if kind == "bash":
        return ["bash", file, *args]
    return [file, *args]


def check_file(file: str) -> Path:
    ui.checked(check.program_path, file)
    path = Path(file).expanduser()
    if not path.exists():
        ui.die(f"no such file: {file}", ui.EXIT_USAGE)
    if not path.is_file():
        ui.die(f"not a file: {file}", ui.EXIT_USAGE)
    return path


def run_here(
    kind: str,
    file: str,
    args: list[str],
    *,
    simulate: bool,
    suspend_seconds: float | None,
    life_state: int,
) -> None:
    """No separator (exec the script in the foreground) or ``++`` (a simulated rank 0)."""
    from hai_cli import localrun

    path = check_file(file)
    if kind == "exec" and not os.access(path, os.X_OK):
        ui.die(f"not executable: {file} (chmod +x it, or use hai-cli bash)", ui.EXIT_USAGE)
    python = "python" if os.environ.get("HF_ENV_NAME") else sys.executable
    argv = build_argv(kind, file if kind != "exec" else str(path.absolute()), args, python)
    if not simulate:
        try:
            localrun.exec_here(argv, os.environ)
        except OSError as exc:
            ui.die(f"cannot run {argv[0]!r}: {exc.strerror}", ui.EXIT_FAILED)
    if suspend_seconds is not None:
        ui.checked(check.seconds, "--suspend_seconds", suspend_seconds, 86400 * 365)
    ui.checked(check.whole, "--life_state", life_state, -(2**63), 2**63 - 1)
    import shlex

    code = localrun.simulate(
        argv,
        os.environ,
        name=_clean_name(path.name),
        life_state=life_state,
        suspend_seconds=suspend_seconds,
        resume_hint=shlex.join(["hai-cli", kind, file, *args]),
    )
    raise SystemExit(code)


def submit(
    kind: str,
    file: str,
    args: list[str],
    *,
    nodes: int,
    priority: str | None,
    group: str | None,
    name: str | None,
    env: list[str],
    follow: bool,
    as_json: bool,
    suspend_after: float | None,
    image: str | None,
    environments: list[str] | None = None,
    inherit: bool = True,
    watchdog: int | None = None,
) -> None:
    path = check_file(file)
    if nodes < 1:
        ui.die(f"--nodes must be at least 1, got {nodes}", ui.EXIT_USAGE)
    if suspend_after is not None and suspend_after < 0:
        ui.die("--suspend-after must be >= 0 seconds", ui.EXIT_USAGE)
    if watchdog is not None:
        ui.checked(check.whole, "--watchdog", watchdog, 0, check.MAX_WATCHDOG_S)
    pairs, named = split_env_options(env)
    env_map = ui.checked(check.env, parse_env([*(environments or []), *pairs]))
    haienv = choose_haienv(named, inherit, os.environ)
    if name is not None:
        ui.checked(check.display_name, "--name", name)
    if group is not None:
        ui.checked(check.display_name, "--group", group, 64)
    if image is not None:
        ui.checked(check.image, image)
    ui.checked(check.argv, [file, *args])
    ui.checked(check.workdir, os.getcwd())
    with ui.errors():
        client = ui.connect()
        workdir, script = os.getcwd(), str(path.absolute())
        from hai_cli.workspace.before_submit import push_before_submit

        mirrored = push_before_submit(client, workdir, str(path))
        if mirrored is not None:  # in a workspace: the task runs in the cluster's copy
            workdir, script = mirrored
        # the embedded server runs ranks here, with this interpreter; a remote one its own;
        # in a haienv, the environment's (first on the rank's PATH)
        if haienv is not None:
            python = "python"
        else:
            python = sys.executable if client.source == "embedded" else "python3"
        body: dict[str, Any] = {
            "argv": build_argv(kind, script, args, python),
            "workdir": workdir,
            "nodes": nodes,
            "priority": priority,
            "group": group,
            "name": name or _clean_name(path.name),
            "env": env_map,
            "kind": kind,
            "suspend_after": suspend_after,
            "image": image,
        }
        if watchdog is not None:
            body["watchdog_s"] = watchdog
        if haienv is not None:
            body["haienv"], body["haienv_owner"] = haienv
        task = client.submit(body)
        if as_json:
            ui.print_json(task)
        else:
            ui.echo(
                f"submitted task {task['id']} ({task['name']}): {task['nodes']} node(s), "
                f"group {task['group']}, priority {task['priority']}",
                err=follow,
            )
            if not follow:
                ui.echo(
                    f"  hai-cli status {task['id']}   hai-cli logs {task['id']} -f   hai-cli stop {task['id']}"
                )
        if follow:
            from hai_cli.commands.tasks import follow_until_done

            raise SystemExit(follow_until_done(client, task["id"], rank=0, quiet=as_json))


def run_command(
    kind: str,
    file: str,
    args: list[str],
    *,
    local: bool,
    simulate: bool,
    suspend_seconds: float | None,
    life_state: int,
    no_inherit: bool,
    **options: Any,
) -> None:
    """``hai-cli python|bash|exec``, its options parsed (by Typer or by the fast path):
    run here (no separator, ``++``), else :func:`submit` with the other ``options``."""
    if local or simulate:
        run_here(
            kind, file, args, simulate=simulate, suspend_seconds=suspend_seconds,
            life_state=life_state,
        )  # fmt: skip
    submit(kind, file, args, inherit=not no_inherit, **options)


def _clean_name(base: str) -> str:
    """The file name as a task name: without characters names may not carry."""
    clean = "".join(ch for ch in base if check.hidden_char(ch) is None)[: check.MAX_NAME]
    return clean if clean.strip() else "task"


def register(app: typer.Typer) -> None:
    for kind in ("python", "bash", "exec"):
        _register_one(app, kind)


def _register_one(app: typer.Typer, kind: str) -> None:
    import typer

    @app.command(
        kind,
        help=HELP[kind] + "\n\n" + SEPARATORS,
        context_settings={"allow_interspersed_args": False},
    )
    def _cmd(
        file: str = typer.Argument(
            ..., metavar="FILE", help="script to run (in the current directory's context)"
        ),
        args: list[str] = typer.Argument(
            None, metavar="[SCRIPT_ARGS]...", help="arguments for the script"
        ),
        nodes: int = typer.Option(
            1, "-n", "--nodes", help="whole nodes the task needs (all or none)"
        ),
        priority: str = typer.Option(
            None,
            "-p",
            "--priority",
            help="EXTREME_HIGH, VERY_HIGH, HIGH, ABOVE_NORMAL, NORMAL, BELOW_NORMAL, LOW, AUTO "
            "or a number (default: NORMAL; external users: AUTO)",
        ),
        group: str = typer.Option(
            None, "-g", "--group", help="node group (default: the server's default group)"
        ),
        name: str = typer.Option(None, "--name", help="task name (default: the file name)"),
        environments: list[str] = typer.Option(
            [], "-e", "--environments", help="KEY=VALUE for the task's environment (repeatable)"
        ),
        env: list[str] = typer.Option(
            [],
            "--env",
            metavar="NAME[owner]",
            help="run every rank in this haienv (default: the one active in this shell); "
            "KEY=VALUE is taken as -e",
        ),
        no_inherit: bool = typer.Option(
            False,
            "--no-inherit",
            help="do not run in the haienv active in this shell (HF_ENV_NAME/HF_ENV_OWNER)",
        ),
        follow: bool = typer.Option(
            False,
            "-f",
            "--follow",
            help="stream rank 0's log until the task ends; exit with its outcome",
        ),
        as_json: bool = typer.Option(False, "--json", help="print the created task as JSON"),
        suspend_after: float = typer.Option(
            None,
            "--suspend-after",
            metavar="SECONDS",
            help="rehearse: send a suspend notice after SECONDS of running",
        ),
        image: str = typer.Option(
            None,
            "-i",
            "--image",
            help="a built-in image (hai-cli images list; default: the one with your highest "
            "quota) or a registry reference; the Kubernetes backend only",
        ),
        watchdog: int = typer.Option(
            None,
            "--watchdog",
            metavar="SECONDS",
            help="hang watchdog: rank 0 silent this long is a hang (default: the server's, "
            "30 min; 0: off)",
        ),
        local: bool = typer.Option(False, LOCAL, hidden=True),
        simulate: bool = typer.Option(False, SIMULATE, hidden=True),
        suspend_seconds: float = typer.Option(None, "--suspend_seconds", hidden=True),
        life_state: int = typer.Option(0, "--life_state", hidden=True),
    ) -> None:
        run_command(
            kind, file, list(args or []), nodes=nodes, priority=priority, group=group,
            name=name, environments=environments, env=env, no_inherit=no_inherit,
            follow=follow, as_json=as_json, suspend_after=suspend_after, image=image,
            watchdog=watchdog, local=local, simulate=simulate,
            suspend_seconds=suspend_seconds, life_state=life_state,
        )  # fmt: skip


VALUE_OPTIONS = {
    "-n",
    "--nodes",
    "-p",
    "--priority",
    "-g",
    "--group",
    "--name",
    "-e",
    "--environments",
    "--env",
    "--suspend-after",
    "--watchdog",
    "-i",
    "--image",
}
