"""Fixtures of the Kubernetes backend tests: the kmock emulator, shared storage, a config."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hai_server.backends.kubernetes.config import KubernetesConfig, SharedStorage
from tests.support.k8s_emulator import EmulatorThread


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
