"""DESIGN.md section 2, enforced by import-linter contracts (pyproject.toml).

The contracts must hold on this tree, and each must fail on the violation it exists for: the
packages are copied once to a temporary directory; each case adds ONE offending import there,
runs ``lint-imports`` on the copy and removes it again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO

LINT = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
pytestmark = pytest.mark.skipif(LINT is None, reason="import-linter is not installed (test extra)")

# (contract id, file in the copy, the offending line): the violations an outside review found
VIOLATIONS = [
    ("db-services", "hai_server/db/probe.py", "from hai_server.services import tasks"),
    ("api-sql", "hai_server/api/probe.py", "from sqlalchemy import text"),
    ("api-sql", "hai_server/api/probe.py", "from hai_server.db import reads"),
    ("cli-server", "hai_cli/commands/probe.py", "import hai_server.settings"),
    ("up-server", "hai_up/probe.py", "from hai_server import app"),
    ("services-redis", "hai_server/services/probe.py", "import redis"),
    ("no-backend-calls", "hai_server/services/probe.py", "from hai_server.backends import fake"),
    ("no-backend-calls", "hai_server/api/probe.py", "from hai_server.reconciler import loop"),
    ("backends-below", "hai_server/backends/probe.py", "from hai_server.db import models"),
    ("pure-core", "hai_cli/scheduler/probe.py", "import sqlalchemy"),
    ("pure-core", "hai_server/domain/probe.py", "from hai_server.db import models"),
    ("studio-services", "hai_server/studio/probe.py", "from hai_server.db import reads"),
    ("studio-services", "hai_server/studio/probe.py", "from sqlalchemy import select"),
    ("haienv-light", "hai_cli/haienv/probe.py", "import typer"),
    ("haienv-light", "hai_cli/haienv/probe.py", "from hai_cli.commands import submit"),
]


def lint(root: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    args = [str(LINT), "--no-cache", str(root / "pyproject.toml")]
    for c in contracts:
        args += ["--contract", c]
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, timeout=120)


def test_every_contract_holds() -> None:
    res = lint(REPO)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 broken" in res.stdout


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the packages for every case (each plants its probe, then removes it)."""
    root = tmp_path_factory.mktemp("layers")
    for package in ("hai_cli", "hai_server", "hai_up"):
        shutil.copytree(
            REPO / package, root / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    assert lint(root).returncode == 0  # the copy is clean
    return root


@pytest.mark.parametrize(("contract", "path", "line"), VIOLATIONS)
def test_each_contract_catches_its_violation(
    copy: Path, contract: str, path: str, line: str
) -> None:
    probe = copy / path
    probe.write_text(f"{line}  # the violation\n")
    try:
        res = lint(copy, contract)
    finally:
        probe.unlink()
    assert res.returncode != 0, res.stdout
    assert "BROKEN" in res.stdout and path.removesuffix(".py").replace("/", ".") in res.stdout
