"""A task in a haienv gets the envs root mounted read-only at the same path in its pods."""

from __future__ import annotations

import dataclasses

import kubernetes_validate
import pytest

from hai_server.backends.kubernetes import make_backend, render
from hai_server.backends.kubernetes.config import KubernetesConfig, SharedStorage
from tests.support.k8s import spec
from tests.support.k8s_cases import SHARED


def in_env(root: str):
    s = spec(7, ["n1"], shared=SHARED)
    env = {
        **s.env,
        "HF_ENV_NAME": "mine",
        "HF_ENV_OWNER": "alice",
        "VIRTUAL_ENV": f"{root}/alice/mine",
    }
    return dataclasses.replace(s, env=env)


@pytest.mark.parametrize(
    ("root", "volume", "mount"),
    [
        (f"{SHARED}/envs", None,
         {"name": "hai-shared", "mountPath": f"{SHARED}/envs", "subPath": "envs", "readOnly": True}),
        ("/weka/envs", {"name": "hai-envs", "hostPath": {"path": "/weka/envs", "type": "Directory"}},
         {"name": "hai-envs", "mountPath": "/weka/envs", "readOnly": True}),
    ],
)  # fmt: skip
def test_envs_root_mounted_at_the_same_path(root, volume, mount) -> None:
    config = KubernetesConfig(shared=SharedStorage(server_path=SHARED), envs_root=root)
    s = in_env(root)
    pod = render.render_pod(s, s.ranks[0], config)
    container = pod["spec"]["containers"][0]
    assert mount in container["volumeMounts"]
    volumes = pod["spec"]["volumes"]
    assert (volume in volumes) if volume else all(v["name"] != "hai-envs" for v in volumes)
    kubernetes_validate.validate(pod, kubernetes_validate.latest_version(), strict=True)


def test_no_mount_without_an_environment() -> None:
    config = KubernetesConfig(shared=SharedStorage(server_path=SHARED), envs_root="/weka/envs")
    s = spec(7, ["n1"], shared=SHARED)
    pod = render.render_pod(s, s.ranks[0], config)
    mounts = pod["spec"]["containers"][0]["volumeMounts"]
    assert all("envs" not in m["mountPath"] for m in mounts)


def test_make_backend_takes_the_servers_envs_root(tmp_path) -> None:
    from hai_server.settings import Settings

    settings = Settings(home=tmp_path, backend="kubernetes", log_dir=f"{SHARED}/log",
                        kubernetes={"shared": {"server_path": SHARED}}, envs_root=f"{SHARED}/envs")  # fmt: skip
    assert make_backend(settings).config.envs_root == f"{SHARED}/envs"


def test_pods_beat_at_the_servers_heartbeat(tmp_path) -> None:
    """scheduler.heartbeat_s reaches the ranks as HAI_HEARTBEAT_S (the local backend's ranks
    had it; pods beat at the wrapper's default whatever the watchdog expected)."""
    from hai_server.settings import Settings

    settings = Settings(home=tmp_path, backend="kubernetes", log_dir=f"{SHARED}/log",
                        kubernetes={"shared": {"server_path": SHARED}},
                        scheduler={"heartbeat_s": 2.5})  # fmt: skip
    config = make_backend(settings).config
    assert config.heartbeat_s == 2.5
    s = spec(7, ["n1"], shared=SHARED)
    assert render.shared_env(s, config)["HAI_HEARTBEAT_S"] == "2.5"
    assert "HAI_HEARTBEAT_S" not in render.shared_env(s, KubernetesConfig())
