"""A JupyterLab that cannot start: the container fails with the log's last lines shown, and
nothing is left running."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from hai_server.backends.local.procs import is_alive
from tests.hai_server.jupyter.conftest import Live, serve
from tests.support import REPO

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's: the platform's code on PYTHONPATH, no JupyterLab


@pytest.fixture
def bare(tmp_path: Path) -> Iterator[Live]:
    if not os.path.exists(SYSTEM_PYTHON):
        pytest.skip(f"needs {SYSTEM_PYTHON} (an interpreter without JupyterLab)")
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(REPO)  # the rank wrapper's environment is the server's
    try:
        yield from serve(tmp_path / "home", python=SYSTEM_PYTHON)
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def test_missing_jupyterlab_fails_with_the_log_tail(bare: Live) -> None:
    import subprocess

    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import jupyterlab"], capture_output=True)
    if probe.returncode == 0:
        pytest.skip(f"{SYSTEM_PYTHON} has JupyterLab here")
    with bare.client() as c:
        assert c.post("/api/v1/jupyter/", json={"name": "nolab"}).status_code == 201
        box = bare.wait(c, "nolab", lambda b: b["state"] in ("failed", "succeeded", "stopped"))
        assert box["state"] == "failed", box
        assert box["exit_code"] == 127
        assert any("JupyterLab is not installed" in line for line in box["log_tail"]), box
        assert c.get("/root/nolab/api/status").status_code == 503
    for pid_file in bare.home.glob("runs/*/rank*/*pid"):
        assert not is_alive(int(pid_file.read_text())), pid_file
