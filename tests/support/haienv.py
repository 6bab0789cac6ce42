"""haienv helpers: run the command under a temporary HAI_HOME; a wheelhouse of tiny wheels."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.wheels import make_wheel

BASE_PKG, OWN_PKG = "hai_basepkg", "hai_ownpkg"


class Haienv:
    """``python -m haienv`` as user ``user`` with environments under ``home/envs``."""

    def __init__(self, home: Path, user: str = "alice") -> None:
        self.home = home
        self.user = user
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("HAI", "HF_ENV"))}
        self.env.pop("VIRTUAL_ENV", None)
        self.env.update({"HAI_HOME": str(home), "USER": user, "NO_COLOR": "1"})

    @property
    def envs(self) -> Path:
        return self.home / "envs"

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "haienv", *args],
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
            env={**self.env, **(env or {})},
        )  # fmt: skip

    def ok(self, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
        res = self.run(*args, **kw)  # type: ignore[arg-type]
        assert res.returncode == 0, f"haienv {' '.join(args)} -> {res.returncode}\n{res.stderr}"
        return res

    def as_platform(self) -> dict[str, str]:
        """Variables that make the command work on the platform's root."""
        return {"HAIENV_PATH": str(self.envs / "platform")}


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two tiny wheels: hai_basepkg (for bases) and hai_ownpkg (for extended environments)."""
    d = tmp_path_factory.mktemp("wheels")
    make_wheel(d, BASE_PKG)
    make_wheel(d, OWN_PKG, body="import sys\nPREFIX = sys.prefix\n")
    return d


@pytest.fixture
def haienv(tmp_path: Path) -> Haienv:
    return Haienv(tmp_path / "hai")
