from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))  # conftest_pg
sys.path.insert(0, os.path.dirname(__file__))

from conftest_pg import server_db  # noqa: F401 - the whole-server test runs on both databases
from k8s_emulator import EmulatorThread

from hai_server.backends.kubernetes.config import KubernetesConfig, SharedStorage


@pytest.fixture
def emulator() -> Iterator[EmulatorThread]:
    emu = EmulatorThread()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def shared(tmp_path) -> str:
    path = tmp_path / "shared"
    path.mkdir()
    return str(path)


@pytest.fixture
def config(emulator: EmulatorThread, shared: str) -> KubernetesConfig:
    return KubernetesConfig(
        namespace="hai",
        api_server=emulator.url,
        shared=SharedStorage(server_path=shared),
        notready_grace_s=10,
        unschedulable_timeout_s=60,
        image_pull_timeout_s=60,
        initial_sync_timeout_s=5,
    )
