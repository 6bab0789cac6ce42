"""Checks before a running platform is touched: the installation marker, ports, kubeconfig."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

from hai_up.errors import UpError
from hai_up.installation import Installation, check_owner, claim, marker_path, read_marker
from hai_up.preflight import (
    busy_ports,
    check_kubeconfig,
    check_mount_sources,
    check_ports,
    compose_ports,
    missing_mount_sources,
    ports_to_check,
)
from hai_up.render.compose import compose_yaml
from tests.support.up import config

COMPOSE = Installation("docker-compose", "hai-platform")


@pytest.mark.parametrize(
    ("found", "wanted", "refused"),
    [
        (None, COMPOSE, None),
        (COMPOSE, COMPOSE, None),
        (
            COMPOSE,
            Installation("docker-compose", "renamed"),
            "belongs to the docker-compose installation (compose project 'hai-platform'); "
            "refusing to start the docker-compose installation (compose project 'renamed')",
        ),
        (
            COMPOSE,
            Installation("k8s", "hai-platform"),
            "refusing to start the k8s installation (k8s namespace 'hai-platform')",
        ),
    ],
)
def test_owner_table(
    found: Installation | None, wanted: Installation, refused: str | None, tmp_path: Path
) -> None:
    if refused is None:
        check_owner(tmp_path, found, wanted)
        return
    with pytest.raises(UpError) as err:
        check_owner(tmp_path, found, wanted)
    assert err.value.exit_code == 2 and refused in err.value.message
    assert f"remove {tmp_path / 'installation.json'}" in err.value.message


def test_claim_records_once_and_refuses_another(tmp_path: Path) -> None:
    first = claim(tmp_path, COMPOSE)
    assert first.id and first.created_at > 0
    assert marker_path(tmp_path).stat().st_mode & 0o777 == 0o644
    assert claim(tmp_path, COMPOSE) == first == read_marker(tmp_path)  # kept, not rewritten
    with pytest.raises(UpError):
        claim(tmp_path, Installation("docker-compose", "other"))
    assert read_marker(tmp_path) == first


@pytest.mark.parametrize("text", ["{", "[]", '{"provider": "x"}', "\0"])
def test_unreadable_marker_is_an_error_not_a_pass(tmp_path: Path, text: str) -> None:
    marker_path(tmp_path).write_text(text)
    with pytest.raises(UpError) as err:
        read_marker(tmp_path)
    assert err.value.exit_code == 2 and "installation.json is unreadable" in err.value.message


def test_compose_ports_of_a_render() -> None:
    cfg = config(HAI_BACKEND="local", BIND_ADDRESS="127.0.0.1")
    doc = yaml.safe_load(compose_yaml(cfg))
    assert compose_ports(doc) == {
        "postgres": ("127.0.0.1", 15432),
        "redis": ("127.0.0.1", 16379),
        "server-0": ("127.0.0.1", 18080),
        "server-1": ("127.0.0.1", 18081),
    }


RUNNING = {"postgres": ("0.0.0.0", 5432), "server-0": ("0.0.0.0", 80)}


@pytest.mark.parametrize(
    ("new", "running", "checked"),
    [
        (RUNNING, None, RUNNING),  # a fresh start: every port must be free
        (RUNNING, RUNNING, {}),  # the running deployment holds them all
        (
            {**RUNNING, "server-1": ("0.0.0.0", 81)},
            RUNNING,
            {"server-1": ("0.0.0.0", 81)},
        ),  # a new replica
        (
            {"postgres": ("0.0.0.0", 5432), "server-0": ("0.0.0.0", 8080)},
            RUNNING,
            {"server-0": ("0.0.0.0", 8080)},
        ),  # a moved port
    ],
)
def test_ports_to_check_table(
    new: dict[str, Any], running: dict[str, Any] | None, checked: dict[str, Any]
) -> None:
    assert ports_to_check(new, running) == checked


def test_busy_port_is_reported_and_a_free_one_is_not() -> None:
    with socket.socket() as held, socket.socket() as free:
        held.bind(("127.0.0.1", 0))
        held.listen()
        free.bind(("127.0.0.1", 0))
        free_port = free.getsockname()[1]
        free.close()
        wanted = {
            "server-0": ("127.0.0.1", held.getsockname()[1]),
            "redis": ("127.0.0.1", free_port),
        }
        assert busy_ports(wanted) == [f"server-0 127.0.0.1:{held.getsockname()[1]}"]
        with pytest.raises(UpError) as err:
            check_ports(wanted)
    assert err.value.exit_code == 2 and "nothing was changed" in err.value.message


def test_kubeconfig_must_be_a_file(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text(json.dumps({"apiVersion": "v1"}))
    check_kubeconfig(tmp_path / "file")
    for name, why in (("dir", "is a directory"), ("none", "does not exist")):
        with pytest.raises(UpError) as err:
            check_kubeconfig(tmp_path / name)
        assert err.value.exit_code == 2
        assert f"{tmp_path / name} {why}: set KUBECONFIG" in err.value.message
    assert not (tmp_path / "none").exists()  # nothing made on the way


def test_extra_mount_sources_must_exist_as_their_kind(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    mounts = [
        (str(tmp_path / "dir"), "directory"),
        (str(tmp_path / "file"), "file"),
        (str(tmp_path / "file"), "directory"),
        (str(tmp_path / "none"), "file"),
    ]
    assert missing_mount_sources(mounts) == [
        f"{tmp_path / 'file'} (directory)",
        f"{tmp_path / 'none'} (file)",
    ]
    with pytest.raises(UpError) as err:
        check_mount_sources(mounts)
    assert err.value.exit_code == 2 and err.value.message.endswith("nothing was changed")
    check_mount_sources(mounts[:2])
