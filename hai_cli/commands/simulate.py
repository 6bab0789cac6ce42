"""``hai-cli simulate``: replay a workload trace on a virtual clock through the real policy.

Heavy imports stay inside the command function: CLI start-up time matters.
"""

from __future__ import annotations

import typer

HELP = (
    "Replay a workload trace on a virtual clock through the real scheduler (plan()).\n\n"
    "TRACE is a CSV with a header: id,submit_s,user,group,priority,nodes,duration_s and "
    "optional checkpoint_s (how often a job checkpoints; work since the last checkpoint is "
    "lost when it is suspended; empty or 0: it saves when suspended and loses nothing) and "
    "suspend_s (seconds to save and stop when told to suspend; default 5).\n\n"
    "Scheduling happens on a tick grid (--tick, default 30 s; the real server ticks every "
    "second): events keep their exact times, starts and suspends happen at the next tick. "
    "The default keeps 100,000 jobs on 2,000 nodes under two minutes; use --tick 1 for "
    "small traces.\n\n"
    "--json prints one JSON object per policy per line; every field is identical for the "
    "same input except wall_s (real seconds the run took), always the last key, left out "
    "with --no-wall. Bad input prints one line on stderr and exits with code 2.\n\n"
    "--jobs FILE writes one CSV row per job and policy (submit, first start, end, wait, time "
    "queued, preemptions, lost work): who waited longest, and why. --plot FILE.svg draws "
    "utilisation over time and the wait distribution per priority, one curve per policy.\n\n"
    "--generate N --seed S prints a generated trace (many small short jobs, few large long "
    "ones, several users and priorities) to stdout instead, sized for --nodes or --cluster "
    "(default 64 nodes)."
)


def register(app: typer.Typer) -> None:
    @app.command("simulate", help=HELP)
    def simulate_cmd(
        trace: str = typer.Argument(
            None, metavar="TRACE", help="Trace CSV file (- for standard input).", show_default=False
        ),
        nodes: int = typer.Option(
            None, "--nodes", help="One group 'default' of N nodes.", show_default=False
        ),
        cluster: str = typer.Option(
            None,
            "--cluster",
            help="TOML cluster file: groups (nodes, zones), quotas.",
            show_default=False,
        ),
        policy: str = typer.Option(
            "time-sharing", "--policy", help="time-sharing, priority or fifo."
        ),
        compare: bool = typer.Option(False, "--compare", help="Run all three policies."),
        as_json: bool = typer.Option(False, "--json", help="One JSON object per policy per line."),
        no_wall: bool = typer.Option(
            False, "--no-wall", help="Leave wall_s out (byte-identical runs)."
        ),
        tick: float = typer.Option(30.0, "--tick", help="Scheduling tick in virtual seconds."),
        generate: int = typer.Option(
            None, "--generate", help="Print a trace of N jobs.", show_default=False
        ),
        seed: int = typer.Option(0, "--seed", help="Random seed for --generate."),
        load: float = typer.Option(0.9, "--load", help="Offered load of a generated trace."),
        jobs: str = typer.Option(
            None, "--jobs", help="Write one CSV row per job here.", show_default=False
        ),
        plot: str = typer.Option(
            None, "--plot", help="Draw utilisation and waits into this SVG.", show_default=False
        ),
    ) -> None:
        from hai_cli.commands.simulate_run import run

        code = run(
            trace=trace, nodes=nodes, cluster=cluster, policy=policy, compare=compare,
            as_json=as_json, no_wall=no_wall, tick=tick, generate=generate, seed=seed, load=load,
            jobs=jobs, plot=plot,
        )  # fmt: skip
        if code:
            raise typer.Exit(code)
