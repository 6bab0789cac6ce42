"""Fixtures of the hai-up Docker tests: a private engine and the images built on it."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator

import pytest

from hai_up.images import ImageSpec, Progress, cache_dir, ensure_images
from tests.support.docker_engine import EngineUnavailable, PrivateEngine, start_private_engine

PLATFORM_IMAGE = "hai-up-test/platform:latest"
TRAIN_IMAGE = "hai-up-test/train:latest"


def _skip(reason: str) -> None:
    print(f"\nSKIP tests/hai_up/docker: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[PrivateEngine]:
    """A private dockerd (no bridge, no iptables) under the hai-up cache; DOCKER_HOST set."""
    base = cache_dir() / "dockerd"
    try:
        engine = start_private_engine(base)
    except EngineUnavailable as exc:
        _skip(f"no Docker engine can start here: {exc}")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DOCKER_HOST", engine.host)
        mp.setenv("DOCKER_CONFIG", str(cache_dir() / "docker-config"))
        mp.setenv("DOCKER_BUILDKIT", "0")
        left: list[str] = []
        try:
            yield engine
        finally:
            try:
                client = engine.client()
                containers = client.container.list(all=True)
                left = [c.name for c in containers]  # names now: gone once removed
                if containers:
                    client.container.remove(containers, force=True)
            finally:
                engine.stop()
    assert not left, f"containers left on the test engine: {left}"


@pytest.fixture(scope="session")
def built_images(docker_engine: PrivateEngine) -> dict[str, str]:
    """The platform and train images, built (or found current) on the private engine."""
    for tool, package in (("debootstrap", "debootstrap"), ("zstd", "zstd")):
        if shutil.which(tool) is None:
            _skip(f"{tool} not found: cannot build the base image (apt-get install {package})")
    start = time.monotonic()
    built = ensure_images(
        docker_engine.client(),
        [ImageSpec(PLATFORM_IMAGE, "platform"), ImageSpec(TRAIN_IMAGE, "train")],
        build=True,
        rebuild_stale=True,
        progress=Progress("images"),
    )
    elapsed = time.monotonic() - start
    what = f"built {', '.join(built)}" if built else "all current (cached)"
    print(f"\nimages: {elapsed:.1f} s ({what})", flush=True)
    return {"platform": PLATFORM_IMAGE, "train": TRAIN_IMAGE}
