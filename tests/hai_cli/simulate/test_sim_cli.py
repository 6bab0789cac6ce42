"""``hai-cli simulate`` through Typer's CliRunner: output, determinism, errors (exit 2)."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from hai_cli.commands import simulate


def _app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)

    @app.callback()
    def main() -> None:
        """A test root, so that `simulate` stays a subcommand as in hai_cli.app."""

    simulate.register(app)
    return app


APP = _app()
REQUIRED = {"policy", "jobs", "makespan_s", "utilization", "preemptions", "lost_work_node_s",
            "wait_s", "jct_s", "wall_s"}  # fmt: skip


def cli(*args: str):
    return CliRunner().invoke(APP, ["simulate", *args])


@pytest.fixture(scope="module")
def trace(tmp_path_factory) -> str:
    result = cli("--generate", "300", "--seed", "4", "--nodes", "16")
    assert result.exit_code == 0, result.output
    path = tmp_path_factory.mktemp("sim") / "trace.csv"
    path.write_text(result.stdout)
    return str(path)


def test_generate_prints_a_trace_and_is_seeded() -> None:
    out = cli("--generate", "20", "--seed", "1").stdout
    lines = out.splitlines()
    assert lines[0].startswith("id,submit_s,user,group,priority,nodes,duration_s")
    assert len(lines) == 21
    assert out == cli("--generate", "20", "--seed", "1").stdout
    assert out != cli("--generate", "20", "--seed", "2").stdout


def test_json_one_object_per_policy_with_the_fields(trace: str) -> None:
    result = cli(trace, "--nodes", "16", "--compare", "--json")
    assert result.exit_code == 0, result.output
    objs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["policy"] for o in objs] == ["time-sharing", "priority", "fifo"]
    for o in objs:
        assert set(o) >= REQUIRED
        assert list(o)[-1] == "wall_s"
        assert {"p50", "p95", "max", "by_priority"} <= set(o["wait_s"])
        assert set(o["jct_s"]) == {"p50", "p95"}


def test_json_is_byte_identical_without_wall(trace: str) -> None:
    one = cli(trace, "--nodes", "16", "--compare", "--json", "--no-wall").stdout
    two = cli(trace, "--nodes", "16", "--compare", "--json", "--no-wall").stdout
    assert one == two and "wall_s" not in one
    with_wall = cli(trace, "--nodes", "16", "--compare", "--json").stdout
    stripped = [json.loads(line) for line in with_wall.splitlines()]
    for o in stripped:
        del o["wall_s"]
    assert [json.dumps(o) for o in stripped] == one.splitlines()


def test_table_output(trace: str, tmp_path) -> None:
    cluster = tmp_path / "c.toml"
    cluster.write_text('[groups.default]\nnodes = 16\nzones = ["a", "b"]\n')
    result = cli(trace, "--cluster", str(cluster), "--policy", "fifo", "--tick", "10")
    assert result.exit_code == 0, result.output
    assert "fifo" in result.stdout and "wait p95 by priority" in result.stdout
    assert "16 nodes, tick 10 s" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{missing}", "--nodes", "4"], "cannot read trace"),
        (["{bad_col}", "--nodes", "4"], "missing column(s) duration_s"),
        (["{bad_num}", "--nodes", "4"], "bad number 'soon' in column submit_s"),
        (["{bad_prio}", "--nodes", "4"], "unknown priority 'MEDIUM'"),
        (["{trace}", "--nodes", "4", "--policy", "random"], "unknown policy 'random'"),
        (["{trace}"], "--nodes N or --cluster FILE"),
        (["{trace}", "--nodes", "4", "--cluster", "x.toml"], "not both"),
        (["{trace}", "--cluster", "{missing}"], "cannot read cluster file"),
        (["{trace}", "--nodes", "1"], "asks for"),
        (["{trace}", "--nodes", "4", "--tick", "0"], "--tick must be > 0"),
        ([], "missing TRACE"),
    ],
)
def test_bad_input_one_line_exit_2(args: list[str], message: str, tmp_path, trace: str) -> None:
    files = {
        "missing": str(tmp_path / "missing.csv"),
        "trace": trace,
        "bad_col": "id,submit_s,user,group,priority,nodes\na,0,u,,LOW,1\n",
        "bad_num": "id,submit_s,user,group,priority,nodes,duration_s\na,soon,u,,LOW,1,5\n",
        "bad_prio": "id,submit_s,user,group,priority,nodes,duration_s\na,0,u,,MEDIUM,1,5\n",
    }
    for key in ("bad_col", "bad_num", "bad_prio"):
        path = tmp_path / f"{key}.csv"
        path.write_text(files[key])
        files[key] = str(path)
    result = cli(*[a.format(**files) for a in args])
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert "Traceback" not in result.output


def test_generate_for_a_cluster_file_uses_its_groups(tmp_path) -> None:
    cluster = tmp_path / "c.toml"
    cluster.write_text("[groups.a100]\nnodes = 32\n[groups.cpu]\nnodes = 8\n")
    out = cli("--generate", "200", "--seed", "3", "--cluster", str(cluster)).stdout
    groups = {line.split(",")[3] for line in out.splitlines()[1:]}
    assert groups == {"a100", "cpu"}
    path = tmp_path / "t.csv"
    path.write_text(out)
    assert cli(str(path), "--cluster", str(cluster), "--json").exit_code == 0


def test_command_module_imports_lazily() -> None:
    import subprocess
    import sys

    code = (
        "import sys, hai_cli.commands.simulate; "
        "print(any(m.startswith('hai_server') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_byte_identical_across_processes_and_hash_seeds(trace: str) -> None:
    import os
    import subprocess
    import sys

    code = (
        "import sys, typer\n"
        "from hai_cli.commands import simulate\n"
        "app = typer.Typer()\n"
        "app.callback()(lambda: None)\n"
        "simulate.register(app)\n"
        "app(sys.argv[1:])\n"
    )
    args = ["simulate", trace, "--nodes", "16", "--compare", "--json", "--no-wall"]
    outs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, env=env, check=True
        )
        outs.append(proc.stdout)
    assert outs[0] == outs[1] and outs[0].count(b"\n") == 3


def test_cli_tick_default_is_the_engine_default() -> None:
    from typer.main import get_command

    from hai_cli.simulate.engine import DEFAULT_TICK_S

    command = get_command(APP).commands["simulate"]  # type: ignore[attr-defined]
    tick = next(p for p in command.params if p.name == "tick")
    assert tick.default == DEFAULT_TICK_S


def test_trace_from_standard_input() -> None:
    trace = cli("--generate", "50", "--seed", "9", "--nodes", "8").stdout
    result = CliRunner().invoke(
        APP, ["simulate", "-", "--nodes", "8", "--json", "--no-wall"], input=trace
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["jobs"] == 50
