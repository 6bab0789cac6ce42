"""hai-up with docker-compose on a real (private) Docker engine, end to end.

Build the images (cached), ``hai-up run -p docker-compose -c config.sh`` with two server
replicas, submit a task with ``hai-cli`` to the deployed server, see it succeed, stop
PostgreSQL (clean fast shutdown), ``hai-up upgrade`` (older image rebuilt, containers
recreated, data kept), ``hai-up down`` (nothing left, data still on disk), run again on the
kept data. Also: a server that cannot start is removed, an unreachable engine is exit 4.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from hai_up.config import load_config
from hai_up.errors import UpError
from hai_up.images import KEY_LABEL
from hai_up.providers import compose
from hai_up.render import render_all
from hai_up.render.compose import CONFIG_LABEL
from tests.support.docker_engine import PrivateEngine

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

BIN = Path(sys.executable).parent
USER, USER_UID, USER_TOKEN = "alice", 10020, "alice-token-0123456789abcdef"
PROJECT = "hai-up-e2e"


def _free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _hai_up(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    start = time.monotonic()
    res = subprocess.run(
        [str(BIN / "hai-up"), *args],
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        timeout=600,
        check=False,
    )
    print(f"\n$ hai-up {' '.join(args)}  ({time.monotonic() - start:.1f} s, exit {res.returncode})")
    print(res.stdout + res.stderr, flush=True)
    return res


def _healthz(url: str) -> dict[str, Any]:
    req = urllib.request.Request(  # the whole document is for admins
        f"{url}/healthz", headers={"Authorization": "Bearer admin-token-0123456789abcdef"}
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def _project_containers(engine: PrivateEngine, project: str = PROJECT) -> list[Any]:
    return engine.client().container.list(
        all=True, filters=[("label", f"com.docker.compose.project={project}")]
    )


def _tasks(cli_env: dict[str, str]) -> list[dict[str, Any]]:
    out = subprocess.run(
        [str(BIN / "hai-cli"), "list", "--json"],
        env=cli_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)["tasks"]


def _port_pair() -> int:
    """A free port whose successor is free too (replica i listens on SERVER_PORT + i)."""
    for _ in range(50):
        (port,) = _free_ports(1)
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port
    raise AssertionError("no two consecutive free ports on 127.0.0.1")


def _write_config(
    path: Path, platform: Path, images: dict[str, str], project: str = PROJECT, replicas: int = 1
) -> int:
    server = _port_pair()
    pg, redis = _free_ports(2)
    path.write_text(
        "\n".join(
            [
                f'export SHARED_FS_ROOT="{platform.parent}"',
                f'export HAI_PLATFORM_PATH="{platform}"',
                'export HAI_BACKEND="local"',
                f'export BASE_IMAGE="{images["platform"]}"',
                f'export TRAIN_IMAGE="{images["train"]}"',
                'export BUILD_IMAGES="1"',
                'export BIND_ADDRESS="127.0.0.1"',
                f'export SERVER_PORT="{server}"',
                f'export SERVER_REPLICAS="{replicas}"',
                f'export POSTGRES_PORT="{pg}"',
                f'export REDIS_PORT="{redis}"',
                f'export COMPOSE_PROJECT="{project}"',
                f'export USER_INFO="{USER}:{USER_UID}:internal:{USER_TOKEN}"',
                'export ADMIN_TOKEN="admin-token-0123456789abcdef"',
                'export POSTGRES_PASSWORD="pg-secret-e2e"',
                'export REDIS_PASSWORD="redis-secret-e2e"',
                "",
            ]
        )
    )
    return server


def test_compose_platform_end_to_end(
    docker_engine: PrivateEngine, built_images: dict[str, str], tmp_path: Path
) -> None:
    start = time.monotonic()
    platform = tmp_path / "platform"
    config = tmp_path / "config.sh"
    port = _write_config(config, platform, built_images, replicas=2)
    url = f"http://127.0.0.1:{port}"
    up = ("-p", "docker-compose", "-c", str(config))
    try:
        # the deployment starts on an older build of the platform image (another label):
        # run keeps it, upgrade must rebuild it and recreate the containers
        old = tmp_path / "old-image"
        old.mkdir()
        (old / "Dockerfile").write_text(
            f"FROM {built_images['platform']}\nLABEL {KEY_LABEL}=older-build\n"
        )
        docker_engine.client().legacy_build(old, tags=built_images["platform"], network="none")
        res = _hai_up("run", *up)
        assert res.returncode == 0, res.stderr
        assert "present (older build, kept; upgrade rebuilds it)" in res.stdout
        run_s = time.monotonic() - start
        health = _healthz(url)
        assert health["status"] == "ok" and health["database"] == "ok", health
        assert health["redis"] == "up", health

        # idempotent: a second run leaves the running deployment as it is
        ids = sorted(c.id for c in _project_containers(docker_engine))
        assert _hai_up("run", *up).returncode == 0
        assert sorted(c.id for c in _project_containers(docker_engine)) == ids

        # a task from hai-cli, as the USER_INFO user, its script in the user's own workspace
        # folder (made by run, owned by the user's uid: ranks run as that uid, not as root)
        workspace = platform / "workspace" / USER
        st = workspace.stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (USER_UID, USER_UID, 0o750)
        assert (platform / "override.toml").stat().st_mode & 0o777 == 0o600
        script = workspace / "hello.py"
        script.write_text(
            "import pathlib, socket\n"
            "print('hello from', socket.gethostname(), flush=True)\n"
            "pathlib.Path('done.txt').write_text('ok')\n"
        )
        cli_env = {
            **os.environ,
            "HAI_SERVER_URL": url,
            "HAI_TOKEN": USER_TOKEN,
            "HAI_HOME": str(tmp_path / "cli-home"),
        }
        sub = subprocess.run(
            [str(BIN / "hai-cli"), "python", "--name", "hello-e2e", str(script), "--", "-f"],
            cwd=workspace,
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        print(sub.stdout + sub.stderr)
        assert sub.returncode == 0, sub.stdout + sub.stderr
        assert "hello from" in sub.stdout
        assert (workspace / "done.txt").read_text() == "ok"  # ran in the server's container
        assert (workspace / "done.txt").stat().st_uid == USER_UID  # as the user, not root
        task = next(t for t in _tasks(cli_env) if t["name"] == "hello-e2e")
        assert task["state"] == "succeeded"

        # status: every service running, the server healthy
        res = _hai_up("status", *up)
        assert res.returncode == 0, res.stderr
        state = json.loads(res.stdout)
        assert {s: v["state"] for s, v in state["services"].items()} == {
            "postgres": "running",
            "redis": "running",
            "server-0": "running",
            "server-1": "running",
        }
        assert state["services"]["server-0"]["healthz"]["status"] == "ok"
        assert state["services"]["server-1"]["healthz"]["status"] == "ok"
        assert {state["services"][f"server-{i}"]["healthz"]["leader"] for i in (0, 1)} == {
            True,
            False,
        }  # two replicas, one leader
        assert all(v["restarts"] == 0 for v in state["services"].values()), state
        assert state["installation"]["name"] == PROJECT and state["cordoned_by_hai_up"] == []

        # PostgreSQL stops cleanly on TERM (fast shutdown, exit 0)
        client = docker_engine.client()
        (pg,) = [c for c in _project_containers(docker_engine) if c.name.endswith("-postgres-1")]
        client.container.stop(pg, time=30)
        pg.reload()
        assert pg.state.exit_code == 0, client.container.logs(pg, tail=20)
        pg_log = client.container.logs(pg)
        assert "database system is shut down" in pg_log, pg_log[-2000:]

        # upgrade: the older image is rebuilt, every container recreated on the new one, the
        # task still there (PostgreSQL data kept)
        before = {c.name: c.id for c in _project_containers(docker_engine)}
        res = _hai_up("upgrade", *up)
        assert res.returncode == 0, res.stderr
        assert f"building platform image {built_images['platform']}" in res.stdout
        after = {c.name: c.id for c in _project_containers(docker_engine)}
        assert after.keys() == before.keys() and not set(after.values()) & set(before.values())
        image = client.image.inspect(built_images["platform"])
        assert image.config.labels[KEY_LABEL] != "older-build"
        assert _healthz(url)["status"] == "ok"
        assert [t["state"] for t in _tasks(cli_env) if t["id"] == task["id"]] == ["succeeded"]

        # down: no container of the project left, data still under HAI_PLATFORM_PATH
        res = _hai_up("down", "-y", *up)
        assert res.returncode == 0, res.stderr
        assert _project_containers(docker_engine) == []
        assert (platform / "postgres" / "PG_VERSION").is_file()
        assert (workspace / "done.txt").is_file()

        # run again on the kept data: the same task, the same user's token still valid
        res = _hai_up("run", *up)
        assert res.returncode == 0, res.stderr
        assert [t["state"] for t in _tasks(cli_env) if t["id"] == task["id"]] == ["succeeded"]
        assert _hai_up("down", "-y", *up).returncode == 0
        assert _project_containers(docker_engine) == []
        total = time.monotonic() - start
        print(f"\nhai-up e2e: run {run_s:.1f} s, whole test {total:.1f} s (images built before)")
    finally:
        left = _project_containers(docker_engine)
        if left:  # a failure above: leave nothing running on the engine
            docker_engine.client().container.remove(left, force=True)


PEEK = """\
import json, os
secret_words = ("PASSWORD", "TOKEN", "SECRET", "DATABASE_URL", "REDIS_URL")
out = {"uid": os.getuid(), "env": sorted(k for k in os.environ if any(w in k for w in secret_words))}
for path in ("/etc/hai/override.toml", "/etc/hai/init.sql", "/proc/1/environ"):
    try:
        with open(path, "rb") as fh:
            out[path] = "READ " + str(len(fh.read()))
    except PermissionError:
        out[path] = "denied"
out["readable_environs"] = []
for pid in os.listdir("/proc"):
    if pid.isdigit() and int(pid) != os.getpid():
        try:
            with open(f"/proc/{pid}/environ", "rb") as fh:
                if b"PASSWORD" in fh.read():
                    out["readable_environs"].append(pid)
        except OSError:
            pass
try:  # EXTRA_MOUNTS: readable, read-only
    out["extra"] = open("/datasets/hello.txt").read()
    open("/datasets/new.txt", "w")
    out["extra_write"] = "WROTE"
except OSError as exc:
    out["extra_write"] = type(exc).__name__
with open("peek.json", "w") as fh:
    json.dump(out, fh)
"""


def _submit(cli_env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(
        [str(BIN / "hai-cli"), *args],
        cwd=cwd,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    print(res.stdout + res.stderr, flush=True)
    return res


def _wait(what: str, check: Any, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _api(url: str, token: str, path: str) -> dict[str, Any]:
    req = urllib.request.Request(f"{url}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def test_compose_live_platform_is_protected(
    docker_engine: PrivateEngine, built_images: dict[str, str], tmp_path: Path
) -> None:
    """A second installation on the data, a busy port, a config change, a curious task and
    an upgrade under a checkpointing task: the live platform and its tasks come through."""
    project = "hai-up-safe"
    platform = tmp_path / "platform"
    config = tmp_path / "config.sh"
    port = _write_config(config, platform, built_images, project)
    datasets = tmp_path / "datasets"
    datasets.mkdir()
    (datasets / "hello.txt").write_text("shared data")
    config.write_text(
        config.read_text() + f'export EXTRA_MOUNTS="{datasets}:/datasets:directory:ro"\n'
    )
    url = f"http://127.0.0.1:{port}"
    up = ("-p", "docker-compose", "-c", str(config))
    try:
        assert _hai_up("run", *up).returncode == 0
        marker = json.loads((platform / "installation.json").read_text())
        assert (marker["provider"], marker["name"]) == ("docker-compose", project)
        ids = sorted(c.id for c in _project_containers(docker_engine, project))

        # 1. another compose project on the same HAI_PLATFORM_PATH: refused, nothing started;
        # its down says that nothing of that name runs
        other = tmp_path / "other.sh"
        other.write_text(config.read_text().replace(project, "hai-up-other"))
        res = _hai_up("run", "-p", "docker-compose", "-c", str(other))
        assert res.returncode == 2, res.stderr
        assert f"belongs to the docker-compose installation (compose project '{project}')" in (
            res.stderr
        )
        assert _project_containers(docker_engine, "hai-up-other") == []
        res = _hai_up("down", "-y", "-p", "docker-compose", "-c", str(other))
        assert res.returncode == 2
        assert "nothing of compose project 'hai-up-other' runs on this engine" in res.stderr
        assert sorted(c.id for c in _project_containers(docker_engine, project)) == ids

        # 2. a re-run with a port another program holds: refused before anything is touched;
        # the platform answers during and after
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            taken = busy.getsockname()[1]
            moved = tmp_path / "moved.sh"
            moved.write_text(
                config.read_text().replace(f'SERVER_PORT="{port}"', f'SERVER_PORT="{taken}"')
            )
            before = (platform / "docker-compose.yaml").read_text()
            failures: list[str] = []
            stop = threading.Event()

            def poll() -> None:
                while not stop.is_set():
                    try:
                        assert _healthz(url)["status"] == "ok"
                    except Exception as exc:
                        failures.append(repr(exc))
                    time.sleep(0.2)

            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            res = _hai_up("run", "-p", "docker-compose", "-c", str(moved))
            stop.set()
            poller.join(timeout=10)
        assert res.returncode == 2, res.stderr
        assert f"server-0 127.0.0.1:{taken}" in res.stderr and "nothing was changed" in res.stderr
        assert failures == []
        assert (platform / "docker-compose.yaml").read_text() == before
        assert sorted(c.id for c in _project_containers(docker_engine, project)) == ids
        assert _healthz(url)["status"] == "ok"

        # 3. a config change through run: a new user and two training nodes reach the
        # platform (servers recreated on the new files), the old copy kept as .old
        bob_token = "bob-token-0123456789abcdef"
        changed = config.read_text().replace(
            f'USER_INFO="{USER}:{USER_UID}:internal:{USER_TOKEN}"',
            f'USER_INFO="{USER}:{USER_UID}:internal:{USER_TOKEN} bob:10021:external:{bob_token}"',
        )
        config.write_text(changed + 'export TRAINING_NODES="n1 n2"\n')
        res = _hai_up("run", *up)
        assert res.returncode == 0, res.stderr
        assert "configuration changed: docker-compose.yaml, init.sql, override.toml" in res.stdout
        assert _api(url, bob_token, "/api/v1/whoami") == {"user": "bob", "role": "external"}
        nodes = _api(url, bob_token, "/api/v1/nodes")["nodes"]
        training = [n for n in nodes if n["group"] == "training"]
        assert len(training) == 2, nodes  # (and the local backend's Jupyter node)
        assert (platform / "workspace" / "bob").stat().st_uid == 10021
        assert "bob" not in (platform / "init.sql.old").read_text()

        # 4. a task cannot read the platform's secrets: no password or token in its
        # environment, override.toml / init.sql / the server's environ closed to it
        workspace = platform / "workspace" / USER
        cli_env = {
            **os.environ,
            "HAI_SERVER_URL": url,
            "HAI_TOKEN": USER_TOKEN,
            "HAI_HOME": str(tmp_path / "cli-home"),
        }
        (workspace / "peek.py").write_text(PEEK)
        res = _submit(cli_env, workspace, "python", "peek.py", "--", "-f")
        assert res.returncode == 0, res.stdout + res.stderr
        peek = json.loads((workspace / "peek.json").read_text())
        assert peek == {
            "uid": USER_UID,
            "env": [],
            "/etc/hai/override.toml": "denied",
            "/etc/hai/init.sql": "denied",
            "/proc/1/environ": "denied",
            "readable_environs": [],
            "extra": "shared data",
            "extra_write": "OSError",
        }

        # 5. upgrade under a checkpointing task: it gets the suspend notice, saves its step,
        # is requeued, and resumes from that step after the upgrade
        shutil.copy(Path(__file__).parents[3] / "examples" / "train.py", workspace / "train.py")
        res = _submit(
            cli_env, workspace, "python", "train.py", "--steps", "300", "--step-time", "0.1",
            "--", "--json",
        )  # fmt: skip
        assert res.returncode == 0, res.stderr
        task_id = json.loads(res.stdout)["id"]
        ckpt = workspace / "checkpoints" / f"train-{task_id}.json"

        def log() -> str:
            out = _submit(cli_env, workspace, "logs", str(task_id))
            return out.stdout if out.returncode == 0 else ""

        _wait("the task to pass step 20", lambda: "step 20 loss" in log())
        res = _hai_up("upgrade", *up)
        assert res.returncode == 0, res.stderr
        assert "suspending 1 task(s) with notice" in res.stdout
        saved = json.loads(ckpt.read_text())["step"]
        assert saved >= 20
        assert f"suspend notice: saved step {saved}" in (
            _submit(cli_env, workspace, "logs", str(task_id), "--attempt", "0").stdout
        )
        _wait("the task to resume", lambda: f"start: step={saved}" in log(), timeout=180)
        task = _wait(
            "the task to finish",
            lambda: next(
                (t for t in _tasks(cli_env) if t["id"] == task_id and t["state"] == "succeeded"),
                None,
            ),
            timeout=180,
        )
        assert "start: step=0" not in log()  # the resumed attempt did not start over
        assert "done: final_step=300" in log()
        print(f"\nresumed at step {saved} of 300; task {task['id']} {task['state']}")
    finally:
        left = _project_containers(docker_engine, project)
        if left:
            docker_engine.client().container.remove(left, force=True)


def test_train_image_runs_a_rank(
    docker_engine: PrivateEngine, built_images: dict[str, str], tmp_path: Path
) -> None:
    """The train image: the backend's rank wrapper runs a command that imports the SDK."""
    shared = tmp_path / "shared"
    shared.mkdir()
    script = (
        "python3 -m hai_cli.rankrun --log /shared/rank0.log --status-dir /shared/rank0 -- "
        "python3 -c 'import hai_cli.runtime, sys; print(\"sdk ok\", sys.version_info[:3])'"
    )
    docker_engine.client().run(
        built_images["train"],
        ["sh", "-c", script],
        remove=True,
        networks=["none"],
        volumes=[(shared, "/shared")],
    )
    assert (shared / "rank0" / "exit_code").read_text().strip() == "0"
    log = (shared / "rank0.log").read_text()
    assert "sdk ok (3, 11, 2)" in log, log  # bookworm's Python, the wheels resolved for it


def test_failed_start_is_removed(
    docker_engine: PrivateEngine, built_images: dict[str, str], tmp_path: Path
) -> None:
    """A server that cannot start (its init.sql fails): error with its log, nothing left."""
    project = "hai-up-broken"
    config = tmp_path / "config.sh"
    _write_config(config, tmp_path / "platform", built_images, project)
    cfg = load_config(config, {})
    files = render_all(cfg)
    files["init.sql"] = "INSERT INTO no_such_table VALUES (1);\n"
    start = time.monotonic()
    try:
        with pytest.raises(UpError) as err:
            compose.run(cfg, files)
        print(f"\nfailed start reported in {time.monotonic() - start:.1f} s:\n{err.value.message}")
        assert err.value.exit_code == 1
        assert "server-0" in err.value.message and "no_such_table" in err.value.message
        assert "half-started deployment was removed" in err.value.message
        assert _project_containers(docker_engine, project) == []
        assert (tmp_path / "platform" / "postgres" / "PG_VERSION").is_file()  # data kept
    finally:
        left = _project_containers(docker_engine, project)
        if left:
            docker_engine.client().container.remove(left, force=True)


def test_failed_change_restores_the_running_platform(
    docker_engine: PrivateEngine, built_images: dict[str, str], tmp_path: Path
) -> None:
    """A change whose servers cannot start (their init.sql fails): the previous files are put
    back and the previous deployment serves again."""
    project = "hai-up-restore"
    config = tmp_path / "config.sh"
    port = _write_config(config, tmp_path / "platform", built_images, project)
    cfg = load_config(config, {})
    good = render_all(cfg)
    try:
        compose.run(cfg, good)
        assert _healthz(f"http://127.0.0.1:{port}")["status"] == "ok"
        bad = dict(good)
        bad["init.sql"] = "INSERT INTO no_such_table VALUES (1);\n"
        doc = yaml.safe_load(good["docker-compose.yaml"])
        doc["services"]["server-0"]["labels"][CONFIG_LABEL] = "a-broken-change"
        bad["docker-compose.yaml"] = yaml.safe_dump(doc)
        start = time.monotonic()
        with pytest.raises(UpError) as err:
            compose.run(cfg, bad)
        print(f"\nfailed change restored in {time.monotonic() - start:.1f} s:\n{err.value.message}")
        assert "no_such_table" in err.value.message
        assert "the previous deployment was restored and serves again" in err.value.message
        assert _healthz(f"http://127.0.0.1:{port}")["status"] == "ok"
        for name in ("init.sql", "docker-compose.yaml", "override.toml"):
            assert (tmp_path / "platform" / name).read_text() == good[name], name
        states = {c.state.status for c in _project_containers(docker_engine, project)}
        assert states == {"running"}
    finally:
        left = _project_containers(docker_engine, project)
        if left:
            docker_engine.client().container.remove(left, force=True)


def test_unreachable_engine_exit_4(tmp_path: Path) -> None:
    if shutil.which("docker") is None:
        print("SKIP: the docker CLI is not installed (apt-get install docker.io)")
        pytest.skip("the docker CLI is not installed (apt-get install docker.io)")
    config = tmp_path / "config.sh"
    _write_config(config, tmp_path / "platform", {"platform": "x:1", "train": "y:1"})
    dead = tmp_path / "dead.sock"
    env = {**os.environ, "DOCKER_HOST": f"unix://{dead}"}
    for verb in ("run", "status", "down"):
        res = _hai_up(verb, "-p", "docker-compose", "-c", str(config), env=env)
        assert res.returncode == 4, (verb, res.stdout, res.stderr)
        assert f"unix://{dead}" in res.stderr and "Docker engine" in res.stderr
    assert not (tmp_path / "platform").exists()  # nothing written before the engine answered
