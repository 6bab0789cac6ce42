"""hai-up builds the platform's base environments on a real (private) Docker engine.

``hai-up run`` builds ``platform/base`` (one tiny wheel made by the test: no package index
exists here) in the first server's container, into the shared envs root at the host's path;
a task submitted with ``--env base[platform]`` runs in it; a second run does not rebuild it;
a changed spec rebuilds it beside the old version and switches; a spec that cannot build is
exit 1 with one line, and the current version stays.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.hai_up.docker.test_up_docker_e2e import (
    BIN,
    USER,
    USER_TOKEN,
    USER_UID,
    _hai_up,
    _project_containers,
    _write_config,
)
from tests.support.docker_engine import PrivateEngine
from tests.support.wheels import make_wheel

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]
PROJECT = "hai-up-envs"
PROBE = """\
import os, sys
import hai_basepkg
print("prefix=" + sys.prefix, "value=" + os.environ.get("HAI_E2E_VALUE", "-"),
      "env=" + os.environ.get("HF_ENV_NAME", "-") + "[" + os.environ.get("HF_ENV_OWNER", "-") + "]",
      "pkg=" + os.path.realpath(hai_basepkg.__file__), flush=True)
"""


def _spec(path: Path, wheels: Path, value: str, extra: str = "") -> None:
    """A spec with one tiny wheel (no index here: the wheel lies in the envs root, which the
    server container sees at the same path)."""
    path.write_text(
        f'name = "base"\npackages = ["hai_basepkg"{extra}]\nfind_links = ["{wheels}"]\n'
        f'no_index = true\n[environment]\nHAI_E2E_VALUE = "{value}"\n'
    )


def _expect(version: Path, value: str) -> str:
    pkg = version / "lib/python3.11/site-packages/hai_basepkg/__init__.py"
    return f"prefix={version} value={value} env=base[platform] pkg={pkg}"


def _probe(cli_env: dict[str, str], workspace: Path, name: str) -> str:
    res = subprocess.run(
        [str(BIN / "hai-cli"), "python", "--name", name, "probe.py", "--",
         "--env", "base[platform]", "-f"],
        cwd=workspace, env=cli_env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    print(res.stdout + res.stderr, flush=True)
    assert res.returncode == 0, res.stdout + res.stderr
    (line,) = [ln for ln in res.stdout.splitlines() if "prefix=" in ln]
    return line[line.index("prefix=") :]


def test_run_builds_platform_base_once_and_rebuilds_a_changed_spec(
    docker_engine: PrivateEngine, built_images: dict[str, str], tmp_path: Path
) -> None:
    platform = tmp_path / "platform"
    config = tmp_path / "config.sh"
    specs = tmp_path / "specs"
    specs.mkdir()
    wheels = platform / "envs" / ".wheels"  # hidden: not an owner's root
    make_wheel(wheels, "hai_basepkg")
    _spec(specs / "base.toml", wheels, "1")
    port = _write_config(config, platform, built_images, project=PROJECT)
    with config.open("a") as fh:
        fh.write(f'export BASE_ENVS="base"\nexport BASE_ENVS_DIR="{specs}"\n')
    up = ("-p", "docker-compose", "-c", str(config))
    link = platform / "envs" / "platform" / "base"
    try:
        res = _hai_up("run", *up)
        assert res.returncode == 0, res.stderr
        built = re.search(r"base environment base\[platform\]: built in ([\d.]+) s", res.stdout)
        assert built, res.stdout
        v1 = Path(os.path.realpath(link))
        assert link.is_symlink() and v1.parent.name == ".builds"
        assert (v1 / "haienv.json").is_file()
        assert v1.stat().st_uid == 990  # BASE_ENVS_UID made it, not root

        res = _hai_up("status", *up)
        assert res.returncode == 0, res.stderr
        state = json.loads(res.stdout)["base_envs"]["base"]
        assert state["built"] is True and state["path"] == str(v1)
        assert state["versions_kept"] == [v1.name]

        # a task in base[platform], as the user (uid USER_UID), in the server's container
        workspace = platform / "workspace" / USER
        (workspace / "probe.py").write_text(PROBE)
        cli_env = {
            **os.environ,
            "HAI_SERVER_URL": f"http://127.0.0.1:{port}",
            "HAI_TOKEN": USER_TOKEN,
            "HAI_HOME": str(tmp_path / "cli-home"),
        }
        assert _probe(cli_env, workspace, "env-1") == _expect(v1, "1")
        assert USER_UID != 990

        # unchanged: not rebuilt (the same version, its metadata untouched)
        stamp = (v1 / "haienv.json").stat().st_mtime_ns
        res = _hai_up("run", *up)
        assert res.returncode == 0, res.stderr
        assert "base environment base[platform]: unchanged (digest" in res.stdout
        assert Path(os.path.realpath(link)) == v1
        assert (v1 / "haienv.json").stat().st_mtime_ns == stamp

        # changed: rebuilt beside, the link switched, the old version kept for its users
        _spec(specs / "base.toml", wheels, "2")
        res = _hai_up("run", *up)
        assert res.returncode == 0, res.stderr
        assert "base environment base[platform]: rebuilt in" in res.stdout
        v2 = Path(os.path.realpath(link))
        assert v2 != v1 and v1.is_dir()
        assert _probe(cli_env, workspace, "env-2") == _expect(v2, "2")

        # a spec that cannot build: exit 1, one line, the platform up, version 2 stays
        _spec(specs / "base.toml", wheels, "3", extra=', "hai-no-such-package"')
        res = _hai_up("run", *up)
        assert res.returncode == 1
        (line,) = res.stderr.strip().splitlines()
        assert line.startswith(
            "hai-up: the platform is up, but base environments did not build: "
            "base[platform]: build failed: uv pip install failed"
        ), res.stderr
        assert Path(os.path.realpath(link)) == v2
        assert _probe(cli_env, workspace, "env-3") == _expect(v2, "2")
        print(f"\nbase environment: first build {built[1]} s (one tiny wheel)")
        assert _hai_up("down", "-y", *up).returncode == 0
    finally:
        left = _project_containers(docker_engine, PROJECT)
        if left:
            docker_engine.client().container.remove(left, force=True)


def test_an_image_from_the_train_image_bakes_a_base_environment(
    docker_engine: PrivateEngine, built_images: dict[str, str], tmp_path: Path
) -> None:
    """What images/README.md shows: the specs are in the image, haienv build works offline."""
    (tmp_path / "Dockerfile").write_text(
        f"FROM {built_images['train']}\n"
        "RUN HAIENV_PATH=/opt/envs/platform haienv build /opt/hai/environments/base.toml\n"
    )
    tag = "hai-up-test/train-baked:latest"
    client = docker_engine.client()
    client.legacy_build(tmp_path, tags=tag, network="none")
    try:
        out = client.run(
            tag,
            ["/opt/envs/platform/base/bin/python", "-c",
             "import os, sys; print(os.path.realpath(sys.prefix), sys.version_info[:2])"],
            remove=True, networks=["none"],
        )  # fmt: skip
        assert re.fullmatch(r"/opt/envs/platform/\.builds/base-[0-9a-f]{16} \(3, 11\)", out), out
    finally:
        client.image.remove(tag, force=True)
