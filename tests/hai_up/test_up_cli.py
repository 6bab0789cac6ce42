"""The hai-up command line: help, config, dryrun, provider dispatch, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hai_up import cli
from hai_up.cli import app
from hai_up.config import CONFIG_TEMPLATE
from tests.support.up import ADMIN_TOKEN, BAD, values

runner = CliRunner()
COMMANDS = ["config", "dryrun", "run", "up", "status", "down", "upgrade"]


def write_config(tmp_path: Path, **overrides: str) -> Path:
    v = values(tmp_path, **{"HAI_PLATFORM_PATH": str(tmp_path / "platform"), **overrides})
    path = tmp_path / "config.sh"
    path.write_text("".join(f"export {k}={json.dumps(val)}\n" for k, val in v.items()))
    return path


@pytest.mark.parametrize("command", [*COMMANDS, None])
def test_help_everywhere(command: str | None) -> None:
    args = [command, "--help"] if command else ["-h"]
    r = runner.invoke(app, [a for a in args if a], prog_name="hai-up")
    assert r.exit_code == 0 and f"Usage: hai-up {command or ''}".strip() in r.stdout


def test_console_script_prints_the_config() -> None:
    exe = Path(sys.executable).parent / "hai-up"
    out = subprocess.run([str(exe), "config"], capture_output=True, text=True, check=False)
    assert out.returncode == 0 and out.stdout == CONFIG_TEMPLATE


def test_dryrun_changes_nothing_and_lists_what_it_would_apply(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    r = runner.invoke(app, ["dryrun", "-c", str(cfg)])
    assert r.exit_code == 0, r.output
    assert "  Deployment hai-server (namespace hai-platform)" in r.stdout
    assert '  gpu-1: {"hai-platform-one_mars_group": "training"}' in r.stdout
    assert "pg-password-fixed" not in r.stdout and ADMIN_TOKEN not in r.stdout  # no secret
    assert not (tmp_path / "platform").exists()
    r = runner.invoke(app, ["dryrun", "-c", str(cfg), "-p", "docker-compose"])
    assert r.exit_code == 0, r.output
    assert "  server-1: hai-platform/platform:latest server --host 0.0.0.0 --port 18081" in r.stdout


def test_dryrun_output_writes_the_files(tmp_path: Path) -> None:
    r = runner.invoke(app, ["dryrun", "-c", str(write_config(tmp_path)), "-o", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert names == [
        "docker-compose.yaml",
        "init.sql",
        "k8s.yaml",
        "node-labels.yaml",
        "override.toml",
    ]
    assert ((tmp_path / "o" / "init.sql").stat().st_mode & 0o777) == 0o600


def test_without_c_the_environment_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVER_PORT", "abc")
    monkeypatch.setenv("SHARED_FS_ROOT", str(tmp_path))
    monkeypatch.setenv("USER_INFO", "alice:1000:alice-token-0123456789")
    r = runner.invoke(app, ["dryrun", "-o", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert (
        r.stderr
        == "hai-up: bad configuration: SERVER_PORT='abc': expected an integer port 1-65535\n"
    )
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("command", ["run", "up", "status", "down", "upgrade", "dryrun"])
def test_bad_config_one_line_exit_2(tmp_path: Path, command: str) -> None:
    cfg = write_config(tmp_path, JUPYTER_NODES="gpu-1")
    r = runner.invoke(app, [command, "-c", str(cfg)])
    assert r.exit_code == 2
    assert r.stderr == (
        "hai-up: bad configuration: node 'gpu-1' is listed in two groups "
        "(TRAINING_NODES and JUPYTER_NODES): expected each node in one group\n"
    )
    assert not (tmp_path / "platform").exists()


@pytest.mark.parametrize(("overrides", "message"), BAD, ids=[next(iter(o)) for o, _ in BAD])
def test_bad_variable_run_exits_2_and_writes_nothing(
    tmp_path: Path, overrides: dict[str, str], message: str
) -> None:
    r = runner.invoke(app, ["run", "-c", str(write_config(tmp_path, **overrides))])
    assert r.exit_code == 2
    assert r.stderr == f"hai-up: bad configuration: {message}\n"
    assert not (tmp_path / "platform").exists()


def test_missing_provider_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(cli.PROVIDERS, cli.Provider.docker_compose, "hai_up.providers.no_such")
    r = runner.invoke(app, ["run", "-c", str(write_config(tmp_path)), "-p", "docker-compose"])
    assert r.exit_code == 1
    assert r.stderr == (
        "hai-up: the docker-compose provider is not part of this installation "
        "(hai_up.providers.no_such is missing)\n"
    )


def test_unknown_provider_is_refused(tmp_path: Path) -> None:
    r = runner.invoke(app, ["run", "-p", "swarm"])
    assert r.exit_code == 2 and "swarm" in r.stderr


def test_unexpected_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: object) -> None:
        raise KeyError("x")

    monkeypatch.setattr(cli, "render_all", boom)
    r = runner.invoke(app, ["dryrun", "-c", str(write_config(tmp_path))])
    assert r.exit_code == 1 and r.stderr == "hai-up: unexpected error: KeyError: 'x'\n"


@pytest.mark.parametrize("command", ["run", "up", "upgrade", "down"])
def test_dry_run_variable_starts_and_writes_nothing(tmp_path: Path, command: str) -> None:
    """The original's DRY_RUN=1: the plan is printed, nothing is started or written."""
    cfg = write_config(tmp_path, DRY_RUN="1", PROVIDER="docker-compose", ADMIN_TOKEN="")
    r = runner.invoke(app, [command, "-c", str(cfg)])
    assert r.exit_code == 0, r.output
    assert "DRY_RUN is set" in r.stdout and "nothing" in r.stdout
    assert not (tmp_path / "platform").exists()


def test_provider_variable_is_the_default_and_p_wins(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, PROVIDER="docker-compose")
    r = runner.invoke(app, ["dryrun", "-c", str(cfg)])
    assert r.exit_code == 0 and "docker-compose project hai-platform" in r.stdout
    r = runner.invoke(app, ["dryrun", "-c", str(cfg), "-p", "k8s"])
    assert r.exit_code == 0 and "Kubernetes objects, in apply order:" in r.stdout


def test_unknown_variable_is_warned_about_with_the_nearest_name(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    cfg.write_text(cfg.read_text() + 'export SERVER_PROT="8080"\n')
    r = runner.invoke(app, ["dryrun", "-c", str(cfg)])
    assert r.exit_code == 0, r.output
    assert r.stderr == (
        "hai-up: warning: SERVER_PROT is not a hai-up variable and is ignored "
        "(did you mean SERVER_PORT?)\n"
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"USER_INFO": ""}, "USER_INFO='': expected at least one user"),
        ({"SHARED_FS_ROOT": ""}, "SHARED_FS_ROOT='': expected the absolute path"),
        ({"ADMIN_TOKEN": "change-me-admin-token"}, "ADMIN_TOKEN: 'change-me' marks"),
        ({"EXTRA_ENVIRONMENTS": "1A:1"}, "EXTRA_ENVIRONMENTS entry '1A:1'"),
        ({"BUILD_IMAGES": "maybe"}, "BUILD_IMAGES='maybe': expected 0, 1, true or false"),
    ],
)
def test_unsafe_defaults_refused_nothing_written(
    tmp_path: Path, overrides: dict[str, str], message: str
) -> None:
    r = runner.invoke(
        app, ["run", "-p", "docker-compose", "-c", str(write_config(tmp_path, **overrides))]
    )
    assert r.exit_code == 2 and message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "platform").exists()


def test_boolean_true_is_accepted(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, BUILD_IMAGES="true", HAS_RDMA_HCA_RESOURCE="false")
    assert runner.invoke(app, ["dryrun", "-c", str(cfg)]).exit_code == 0


def test_run_refuses_another_installations_data_before_anything(tmp_path: Path) -> None:
    from hai_up.installation import Installation, claim

    (tmp_path / "platform").mkdir()
    claim(tmp_path / "platform", Installation("docker-compose", "first"))
    cfg = write_config(tmp_path, COMPOSE_PROJECT="second", ADMIN_TOKEN="")
    r = runner.invoke(app, ["run", "-p", "docker-compose", "-c", str(cfg)])
    assert r.exit_code == 2
    assert "belongs to the docker-compose installation (compose project 'first')" in r.stderr
    assert sorted(p.name for p in (tmp_path / "platform").iterdir()) == ["installation.json"]
