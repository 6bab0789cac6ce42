"""hai-up's base environments: which specs (BASE_ENVS), the checks, the build's command and
how its outcome is reported; the compose step with a stand-in engine. The real build runs in
tests/hai_up/docker (and haienv build itself in tests/hai_cli/haienv/test_builds.py)."""

from __future__ import annotations

import dataclasses
import json
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from python_on_whales import DockerException
from typer.testing import CliRunner

from hai_up import baseenvs
from hai_up.cli import app
from hai_up.config import ConfigError, load_config, parse_config
from hai_up.errors import UpError
from hai_up.images import Progress
from hai_up.providers import compose_envs
from hai_up.render.base_envs import exec_command, job_digest, render_base_envs
from hai_up.render.k8s import render_manifests
from tests.support.up import config, values

BASE = 'name = "base"\npackages = []\n'
TORCH = 'name = "torch"\npackages = ["torch"]\n[environment]\nOMP_NUM_THREADS = "4"\n'


@pytest.mark.parametrize(
    ("requested", "available", "expected"),
    [
        (None, ["torch", "base"], ["base", "torch"]),  # all, sorted
        (None, [], []),
        (("torch",), ["base", "torch"], ["torch"]),
        (("torch", "base"), ["base", "torch"], ["torch", "base"]),  # the order given
        (("gpu",), ["base", "torch"], "BASE_ENVS: no spec 'gpu' in /specs (specs there: base, torch)"),
        (("base",), [], "BASE_ENVS: no spec 'base' in /specs (specs there: none)"),
    ],
)  # fmt: skip
def test_select(requested: Any, available: list[str], expected: Any) -> None:
    if isinstance(expected, str):
        with pytest.raises(ValueError) as err:
            baseenvs.select(requested, available, "/specs")
        assert str(err.value) == expected
    else:
        assert baseenvs.select(requested, available, "/specs") == expected


@pytest.mark.parametrize(
    ("value", "parsed"),
    [("all", None), ("none", ()), ("base", ("base",)), ("base, torch", ("base", "torch"))],
)
def test_base_envs_values(value: str, parsed: Any) -> None:
    assert parse_config(values(BASE_ENVS=value)).base_envs == parsed


def test_defaults() -> None:
    cfg = config()
    assert cfg.base_envs is None and cfg.base_envs_dir is None and cfg.base_envs_uid == 990


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    d = tmp_path / "specs"
    d.mkdir()
    (d / "base.toml").write_text(BASE)
    (d / "torch.toml").write_text(TORCH)
    (d / "notes.txt").write_text("not a spec")
    return d


def load(tmp_path: Path, **overrides: str) -> Any:
    path = tmp_path / "config.sh"
    v = values(tmp_path, **overrides)
    path.write_text("".join(f"export {k}={json.dumps(val)}\n" for k, val in v.items()))
    return load_config(path, {})


def test_load_reads_the_selected_specs(tmp_path: Path, specs: Path) -> None:
    cfg = load(tmp_path, BASE_ENVS_DIR=str(specs))
    assert cfg.base_env_specs == (("base", BASE), ("torch", TORCH))
    cfg = load(tmp_path, BASE_ENVS_DIR=str(specs), BASE_ENVS="torch")
    assert cfg.base_env_specs == (("torch", TORCH),)
    assert load(tmp_path, BASE_ENVS_DIR=str(specs), BASE_ENVS="none").base_env_specs == ()


def test_default_dir_is_the_source_trees(tmp_path: Path) -> None:
    cfg = load(tmp_path)
    repo = Path(__file__).resolve().parents[2] / "environments"
    assert baseenvs.specs_dir(cfg) == repo
    assert [n for n, _ in cfg.base_env_specs] == sorted(p.stem for p in repo.glob("*.toml"))
    assert "base" in dict(cfg.base_env_specs)


def test_missing_default_dir_is_a_warning_named_ones_an_error(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    cfg = load(tmp_path, BASE_ENVS_DIR=str(gone))
    assert cfg.base_env_specs == ()
    assert cfg.warnings == (
        f"no base environments are built: {gone} does not exist (set BASE_ENVS_DIR, or "
        "BASE_ENVS=none)",
    )
    with pytest.raises(ConfigError) as err:
        load(tmp_path, BASE_ENVS_DIR=str(gone), BASE_ENVS="base")
    assert err.value.problems == [f"BASE_ENVS: no spec 'base' in {gone} (specs there: none)"]


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({"base.toml": 'name = "base"\npackages = "numpy"\n'},
         "BASE_ENVS: {d}/base.toml:2: key 'packages' must be a list of non-empty strings"),
        ({"base.toml": "name = [\n"}, "BASE_ENVS: {d}/base.toml:1: not valid TOML"),
        ({"base.toml": 'name = "same"\n', "other.toml": 'name = "same"\n'},
         "BASE_ENVS: other.toml and base.toml both make environment 'same'"),
    ],
)  # fmt: skip
def test_bad_specs_are_config_errors(tmp_path: Path, files: dict[str, str], problem: str) -> None:
    d = tmp_path / "specs"
    d.mkdir()
    for name, text in files.items():
        (d / name).write_text(text)
    with pytest.raises(ConfigError) as err:
        load(tmp_path, BASE_ENVS_DIR=str(d))
    assert len(err.value.problems) == 1
    assert err.value.problems[0].startswith(problem.format(d=d))


def test_cli_unknown_spec_is_one_line_exit_2(tmp_path: Path, specs: Path) -> None:
    path = tmp_path / "c.sh"
    v = values(tmp_path, BASE_ENVS_DIR=str(specs), BASE_ENVS="base gpu")
    path.write_text("".join(f"export {k}={json.dumps(val)}\n" for k, val in v.items()))
    res = CliRunner().invoke(app, ["dryrun", "-c", str(path), "-p", "docker-compose"])
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        f"hai-up: bad configuration: BASE_ENVS: no spec 'gpu' in {specs} (specs there: base, torch)"
    ]
    v["BASE_ENVS"] = "torch"
    path.write_text("".join(f"export {k}={json.dumps(val)}\n" for k, val in v.items()))
    res = CliRunner().invoke(app, ["dryrun", "-c", str(path), "-p", "docker-compose"])
    assert res.exit_code == 0, res.output
    assert f"base environments into {tmp_path}/hai-platform/envs/platform (haienv build in " \
        "server-0): torch" in res.stdout  # fmt: skip


# -- the build's command and its outcome ---------------------------------------------------
def with_specs(*names: str, **overrides: str) -> Any:
    texts = {"base": BASE, "torch": TORCH}
    return dataclasses.replace(config(**overrides), base_env_specs=tuple((n, texts[n]) for n in names))  # fmt: skip


def test_exec_command_has_no_secret_and_builds_every_spec() -> None:
    cfg = with_specs("base", "torch")
    cmd = exec_command(cfg)
    assert cmd[:2] == ["env", "-i"]
    assert cmd[-7:] == ["python3", "-m", "haienv", "build", "--json",
                        "/etc/hai/environments/base.toml", "/etc/hai/environments/torch.toml"]  # fmt: skip
    env = dict(a.split("=", 1) for a in cmd[2:-7])
    assert env["HAIENV_PATH"] == "/srv/hai/hai-platform/envs/platform"
    assert env["UV_CACHE_DIR"] == "/srv/hai/hai-platform/envs/platform/.uv-cache"
    text = " ".join(cmd)
    for secret in (cfg.postgres_password, cfg.redis_password, cfg.admin_token):
        assert secret not in text
    assert not any(a.startswith(("HAI_", "POSTGRES", "REDIS")) for a in cmd)


@pytest.mark.slow
def test_the_exec_command_builds_with_nothing_but_its_environment(tmp_path: Path) -> None:
    """The command docker exec runs, here: the image's /opt/hai/bin is this interpreter's
    bin and the specs' mount point a folder (the real one runs in tests/hai_up/docker)."""
    cfg = with_specs("base", HAI_PLATFORM_PATH=str(tmp_path / "hai"))
    baseenvs.write_spec_files(cfg)
    here = str(Path(sys.executable).parent)
    specs = str(tmp_path / "hai/environments")
    cmd = [a.replace("/opt/hai/bin", here).replace("/etc/hai/environments", specs)
           for a in exec_command(cfg)]  # fmt: skip
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    (line,) = baseenvs.outcome(cfg, first.stdout, first.stderr, first.returncode)
    assert line.startswith("base[platform]: built in ") and "/envs/platform/.builds/base-" in line
    link = tmp_path / "hai/envs/platform/base"
    assert link.is_symlink() and (link / "haienv.json").is_file()
    assert (tmp_path / "hai/envs/platform/.uv-cache").is_dir()  # uv's cache: in the root
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    (line,) = baseenvs.outcome(cfg, again.stdout, again.stderr, again.returncode)
    assert line.startswith("base[platform]: unchanged (digest ")


def result(name: str, status: str, **kw: Any) -> str:
    base = {"name": name, "owner": "platform", "status": status, "digest": "d" * 16,
            "prefix": f"/e/platform/.builds/{name}-d", "previous": None, "seconds": 1.25,
            "error": None}  # fmt: skip
    return json.dumps({**base, **kw})


@pytest.mark.parametrize(
    ("stdout", "code", "lines"),
    [
        (result("base", "built") + "\n" + result("torch", "skipped"), 0, [
            "base[platform]: built in 1.2 s at /e/platform/.builds/base-d",
            f"torch[platform]: unchanged (digest {'d' * 16}), not rebuilt"]),
        ("uv says hi\n" + result("base", "rebuilt", previous="/old") + "\n"
         + result("torch", "built"), 0, [
            "base[platform]: rebuilt in 1.2 s at /e/platform/.builds/base-d (replaces /old)",
            "torch[platform]: built in 1.2 s at /e/platform/.builds/torch-d"]),
    ],
)  # fmt: skip
def test_outcome_lines(stdout: str, code: int, lines: list[str]) -> None:
    assert baseenvs.outcome(with_specs("base", "torch"), stdout, "", code) == lines


@pytest.mark.parametrize(
    ("stdout", "stderr", "code", "why"),
    [
        (result("base", "built") + "\n" + result("torch", "failed", error="uv pip install failed: no torch"),
         "", 1, "torch[platform]: build failed: uv pip install failed: no torch"),
        ("", "error: /etc/hai/environments/torch.toml:2: key 'x'\n  is not a spec key\n", 2,
         "haienv build failed: error: /etc/hai/environments/torch.toml:2: key 'x' is not a spec key"),
        ("", "", 126, "haienv build failed: exit code 126"),
        (result("base", "built"), "", 0, "haienv build reported 1 of 2 environments"),
    ],
)  # fmt: skip
def test_outcome_failures_are_one_line_exit_1(stdout: str, stderr: str, code: int,
                                              why: str) -> None:  # fmt: skip
    with pytest.raises(UpError) as err:
        baseenvs.outcome(with_specs("base", "torch"), stdout, stderr, code)
    message = err.value.message
    assert err.value.exit_code == 1 and "\n" not in message
    assert message.startswith("the platform is up, but base environments did not build: ")
    assert why in message and "what built before stays in use" in message


def test_write_spec_files(tmp_path: Path) -> None:
    cfg = with_specs("base", "torch", HAI_PLATFORM_PATH=str(tmp_path))
    baseenvs.write_spec_files(cfg)
    d = tmp_path / "environments"
    assert sorted(p.name for p in d.iterdir()) == ["base.toml", "torch.toml"]
    assert stat.S_IMODE((d / "base.toml").stat().st_mode) == 0o644  # the build's uid reads it
    baseenvs.write_spec_files(dataclasses.replace(cfg, base_env_specs=(("torch", TORCH),)))
    assert [p.name for p in d.iterdir()] == ["torch.toml"]  # deselected: removed


# -- the compose step, with a stand-in engine ----------------------------------------------
class Engine:
    """``docker.container.list/execute`` as python-on-whales answers them."""

    def __init__(self, answer: str | DockerException, running: bool = True) -> None:
        self.answer, self.running, self.calls = answer, running, []
        self.container = self

    def list(self, filters: list[tuple[str, str]]) -> list[Any]:
        self.calls.append(("list", filters))
        state = type("S", (), {"running": self.running})()
        return [type("C", (), {"name": "server-0", "state": state})()]

    def execute(self, container: Any, command: list[str], user: str) -> str:
        self.calls.append(("execute", command, user))
        if isinstance(self.answer, DockerException):
            raise self.answer
        return self.answer


def test_compose_step_builds_in_server_0_as_the_uid(tmp_path: Path, capsys: Any) -> None:
    cfg = with_specs("base", HAI_PLATFORM_PATH=str(tmp_path), COMPOSE_PROJECT="p1")
    engine = Engine(result("base", "built"))
    compose_envs.build_base_envs(engine, cfg, Progress())  # type: ignore[arg-type]
    (_, filters), (_, command, user) = engine.calls
    assert filters == [("label", "com.docker.compose.project=p1"),
                       ("label", "com.docker.compose.service=server-0")]  # fmt: skip
    assert command == exec_command(cfg) and user == "990:990"
    assert (tmp_path / "environments/base.toml").read_text() == BASE
    out = capsys.readouterr().out
    assert "hai-up: base environment base[platform]: built in 1.2 s" in out


def test_compose_step_failure_and_no_server(tmp_path: Path) -> None:
    cfg = with_specs("base", HAI_PLATFORM_PATH=str(tmp_path))
    failed = result("base", "failed", error="uv pip install failed: nope")
    exc = DockerException(["docker", "exec"], 1, failed.encode(), b"")
    with pytest.raises(UpError) as err:
        compose_envs.build_base_envs(Engine(exc), cfg, Progress())  # type: ignore[arg-type]
    assert "base[platform]: build failed: uv pip install failed: nope" in err.value.message
    with pytest.raises(UpError) as err:
        compose_envs.build_base_envs(Engine("", running=False), cfg, Progress())  # type: ignore[arg-type]
    assert "no running server-0 container" in err.value.message


def test_compose_step_without_specs_does_nothing(capsys: Any) -> None:
    engine = Engine("")
    compose_envs.build_base_envs(engine, config(), Progress())  # type: ignore[arg-type]
    assert engine.calls == []
    assert "base environments: none selected (BASE_ENVS)" in capsys.readouterr().out


# -- Kubernetes ----------------------------------------------------------------------------
def test_k8s_job_only_with_specs_and_its_digest() -> None:
    assert [d["kind"] for d in render_manifests(config())][-1] == "Ingress"
    cfg = with_specs("base")
    configmap, job = render_manifests(cfg)[-2:]
    assert configmap["data"] == {"base.toml": BASE}
    pod = job["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 990 and pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert "command" not in container  # the image's entrypoint stays
    assert container["args"][-1] == "/etc/hai/environments/base.toml"
    assert not any("secret" in json.dumps(e).lower() for e in container["env"])
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["envs"] == "/srv/hai/hai-platform/envs"  # the server's envs_root
    # what it builds changes its digest; the same config keeps it
    assert job_digest(cfg) == job_digest(with_specs("base"))
    assert job_digest(cfg) != job_digest(with_specs("base", "torch"))
    assert job_digest(cfg) != job_digest(with_specs("base", BASE_IMAGE="hai/p:v2"))
    assert render_base_envs(config(), None, {}) == []


def test_status_reads_what_is_built(tmp_path: Path) -> None:
    cfg = with_specs("base", "torch", HAI_PLATFORM_PATH=str(tmp_path))
    version = tmp_path / "envs/platform/.builds/base-abc"
    version.mkdir(parents=True)
    meta = {"name": "base", "owner": "platform", "prefix": str(version), "python": "3.11.2",
            "site_packages": f"{version}/lib", "spec_digest": "abc"}  # fmt: skip
    (version / "haienv.json").write_text(json.dumps(meta))
    (tmp_path / "envs/platform/base").symlink_to(".builds/base-abc")
    assert baseenvs.built_state(cfg) == {
        "base": {"built": True, "path": str(version), "digest": "abc", "python": "3.11.2",
                 "versions_kept": ["base-abc"]},
        "torch": {"built": False, "path": None, "digest": None, "python": None,
                  "versions_kept": []},
    }  # fmt: skip
